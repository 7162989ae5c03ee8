// Package ninep serves cairn volumes over 9P2000.L with
// github.com/hugelgupf/p9, for containers and hosts that mount with
//
//	mount -t 9p -o trans=tcp,port=P,version=9p2000.L,aname=NAME,access=user,msize=1048576 HOST DIR
//
// Each fid is a file (file.go) that holds a GFID and, once opened, a
// volume handle; everything is addressed by GFID, so renames need no
// bookkeeping and QIDs are stable: Path is the GFID's 64-bit inode number
// minus 2 (v9fs shows path+2 as st_ino, so a file has the same inode
// number over 9P, NFS and FUSE, on every gateway and after restarts) and
// Version changes with mtime and size.
//
// # Identity
//
// p9's Attacher gets no arguments, so the connection's reader decodes each
// Tattach on its way to p9 (sniffer in server.go) and hands its uid (or,
// when the client sends none, its user name, looked up on the gateway
// host) to the Attach call it causes; p9.Server keeps a single attacher,
// hence one p9.Server per connection. Every operation through the
// attach's fids runs as that user (vfs.WithCaller), so the bricks check
// permissions; files, directories, symlinks and nodes are created with
// that uid and the gid the request carries. Linux's access=user attaches
// once per local user. Root is squashed to 65534 unless NoRootSquash.
// Supplementary groups come from the gateway host's user database when it
// knows the uid.
//
// # Attach names
//
// "NAME" (or "/NAME", or "NAME/sub/dir") attaches to a volume; the empty
// name attaches to the only volume, or to a read-only directory listing
// the volumes when there are several.
//
// # Directory offsets
//
// Readdir offsets are the volume's stable readdir cookies shifted past "."
// and "..", so a listing resumes correctly from any offset however the
// directory changed, with no per-fid snapshot. The dirent type byte is
// DT_* (what Linux passes to getdents), not the QID type p9's own file
// systems put there.
//
// # Locks
//
// Tlock maps to the volume's POSIX locks (SetLk) with an owner derived from
// the connection, the client name and the pid, so owners never collide
// across clients or gateways. A blocking request waits on the server up
// to Config.LockWait, then answers "blocked" (the Linux client retries 30
// s later). Locks held by a connection are released when it ends.
//
// # Known limits of p9 v0.3.0
//
//   - Tgetlock has no decoder, so F_GETLK on a v9fs mount fails.
//   - Tsetattr, Tlcreate and Tmkdir permissions are cut to 01777 while
//     decoding, so setuid/setgid cannot be set over 9P (NFS keeps them).
//   - Txattrwalk turns any error into EINVAL (a missing xattr reads as
//     EINVAL, not ENODATA), and an empty xattr list is sent as one NUL.
//   - The server caps msize at 4 MiB (Linux's TCP transport at 1 MiB), and
//     has no option to lower it; the gateway lowers a Tversion's msize on
//     the way in to Config.MaxMessageSize (default 1 MiB). p9's own Go
//     client keeps the msize it asked for whatever the answer, so it must
//     not ask for more (the server drops a connection sending a larger
//     message); the Linux client uses the answer.
//   - Server.Handle races with itself when a connection ends (a WaitGroup
//     Add after Wait); the sniffer holds the end of the stream back 50 ms
//     so that it cannot happen in practice, and a panic from it is
//     recovered.
package ninep

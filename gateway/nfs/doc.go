// Package nfs serves cairn volumes over NFSv3 and the MOUNT protocol on a
// single TCP port, so Linux clients need no portmapper:
//
//	mount -t nfs -o vers=3,proto=tcp,port=P,mountport=P,mountproto=tcp,nolock HOST:/NAME DIR
//
// # Structure
//
// github.com/willscott/go-nfs supplies the MOUNT protocol, the nfs.Handler
// plumbing and a go-billy adapter of the volume (billy.go). go-nfs works on
// paths, passes no credentials to the file system, and gets a number of
// NFSv3 procedures wrong for a POSIX volume, so the server puts its own
// RPC front (conn.go) on the connection: it reads each RPC record, answers
// NFSv3 calls with cairn's own procedures (proc_*.go), and hands MOUNT
// calls — and any NFS procedure listed in Config.GoNFSProcs — to go-nfs
// through an in-memory pipe that go-nfs serves as if it were the client's
// connection. Replies from both sides are written as whole records.
//
// What go-nfs (v0.0.4) does that the native procedures fix, and why each
// procedure is answered natively:
//
//   - LINK: go-nfs decodes LINK3args as SYMLINK's (handle, name, sattr,
//     target) instead of (file handle, directory handle, name).
//   - Credentials: only MOUNT sees the RPC header; every other call would run
//     as the gateway. The native procedures run each call as its AUTH_UNIX
//     uid/gid/groups (AUTH_NULL as the anonymous user), with root squash on
//     by default (uid/gid 0 → 65534), so the bricks check permissions and
//     own new files as the caller. ACCESS answers from the real mode bits
//     (go-nfs grants whatever is asked).
//   - Attributes: go-nfs reports atime and ctime as mtime, and masks modes
//     to 0777 on SETATTR, CREATE and MKDIR, so setuid, setgid and sticky
//     bits could not be set; the SETATTR guard compares against mtime.
//   - WRITE/COMMIT: go-nfs always answers FILE_SYNC and COMMIT does nothing.
//     Here UNSTABLE writes go to the bricks and are synced on COMMIT,
//     DATA_SYNC and FILE_SYNC writes are synced before the reply, and the
//     write verifier changes with every server instance.
//   - READ/WRITE cost: go-nfs opens, stats and closes the file for every
//     call, and serves one call at a time per connection. Here calls of a
//     connection run concurrently (Config.MaxInflight) and READ/WRITE use a
//     cache of open volume handles (opencache.go).
//   - CREATE EXCLUSIVE (open(O_CREAT|O_EXCL)) is NOTSUPP in go-nfs; here the
//     verifier is kept in atime/mtime as knfsd does.
//   - READDIR/READDIRPLUS: go-nfs re-lists and sorts the whole directory for
//     every page and uses index cookies; here the volume's own stable
//     cookies are used (proc_readdir.go), so paging a large directory is
//     linear and a directory changing under a listing never gives
//     BAD_COOKIE.
//   - FSINFO/PATHCONF: go-nfs claims 1 GiB transfers and LinkMax 1.
//   - Error mapping: go-nfs maps most failures to ACCES or IO; statusOf is
//     the one table from syscall.Errno to nfsstat3.
//
// # File handles
//
// A handle is version + volume id + GFID (handle.go), 28 bytes. It is
// decoded without any table on the gateway, so it survives gateway
// restarts and is valid on any gateway serving the same volume; a GFID the
// volume no longer knows gives NFS3ERR_STALE, a malformed handle
// NFS3ERR_BADHANDLE, a handle of another volume NFS3ERR_STALE. For go-nfs,
// FromHandle turns a handle into the synthetic path "/.gfid/<uuid>", which
// the billy adapter resolves by GFID, and names go-nfs appends to it by
// Lookup from that GFID. No path ↔ GFID table exists anywhere.
//
// # Limits
//
// No NLM (mount with nolock), no NFSACL, no portmapper. MOUNT EXPORT lists
// the volumes and DUMP is empty (answered here; go-nfs has neither). LOOKUP of ".." answers from the volume's root
// when asked at the root; elsewhere it needs a translator implementing
// ParentLookuper or accepting Lookup(dir, ".."), otherwise it is NOENT
// (the Linux client resolves ".." in its own dentry cache and rarely
// asks). In READDIR the ".." entry carries the directory's own fileid.
package nfs

// Package client is cairn's native FUSE client: it exposes any vfs.Translator
// stack (normally the graph built from a volume's client volfile:
// io-cache → io-threads → replicate → protocol/client …) as a kernel mount,
// using go-fuse's fs (inode tree) API. It also holds the mount helper logic
// shared by `cairn mount` and `mount.cairn`: argument and -o option parsing
// (ParseMountArgs), fetching the client volfile from a brick with fallback to
// backup volfile servers (Resolve), and running a mount until it is unmounted
// or told to stop (Run).
//
// Role in the stack and invariants:
//
//   - The binding is thin. It maps FUSE requests to translator calls on
//     GFIDs and names, and implements no POSIX rule itself: permission checks,
//     rename rules and unlinked-but-open files belong to the stack (bricks).
//     With the default_permissions option the kernel additionally checks mode
//     bits. The mount asks for FUSE's handle_killpriv: the bricks clear
//     setuid and setgid on write, truncate and chown, so the kernel neither
//     does it nor fetches attributes before every chown to work it out.
//
//   - A setattr's answer is not cached by the kernel (go-fuse sends it with
//     no attribute timeout): write-behind may answer one it holds with the
//     attributes the file will have, whose ctime and blocks are estimates.
//
//   - Inode numbers are derived from GFIDs (vfs.GFID.Ino, GlusterFS's low 8
//     bytes), and the FUSE generation from the other 8 bytes, so (ino, gen)
//     names a file exactly and is stable across remounts and across clients.
//
//   - Every request carries the caller (uid, gid, supplementary groups, pid)
//     into the stack through vfs.WithCaller. Requests are not cancelled by
//     FUSE interrupts (Go's own SIGURG preemption signal produces them, and a
//     half-done replicated write is worse than a late one), except blocking
//     lock waits (F_SETLKW, flock without LOCK_NB), which end with EINTR.
//
//   - POSIX (fcntl) and flock(2) locks are forwarded to the stack's
//     GetLk/SetLk with the kernel's lock owner, so locks are cluster-wide.
//     The kernel leaves "release this owner's POSIX locks on close" and
//     "release flock locks on last close" to the file system; lockReleaser
//     does both.
//
//   - Errors from the stack are syscall.Errno; kernelErrno is the one place
//     where they are adjusted for the kernel (ENOSYS, out-of-range values).
//
//   - Extended attributes: cairn's own (trusted.cairn.*) are hidden and
//     read-only; POSIX ACL and SELinux xattrs are unsupported (EOPNOTSUPP)
//     unless the mount has -o acl / -o selinux, as on GlusterFS; absent
//     xattrs are remembered for the attribute timeout, because the kernel
//     asks for security.capability before every write(2).
//
//   - READ replies are filled to the requested size unless the file ends:
//     the kernel takes a short read for end of file.
//
// Cache behaviour (Options): entry and attribute timeouts default to 1s and
// the negative-entry timeout to 0, as GlusterFS's FUSE bridge; with
// direct-io-mode=disable (the default) file data goes through the page cache
// and is kept across opens (FOPEN_KEEP_CACHE, as GlusterFS's fopen-keep-cache)
// while the kernel drops it when it sees mtime or size change
// (auto_inval_data). Directory listings are kept the same way
// (FOPEN_CACHE_DIR) and dropped when the directory's mtime changes, unless
// the attribute timeout is 0. Two mounts of a volume therefore see each
// other's changes once the attribute timeout has passed.
package client

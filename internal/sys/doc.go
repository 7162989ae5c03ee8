// Package sys isolates the Linux system calls that the brick uses to touch
// its export directory: the *at family, extended attributes, getdents and
// friends. It is the only package of cairn that calls golang.org/x/sys/unix
// for these (STYLE.md rule 12), so that the symlink-safety rules live in one
// place:
//
//   - every function that takes a (dirfd, name) pair treats name as a single
//     path component and never follows a symlink in it (O_NOFOLLOW,
//     AT_SYMLINK_NOFOLLOW, l*xattr);
//   - multi-component paths are only opened with OpenBeneath, which uses
//     openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) and falls back to an
//     O_NOFOLLOW walk one component at a time on kernels without openat2;
//   - operations on an O_PATH descriptor go through the /proc/self/fd magic
//     link, which the kernel resolves to the very inode the descriptor names
//     (a symlink stays the symlink: it is not followed again);
//   - every call is retried on EINTR.
//
// Errors are returned as syscall.Errno (unix.Errno is the same type).
package sys

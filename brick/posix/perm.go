package posix

import (
	"syscall"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

// Access bits, as in access(2).
const (
	mayRead  = 4
	mayWrite = 2
	mayExec  = 1
)

// access checks want (mayRead|mayWrite|mayExec) against the mode bits of st
// for caller c. Root passes, as CAP_DAC_OVERRIDE does in the kernel (the
// kernel's one exception, exec of a file with no x bit at all, does not
// arise: the brick never executes files). ACLs are not consulted.
func access(c *vfs.Caller, st *sys.Stat_t, want uint32) syscall.Errno {
	if c.IsRoot() {
		return 0
	}
	var bits uint32
	switch {
	case c.UID == st.Uid:
		bits = st.Mode >> 6
	case c.InGroup(st.Gid):
		bits = st.Mode >> 3
	default:
		bits = st.Mode
	}
	if bits&want&7 != want {
		return syscall.EACCES
	}
	return 0
}

// sticky enforces the restricted-deletion flag: in a sticky directory only
// the owner of the entry or of the directory (or root) may remove or
// rename it (EPERM, as may_delete in the kernel).
func sticky(c *vfs.Caller, dir, entry *sys.Stat_t) syscall.Errno {
	if c.IsRoot() || dir.Mode&syscall.S_ISVTX == 0 {
		return 0
	}
	if c.UID == entry.Uid || c.UID == dir.Uid {
		return 0
	}
	return syscall.EPERM
}

// isOwner reports whether c may act as the owner of st (owner or root).
func isOwner(c *vfs.Caller, st *sys.Stat_t) bool {
	return c.IsRoot() || c.UID == st.Uid
}

// openAccess is the access an open(2) flag set needs.
func openAccess(flags int) (uint32, syscall.Errno) {
	var want uint32
	switch flags & syscall.O_ACCMODE {
	case syscall.O_RDONLY:
		want = mayRead
	case syscall.O_WRONLY:
		want = mayWrite
	case syscall.O_RDWR:
		want = mayRead | mayWrite
	default:
		return 0, syscall.EINVAL
	}
	if flags&syscall.O_TRUNC != 0 {
		want |= mayWrite
	}
	return want, 0
}

// killPriv clears setuid, and setgid when group-executable, after a write
// or truncate by a non-root caller, which the kernel would do itself if
// the brick did not write as root (should_remove_suid).
func killPriv(c *vfs.Caller, fd int, st *sys.Stat_t) {
	if c.IsRoot() || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return
	}
	kill := vfs.KillPrivBits(st.Mode)
	if st.Mode&kill == 0 {
		return
	}
	_ = sys.FchmodFD(fd, st.Mode&07777&^kill)
}

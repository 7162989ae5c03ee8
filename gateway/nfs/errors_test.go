package nfs

import (
	"syscall"
	"testing"
)

func TestStatusOf(t *testing.T) {
	for e, want := range map[syscall.Errno]uint32{
		0: nfsOK, syscall.EPERM: nfsErrPerm, syscall.ENOENT: nfsErrNoEnt, syscall.EIO: nfsErrIO,
		syscall.EACCES: nfsErrAcces, syscall.EEXIST: nfsErrExist, syscall.EXDEV: nfsErrXDev,
		syscall.ENOTDIR: nfsErrNotDir, syscall.EISDIR: nfsErrIsDir, syscall.EINVAL: nfsErrInval,
		syscall.EFBIG: nfsErrFBig, syscall.ENOSPC: nfsErrNoSpc, syscall.EROFS: nfsErrROFS,
		syscall.EMLINK: nfsErrMLink, syscall.ENAMETOOLONG: nfsErrNameLong, syscall.ENOTEMPTY: nfsErrNotEmpty,
		syscall.EDQUOT: nfsErrDQuot, syscall.ESTALE: nfsErrStale, syscall.EOPNOTSUPP: nfsErrNotSupp,
		syscall.ENOSYS: nfsErrNotSupp, syscall.ENOTCONN: nfsErrJukebox, syscall.ETIMEDOUT: nfsErrJukebox,
		syscall.ELOOP: nfsErrInval, syscall.EBADF: nfsErrIO, syscall.E2BIG: nfsErrIO,
	} {
		if got := statusOf(e); got != want {
			t.Errorf("statusOf(%v) = %d, want %d", e, got, want)
		}
	}
	if fileStatus(syscall.ENOENT) != nfsErrStale {
		t.Error("a vanished file handle must be STALE")
	}
}

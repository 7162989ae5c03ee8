package nfs

import "syscall"

// nfsstat3 values (RFC 1813 2.6).
const (
	nfsOK          = 0
	nfsErrPerm     = 1
	nfsErrNoEnt    = 2
	nfsErrIO       = 5
	nfsErrNXIO     = 6
	nfsErrAcces    = 13
	nfsErrExist    = 17
	nfsErrXDev     = 18
	nfsErrNoDev    = 19
	nfsErrNotDir   = 20
	nfsErrIsDir    = 21
	nfsErrInval    = 22
	nfsErrFBig     = 27
	nfsErrNoSpc    = 28
	nfsErrROFS     = 30
	nfsErrMLink    = 31
	nfsErrNameLong = 63
	nfsErrNotEmpty = 66
	nfsErrDQuot    = 69
	nfsErrStale    = 70
	nfsErrBadHdl   = 10001
	nfsErrNotSync  = 10002
	nfsErrBadCook  = 10003
	nfsErrNotSupp  = 10004
	nfsErrTooSmall = 10005
	nfsErrSrvFault = 10006
	nfsErrBadType  = 10007
	nfsErrJukebox  = 10008
)

// statusOf is the gateway's single Errno → nfsstat3 mapping.
//
// ENOTCONN and ETIMEDOUT (bricks unreachable) become NFS3ERR_JUKEBOX, which
// makes the Linux client retry the call after a delay instead of failing it
// with EIO: with a replicated volume the outage is usually a failover in
// progress, and a hard mount is expected to wait it out.
func statusOf(e syscall.Errno) uint32 {
	switch e {
	case 0:
		return nfsOK
	case syscall.EPERM:
		return nfsErrPerm
	case syscall.ENOENT:
		return nfsErrNoEnt
	case syscall.ENXIO:
		return nfsErrNXIO
	case syscall.EACCES:
		return nfsErrAcces
	case syscall.EEXIST:
		return nfsErrExist
	case syscall.EXDEV:
		return nfsErrXDev
	case syscall.ENODEV:
		return nfsErrNoDev
	case syscall.ENOTDIR:
		return nfsErrNotDir
	case syscall.EISDIR:
		return nfsErrIsDir
	case syscall.EINVAL, syscall.ERANGE, syscall.ELOOP:
		return nfsErrInval
	case syscall.EFBIG:
		return nfsErrFBig
	case syscall.ENOSPC:
		return nfsErrNoSpc
	case syscall.EROFS:
		return nfsErrROFS
	case syscall.EMLINK:
		return nfsErrMLink
	case syscall.ENAMETOOLONG:
		return nfsErrNameLong
	case syscall.ENOTEMPTY:
		return nfsErrNotEmpty
	case syscall.EDQUOT:
		return nfsErrDQuot
	case syscall.ESTALE:
		return nfsErrStale
	case syscall.EOPNOTSUPP, syscall.ENOSYS:
		return nfsErrNotSupp
	case syscall.ENOTCONN, syscall.ETIMEDOUT, syscall.EAGAIN:
		return nfsErrJukebox
	}
	return nfsErrIO
}

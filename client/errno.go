package client

import "syscall"

// maxKernelErrno bounds the errno values a FUSE reply may carry: the kernel
// rejects a reply whose error is ≤ -512 (the kernel-internal ERESTART*
// range) or positive, and the request would never complete.
const maxKernelErrno = 511

// kernelErrno is the one mapping from the stack's errno to the errno a FUSE
// reply carries. keepENOSYS is set only for operations where the kernel's
// reaction to ENOSYS — stop asking for the lifetime of the mount and fall
// back to its generic code — is the right one (lseek SEEK_DATA/SEEK_HOLE,
// fallocate). Elsewhere ENOSYS would disable a whole feature for good (any
// xattr ENOSYS turns off all xattrs, open/opendir ENOSYS switch to
// "no open support", fsync and flush ENOSYS are then treated as success),
// so one translator lacking one operation becomes EOPNOTSUPP instead.
func kernelErrno(e syscall.Errno, keepENOSYS bool) syscall.Errno {
	switch {
	case e == 0:
		return 0
	case e == syscall.ENOSYS && !keepENOSYS:
		return syscall.EOPNOTSUPP
	case e < 0 || e > maxKernelErrno:
		return syscall.EIO
	}
	return e
}

// errno is kernelErrno for the common case.
func errno(e syscall.Errno) syscall.Errno { return kernelErrno(e, false) }

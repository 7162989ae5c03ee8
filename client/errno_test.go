package client

import (
	"syscall"
	"testing"
)

func TestKernelErrno(t *testing.T) {
	for _, tc := range []struct {
		in         syscall.Errno
		keepENOSYS bool
		want       syscall.Errno
	}{
		{0, false, 0},
		{syscall.ENOENT, false, syscall.ENOENT},
		{syscall.EEXIST, false, syscall.EEXIST},
		{syscall.ENOTCONN, false, syscall.ENOTCONN},
		{syscall.EAGAIN, false, syscall.EAGAIN},
		{syscall.EINTR, false, syscall.EINTR},
		{syscall.ENODATA, false, syscall.ENODATA},
		{syscall.ESTALE, false, syscall.ESTALE},
		{syscall.EOPNOTSUPP, false, syscall.EOPNOTSUPP},
		// ENOSYS would switch the operation off for the mount's lifetime.
		{syscall.ENOSYS, false, syscall.EOPNOTSUPP},
		// ...which is wanted where the kernel has a generic fallback.
		{syscall.ENOSYS, true, syscall.ENOSYS},
		// The kernel rejects replies outside 1..511; the request would hang.
		{512, false, syscall.EIO},  // ERESTARTSYS
		{4095, false, syscall.EIO}, // largest errno-ish value
		{70000, false, syscall.EIO},
		{511, false, 511},
	} {
		if got := kernelErrno(tc.in, tc.keepENOSYS); got != tc.want {
			t.Errorf("kernelErrno(%d %v, %v) = %d %v, want %d %v", int(tc.in), tc.in, tc.keepENOSYS, int(got), got, int(tc.want), tc.want)
		}
	}
}

package vfs

import (
	"context"
	"syscall"
)

// ReadFDSharer is implemented by translators that can give a local client
// a read-only descriptor of a regular file (protocol/localfd.go):
// storage/posix, and the translators of a brick's graph between it and
// protocol/server, which forward it.
type ReadFDSharer interface {
	// ShareReadFD opens gfid read-only, after the permission check an
	// anonymous Read makes for the caller of ctx, and returns the new
	// descriptor, which the caller owns. Anything but a regular file is
	// refused (EISDIR, EINVAL).
	ShareReadFD(ctx context.Context, gfid GFID) (int, syscall.Errno)
}

// ShareReadFD calls t's ShareReadFD, or fails with EOPNOTSUPP when t has
// none.
func ShareReadFD(ctx context.Context, t Translator, gfid GFID) (int, syscall.Errno) {
	if s, ok := t.(ReadFDSharer); ok {
		return s.ShareReadFD(ctx, gfid)
	}
	return -1, syscall.EOPNOTSUPP
}

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

// LocalReader is implemented by translators that can tell whether a read
// of a file by ctx's caller would now be served on this host without a
// network round trip (protocol/client with a local descriptor of it, or
// cluster/replicate when the copy it would read is such). Read-ahead
// skips itself for such reads: the kernel's own read-ahead of the local
// file does its job, and its pages would only add a copy. Passthrough
// forwards the question, so translators that serve reads through their
// child need nothing; a translator that changes the data it reads must
// answer false.
type LocalReader interface {
	// ReadsLocally reports, without side effects or I/O, whether a read
	// of gfid by ctx's caller would be served locally.
	ReadsLocally(ctx context.Context, gfid GFID) bool
}

// ReadsLocally asks t (false when t cannot tell).
func ReadsLocally(ctx context.Context, t Translator, gfid GFID) bool {
	if l, ok := t.(LocalReader); ok {
		return l.ReadsLocally(ctx, gfid)
	}
	return false
}

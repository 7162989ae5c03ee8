package vfs

import (
	"context"
	"syscall"
)

// PipeReader is implemented by translators that can move a file's bytes
// into a pipe without copying them (splice(2) from a local descriptor of
// the file), so that a server can then splice them on to its client's
// socket: a large NFS READ then costs no copy in the gateway, where a Read
// costs two (from the file into a buffer, from the buffer into the
// socket).
//
// It is opt-in along the whole path. A translator forwards ReadToPipe
// only when what its child moves is what its own Read would return:
// write-behind first writes what it holds for the range, as before a
// Read; a cache may let the read pass by, its data being no newer than
// the file. Translators that do not implement it (and vfs.Passthrough
// does not) stop it with EOPNOTSUPP, and the caller reads with Read, as it
// must whenever ReadToPipe fails: the answer is then the same.
type PipeReader interface {
	// ReadToPipe moves up to n bytes of the file from off into the pipe
	// whose write end is pipe, and returns how many it moved: fewer only
	// at end of file. The pipe must have a free slot for every page the
	// range touches (a pipe without them fails the call, it does not
	// block). On
	// EOPNOTSUPP nothing was moved; after any other error the pipe's
	// content is undefined and it must not be used again.
	ReadToPipe(ctx context.Context, gfid GFID, fh Handle, pipe int, n int, off int64) (int, syscall.Errno)
}

// ReadToPipe calls t's ReadToPipe, or fails with EOPNOTSUPP when t has
// none.
func ReadToPipe(ctx context.Context, t Translator, gfid GFID, fh Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	if p, ok := t.(PipeReader); ok {
		return p.ReadToPipe(ctx, gfid, fh, pipe, n, off)
	}
	return 0, syscall.EOPNOTSUPP
}

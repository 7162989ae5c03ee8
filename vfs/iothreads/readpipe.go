package iothreads

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.PipeReader = (*IOThreads)(nil)

// ReadToPipe takes a slot, as a Read does.
func (t *IOThreads) ReadToPipe(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return 0, e
	}
	defer t.leave()
	return vfs.ReadToPipe(ctx, t.Child, gfid, fh, pipe, n, off)
}

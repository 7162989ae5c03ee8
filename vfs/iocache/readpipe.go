package iocache

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.PipeReader = (*IOCache)(nil)

// ReadToPipe forwards: the cache's pages hold nothing newer than the file
// below (writes pass through to it), so moving the file's bytes returns
// what a Read would, or newer.
func (c *IOCache) ReadToPipe(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	return vfs.ReadToPipe(ctx, c.Child, gfid, fh, pipe, n, off)
}

package mdcache

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.PipeReader = (*MDCache)(nil)

// ReadToPipe forwards, as Read does.
func (c *MDCache) ReadToPipe(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	return vfs.ReadToPipe(ctx, c.Child, gfid, fh, pipe, n, off)
}

package openbehind

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.PipeReader = (*OpenBehind)(nil)

// ReadToPipe forwards with the child's handle, as Read does.
func (t *OpenBehind) ReadToPipe(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	h, e := t.anon(fh)
	if e != 0 {
		return 0, e
	}
	return vfs.ReadToPipe(ctx, t.Child, gfid, h, pipe, n, off)
}

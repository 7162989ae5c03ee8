package readahead

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.PipeReader = (*ReadAhead)(nil)

// ReadToPipe forwards, as Read does for a file read locally below, and
// drops the stream's pages: the kernel reads ahead in the file the bytes
// are moved from. The pages hold nothing newer than the file.
func (t *ReadAhead) ReadToPipe(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	t.forget(keyOf(ctx, gfid, fh))
	return vfs.ReadToPipe(ctx, t.Child, gfid, fh, pipe, n, off)
}

package quickread

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.PipeReader = (*QuickRead)(nil)

// ReadToPipe declines for a file whose content Read would serve from the
// cache (within cache-timeout), so that both give the same answer, and
// forwards otherwise.
func (q *QuickRead) ReadToPipe(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	if q.looker != nil {
		q.mu.Lock()
		_, cached := q.files[gfid]
		q.mu.Unlock()
		if cached {
			return 0, syscall.EOPNOTSUPP
		}
	}
	return vfs.ReadToPipe(ctx, q.Child, gfid, fh, pipe, n, off)
}

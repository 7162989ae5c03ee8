package iothreads

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.ReadFDSharer = (*IOThreads)(nil)

// ShareReadFD takes a slot for the open, as any operation does.
func (t *IOThreads) ShareReadFD(ctx context.Context, gfid vfs.GFID) (int, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return -1, e
	}
	defer t.leave()
	return vfs.ShareReadFD(ctx, t.Child, gfid)
}

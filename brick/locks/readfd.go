package locks

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.ReadFDSharer = (*Locks)(nil)

// ShareReadFD passes through: reads take no locks here either.
func (l *Locks) ShareReadFD(ctx context.Context, gfid vfs.GFID) (int, syscall.Errno) {
	return vfs.ShareReadFD(ctx, l.Child, gfid)
}

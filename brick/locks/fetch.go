package locks

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.LookupFetcher = (*Locks)(nil)

// LookupFetch passes a lookup with xattrs and content through in one piece,
// as every other non-lock operation passes through.
func (l *Locks) LookupFetch(ctx context.Context, parent vfs.GFID, name string, keys []string, readMax int64) (vfs.Fetched, syscall.Errno) {
	return vfs.FetchLookup(ctx, l.Child, parent, name, keys, readMax)
}

package iothreads

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.LookupFetcher = (*IOThreads)(nil)

// LookupFetch takes one slot for the whole lookup, xattrs and content, so
// that storage/posix below can do them on one open of the object.
func (t *IOThreads) LookupFetch(ctx context.Context, parent vfs.GFID, name string, keys []string, readMax int64) (vfs.Fetched, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return vfs.Fetched{}, e
	}
	defer t.leave()
	return vfs.FetchLookup(ctx, t.Child, parent, name, keys, readMax)
}

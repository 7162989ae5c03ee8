package iostats

import (
	"context"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.LookupFetcher = (*IOStats)(nil)

// LookupFetch forwards a lookup with xattrs and content in one piece (so
// that io-stats in a brick's graph does not split it into a lookup, getxattrs
// and a read below), counted as a lookup.
func (s *IOStats) LookupFetch(ctx context.Context, parent vfs.GFID, name string, keys []string, readMax int64) (vfs.Fetched, syscall.Errno) {
	start := time.Now()
	r, errno := vfs.FetchLookup(ctx, s.Child, parent, name, keys, readMax)
	s.done(opLookup, start, errno != 0)
	return r, errno
}

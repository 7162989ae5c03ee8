package client

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.PipeReader = (*Client)(nil)

// ReadToPipe splices the range from the brick's file through the local
// descriptor a Read would use (see localfd.go: the same epoch, freshness
// and permission checks). Without one already fetched it fails with
// EOPNOTSUPP, and the caller's Read then goes the usual way (and counts
// toward fetching one).
func (c *Client) ReadToPipe(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	of, e := c.file(fh)
	if e != 0 {
		return 0, e
	}
	if off < 0 || (of != nil && (of.dir || of.flags&syscall.O_ACCMODE == syscall.O_WRONLY)) {
		return 0, syscall.EOPNOTSUPP
	}
	l := c.currentLocal()
	if l == nil {
		return 0, syscall.EOPNOTSUPP
	}
	moved, full := 0, false
	got, ok := l.use(ctx, gfid, false, func(fd int, st *sys.Stat_t) (int, error) {
		// Up to the size just checked: no splice call to learn of the
		// end of file.
		want := int(min(int64(n), max(st.Size-off, 0)))
		k, err := sys.SpliceToPipe(fd, off, pipe, want)
		moved = k
		if err == syscall.EAGAIN {
			// The pipe's fault, not the descriptor's: keep it.
			full = true
			return k, nil
		}
		return k, err
	})
	switch {
	case ok && !full:
		return got, 0
	case full:
		return 0, syscall.EIO // the pipe had no room for the range
	case moved > 0:
		return 0, syscall.EIO // part of the range is in the pipe
	}
	return 0, syscall.EOPNOTSUPP
}

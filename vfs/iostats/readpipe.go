package iostats

import (
	"context"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.PipeReader = (*IOStats)(nil)

// ReadToPipe forwards, counted as a read when it moved the bytes (a
// decline is not counted: the caller's Read follows and is).
func (s *IOStats) ReadToPipe(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	start := time.Now()
	r0, errno := vfs.ReadToPipe(ctx, s.Child, gfid, fh, pipe, n, off)
	if errno == syscall.EOPNOTSUPP {
		return r0, errno
	}
	s.done(opRead, start, errno != 0)
	s.addRead(r0)
	return r0, errno
}

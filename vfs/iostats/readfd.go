package iostats

import (
	"context"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.ReadFDSharer = (*IOStats)(nil)

// ShareReadFD forwards, counted as an open: the reads made on the
// descriptor never pass here.
func (s *IOStats) ShareReadFD(ctx context.Context, gfid vfs.GFID) (int, syscall.Errno) {
	start := time.Now()
	fd, errno := vfs.ShareReadFD(ctx, s.Child, gfid)
	s.done(opOpen, start, errno != 0)
	return fd, errno
}

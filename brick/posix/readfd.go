package posix

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.ReadFDSharer = (*Posix)(nil)

// ShareReadFD opens gfid read-only for a local client, with the checks of
// an anonymous Read (ioHandle): regular files only, and the caller must
// be allowed to read. The descriptor is opened through the GFID handle,
// never by a name, so it cannot lead out of the export.
func (p *Posix) ShareReadFD(ctx context.Context, gfid vfs.GFID) (int, syscall.Errno) {
	o, e := p.resolve(gfid)
	if e != 0 {
		return -1, e
	}
	defer o.close()
	if o.isDir() {
		return -1, syscall.EISDIR
	}
	if e := access(vfs.CallerFrom(ctx), &o.st, mayRead); e != 0 {
		return -1, e
	}
	fd, e := openObj(o, syscall.O_RDONLY)
	if e != 0 {
		return -1, e
	}
	if o.st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		sys.Close(fd)
		return -1, syscall.EINVAL
	}
	return fd, 0
}

package memfs

import (
	"cmp"
	"context"
	"slices"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

func (fs *FS) OpenDir(ctx context.Context, gfid vfs.GFID) (vfs.Handle, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, e := fs.dir(gfid)
	if e != 0 {
		return 0, e
	}
	if e := may(d, vfs.CallerFrom(ctx), mayRead); e != 0 {
		return 0, e
	}
	return fs.openHandle(d, syscall.O_RDONLY, true), 0
}

// ReadDir lists the entries whose cookie is above cookie, in cookie order.
func (fs *FS) ReadDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, _, e := fs.handleFor(gfid, fh, true)
	if e != 0 {
		return nil, false, e
	}
	if !d.isDir() {
		return nil, false, syscall.ENOTDIR
	}
	if fh == 0 {
		// An anonymous listing is an opendir as well.
		if e := may(d, vfs.CallerFrom(ctx), mayRead); e != 0 {
			return nil, false, e
		}
	}
	var out []vfs.DirEntry
	for name, de := range d.entries {
		if de.cookie > cookie {
			out = append(out, vfs.DirEntry{Name: name, GFID: de.gfid, Cookie: de.cookie})
		}
	}
	slices.SortFunc(out, func(a, b vfs.DirEntry) int { return cmp.Compare(a.Cookie, b.Cookie) })
	eof := true
	if max > 0 && len(out) > max {
		out, eof = out[:max], false
	}
	for i := range out {
		n := fs.nodes[out[i].GFID]
		out[i].Type = n.attr.Mode & syscall.S_IFMT
		if plus {
			a := n.getAttr()
			out[i].Attr = &a
		}
	}
	return out, eof, 0
}

func (fs *FS) ReleaseDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	return fs.release(gfid, fh, true)
}

func (fs *FS) FsyncDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, _, e := fs.handleFor(gfid, fh, true)
	return e
}

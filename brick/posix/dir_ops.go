package posix

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

// defaultReadDirMax is the number of entries ReadDir returns when the
// caller leaves the choice to the translator.
const defaultReadDirMax = 512

// direntBufSize is the getdents buffer of one handle.
const direntBufSize = 32 << 10

// OpenDir opens a directory for ReadDir. Cookies do not depend on the
// handle, so a listing may be resumed with another handle or with fh 0.
func (p *Posix) OpenDir(ctx context.Context, gfid vfs.GFID) (vfs.Handle, syscall.Errno) {
	unlock := p.lockG(gfid)
	defer unlock()
	o, e := p.resolve(gfid)
	if e != 0 {
		return 0, e
	}
	defer o.close()
	if !o.isDir() {
		return 0, syscall.ENOTDIR
	}
	if e := access(vfs.CallerFrom(ctx), &o.st, mayRead); e != 0 {
		return 0, e
	}
	fd, e := openObj(o, syscall.O_RDONLY)
	if e != 0 {
		return 0, e
	}
	return p.addHandle(gfid, fd, syscall.O_RDONLY, true)
}

// ReadDir lists entries after cookie. A cookie is the kernel's getdents
// d_off of the entry (a name hash on ext4/xfs, a stable index on tmpfs),
// which lseek accepts on any descriptor of the directory, so cookies
// survive ReleaseDir and brick restarts. "." and "..", and .cairn in the
// root, are never returned. With plus, Attr is filled when the caller may
// search the directory.
func (p *Posix) ReadDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	if max <= 0 {
		max = defaultReadDirMax
	}
	c := vfs.CallerFrom(ctx)
	var fd int
	var buf []byte
	canStat := true
	if fh != 0 {
		h, e := p.getHandle(gfid, fh)
		if e != 0 {
			return nil, false, e
		}
		defer h.mu.RUnlock()
		if !h.dir {
			return nil, false, syscall.ENOTDIR
		}
		h.dmu.Lock()
		defer h.dmu.Unlock()
		if h.buf == nil {
			h.buf = make([]byte, direntBufSize)
		}
		fd, buf = h.fd, h.buf
		if !c.IsRoot() {
			var st sys.Stat_t
			if err := sys.Fstat(fd, &st); err != nil {
				return nil, false, errno(err)
			}
			canStat = access(c, &st, mayExec) == 0
		}
	} else {
		o, e := p.resolve(gfid)
		if e != 0 {
			return nil, false, e
		}
		defer o.close()
		if !o.isDir() {
			return nil, false, syscall.ENOTDIR
		}
		if e := access(c, &o.st, mayRead); e != 0 {
			return nil, false, e
		}
		canStat = access(c, &o.st, mayExec) == 0
		dfd, e := openObj(o, syscall.O_RDONLY)
		if e != 0 {
			return nil, false, e
		}
		defer sys.Close(dfd)
		fd, buf = dfd, make([]byte, direntBufSize)
	}
	if cookie > 1<<63-1 {
		return nil, true, 0
	}
	if _, err := sys.Lseek(fd, int64(cookie), 0); err != nil {
		return nil, false, errno(err)
	}
	isRoot := gfid == vfs.RootGFID
	var out []vfs.DirEntry
	var ents []sys.Dirent
	for {
		n, err := sys.Getdents(fd, buf)
		if err != nil {
			return nil, false, errno(err)
		}
		if n == 0 {
			return out, true, 0
		}
		ents, err = sys.ParseDirents(buf[:n], ents[:0])
		if err != nil {
			return nil, false, errno(err)
		}
		for _, d := range ents {
			if d.Name == "." || d.Name == ".." || (isRoot && d.Name == vfs.ReservedName) {
				continue
			}
			if len(out) == max {
				return out, false, 0
			}
			var st sys.Stat_t
			typ := sys.DTToMode(d.Type)
			if plus || typ == 0 {
				if err := sys.Fstatat(fd, d.Name, &st); err != nil {
					continue // removed since getdents
				}
				typ = st.Mode & syscall.S_IFMT
			}
			var stp *sys.Stat_t
			if plus {
				stp = &st
			}
			g, e := p.childGFID(gfid, fd, d.Name, stp)
			if e != 0 {
				continue
			}
			ent := vfs.DirEntry{Name: d.Name, GFID: g, Type: typ, Cookie: d.Off}
			if plus && canStat {
				a := p.attr(g, &st)
				ent.Attr = &a
			}
			out = append(out, ent)
		}
	}
}

// ReleaseDir closes a handle from OpenDir.
func (p *Posix) ReleaseDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	if fh == 0 {
		return 0
	}
	return p.dropHandle(gfid, fh, true)
}

// FsyncDir syncs a directory.
func (p *Posix) FsyncDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	if fh != 0 {
		h, e := p.getHandle(gfid, fh)
		if e != 0 {
			return e
		}
		defer h.mu.RUnlock()
		return errno(sys.Fsync(h.fd, datasync))
	}
	o, e := p.resolve(gfid)
	if e != 0 {
		return e
	}
	defer o.close()
	if !o.isDir() {
		return syscall.ENOTDIR
	}
	fd, e := openObj(o, syscall.O_RDONLY)
	if e != 0 {
		return e
	}
	defer sys.Close(fd)
	return errno(sys.Fsync(fd, datasync))
}

package memfs

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// truncOnOpen applies O_TRUNC of a writable open to a regular file.
func (fs *FS) truncOnOpen(n *node, flags uint32) {
	if flags&syscall.O_TRUNC == 0 || flags&syscall.O_ACCMODE == syscall.O_RDONLY ||
		n.attr.Mode&syscall.S_IFMT != syscall.S_IFREG || len(n.data) == 0 {
		return
	}
	fs.setSize(n, 0) // shrinking cannot fail
	fs.touch(n)
}

// openable checks an open of n with flags by c. Special files are never
// opened: a brick must not become a way to reach its own devices.
func (fs *FS) openable(n *node, c *vfs.Caller, flags uint32) syscall.Errno {
	switch n.attr.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
	case syscall.S_IFDIR:
		if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
			return syscall.EISDIR
		}
	case syscall.S_IFLNK:
		return syscall.ELOOP
	default:
		return syscall.EOPNOTSUPP
	}
	return may(n, c, openMask(flags))
}

func (fs *FS) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	if flags&syscall.O_CREAT != 0 {
		return 0, syscall.EINVAL
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.nodes[gfid]
	if n == nil {
		return 0, syscall.ENOENT
	}
	if e := fs.openable(n, vfs.CallerFrom(ctx), flags); e != 0 {
		return 0, e
	}
	fs.truncOnOpen(n, flags)
	return fs.openHandle(n, flags, false), 0
}

// ioNode resolves a read or write: through an open handle, whose access
// mode must allow it, or anonymously, when the caller's permission must.
func (fs *FS) ioNode(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, write bool) (*node, *handle, syscall.Errno) {
	n, h, e := fs.handleFor(gfid, fh, false)
	if e != 0 {
		return nil, nil, e
	}
	if n.isDir() {
		return nil, nil, syscall.EISDIR
	}
	if h != nil {
		acc := h.flags & syscall.O_ACCMODE
		if (write && acc == syscall.O_RDONLY) || (!write && acc == syscall.O_WRONLY) {
			return nil, nil, syscall.EBADF
		}
		return n, h, 0
	}
	mask := uint32(mayRead)
	if write {
		mask = mayWrite
	}
	if e := may(n, vfs.CallerFrom(ctx), mask); e != 0 {
		return nil, nil, e
	}
	return n, nil, 0
}

func (fs *FS) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, _, e := fs.ioNode(ctx, gfid, fh, false)
	if e != 0 {
		return 0, e
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if off >= int64(len(n.data)) {
		return 0, 0
	}
	return copy(dest, n.data[off:]), 0
}

func (fs *FS) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	c := vfs.CallerFrom(ctx)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, h, e := fs.ioNode(ctx, gfid, fh, true)
	if e != 0 {
		return 0, e
	}
	if n.attr.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return 0, syscall.EINVAL
	}
	if h != nil && h.flags&syscall.O_APPEND != 0 {
		off = int64(len(n.data))
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	end := off + int64(len(data))
	if end > int64(len(n.data)) {
		if e := fs.setSize(n, uint64(end)); e != 0 {
			return 0, e
		}
	}
	copy(n.data[off:], data)
	n.alloc.set(off, end)
	fs.touch(n)
	// A write by anyone but root drops setuid, and setgid of a
	// group-executable file, as Linux's file_remove_privs does.
	if !c.IsRoot() {
		n.attr.Mode &^= vfs.KillPrivBits(n.attr.Mode)
	}
	return len(data), 0
}

func (fs *FS) Flush(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, _, e := fs.handleFor(gfid, fh, false)
	return e
}

func (fs *FS) Fsync(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, _, e := fs.handleFor(gfid, fh, false)
	return e
}

func (fs *FS) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	return fs.release(gfid, fh, false)
}

func (fs *FS) release(gfid vfs.GFID, fh vfs.Handle, dir bool) syscall.Errno {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fh == 0 {
		return 0
	}
	h := fs.handles[fh]
	if h == nil || h.gfid != gfid || h.dir != dir {
		return syscall.EBADF
	}
	delete(fs.handles, fh)
	if n := fs.nodes[gfid]; n != nil {
		n.opens--
		fs.maybeForget(n)
	}
	return 0
}

// Fallocate modes (fallocate(2)).
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
)

func (fs *FS) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	if off < 0 || length <= 0 {
		return syscall.EINVAL
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, _, e := fs.handleFor(gfid, fh, false)
	if e != 0 {
		return e
	}
	if n.attr.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return syscall.ENODEV
	}
	if _, _, e := fs.ioNode(ctx, gfid, fh, true); e != 0 {
		return e
	}
	end := off + length
	switch mode {
	case 0:
		if end > int64(len(n.data)) {
			if e := fs.setSize(n, uint64(end)); e != 0 {
				return e
			}
		}
		n.alloc.set(off, end)
		n.attr.Ctime = fs.now()
	case fallocKeepSize:
		n.alloc.set(off, end)
	case fallocKeepSize | fallocPunchHole:
		if off < int64(len(n.data)) {
			clear(n.data[off:min(end, int64(len(n.data)))])
		}
		n.alloc.clear(off, end)
		fs.touch(n)
	case fallocPunchHole:
		return syscall.EINVAL // Linux requires KEEP_SIZE with PUNCH_HOLE
	default:
		return syscall.EOPNOTSUPP
	}
	return 0
}

// Lseek implements SEEK_DATA and SEEK_HOLE from the allocation map.
func (fs *FS) Lseek(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, off int64, whence int) (int64, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, _, e := fs.handleFor(gfid, fh, false)
	if e != 0 {
		return 0, e
	}
	if off < 0 || (whence != 3 && whence != 4) {
		return 0, syscall.EINVAL
	}
	size := int64(len(n.data))
	if off >= size {
		return 0, syscall.ENXIO
	}
	pos := n.alloc.seek(off, size, whence == 3)
	if pos < 0 {
		return 0, syscall.ENXIO
	}
	return pos, 0
}

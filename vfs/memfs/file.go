package memfs

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// truncOnOpen applies O_TRUNC of a writable open to a regular file.
func (fs *FS) truncOnOpen(n *node, flags uint32) syscall.Errno {
	if flags&syscall.O_TRUNC == 0 || flags&syscall.O_ACCMODE == syscall.O_RDONLY ||
		n.attr.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return 0
	}
	if len(n.data) == 0 {
		return 0
	}
	fs.setSize(n, 0)
	fs.touch(n)
	return 0
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
	if n.isDir() && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return 0, syscall.EISDIR
	}
	if n.attr.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		return 0, syscall.ELOOP
	}
	if e := fs.truncOnOpen(n, flags); e != 0 {
		return 0, e
	}
	return fs.openHandle(n, flags, false), 0
}

func (fs *FS) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, h, e := fs.handleFor(gfid, fh, false)
	if e != 0 {
		return 0, e
	}
	if h != nil && h.flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return 0, syscall.EBADF
	}
	if n.isDir() {
		return 0, syscall.EISDIR
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
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, h, e := fs.handleFor(gfid, fh, false)
	if e != 0 {
		return 0, e
	}
	if h != nil && h.flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		return 0, syscall.EBADF
	}
	if n.isDir() {
		return 0, syscall.EISDIR
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
	if end := off + int64(len(data)); end > int64(len(n.data)) {
		if e := fs.setSize(n, uint64(end)); e != 0 {
			return 0, e
		}
	}
	copy(n.data[off:], data)
	fs.touch(n)
	// Writing clears setuid, and setgid on group-executable files, as
	// Linux does for unprivileged writers; memfs treats everyone alike.
	if n.attr.Mode&syscall.S_ISUID != 0 || n.attr.Mode&(syscall.S_ISGID|0o010) == syscall.S_ISGID|0o010 {
		if !vfs.CallerFrom(ctx).IsRoot() {
			n.attr.Mode &^= syscall.S_ISUID | syscall.S_ISGID
		}
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
	n, h, e := fs.handleFor(gfid, fh, false)
	if e != 0 {
		return e
	}
	if h != nil && h.flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		return syscall.EBADF
	}
	if n.attr.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return syscall.ENODEV
	}
	end := off + length
	switch mode {
	case 0:
		if end > int64(len(n.data)) {
			if e := fs.setSize(n, uint64(end)); e != 0 {
				return e
			}
			fs.touch(n)
		}
	case fallocKeepSize:
		// Space would be reserved; nothing visible changes.
	case fallocKeepSize | fallocPunchHole:
		if off < int64(len(n.data)) {
			clear(n.data[off:min(end, int64(len(n.data)))])
			fs.touch(n)
		}
	case fallocPunchHole:
		return syscall.EINVAL // Linux requires KEEP_SIZE with PUNCH_HOLE
	default:
		return syscall.EOPNOTSUPP
	}
	return 0
}

// Lseek implements SEEK_DATA and SEEK_HOLE over a file with no holes.
func (fs *FS) Lseek(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, off int64, whence int) (int64, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, _, e := fs.handleFor(gfid, fh, false)
	if e != 0 {
		return 0, e
	}
	size := int64(len(n.data))
	if off < 0 {
		return 0, syscall.EINVAL
	}
	switch whence {
	case 3: // SEEK_DATA
		if off >= size {
			return 0, syscall.ENXIO
		}
		return off, 0
	case 4: // SEEK_HOLE
		if off >= size {
			return 0, syscall.ENXIO
		}
		return size, 0
	}
	return 0, syscall.EINVAL
}

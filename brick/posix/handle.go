package posix

import (
	"sync"
	"syscall"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

// handle is an open file or directory. Operations hold mu for reading while
// they use fd; Release takes it for writing, so a descriptor is never
// closed (and its number reused) under a running pread.
type handle struct {
	mu     sync.RWMutex
	fd     int
	gfid   vfs.GFID
	flags  int
	dir    bool
	closed bool

	// dmu serialises ReadDir on one handle (it seeks the shared fd).
	dmu sync.Mutex
	buf []byte

	// direct is a second descriptor of the file opened O_WRONLY|O_DIRECT
	// for large aligned writes (see Posix.directWrite): -1 until first
	// needed, -2 when the file system refused O_DIRECT.
	directMu sync.Mutex
	direct   int
}

func (h *handle) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		sys.Close(h.fd)
		if h.direct >= 0 {
			sys.Close(h.direct)
		}
	}
}

// directFD returns the handle's O_DIRECT descriptor, opening it on first
// use; ok is false when the file system does not take O_DIRECT. The
// caller holds h.mu for reading.
func (h *handle) directFD() (fd int, ok bool) {
	h.directMu.Lock()
	defer h.directMu.Unlock()
	if h.direct == -1 {
		fd, err := sys.Reopen(h.fd, syscall.O_WRONLY|syscall.O_DIRECT)
		if err != nil {
			h.direct = -2
		} else {
			h.direct = fd
		}
	}
	return h.direct, h.direct >= 0
}

// addHandle registers fd. Callers hold g's stripe, so that an Unlink
// sees the open count.
func (p *Posix) addHandle(g vfs.GFID, fd int, flags int, dir bool) (vfs.Handle, syscall.Errno) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		sys.Close(fd)
		return 0, syscall.EBADF
	}
	p.nextFH++
	fh := p.nextFH
	h := &handle{fd: fd, gfid: g, flags: flags, dir: dir, direct: -1}
	p.handles[fh] = h
	p.openCount[g]++
	if !dir && p.openFile[g] == nil {
		p.openFile[g] = h
	}
	return fh, 0
}

// getHandle returns handle fh of g, read-locked: call h.mu.RUnlock.
func (p *Posix) getHandle(g vfs.GFID, fh vfs.Handle) (*handle, syscall.Errno) {
	p.mu.Lock()
	h := p.handles[fh]
	p.mu.Unlock()
	if h == nil || h.gfid != g {
		return nil, syscall.EBADF
	}
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		return nil, syscall.EBADF
	}
	return h, 0
}

// dropHandle removes fh and, at the last close of a file unlinked while
// open, its parked index link.
func (p *Posix) dropHandle(g vfs.GFID, fh vfs.Handle, dir bool) syscall.Errno {
	unlock := p.lockG(g)
	defer unlock()
	p.mu.Lock()
	h := p.handles[fh]
	if h == nil || h.gfid != g || h.dir != dir {
		p.mu.Unlock()
		return syscall.EBADF
	}
	delete(p.handles, fh)
	p.openCount[g]--
	if p.openFile[g] == h {
		// Another handle of g, if any, is not looked for: resolveOpen
		// then resolves g as if none were open.
		delete(p.openFile, g)
	}
	last := p.openCount[g] <= 0
	orphan := false
	if last {
		delete(p.openCount, g)
		// A held object stays parked until its hold ends (expireHeld).
		orphan = p.orphans[g] && p.held[g] == nil
		if orphan {
			delete(p.orphans, g)
		}
	}
	p.mu.Unlock()
	h.close()
	if orphan {
		p.anon.drop(g)
		_ = sys.Unlinkat(p.unlinkFD, g.String(), 0)
	}
	return 0
}

// resolveOpen is resolve for a regular file that has an open handle: it
// lends that handle's descriptor (read-locked until o.close) instead of
// opening the GFID's path again. Replicate's pre-op and post-op of a file
// it is writing, and the attributes it fetches as it closes it, then cost
// no open and close of their own, and their xattr calls need no walk
// through /proc. A caller that also takes g's stripe (lockG) must take it
// first: dropHandle holds the stripe while it waits for the handle's lock.
func (p *Posix) resolveOpen(g vfs.GFID) (*obj, syscall.Errno) {
	p.mu.Lock()
	h := p.openFile[g]
	p.mu.Unlock()
	if h != nil {
		h.mu.RLock()
		if !h.closed {
			o := &obj{fd: h.fd, gfid: g, lent: h}
			if o.restat() == 0 {
				return o, 0
			}
		}
		h.mu.RUnlock()
	}
	return p.resolve(g)
}

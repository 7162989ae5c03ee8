package iocache

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Read serves what it can from cached pages and reads each run of missing
// pages from the child in one page-aligned call, caching the result.
func (c *IOCache) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	if len(dest) == 0 || off < 0 || c.isDirect(fh) {
		return c.Child.Read(ctx, gfid, fh, dest, off)
	}
	f := c.entry(ctx, gfid, fh)
	if f == nil {
		return c.Child.Read(ctx, gfid, fh, dest, off)
	}
	defer c.done(f)
	if fh == 0 {
		if ok, key, gen := c.mayServeAnonymous(ctx, f); !ok {
			return c.readAnonymous(ctx, f, key, gen, dest, off)
		}
	}
	ps := c.pageSize
	end := off + int64(len(dest))
	pos := off
	c.mu.Lock()
	f.sequential(off, end)
	scan := f.run > c.size
	c.mu.Unlock()
	for pos < end {
		idx := pos / ps
		c.mu.Lock()
		if p := f.pages[idx]; p != nil {
			c.lru.MoveToFront(p.elem)
			c.stats.Hits++
			if in := pos - idx*ps; in < int64(len(p.data)) {
				pos += int64(copy(dest[pos-off:], p.data[in:]))
			}
			short := int64(len(p.data)) < ps
			c.mu.Unlock()
			if short && pos < end {
				break // end of file
			}
			continue
		}
		if pos >= int64(f.size) && !f.dead {
			// At or past the end of file as of the last check.
			c.mu.Unlock()
			break
		}
		if scan {
			// Past the cache: the rest of the request straight from the
			// child, cached pages after it notwithstanding (they are
			// this run's own start only when the file is re-read).
			c.stats.Scanned++
			c.mu.Unlock()
			got, errno := c.Child.Read(ctx, gfid, fh, dest[pos-off:], pos)
			if errno != 0 {
				if pos > off {
					break
				}
				return 0, errno
			}
			pos += int64(got)
			break
		}
		run := int64(1)
		for last := (end - 1) / ps; idx+run <= last && f.pages[idx+run] == nil; run++ {
		}
		gen := f.gen
		c.mu.Unlock()

		// Whole pages inside dest are read straight into it and copied
		// into the cache from there; otherwise through a buffer.
		lo, hi := idx*ps, (idx+run)*ps
		direct := lo == pos && hi <= end
		var buf []byte
		if direct {
			buf = dest[lo-off : hi-off]
		} else {
			buf = make([]byte, run*ps)
		}
		got, errno := c.Child.Read(ctx, gfid, fh, buf, lo)
		if errno != 0 {
			if pos > off {
				break // return what was read, as read(2) does
			}
			return 0, errno
		}
		c.mu.Lock()
		for lo := int64(0); lo < int64(got); lo += ps {
			c.stats.Misses++
			if f.gen == gen {
				c.insert(f, idx+lo/ps, buf[lo:min(lo+ps, int64(got))])
			}
		}
		c.mu.Unlock()
		switch in := pos - lo; {
		case direct:
			pos += int64(got)
		case in < int64(got):
			pos += int64(copy(dest[pos-off:], buf[in:got]))
		}
		if int64(got) < run*ps {
			break // end of file
		}
	}
	return int(pos - off), 0
}

func (c *IOCache) isDirect(fh vfs.Handle) bool {
	if fh == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.direct[fh]
	return ok
}

func (c *IOCache) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	errno := c.Child.Fallocate(ctx, gfid, fh, mode, off, length)
	c.Invalidate(gfid)
	return errno
}

func (c *IOCache) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	asked := c.clock()
	cctx, guessed := vfs.WithAttrsGuessNote(ctx)
	a, errno := c.Child.SetAttr(cctx, gfid, fh, in)
	if in.Valid&(vfs.SetMode|vfs.SetUID|vfs.SetGID) != 0 {
		c.permissionsChanged(gfid)
	}
	if *guessed {
		vfs.MarkAttrsGuessed(ctx) // and not used to validate pages
	}
	if in.Valid&(vfs.SetSize|vfs.SetMtime|vfs.SetMtimeNow) != 0 {
		c.Invalidate(gfid)
	} else if errno == 0 && !*guessed {
		c.observe(&a, asked, nil)
	}
	return a, errno
}

func (c *IOCache) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	fh, errno := c.Child.Open(ctx, gfid, flags)
	if errno == 0 {
		c.opened(gfid, fh, flags)
	}
	return fh, errno
}

func (c *IOCache) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	asked := c.clock()
	live := c.live()
	a, fh, errno := c.Child.Create(ctx, parent, name, in)
	if errno == 0 {
		// Create may have opened (and truncated) an existing file.
		c.opened(a.GFID, fh, in.Flags)
		if live && a.IsRegular() && a.Size == 0 && in.Flags&syscall.O_DIRECT == 0 {
			c.mu.Lock()
			c.created(&a, &dentry{parent, name}, asked)
			c.mu.Unlock()
		}
	}
	return a, fh, errno
}

// opened notes a new handle: O_DIRECT handles bypass the cache, and a
// truncating open drops the file's pages.
func (c *IOCache) opened(gfid vfs.GFID, fh vfs.Handle, flags uint32) {
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		c.Invalidate(gfid)
	}
	if flags&syscall.O_DIRECT != 0 && fh != 0 {
		c.mu.Lock()
		c.direct[fh] = struct{}{}
		c.mu.Unlock()
	}
}

func (c *IOCache) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	c.mu.Lock()
	delete(c.direct, fh)
	c.mu.Unlock()
	return c.Child.Release(ctx, gfid, fh)
}

func (c *IOCache) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	asked := c.clock()
	a, errno := c.Child.Lookup(ctx, parent, name)
	if errno == 0 {
		c.observe(&a, asked, &dentry{parent, name})
	}
	return a, errno
}

func (c *IOCache) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	asked := c.clock()
	a, errno := c.Child.GetAttr(ctx, gfid, fh)
	if errno == 0 {
		c.observe(&a, asked, nil)
	}
	return a, errno
}

func (c *IOCache) ReadDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	asked := c.clock()
	ents, eof, errno := c.Child.ReadDir(ctx, gfid, fh, cookie, max, plus)
	if errno == 0 && plus {
		for i := range ents {
			c.observe(ents[i].Attr, asked, &dentry{gfid, ents[i].Name})
		}
	}
	return ents, eof, errno
}

// span is a byte range [lo, hi).
type span struct{ lo, hi int64 }

// maxJump and maxHoles bound how far out of order a sequential reader's
// requests may arrive: the kernel hands FUSE its read-ahead as parallel
// requests (max_background), and a later one is often served first.
const (
	maxJump  = 8 // reads' lengths past the end of the run
	maxHoles = 8
)

// sequential records a read of [off, end) in f's current run, or starts a
// new run. A read continues the run when it starts where the run's
// furthest read ended; when it starts a little past that (at most maxJump
// reads' lengths: it overtook reads still on their way), leaving a hole;
// or when it falls inside such a hole, which it then fills. Anything else
// (a re-read, a read backwards, a larger jump) starts a new run, so a
// reader that is not sequential is cached as always. Called with c.mu
// held.
func (f *file) sequential(off, end int64) {
	n := end - off
	switch {
	case off == f.next:
		f.run += n
		f.next = end
		return
	case off > f.next && off-f.next <= maxJump*n && len(f.holes) < maxHoles:
		f.holes = append(f.holes, span{f.next, off})
		f.run += end - f.next
		f.next = end
		return
	}
	for i, h := range f.holes {
		if off >= h.lo && end <= h.hi && n > 0 {
			// Keep what is left of the hole on either side, in place
			// (this runs for about every other read of a FUSE scan).
			switch {
			case off == h.lo && end == h.hi:
				f.holes = append(f.holes[:i], f.holes[i+1:]...)
			case off == h.lo:
				f.holes[i].lo = end
			case end == h.hi:
				f.holes[i].hi = off
			default:
				f.holes[i].hi = off
				f.holes = append(f.holes, span{end, h.hi})
			}
			if len(f.holes) <= 2*maxHoles {
				return
			}
			break // reads picking holes apart: not a scan
		}
	}
	f.run = n
	f.next = end
	f.holes = f.holes[:0]
}

package readahead

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Read serves a sequential read from the pages read ahead, reads what they
// lack from the child, and then reads the following pages ahead.
func (t *ReadAhead) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	if len(dest) == 0 || off < 0 || t.isDirect(fh) {
		return t.Child.Read(ctx, gfid, fh, dest, off)
	}
	ps := t.pageSize
	end := off + int64(len(dest))
	k := keyOf(ctx, gfid, fh)
	if vfs.ReadsLocally(ctx, t.Child, gfid) {
		// Served from a local file below: the kernel reads ahead for
		// it, and pages here would only add a copy.
		t.forget(k)
		return t.Child.Read(ctx, gfid, fh, dest, off)
	}

	t.mu.Lock()
	s := t.streamFor(k)
	if off < s.next-2*ps || off > s.next+ps {
		// Not sequential: what was read ahead is of no use.
		s.run = 0
		t.dropPages(s, -1)
		s.next = end
		t.stats.Misses++
		t.mu.Unlock()
		return t.Child.Read(ctx, gfid, fh, dest, off)
	}
	s.run++
	s.next = max(s.next, end)
	t.dropPages(s, off/ps)
	pos, eof := off, false
	for pos < end {
		idx := pos / ps
		p := s.pages[idx]
		if p == nil {
			break
		}
		select {
		case <-p.done:
		default:
			t.mu.Unlock()
			select {
			case <-p.done:
			case <-ctx.Done():
				if pos > off {
					return int(pos - off), 0
				}
				return 0, ctxErrno(ctx)
			}
			t.mu.Lock()
		}
		if p.err != 0 || p.gen != s.gen {
			break // read it from the child instead
		}
		in := pos - idx*ps
		if in >= int64(len(p.data)) {
			eof = true
			break
		}
		p.used = true
		pos += int64(copy(dest[pos-off:], p.data[in:]))
		if int64(len(p.data)) < ps && pos < end {
			eof = true
		}
		if eof {
			break
		}
	}
	switch {
	case pos == end || eof:
		t.stats.Hits++
	case pos > off:
		t.stats.Partial++
	default:
		t.stats.Misses++
	}
	gen := s.gen
	t.mu.Unlock()

	if pos < end && !eof {
		n, errno := t.Child.Read(ctx, gfid, fh, dest[pos-off:], pos)
		if errno != 0 {
			if pos > off {
				return int(pos - off), 0 // what was read, as read(2) does
			}
			return 0, errno
		}
		if n < int(end-pos) {
			eof = true
		}
		pos += int64(n)
	}
	if !eof {
		t.readAhead(ctx, s, gen, end)
	}
	return int(pos - off), 0
}

// readAhead starts reading the pages after end that s lacks: one more for
// every sequential read in a row, up to page-count. Nothing is started if
// the file changed since gen.
func (t *ReadAhead) readAhead(ctx context.Context, s *stream, gen uint64, end int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.gen != gen || t.streams[s.key] != s {
		return
	}
	first := end / t.pageSize
	for idx := first; idx < first+int64(min(t.count, s.run)); idx++ {
		if s.eof >= 0 && idx > s.eof {
			break
		}
		if s.pages[idx] != nil {
			continue
		}
		if len(s.pages) > t.count {
			break
		}
		p := &page{idx: idx, gen: s.gen, done: make(chan struct{})}
		s.pages[idx] = p
		t.stats.Prefetched++
		go t.fetch(context.WithoutCancel(ctx), s, p)
	}
}

func (t *ReadAhead) isDirect(fh vfs.Handle) bool {
	if fh == 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.direct[fh]
	return ok
}

func ctxErrno(ctx context.Context) syscall.Errno {
	if ctx.Err() == context.DeadlineExceeded {
		return syscall.ETIMEDOUT
	}
	return syscall.EINTR
}

func (t *ReadAhead) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	fh, errno := t.Child.Open(ctx, gfid, flags)
	if errno == 0 {
		t.opened(gfid, fh, flags)
	}
	return fh, errno
}

func (t *ReadAhead) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	a, fh, errno := t.Child.Create(ctx, parent, name, in)
	if errno == 0 {
		t.opened(a.GFID, fh, in.Flags)
	}
	return a, fh, errno
}

// opened notes a new handle: O_DIRECT handles bypass read-ahead, and a
// truncating open drops the file's pages.
func (t *ReadAhead) opened(gfid vfs.GFID, fh vfs.Handle, flags uint32) {
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		t.Invalidate(gfid)
	}
	if flags&syscall.O_DIRECT != 0 && fh != 0 {
		t.mu.Lock()
		t.direct[fh] = struct{}{}
		t.mu.Unlock()
	}
}

func (t *ReadAhead) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	t.mu.Lock()
	delete(t.direct, fh)
	if s := t.streams[key{gfid: gfid, fh: fh}]; s != nil && fh != 0 {
		t.drop(s)
	}
	t.mu.Unlock()
	return t.Child.Release(ctx, gfid, fh)
}

func (t *ReadAhead) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	n, errno := t.Child.Write(ctx, gfid, fh, data, off)
	// Even a failed write may have changed some bytes.
	t.Invalidate(gfid)
	return n, errno
}

func (t *ReadAhead) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	errno := t.Child.Fallocate(ctx, gfid, fh, mode, off, length)
	t.Invalidate(gfid)
	return errno
}

func (t *ReadAhead) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	a, errno := t.Child.SetAttr(ctx, gfid, fh, in)
	if in.Valid&vfs.SetSize != 0 {
		t.Invalidate(gfid)
	}
	return a, errno
}

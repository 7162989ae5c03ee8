package writebehind

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Write acknowledges data at once when it can be held, joining it to the
// file's last queued write when they are contiguous; otherwise it waits
// for the file's queue and writes through.
func (t *WriteBehind) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	n := int64(len(data))
	w := whoOf(ctx)
	// A write of aggregate-size or more is never joined to another: copy
	// it before taking the lock, unless the caller offers its buffer
	// (taken when the write is queued).
	var own []byte
	gifted, large := false, false
	if n >= t.cfg.AggregateSize && n <= t.cfg.CacheSize {
		if gifted = vfs.DataOffered(ctx, data); !gifted {
			own, large = t.ownCopy(data)
		}
	}
	if large {
		// Given back unless a queued request took it.
		defer func() {
			if large {
				t.keepLarge(own)
			}
		}()
	}

	t.mu.Lock()
	h := t.handleOf(gfid, fh)
	if errno := t.takeErr(gfid, fh, h); errno != 0 {
		if f := t.files[gfid]; f != nil {
			t.forget(f)
		}
		t.mu.Unlock()
		return 0, errno
	}
	if !t.holdable(gfid, fh, h, w, n, off) {
		t.stats.Bypassed++
		if f := t.files[gfid]; f != nil {
			errno := t.syncLocked(ctx, f)
			t.forget(f)
			if errno != 0 {
				t.mu.Unlock()
				return 0, errno
			}
		}
		t.mu.Unlock()
		got, errno := t.Child.Write(ctx, gfid, fh, data, off)
		if errno == 0 && fh == 0 {
			t.prove(gfid, w)
		}
		if errno == 0 {
			t.mu.Lock()
			t.grew(gfid, off, int64(got), h != nil && h.flags&syscall.O_APPEND != 0)
			t.mu.Unlock()
		}
		return got, errno
	}

	f := t.fileFor(gfid)
	if errno := t.waitRoom(ctx, f, n); errno != 0 {
		t.forget(f)
		t.mu.Unlock()
		return 0, errno
	}
	// While we waited, a background write may have failed, or the handle
	// may have been released by a racing Release.
	if fh != 0 && t.handles[fh] != h {
		t.forget(f)
		t.mu.Unlock()
		return 0, syscall.EBADF
	}
	if errno := t.takeErr(gfid, fh, h); errno != 0 {
		t.forget(f)
		t.mu.Unlock()
		return 0, errno
	}
	appending := h != nil && h.flags&syscall.O_APPEND != 0
	t.stats.Writes++
	t.grew(gfid, off, n, appending)
	if tail := lastOf(f.queue); tail != nil && tail.set == nil && tail.seq > f.urgent && tail.fh == fh && tail.who == w &&
		tail.append == appending && (appending || tail.end() == off) &&
		int64(len(tail.data))+n <= t.cfg.AggregateSize {
		t.stats.Joined++
		if int64(cap(tail.data)-len(tail.data)) < n && !tail.pooled {
			b := *t.bufs.Get().(*[]byte)
			old := tail.data
			tail.data = append(b[:0], tail.data...)
			tail.pooled = true
			if tail.large { // moved out of a kept buffer (aggregate-size above 512 KiB)
				tail.large = false
				t.keepLarge(old)
			}
		}
		tail.data = append(tail.data, data...)
	} else {
		var release func()
		if own == nil && gifted {
			if own, release, gifted = vfs.TakeData(ctx, data); gifted {
				t.stats.Kept++
			}
		}
		if own == nil {
			own, large = t.ownCopy(data)
		}
		f.seq++
		r := &request{seq: f.seq, fh: fh, h: h, who: w, ctx: context.WithoutCancel(ctx), off: off, data: own, append: appending, large: large, release: release}
		large = false
		if h != nil {
			h.active++
		}
		f.queue = append(f.queue, r)
	}
	f.bytes += n
	t.total += n
	t.pump(f)
	t.mu.Unlock()
	return len(data), 0
}

func lastOf(q []*request) *request {
	if len(q) == 0 {
		return nil
	}
	return q[len(q)-1]
}

// handleOf returns the state of handle fh of gfid, nil for the anonymous
// handle and for handles this translator did not see opened. Called with
// mu held.
func (t *WriteBehind) handleOf(gfid vfs.GFID, fh vfs.Handle) *handle {
	if fh == 0 {
		return nil
	}
	if h := t.handles[fh]; h != nil && h.gfid == gfid {
		return h
	}
	return nil
}

// takeErr returns and clears the error kept for the writer: the handle, or
// the anonymous writers of gfid. Called with mu held; the caller forgets
// the file when it is done with it.
func (t *WriteBehind) takeErr(gfid vfs.GFID, fh vfs.Handle, h *handle) syscall.Errno {
	var errno syscall.Errno
	switch {
	case h != nil:
		errno, h.err = h.err, 0
	case fh == 0:
		if f := t.files[gfid]; f != nil {
			errno, f.anonErr = f.anonErr, 0
		}
	}
	return errno
}

// holdable reports whether a write may be acknowledged before the child
// has done it. Called with mu held.
func (t *WriteBehind) holdable(gfid vfs.GFID, fh vfs.Handle, h *handle, w who, n, off int64) bool {
	switch {
	case t.closed, n == 0, n > t.cfg.CacheSize:
		return false
	case fh == 0:
		// The child checks the caller's permission on every anonymous
		// write: hold only once it has said yes.
		return off >= 0 && t.proven(gfid, w)
	case h == nil:
		return false // a handle we did not see opened: let the child judge it
	}
	acc := h.flags & syscall.O_ACCMODE
	switch {
	case acc != syscall.O_WRONLY && acc != syscall.O_RDWR:
		return false
	case h.flags&syscall.O_DSYNC != 0: // O_SYNC includes O_DSYNC
		return false
	case h.flags&syscall.O_DIRECT != 0 && t.cfg.StrictODirect:
		return false
	case off < 0 && h.flags&syscall.O_APPEND == 0:
		return false
	}
	return true
}

// readConflicts reports whether a queued or in-flight write of f could
// change what a read at off returns: any write that ends after off (a
// write past the read also turns end-of-file into a hole of zeros).
func readConflicts(f *file, off int64) bool {
	for _, q := range [][]*request{f.inflight, f.queue} {
		for _, r := range q {
			if r.set == nil && (r.append || r.end() > off) {
				return true
			}
		}
	}
	return false
}

func (t *WriteBehind) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	if errno := t.beforeRead(ctx, gfid, off); errno != 0 {
		return 0, errno
	}
	return t.Child.Read(ctx, gfid, fh, dest, off)
}

// ReadToPipe forwards once the writes a Read would wait for are written.
func (t *WriteBehind) ReadToPipe(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	if errno := t.beforeRead(ctx, gfid, off); errno != 0 {
		return 0, errno
	}
	return vfs.ReadToPipe(ctx, t.Child, gfid, fh, pipe, n, off)
}

// beforeRead writes what is held for gfid if it could change a read at
// off (and held setattrs, which may change the size).
func (t *WriteBehind) beforeRead(ctx context.Context, gfid vfs.GFID, off int64) syscall.Errno {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.files[gfid]; f != nil && (f.sets > 0 || readConflicts(f, off)) {
		errno := t.syncLocked(ctx, f)
		t.forget(f)
		return errno
	}
	return 0
}

// Flush waits for the file's writes and returns the error kept for the
// handle; the child's Flush follows, in the background with flush-behind.
func (t *WriteBehind) Flush(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	t.mu.Lock()
	h := t.handleOf(gfid, fh)
	f := t.files[gfid]
	if f != nil {
		if errno := t.syncLocked(ctx, f); errno != 0 {
			t.forget(f)
			t.mu.Unlock()
			return errno
		}
	}
	errno := t.takeErr(gfid, fh, h)
	if h != nil && t.cfg.FlushBehind && !t.closed {
		f = t.fileFor(gfid)
		h.active++
		f.bg++
		t.stats.BgFlushes++
		t.mu.Unlock()
		t.senders.Go(func() {
			t.Child.Flush(context.WithoutCancel(ctx), gfid, fh)
			t.mu.Lock()
			h.active--
			f.bg--
			f.cond.Broadcast()
			t.forget(f)
			t.mu.Unlock()
		})
		return errno
	}
	if f != nil {
		t.forget(f)
	}
	t.mu.Unlock()
	if e := t.Child.Flush(ctx, gfid, fh); errno == 0 {
		errno = e
	}
	return errno
}

// Fsync waits for the file's writes, then syncs the child. It fails with
// the error kept for the handle, or of any write it waited for.
func (t *WriteBehind) Fsync(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	t.mu.Lock()
	h := t.handleOf(gfid, fh)
	f := t.files[gfid]
	var before uint64
	if f != nil {
		before = f.failures
		if errno := t.syncLocked(ctx, f); errno != 0 {
			t.forget(f)
			t.mu.Unlock()
			return errno
		}
	}
	errno := t.takeErr(gfid, fh, h)
	if f != nil {
		if errno == 0 && f.failures > before {
			errno = f.lastErr
		}
		t.forget(f)
	}
	t.mu.Unlock()
	if e := t.Child.Fsync(ctx, gfid, fh, datasync); errno == 0 {
		errno = e
	}
	return errno
}

// Release waits for the handle's writes (and background flush) before the
// child drops the handle. It never gives up: losing the release would leak
// the child's handle.
func (t *WriteBehind) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	t.mu.Lock()
	if h := t.handleOf(gfid, fh); h != nil {
		delete(t.handles, fh)
		t.unfollow(h)
		if f := t.files[gfid]; f != nil && h.active > 0 {
			f.urgent = f.seq
			t.pump(f)
			f.waiters++
			for h.active > 0 {
				f.cond.Wait()
			}
			f.waiters--
			t.forget(f)
		}
	}
	t.mu.Unlock()
	return t.Child.Release(ctx, gfid, fh)
}

// Open waits for held setattrs (the child checks the open against the
// mode and owner), and for every held write when it truncates.
func (t *WriteBehind) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	truncates := flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY
	if truncates {
		if errno := t.flushFile(ctx, gfid); errno != 0 {
			return 0, errno
		}
	} else if errno := t.flushSets(ctx, gfid); errno != 0 {
		return 0, errno
	}
	fh, errno := t.Child.Open(ctx, gfid, flags)
	if errno == 0 {
		t.opened(gfid, fh, flags)
		if truncates {
			t.lose(gfid)
		}
	}
	return fh, errno
}

func (t *WriteBehind) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	if in.Flags&syscall.O_EXCL == 0 {
		// Create may open an existing file: its held setattrs must
		// land first (the child checks the open against them), and
		// its held writes too when it truncates. Only worth a lookup
		// when anything is held.
		t.mu.Lock()
		held := t.sets > 0 || (in.Flags&syscall.O_TRUNC != 0 && len(t.files) > 0)
		t.mu.Unlock()
		if held {
			if a, errno := t.Child.Lookup(ctx, parent, name); errno == 0 {
				if errno := t.flushFile(ctx, a.GFID); errno != 0 {
					return vfs.Attr{}, 0, errno
				}
			}
		}
	}
	a, fh, errno := t.Child.Create(ctx, parent, name, in)
	if errno == 0 {
		t.opened(a.GFID, fh, in.Flags)
		if in.Flags&syscall.O_EXCL == 0 {
			t.refresh(ctx, &a)
		}
		t.follow(&a, fh)
	}
	return a, fh, errno
}

func (t *WriteBehind) opened(gfid vfs.GFID, fh vfs.Handle, flags uint32) {
	if fh == 0 {
		return
	}
	t.mu.Lock()
	t.handles[fh] = &handle{gfid: gfid, flags: flags, fh: fh}
	t.mu.Unlock()
}

// refresh makes attributes fetched from the child reflect the writes held
// here: when the file had any, they are written and a is fetched again.
func (t *WriteBehind) refresh(ctx context.Context, a *vfs.Attr) {
	if a == nil || !t.hasWork(a.GFID) {
		return
	}
	if t.flushFile(ctx, a.GFID) != 0 {
		return
	}
	if na, errno := t.Child.GetAttr(ctx, a.GFID, 0); errno == 0 {
		*a = na
	}
}

func (t *WriteBehind) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	a, errno := t.Child.Lookup(ctx, parent, name)
	if errno == 0 {
		t.refresh(ctx, &a)
	}
	return a, errno
}

func (t *WriteBehind) ReadDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	ents, eof, errno := t.Child.ReadDir(ctx, gfid, fh, cookie, max, plus)
	if errno == 0 && plus {
		for i := range ents {
			t.refresh(ctx, ents[i].Attr)
		}
	}
	return ents, eof, errno
}

func (t *WriteBehind) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	before := t.changes(gfid) // all of them are sent by the flush
	if errno := t.flushFile(ctx, gfid); errno != 0 {
		return vfs.Attr{}, errno
	}
	a, errno := t.Child.GetAttr(ctx, gfid, fh)
	if errno == 0 {
		t.learn(&a, before)
	}
	return a, errno
}

func (t *WriteBehind) Link(ctx context.Context, gfid vfs.GFID, newParent vfs.GFID, newName string) (vfs.Attr, syscall.Errno) {
	if errno := t.flushFile(ctx, gfid); errno != 0 {
		return vfs.Attr{}, errno
	}
	defer t.lose(gfid) // the link count
	return t.Child.Link(ctx, gfid, newParent, newName)
}

func (t *WriteBehind) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	if errno := t.flushFile(ctx, gfid); errno != 0 {
		return errno
	}
	defer t.lose(gfid)
	return t.Child.Fallocate(ctx, gfid, fh, mode, off, length)
}

func (t *WriteBehind) Lseek(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, off int64, whence int) (int64, syscall.Errno) {
	if errno := t.flushFile(ctx, gfid); errno != 0 {
		return 0, errno
	}
	return t.Child.Lseek(ctx, gfid, fh, off, whence)
}

func (t *WriteBehind) SetXattr(ctx context.Context, gfid vfs.GFID, name string, value []byte, flags uint32) syscall.Errno {
	if errno := t.flushFile(ctx, gfid); errno != 0 {
		return errno
	}
	defer t.lose(gfid) // an access ACL changes the mode
	return t.Child.SetXattr(ctx, gfid, name, value, flags)
}

func (t *WriteBehind) RemoveXattr(ctx context.Context, gfid vfs.GFID, name string) syscall.Errno {
	if errno := t.flushFile(ctx, gfid); errno != 0 {
		return errno
	}
	defer t.lose(gfid)
	return t.Child.RemoveXattr(ctx, gfid, name)
}

func (t *WriteBehind) XattrOp(ctx context.Context, gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	if errno := t.flushFile(ctx, gfid); errno != 0 {
		return nil, errno
	}
	return t.Child.XattrOp(ctx, gfid, op, operands)
}

func (t *WriteBehind) GetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock) (vfs.Lock, syscall.Errno) {
	if errno := t.flushFile(ctx, gfid); errno != 0 {
		return vfs.Lock{}, errno
	}
	return t.Child.GetLk(ctx, gfid, fh, kind, lk)
}

// SetLk waits for held writes first, so that data written under a lock
// reaches the bricks before the lock is released (or another taken).
func (t *WriteBehind) SetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock, wait bool) syscall.Errno {
	if errno := t.flushFile(ctx, gfid); errno != 0 {
		return errno
	}
	return t.Child.SetLk(ctx, gfid, fh, kind, lk, wait)
}

func (t *WriteBehind) InodeLk(ctx context.Context, domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) syscall.Errno {
	if errno := t.flushFile(ctx, gfid); errno != 0 {
		return errno
	}
	return t.Child.InodeLk(ctx, domain, gfid, lk, wait)
}

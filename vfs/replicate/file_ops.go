package replicate

import (
	"context"
	"math/bits"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// fdCtx is replicate's state of one open file or directory: the handle of
// every child where the open succeeded (0 elsewhere, which the children
// treat as an anonymous fd).
type fdCtx struct {
	gfid    vfs.GFID
	flags   uint32
	dir     bool
	handles []vfs.Handle
	opened  uint64

	// readChild is the child a directory listing sticks to (cookies
	// are only meaningful to the child that issued them); -1 until the
	// first ReadDir. Guarded by Replicate.mu.
	readChild int
}

// child returns the handle to use on child i (0 = anonymous).
func (f *fdCtx) child(i int) vfs.Handle {
	if f == nil {
		return 0
	}
	return f.handles[i]
}

// fd returns the state of handle fh, or nil for 0 or an unknown handle.
func (r *Replicate) fd(fh vfs.Handle) *fdCtx {
	if fh == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fds[fh]
}

// checkFD returns EBADF for a handle replicate did not issue.
func (r *Replicate) checkFD(fh vfs.Handle) (*fdCtx, syscall.Errno) {
	if fh == 0 {
		return nil, 0
	}
	fc := r.fd(fh)
	if fc == nil {
		return nil, syscall.EBADF
	}
	return fc, 0
}

// newFD registers handles and returns replicate's handle for them.
func (r *Replicate) newFD(gfid vfs.GFID, flags uint32, dir bool, handles []vfs.Handle, opened uint64) vfs.Handle {
	fh := vfs.Handle(r.fdSeq.Add(1))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fds[fh] = &fdCtx{gfid: gfid, flags: flags, dir: dir, handles: handles, opened: opened, readChild: -1}
	if !dir {
		r.opens[gfid]++
	}
	return fh
}

// Open opens gfid on every reachable child. O_TRUNC is not sent to the
// children: truncation is a data transaction, done after the open.
func (r *Replicate) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	r.awaitQueuedEnd(ctx, gfid)
	up := r.upMask()
	handles := make([]vfs.Handle, len(r.children))
	errs := make([]syscall.Errno, len(r.children))
	cflags := flags &^ syscall.O_TRUNC
	done := make(chan struct{})
	go func() {
		// Opening is where a reader meets a file again: read the
		// changelog afresh so a copy blamed by another client since our
		// last look is not read (the stale read GlusterFS users hit).
		defer close(done)
		r.refresh(ctx, gfid)
	}()
	r.parallel(up, func(i int) { handles[i], errs[i] = r.children[i].t.Open(ctx, gfid, cflags) })
	<-done
	opened := okMask(errs, up)
	if opened == 0 {
		return 0, combine(errs, up)
	}
	fh := r.newFD(gfid, flags, false, handles, opened)
	if flags&syscall.O_TRUNC != 0 {
		// By GFID, not through the handle: Linux truncates even for
		// O_RDONLY|O_TRUNC, permission being judged on the caller.
		in := vfs.SetAttrIn{Valid: vfs.SetSize}
		if _, e := r.SetAttr(ctx, gfid, 0, &in); e != 0 {
			r.Release(ctx, gfid, fh)
			return 0, e
		}
	}
	return fh, 0
}

// Read reads from a child holding a good copy, falling back to another
// good copy when that child cannot be reached.
func (r *Replicate) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	if fh == 0 {
		r.awaitQueuedEnd(ctx, gfid)
	}
	fc, e := r.checkFD(fh)
	if e != 0 {
		return 0, e
	}
	// Only a read past the file's first len(dest) bytes is split: the
	// file is then known to be large, and a small file's one read (a
	// 1 MiB read-ahead page of a 4 KiB file) does not cost every brick
	// a request.
	if r.cfg.SplitReads && len(dest) >= 2*splitReadPart && off >= int64(len(dest)) {
		if n, e, done := r.splitRead(ctx, gfid, fc, dest, off); done {
			return n, e
		}
	}
	var exclude uint64
	for {
		c, _, e := r.readChild(ctx, gfid, dataKind, exclude)
		if e != 0 {
			return 0, e
		}
		n, e := r.children[c].t.Read(ctx, gfid, fc.child(c), dest, off)
		if e == 0 || !isDown(e) {
			return n, e
		}
		exclude |= 1 << c
	}
}

// splitReadPart is the smallest part a large read is split into, one
// part per good copy. Below it the extra request costs more than the
// parallel copy saves.
const splitReadPart = 128 << 10

// splitRead reads dest in parts from several good copies at once, each
// part (page aligned, at least splitReadPart) from a different child, so
// that one large read is served by the bricks in parallel rather than by
// one: replicated reads then go faster than a single brick's. done is
// false when fewer than two good copies are open and reachable, or a
// child turned out to be down; the caller then reads from one child.
//
// Only copies with no pending data changelog are candidates, the same
// rule as for a whole read, so the parts agree with each other.
func (r *Replicate) splitRead(ctx context.Context, gfid vfs.GFID, fc *fdCtx, dest []byte, off int64) (n int, e syscall.Errno, done bool) {
	cand, _, e := r.readable(ctx, gfid, dataKind, 0)
	if e != 0 {
		return 0, e, true
	}
	if fc != nil {
		cand &= fc.opened
	}
	parts := min(bits.OnesCount64(cand), len(dest)/splitReadPart)
	if parts < 2 {
		return 0, 0, false
	}
	// Start at the child a whole read would use, so the first part of
	// each read keeps going where the brick's own read-ahead expects it.
	children := make([]int, 0, parts)
	start := r.pick(gfid, cand)
	for i := range len(r.children) {
		c := (start + i) % len(r.children)
		if cand&(1<<c) != 0 && len(children) < parts {
			children = append(children, c)
		}
	}
	size := (len(dest)/parts + pageSize - 1) &^ (pageSize - 1)
	bufs := make([][]byte, parts)
	for p := range parts {
		lo := min(p*size, len(dest))
		hi := min(lo+size, len(dest))
		if p == parts-1 {
			hi = len(dest)
		}
		bufs[p] = dest[lo:hi]
	}
	ns := make([]int, parts)
	errs := make([]syscall.Errno, parts)
	read := func(p int) {
		c := children[p]
		ns[p], errs[p] = r.children[c].t.Read(ctx, gfid, fc.child(c), bufs[p], off+int64(p*size))
	}
	var wg sync.WaitGroup
	for p := range parts - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			read(p)
		}()
	}
	read(parts - 1)
	wg.Wait()
	for p := range parts {
		if errs[p] != 0 {
			if isDown(errs[p]) {
				return 0, 0, false
			}
			return 0, errs[p], true
		}
	}
	// The result is the data up to the first short part: a short part
	// is the end of the file, and whatever a later part found beyond it
	// (the file growing meanwhile) is not contiguous with it.
	for p := range parts {
		n += ns[p]
		if ns[p] < len(bufs[p]) {
			break
		}
	}
	return n, 0, true
}

// pageSize aligns the parts of a split read.
const pageSize = 4096

// Write writes to every active child in a data transaction.
func (r *Replicate) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	if fh == 0 {
		r.awaitQueuedEnd(ctx, gfid)
	}
	fc, e := r.checkFD(fh)
	if e != 0 {
		return 0, e
	}
	s := span{off, off + int64(len(data))}
	if fc != nil && fc.flags&syscall.O_APPEND != 0 {
		s = wholeFile
	}
	ns := make([]int, len(r.children))
	good, e := r.inodeTxn(ctx, gfid, dataKind, s, func(i int) syscall.Errno {
		var e syscall.Errno
		ns[i], e = r.children[i].t.Write(ctx, gfid, fc.child(i), data, off)
		return e
	})
	if e != 0 {
		return 0, e
	}
	return ns[first(good)], 0
}

// WriteSetAttr writes and then changes mode, owner or times in one
// request per brick (a compound of the two), inside the file's inode
// window with both kinds pre-op'd: write-behind sends a new file's last
// write with the setattrs tar made after it this way. A brick where the
// write fails is blamed for both (its setattr is not run); one where only
// the setattr fails, for the metadata. Sizes and O_APPEND handles take
// the two operations one after the other.
func (r *Replicate) WriteSetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64, in *vfs.SetAttrIn) (int, vfs.Attr, syscall.Errno) {
	fc, e := r.checkFD(fh)
	if e != 0 {
		return 0, vfs.Attr{}, e
	}
	if fh == 0 || in.Valid&vfs.SetSize != 0 || (fc != nil && fc.flags&syscall.O_APPEND != 0) {
		n, e := r.Write(ctx, gfid, fh, data, off)
		if e != 0 || n != len(data) {
			return n, vfs.Attr{}, e
		}
		a, e := r.SetAttr(ctx, gfid, fh, in)
		return n, a, e
	}
	ns := make([]int, len(r.children))
	attrs := make([]vfs.Attr, len(r.children))
	wrote, set, e := r.inodeTxnPair(ctx, gfid, func(i int) (syscall.Errno, syscall.Errno) {
		ops := []compound.Op{
			compound.Write(gfid, fc.child(i), data, off),
			compound.SetAttr(gfid, fc.child(i), *in),
		}
		res, e := compound.Run(ctx, r.children[i].t, ops)
		switch {
		case e == 0 && len(res) == 2 && res[0].N == len(data):
			ns[i], attrs[i] = res[0].N, res[1].Attr
			return 0, 0
		case e == 0:
			return syscall.EIO, syscall.EIO // a short write: not what was asked
		case len(res) < 2:
			return e, e // the write failed; the setattr never ran
		default:
			ns[i] = res[0].N
			return 0, e
		}
	})
	if wrote == 0 {
		return 0, vfs.Attr{}, e
	}
	n := ns[first(wrote)]
	if e != 0 {
		return n, vfs.Attr{}, e
	}
	return n, attrs[r.pick(gfid, set)], 0
}

// Fallocate preallocates or punches in a data transaction.
func (r *Replicate) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	fc, e := r.checkFD(fh)
	if e != 0 {
		return e
	}
	_, e = r.inodeTxn(ctx, gfid, dataKind, wholeFile, func(i int) syscall.Errno {
		return r.children[i].t.Fallocate(ctx, gfid, fc.child(i), mode, off, length)
	})
	return e
}

// Lseek asks a good copy (SEEK_DATA/SEEK_HOLE).
func (r *Replicate) Lseek(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, off int64, whence int) (int64, syscall.Errno) {
	c, h, e := r.goodCopy(ctx, gfid, fh)
	if e != 0 {
		return 0, e
	}
	return r.children[c].t.Lseek(ctx, gfid, h, off, whence)
}

// goodCopy returns the child a read of gfid's data would use and fh's
// handle on it.
func (r *Replicate) goodCopy(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (int, vfs.Handle, syscall.Errno) {
	fc, e := r.checkFD(fh)
	if e != 0 {
		return -1, 0, e
	}
	c, _, e := r.readChild(ctx, gfid, dataKind, 0)
	if e != 0 {
		return -1, 0, e
	}
	return c, fc.child(c), 0
}

// Flush is close(2). It sends nothing to the children: a brick keeps no
// state per close (storage/posix only checks the handle, and the POSIX
// locks a close drops reach features/locks as explicit unlocks from the
// FUSE layer, client.lockReleaser), so a request per brick per close(2)
// only cost round trips (two of a small file's eight). The eager
// transaction stays open until the last Release (or PostOpDelay):
// closing it here would put a post-op round trip in every close(2), and
// an acknowledged write needs no post-op to be safe (failures are blamed
// at once).
func (r *Replicate) Flush(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	_, e := r.checkFD(fh)
	return e
}

// Fsync syncs every copy and completes the pending post-op, so that what
// was synced is also known to be consistent.
func (r *Replicate) Fsync(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	fc, e := r.checkFD(fh)
	if e != 0 {
		return e
	}
	mask := r.upMask()
	if fc != nil {
		mask &= fc.opened
	}
	errs := make([]syscall.Errno, len(r.children))
	r.parallel(mask, func(i int) { errs[i] = r.children[i].t.Fsync(ctx, gfid, fc.child(i), datasync) })
	r.flushWindow(ctx, gfid, dataKind)
	return firstErr(errs, mask)
}

// Release closes the children's handles; the last release of a file ends
// this client's eager transaction on it (in the background), so another
// client's writes, or a heal, need not wait for the eager lock to expire.
func (r *Replicate) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	r.mu.Lock()
	fc := r.fds[fh]
	delete(r.fds, fh)
	last := false
	if fc != nil && !fc.dir {
		if r.opens[gfid]--; r.opens[gfid] <= 0 {
			delete(r.opens, gfid)
			last = true
		}
	}
	r.mu.Unlock()
	if fc == nil {
		return syscall.EBADF
	}
	var w *window
	if last {
		w = r.takeIdle(gfid, dataKind, vfs.CallerFrom(ctx).Client)
		if w == nil {
			r.endWindow(gfid, dataKind)
		}
	}
	if w == nil {
		r.parallel(fc.opened, func(i int) { r.children[i].t.Release(ctx, gfid, fc.handles[i]) })
		return 0
	}
	// The last release ends the eager transaction in the same request:
	// post-op, release, unlock, queued to travel with this client's next
	// request to each child (releaseLater). The post-op (and the
	// attributes fetched after it) go before the release, while the
	// brick still has the file open: storage/posix then uses that
	// descriptor instead of resolving the GFID again.
	closing := r.closeMask(w)
	ops := make([][]compound.Op, len(r.children))
	postOpEnd := make([]int, len(r.children))
	each(fc.opened|closing, func(i int) {
		if closing&(1<<i) != 0 {
			ops[i] = append(ops[i], r.postOps(i, w)...)
		}
		postOpEnd[i] = len(ops[i])
		if fc.opened&(1<<i) != 0 {
			ops[i] = append(ops[i], compound.Release(gfid, fc.handles[i]))
		}
		if closing&(1<<i) != 0 {
			for k := len(w.locks) - 1; k >= 0; k-- {
				ops[i] = append(ops[i], w.locks[k].unlockOp(w.owner))
			}
		}
	})
	// Whoever asked for the attributes after the release (md-cache, for a
	// file it saw written) gets them from a good copy in the same
	// request, after the post-op: the ctime then is the one a later stat
	// sees.
	var attrs *deferredAttrs
	if ra := vfs.ReleaseAttrsFrom(ctx); ra != nil && !ra.Taken && ra.Deliver != nil {
		if c := r.releaseAttrChild(gfid, w, fc.opened&closing); c >= 0 {
			at := postOpEnd[c]
			ops[c] = slices.Insert(ops[c], at, compound.GetAttr(gfid, 0))
			attrs = &deferredAttrs{child: c, at: at, deliver: ra.Deliver}
			ra.Taken = true
		}
	}
	r.releaseLater(ctx, fc.opened|closing, ops, w, attrs)
	return 0
}

// releaseAttrChild picks, among the children in mask, the one a release
// that ends window w may fetch the file's attributes from: a copy good for
// both data and metadata by the fresh cached changelog, in a window where
// nothing failed. -1 when there is none (the asker then fetches them the
// usual way).
func (r *Replicate) releaseAttrChild(gfid vfs.GFID, w *window, mask uint64) int {
	r.mu.Lock()
	failed := w.failed | w.down
	r.mu.Unlock()
	st := r.cachedState(gfid)
	if failed != 0 || st == nil || time.Since(st.at) >= r.cfg.StateTTL {
		return -1
	}
	return r.pick(gfid, mask&st.readable[dataKind]&st.readable[metaKind]&st.exists&r.upMask())
}

// firstErr returns 0 if any child in mask succeeded, else the most
// telling errno.
func firstErr(errs []syscall.Errno, mask uint64) syscall.Errno {
	any := false
	each(mask, func(i int) {
		if errs[i] == 0 {
			any = true
		}
	})
	if any || mask == 0 {
		return 0
	}
	return combine(errs, mask)
}

// SetAttr changes attributes: a size change is a data transaction, the
// rest a metadata transaction; both may be needed.
func (r *Replicate) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	if fh == 0 {
		r.awaitQueuedEnd(ctx, gfid)
	}
	fc, e := r.checkFD(fh)
	if e != 0 {
		return vfs.Attr{}, e
	}
	attrs := make([]vfs.Attr, len(r.children))
	var good uint64
	if in.Valid&vfs.SetSize != 0 {
		data := vfs.SetAttrIn{Valid: vfs.SetSize, Size: in.Size}
		good, e = r.inodeTxn(ctx, gfid, dataKind, wholeFile, func(i int) syscall.Errno {
			var e syscall.Errno
			attrs[i], e = r.children[i].t.SetAttr(ctx, gfid, fc.child(i), &data)
			return e
		})
		if e != 0 {
			return vfs.Attr{}, e
		}
	}
	if meta := *in; meta.Valid&^vfs.SetSize != 0 {
		meta.Valid &^= vfs.SetSize
		good, e = r.inodeTxn(ctx, gfid, metaKind, wholeFile, func(i int) syscall.Errno {
			var e syscall.Errno
			attrs[i], e = r.children[i].t.SetAttr(ctx, gfid, fc.child(i), &meta)
			return e
		})
		if e != 0 {
			return vfs.Attr{}, e
		}
	}
	if good == 0 {
		return r.GetAttr(ctx, gfid, fh)
	}
	return attrs[r.pick(gfid, good)], 0
}

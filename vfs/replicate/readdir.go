package replicate

import (
	"context"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// OpenDir opens the directory on every reachable child.
func (r *Replicate) OpenDir(ctx context.Context, gfid vfs.GFID) (vfs.Handle, syscall.Errno) {
	up := r.upMask()
	handles := make([]vfs.Handle, len(r.children))
	errs := make([]syscall.Errno, len(r.children))
	r.parallel(up, func(i int) { handles[i], errs[i] = r.children[i].t.OpenDir(ctx, gfid) })
	opened := okMask(errs, up)
	if opened == 0 {
		return 0, combine(errs, up)
	}
	return r.newFD(gfid, 0, true, handles, opened), 0
}

// ReadDir lists the directory from one child whose entries are good. A
// listing sticks to the child it started on, since cookies mean nothing
// to the others; if that child goes away mid-listing, ENOTCONN.
func (r *Replicate) ReadDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	fc, e := r.checkFD(fh)
	if e != 0 {
		return nil, false, e
	}
	c := -1
	if fc != nil && cookie != 0 {
		r.mu.Lock()
		c = fc.readChild
		r.mu.Unlock()
	}
	var exclude uint64
	for {
		if c < 0 {
			c, _, e = r.readChild(ctx, gfid, entryKind, exclude)
			if e != 0 {
				return nil, false, e
			}
		}
		ents, eof, e := r.children[c].t.ReadDir(ctx, gfid, fc.child(c), cookie, max, plus)
		if isDown(e) && cookie == 0 {
			exclude |= 1 << c
			c = -1
			continue
		}
		if e != 0 {
			return nil, false, e
		}
		if fc != nil {
			r.mu.Lock()
			fc.readChild = c
			r.mu.Unlock()
		}
		out := ents[:0]
		for _, d := range ents {
			if gfid == vfs.RootGFID && d.Name == vfs.ReservedName {
				continue
			}
			if plus && d.Attr != nil {
				// The listing child's attributes are only good if its
				// copy of that file is: otherwise ask replicate.
				if st := r.cachedState(d.GFID); st != nil && time.Since(st.at) < r.cfg.StateTTL &&
					(st.readable[dataKind]&st.readable[metaKind])&(1<<c) == 0 {
					if a, e := r.GetAttr(ctx, d.GFID, 0); e == 0 {
						a := a
						d.Attr = &a
					}
				}
			}
			r.noteName(d.GFID, gfid, d.Name)
			out = append(out, d)
		}
		return out, eof, 0
	}
}

// ReleaseDir closes the children's directory handles.
func (r *Replicate) ReleaseDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	r.mu.Lock()
	fc := r.fds[fh]
	delete(r.fds, fh)
	r.mu.Unlock()
	if fc == nil {
		return syscall.EBADF
	}
	r.parallel(fc.opened, func(i int) { r.children[i].t.ReleaseDir(ctx, gfid, fc.handles[i]) })
	return 0
}

// FsyncDir syncs the directory on every child.
func (r *Replicate) FsyncDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	fc, e := r.checkFD(fh)
	if e != 0 {
		return e
	}
	mask := r.upMask()
	if fc != nil {
		mask &= fc.opened
	}
	errs := make([]syscall.Errno, len(r.children))
	r.parallel(mask, func(i int) { errs[i] = r.children[i].t.FsyncDir(ctx, gfid, fc.child(i), datasync) })
	return firstErr(errs, mask)
}

// StatFS reports the smallest child, as AFR does: the volume is full when
// any copy is.
func (r *Replicate) StatFS(ctx context.Context, gfid vfs.GFID) (vfs.StatFS, syscall.Errno) {
	up := r.upMask()
	res := make([]vfs.StatFS, len(r.children))
	errs := make([]syscall.Errno, len(r.children))
	r.parallel(up, func(i int) { res[i], errs[i] = r.children[i].t.StatFS(ctx, gfid) })
	var out vfs.StatFS
	got := false
	each(up, func(i int) {
		if errs[i] != 0 {
			return
		}
		s := res[i]
		if !got {
			out, got = s, true
			return
		}
		// Compare in bytes, as block sizes may differ.
		if s.Bavail*uint64(s.Frsize) < out.Bavail*uint64(out.Frsize) {
			out = s
		}
	})
	if !got {
		return vfs.StatFS{}, combine(errs, up)
	}
	return out, 0
}

// Readlink reads the target from a good copy.
func (r *Replicate) Readlink(ctx context.Context, gfid vfs.GFID) (string, syscall.Errno) {
	var exclude uint64
	for {
		c, _, e := r.readChild(ctx, gfid, metaKind, exclude)
		if e != 0 {
			return "", e
		}
		s, e := r.children[c].t.Readlink(ctx, gfid)
		if e == 0 || !isDown(e) {
			return s, e
		}
		exclude |= 1 << c
	}
}

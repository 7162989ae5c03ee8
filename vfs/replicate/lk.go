package replicate

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Application locks are replicated to every reachable child, as AFR does,
// so that a client connected to any subset of the bricks sees them.

// GetLk reports the first conflicting lock any reachable child knows.
func (r *Replicate) GetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock) (vfs.Lock, syscall.Errno) {
	fc, e := r.checkFD(fh)
	if e != 0 {
		return vfs.Lock{}, e
	}
	up := r.upMask()
	res := make([]vfs.Lock, len(r.children))
	errs := make([]syscall.Errno, len(r.children))
	r.parallel(up, func(i int) { res[i], errs[i] = r.children[i].t.GetLk(ctx, gfid, fc.child(i), kind, lk) })
	var out vfs.Lock
	found, any := false, false
	each(up, func(i int) {
		if errs[i] != 0 {
			return
		}
		any = true
		if !found && res[i].Type != vfs.Unlock {
			out, found = res[i], true
		}
	})
	if !any {
		return vfs.Lock{}, combine(errs, up)
	}
	if !found {
		out = lk
		out.Type = vfs.Unlock
	}
	return out, 0
}

// SetLk takes or drops an application lock on every reachable child.
// Without waiting, the lock is tried everywhere at once and undone if any
// child refuses; with waiting, children are locked one after the other in
// index order (the order every client uses, so two clients cannot each
// hold one child while waiting for the other).
func (r *Replicate) SetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock, wait bool) syscall.Errno {
	fc, e := r.checkFD(fh)
	if e != 0 {
		return e
	}
	return r.lockEverywhere(lk.Type == vfs.Unlock, wait, func(i int, wait bool) syscall.Errno {
		return r.children[i].t.SetLk(ctx, gfid, fc.child(i), kind, lk, wait)
	}, func(i int) {
		un := lk
		un.Type = vfs.Unlock
		r.children[i].t.SetLk(context.WithoutCancel(ctx), gfid, fc.child(i), kind, un, false)
	})
}

// InodeLk forwards an inode lock of a translator stacked above replicate
// to every reachable child.
func (r *Replicate) InodeLk(ctx context.Context, domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) syscall.Errno {
	return r.lockEverywhere(lk.Type == vfs.Unlock, wait, func(i int, wait bool) syscall.Errno {
		return r.children[i].t.InodeLk(ctx, domain, gfid, lk, wait)
	}, func(i int) {
		un := lk
		un.Type = vfs.Unlock
		r.children[i].t.InodeLk(context.WithoutCancel(ctx), domain, gfid, un, false)
	})
}

// EntryLk forwards an entry lock of a translator stacked above replicate
// to every reachable child.
func (r *Replicate) EntryLk(ctx context.Context, domain string, parent vfs.GFID, name string, typ vfs.LockType, owner uint64, wait bool) syscall.Errno {
	return r.lockEverywhere(typ == vfs.Unlock, wait, func(i int, wait bool) syscall.Errno {
		return r.children[i].t.EntryLk(ctx, domain, parent, name, typ, owner, wait)
	}, func(i int) {
		r.children[i].t.EntryLk(context.WithoutCancel(ctx), domain, parent, name, vfs.Unlock, owner, false)
	})
}

func (r *Replicate) lockEverywhere(unlock, wait bool, do func(i int, wait bool) syscall.Errno, undo func(i int)) syscall.Errno {
	up := r.upMask()
	errs := make([]syscall.Errno, len(r.children))
	if unlock {
		r.parallel(up, func(i int) { errs[i] = do(i, false) })
		return firstErr(errs, up)
	}
	tried := up
	if !wait {
		r.parallel(up, func(i int) { errs[i] = do(i, false) })
	} else {
		tried = 0
		for m := up; m != 0; m &= m - 1 {
			i := first(m)
			tried |= 1 << i
			errs[i] = do(i, true)
			if errs[i] != 0 && !isDown(errs[i]) {
				break
			}
		}
	}
	var got uint64
	var refusal syscall.Errno
	each(tried, func(i int) {
		switch {
		case errs[i] == 0:
			got |= 1 << i
		case !isDown(errs[i]) && refusal == 0:
			refusal = errs[i]
		}
	})
	if refusal != 0 || got == 0 {
		r.parallel(got, undo)
		if refusal != 0 {
			return refusal
		}
		return combine(errs, tried)
	}
	return 0
}

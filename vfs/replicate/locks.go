package replicate

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// Lock domains. Data and metadata transactions take the same inode lock
// (they share one eager window, see windowKind): a file's owner, mode and
// times then change inside the transaction of its writes, and another
// client's chmod waits for a writer's eager lock as its writes do (for
// PostOpDelay of idleness, the writer's last close, or EagerLockMaxHold).
// Namespace operations take entry locks on (parent, name), and entry
// self-heal takes the whole directory (name "") in both the name and the
// window domains.
const (
	dataDomain  = "replicate"
	entryDomain = "replicate"
	// windowDomain holds the entry locks of entry windows (eager entry
	// transactions); entry heal locks the whole directory there too.
	windowDomain = "replicate.window"
)

// lockReq is one lock a transaction needs on every child.
type lockReq struct {
	entry  bool
	domain string
	gfid   vfs.GFID // the inode, or the parent directory of an entry lock
	name   string   // entry locks: the name ("" = the whole directory)
	typ    vfs.LockType
}

func (l lockReq) op(owner uint64, wait bool) compound.Op {
	if l.entry {
		return compound.EntryLk(l.domain, l.gfid, l.name, l.typ, owner, wait)
	}
	return compound.InodeLk(l.domain, l.gfid, vfs.Lock{Type: l.typ, Start: 0, End: vfs.LockEOF, Owner: owner}, wait)
}

func (l lockReq) unlockOp(owner uint64) compound.Op {
	if l.entry {
		return compound.EntryLk(l.domain, l.gfid, l.name, vfs.Unlock, owner, false)
	}
	return compound.InodeLk(l.domain, l.gfid, vfs.Lock{Type: vfs.Unlock, Start: 0, End: vfs.LockEOF, Owner: owner}, false)
}

// internalCtx is the context of replicate's own operations on the
// children (changelog, locks, heal): they run as root, since the changelog
// lives in trusted.* xattrs and heals must recreate any owner's files, but
// keep the caller's client name so locks stay tied to its connection.
func internalCtx(ctx context.Context) context.Context {
	c := vfs.CallerFrom(ctx)
	return vfs.WithCaller(ctx, &vfs.Caller{Pid: c.Pid, Client: c.Client})
}

// lockAndPreOp takes locks on every child in mask and, on each child once
// its locks are held, applies the pre-op xattrops returned by preop(i).
// Both travel in one compound request per child. Locks are first tried
// without waiting on all children at once; if any child reports a
// conflict, everything is undone and the locks are taken with waiting,
// child after child in index order, which is the order every client uses,
// so clients cannot deadlock. It returns the children where locks and
// pre-op both succeeded, and every child's errno.
func (r *Replicate) lockAndPreOp(ctx context.Context, mask uint64, owner uint64, locks []lockReq, preop func(i int) []compound.Op) (uint64, []syscall.Errno) {
	ictx := internalCtx(ctx)
	errs := make([]syscall.Errno, len(r.children))
	got := make([]int, len(r.children)) // locks granted per child
	build := func(i int, wait bool) []compound.Op {
		ops := make([]compound.Op, 0, len(locks)+2)
		for _, l := range locks {
			ops = append(ops, l.op(owner, wait))
		}
		if preop != nil {
			ops = append(ops, preop(i)...)
		}
		return ops
	}
	run := func(i int, wait bool) {
		var res []compound.Result
		var e syscall.Errno
		if wait {
			res, e = compound.Run(ictx, r.children[i].t, build(i, true))
		} else {
			// Deferred unlocks only travel with requests that do
			// not wait: one blocked at the brick would hold them
			// back, maybe from the very client it waits for.
			res, e = r.runOn(ictx, i, build(i, false))
		}
		errs[i] = e
		got[i] = 0
		for k, rr := range res {
			if k < len(locks) && rr.Errno == 0 {
				got[i]++
			}
		}
	}
	r.parallel(mask, func(i int) { run(i, false) })
	contended := false
	each(mask, func(i int) {
		if errs[i] == syscall.EAGAIN {
			contended = true
		}
	})
	if contended {
		// Undo everything, then wait for the locks in child order.
		r.parallel(mask, func(i int) {
			if isDown(errs[i]) {
				return
			}
			var ops []compound.Op
			if errs[i] == 0 && preop != nil {
				ops = append(ops, negate(preop(i))...)
			}
			for k := got[i] - 1; k >= 0; k-- {
				ops = append(ops, locks[k].unlockOp(owner))
			}
			runAll(ictx, r.children[i].t, ops)
		})
		each(mask, func(i int) {
			if isDown(errs[i]) {
				return
			}
			run(i, true)
			if errs[i] != 0 && !isDown(errs[i]) {
				// Release what this child granted before the failure.
				r.unlockGot(ictx, i, owner, locks[:got[i]])
			}
		})
	} else {
		r.parallel(mask, func(i int) {
			if errs[i] != 0 && !isDown(errs[i]) && got[i] > 0 {
				r.unlockGot(ictx, i, owner, locks[:got[i]])
			}
		})
	}
	ok := okMask(errs, mask)
	return ok, errs
}

// unlockAndPostOp applies the post-op xattrops of postop(i) and then
// releases the locks, in one compound request per child in mask. Every
// operation is attempted even if an earlier one fails (a failed post-op
// leaves the counters raised, which is safe; the locks must go anyway).
func (r *Replicate) unlockAndPostOp(ctx context.Context, mask uint64, owner uint64, locks []lockReq, postop func(i int) []compound.Op) {
	ictx := internalCtx(ctx)
	r.parallel(mask, func(i int) {
		var ops []compound.Op
		if postop != nil {
			ops = append(ops, postop(i)...)
		}
		for k := len(locks) - 1; k >= 0; k-- {
			ops = append(ops, locks[k].unlockOp(owner))
		}
		runAll(ictx, r.children[i].t, ops)
	})
}

// runAll runs ops on t in one compound request; if the batch stops at a
// failure other than a lost connection, the remaining operations are
// attempted one by one, since each must be tried (unlocks, undo).
func runAll(ctx context.Context, t vfs.Translator, ops []compound.Op) {
	if len(ops) == 0 {
		return
	}
	res, e := compound.Run(ctx, t, ops)
	tryRest(ctx, t, ops, res, e)
}

// tryRest attempts one by one the ops that a compound request which
// ended with e stopped before (res holds those that ran), unless the
// connection was lost.
func tryRest(ctx context.Context, t vfs.Translator, ops []compound.Op, res []compound.Result, e syscall.Errno) {
	if e == 0 || isDown(e) {
		return
	}
	for k := len(res); k < len(ops); k++ {
		compound.Do(ctx, t, &ops[k])
	}
}

// pendingOps builds the xattrop for child i that adds delta[j] to its
// kind-k counter M[i][j] about child j, for every j.
func (r *Replicate) pendingOps(i int, gfid vfs.GFID, k kind, delta []int32) []compound.Op {
	return r.pendingKinds(i, gfid, kinds(1)<<k, delta)
}

// pendingKinds is pendingOps for every kind in ks at once (one xattrop).
// In stored form (see DirtyKey) that is delta[i] on the dirty counters
// and delta[j]-delta[i] on j's key, only where non-zero.
func (r *Replicate) pendingKinds(i int, gfid vfs.GFID, ks kinds, delta []int32) []compound.Op {
	operands := make(map[string][]byte)
	put := func(key string, d int32) {
		if d == 0 {
			return
		}
		var c counters
		for k := range numKinds {
			if ks.has(k) {
				c[k] = d
			}
		}
		operands[key] = c.encode()
	}
	put(DirtyKey, delta[i])
	for j, d := range delta {
		if j != i {
			put(r.children[j].pendingKey, d-delta[i])
		}
	}
	if len(operands) == 0 {
		return nil
	}
	return []compound.Op{compound.XattrOp(gfid, vfs.XattrAddArray32, operands)}
}

// negate turns pre-op xattrops into their undo.
func negate(ops []compound.Op) []compound.Op {
	out := make([]compound.Op, 0, len(ops))
	for _, op := range ops {
		if op.Kind != compound.OpXattrOp {
			continue
		}
		neg := make(map[string][]byte, len(op.Xattrs))
		for name, v := range op.Xattrs {
			c := decodeCounters(v)
			for k := range c {
				c[k] = -c[k]
			}
			neg[name] = c.encode()
		}
		out = append(out, compound.XattrOp(op.GFID, op.XattrOp, neg))
	}
	return out
}

// unlockGot releases, in reverse order, locks granted on child i.
func (r *Replicate) unlockGot(ctx context.Context, i int, owner uint64, locks []lockReq) {
	ops := make([]compound.Op, 0, len(locks))
	for k := len(locks) - 1; k >= 0; k-- {
		ops = append(ops, locks[k].unlockOp(owner))
	}
	runAll(ctx, r.children[i].t, ops)
}

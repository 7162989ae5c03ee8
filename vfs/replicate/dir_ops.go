package replicate

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// entryKey names an entry lock this client holds or is releasing.
type entryKey struct {
	parent vfs.GFID
	name   string
}

// entryTxn runs a namespace operation: in an entry window on every
// parent involved (an eager transaction on the directory: a lock of its
// own plus the entry pre-op, kept while the directory keeps changing, so
// a burst of creates costs one changelog update, not two per create),
// under entry locks on every (parent, name) so that clients racing on a
// name end alike everywhere; the operation on every active child in
// parallel; durable blame for children where it failed; then the name
// locks are released with the next request to each child, or soon after
// (entryUnlockLater).
func (r *Replicate) entryTxn(ctx context.Context, names []entryKey, op entryOp) (uint64, []syscall.Errno, syscall.Errno) {
	parents := make([]vfs.GFID, 0, 2)
	for _, n := range names {
		if st := r.cachedState(n.parent); st != nil && st.splitBrain[entryKind] {
			if st, e := r.confirmSplitBrain(ctx, n.parent, entryKind); e == 0 && st.splitBrain[entryKind] {
				r.reportSplitBrain(n.parent, entryKind, st)
				return 0, nil, syscall.EIO
			}
		}
		if !slices.Contains(parents, n.parent) {
			parents = append(parents, n.parent)
		}
	}
	sort.Slice(parents, func(a, b int) bool { return bytes.Compare(parents[a][:], parents[b][:]) < 0 })
	sort.Slice(names, func(a, b int) bool {
		if c := bytes.Compare(names[a].parent[:], names[b].parent[:]); c != 0 {
			return c < 0
		}
		return names[a].name < names[b].name
	})
	locks := make([]lockReq, len(names))
	for k, n := range names {
		locks[k] = lockReq{entry: true, domain: entryDomain, gfid: n.parent, name: n.name, typ: vfs.WriteLock}
	}
	// Our own previous transaction on these names may still hold
	// their locks (their release waits for a request to travel with):
	// wait for it here rather than collide with it at the bricks.
	r.waitEntryUnlocks(ctx, names)

	wins := make([]*window, 0, len(parents))
	defer func() {
		for _, w := range wins {
			r.release(w)
		}
	}()
	active := r.all
	for _, p := range parents {
		w, e := r.acquire(ctx, p, entryKind)
		if e != 0 {
			return 0, nil, e
		}
		wins = append(wins, w)
		m, e := r.active(w)
		if e != 0 {
			return 0, nil, e
		}
		active &= m
	}
	if !r.quorumMet(active) {
		return 0, nil, syscall.ENOTCONN
	}
	owner := r.newOwner()
	errs := make([]syscall.Errno, len(r.children))
	var locked uint64
	var lerrs []syscall.Errno
	done := false
	if op.batch != nil {
		locked, lerrs, done = r.entryBatch(ctx, active, owner, locks, op, errs)
	}
	if !done {
		locked, lerrs = r.lockAndPreOp(ctx, active, owner, locks, nil)
	}
	each(active&^locked, func(i int) { errs[i] = lerrs[i] })
	if locked == 0 || !r.quorumMet(locked) {
		r.entryUnlockLater(ctx, names, locked, owner, locks)
		for _, w := range wins {
			r.settle(ctx, w, entryKind, active, 0, errs)
		}
		if locked == 0 {
			return 0, errs, combine(lerrs, active)
		}
		return 0, errs, syscall.ENOTCONN
	}
	if !done {
		r.parallel(locked, func(i int) { errs[i] = op.run(i) })
	}
	r.entryUnlockLater(ctx, names, locked&^downMask(errs, locked), owner, locks, op.after...)
	succ := okMask(errs, locked)
	// A child that could not be locked missed the operation too.
	good := succ
	for _, w := range wins {
		good &= r.settle(ctx, w, entryKind, active, succ, errs)
	}
	if succ == 0 {
		return 0, errs, combine(errs, active)
	}
	if !r.quorumMet(good) {
		return good, errs, syscall.ENOTCONN
	}
	return good, errs, 0
}

// entryOp is a namespace operation on one child.
type entryOp struct {
	// run does it on child i, once the name locks are held there.
	run func(i int) syscall.Errno
	// batch, when set, gives the operation as compound ops that may
	// travel in the same request as the name locks (tried without
	// waiting), saving a round trip. Only creations do this: if another
	// client holds a lock on some child, undo removes what was made on
	// the others (safe, as nobody else could use that name there
	// meanwhile) and the ordinary path follows. parse reads the results.
	batch func(i int) []compound.Op
	parse func(i int, res []compound.Result, e syscall.Errno) syscall.Errno
	undo  func(i int)
	// after are ops that travel with the name unlocks once the operation
	// is done, in front of them (they should not fail: a failure costs
	// the unlocks behind them a request each).
	after []compound.Op
}

// plainOp wraps a function as an entryOp without a batch form.
func plainOp(run func(i int) syscall.Errno) entryOp { return entryOp{run: run} }

// entryBatch sends name locks and the operation in one request per child.
// It reports done=false (everything undone) when some child refused a
// lock because another client holds it; otherwise errs holds the
// operation's result on the children in locked.
func (r *Replicate) entryBatch(ctx context.Context, active, owner uint64, locks []lockReq, op entryOp, errs []syscall.Errno) (uint64, []syscall.Errno, bool) {
	lerrs := make([]syscall.Errno, len(r.children))
	var mu sync.Mutex
	var locked uint64
	r.parallel(active, func(i int) {
		ops := make([]compound.Op, 0, len(locks)+4)
		for _, l := range locks {
			ops = append(ops, l.op(owner, false))
		}
		ops = append(ops, op.batch(i)...)
		res, e := r.runOn(ctx, i, ops)
		granted := 0
		for k := 0; k < len(locks) && k < len(res); k++ {
			if res[k].Errno == 0 {
				granted++
			}
		}
		if granted < len(locks) {
			lerrs[i] = e
			if granted > 0 && !isDown(e) {
				r.unlockGot(internalCtx(ctx), i, owner, locks[:granted])
			}
			return
		}
		errs[i] = op.parse(i, res[len(locks):], e)
		mu.Lock()
		locked |= 1 << i
		mu.Unlock()
	})
	contended := false
	each(active, func(i int) { contended = contended || lerrs[i] == syscall.EAGAIN })
	if !contended {
		return locked, lerrs, true
	}
	r.parallel(locked, func(i int) {
		if errs[i] == 0 {
			op.undo(i)
		}
		errs[i] = 0
		r.unlockGot(internalCtx(ctx), i, owner, locks)
	})
	return 0, nil, false
}

// downMask returns the children in mask whose errno is a transport error.
func downMask(errs []syscall.Errno, mask uint64) uint64 {
	var m uint64
	each(mask, func(i int) {
		if isDown(errs[i]) {
			m |= 1 << i
		}
	})
	return m
}

// okMask returns the children of mask whose errno in errs is 0.
func okMask(errs []syscall.Errno, mask uint64) uint64 {
	var m uint64
	each(mask, func(i int) {
		if errs[i] == 0 {
			m |= 1 << i
		}
	})
	return m
}

// newState records what a successful create tells us: the new object
// exists, consistent, on the children where it was made.
func (r *Replicate) newState(g vfs.GFID, good uint64) {
	st := &inodeState{at: time.Now(), exists: good}
	for k := range numKinds {
		st.readable[k] = good
	}
	r.storeState(g, st)
}

func newGFID(in *vfs.CreateIn) vfs.CreateIn {
	cp := *in
	if cp.GFID.IsZero() {
		cp.GFID = vfs.NewGFID()
	}
	return cp
}

// Create makes and opens a regular file with a GFID chosen here, on every
// child. The children are always asked with O_EXCL so that a name that
// already exists is never silently opened with a different GFID on some
// of them; without O_EXCL from the caller, an existing file is then
// looked up and opened instead.
func (r *Replicate) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	if e := checkEntryName(parent, name); e != 0 {
		return vfs.Attr{}, 0, e
	}
	cin := newGFID(in)
	cin.Flags |= syscall.O_EXCL | syscall.O_CREAT
	cin.Flags &^= syscall.O_TRUNC
	attrs := make([]vfs.Attr, len(r.children))
	handles := make([]vfs.Handle, len(r.children))
	// The data transaction of the new file starts in the same request as
	// the create (eager locking): lock and pre-op of a GFID nobody else
	// knows yet cannot conflict, and the first write then costs one round
	// trip like the others.
	eager := r.cfg.PostOpDelay > 0
	owner := r.newOwner()
	dataLock := lockReq{domain: dataDomain, gfid: cin.GFID, typ: vfs.WriteLock}
	up := r.upMask()
	delta := make([]int32, len(r.children))
	for j := range delta {
		delta[j] = 1
		if up&(1<<j) == 0 {
			delta[j] = 2
		}
	}
	// Data and metadata both: tar's fchown, fchmod and utimensat then
	// run in this transaction without a pre-op of their own.
	const newFileKinds = kinds(1)<<dataKind | kinds(1)<<metaKind
	preop := func(i int) []compound.Op { return r.pendingKinds(i, cin.GFID, newFileKinds, delta) }
	var preMu sync.Mutex
	var pre uint64 // children where lock and pre-op succeeded
	createOps := func(i int) []compound.Op {
		if !eager {
			return []compound.Op{compound.Create(parent, name, cin)}
		}
		return append([]compound.Op{compound.Create(parent, name, cin), dataLock.op(owner, false)}, preop(i)...)
	}
	parse := func(i int, res []compound.Result, e syscall.Errno) syscall.Errno {
		if len(res) == 0 {
			return e
		}
		attrs[i], handles[i] = res[0].Attr, res[0].Fh
		switch {
		case res[0].Errno != 0:
			return res[0].Errno
		case !eager:
		case e == 0:
			preMu.Lock()
			pre |= 1 << i
			preMu.Unlock()
		case len(res) > 2 && !isDown(e):
			// Locked but the pre-op failed: let go of the lock.
			r.unlockGot(internalCtx(ctx), i, owner, []lockReq{dataLock})
		}
		return 0
	}
	op := entryOp{
		run: func(i int) syscall.Errno {
			res, e := compound.Run(ctx, r.children[i].t, createOps(i))
			return parse(i, res, e)
		},
		batch: func(i int) []compound.Op { return createOps(i) },
		parse: parse,
		undo: func(i int) {
			ictx := internalCtx(ctx)
			r.children[i].t.Release(ictx, cin.GFID, handles[i])
			handles[i] = 0
			r.children[i].t.Unlink(ictx, parent, name)
			preMu.Lock()
			had := pre&(1<<i) != 0
			pre &^= 1 << i
			preMu.Unlock()
			if had {
				r.unlockGot(ictx, i, owner, []lockReq{dataLock})
			}
		},
	}
	good, _, e := r.entryTxn(ctx, []entryKey{{parent, name}}, op)
	if eager && pre != 0 && (e != 0 || pre != good) {
		// Not every copy could start the transaction: undo it and let
		// the first write open one the ordinary way.
		r.unlockAndPostOp(ctx, pre, owner, []lockReq{dataLock}, func(i int) []compound.Op { return negate(preop(i)) })
		pre = 0
	}
	if e != 0 {
		each(r.all, func(i int) {
			if handles[i] != 0 {
				r.children[i].t.Release(ctx, cin.GFID, handles[i])
			}
		})
		if (e == syscall.EEXIST || e == syscall.EACCES) && in.Flags&syscall.O_EXCL == 0 {
			// open(O_CREAT) of an existing file needs no write
			// permission on the directory: our O_EXCL made it fail.
			a, fh, e2 := r.openExisting(ctx, parent, name, in.Flags)
			if e2 == syscall.ENOENT {
				return vfs.Attr{}, 0, e
			}
			return a, fh, e2
		}
		return vfs.Attr{}, 0, e
	}
	r.newState(cin.GFID, good)
	r.noteName(cin.GFID, parent, name)
	if pre != 0 {
		r.adoptWindow(ctx, cin.GFID, owner, dataLock, newFileKinds, pre)
	}
	fh := r.newFD(cin.GFID, in.Flags&^(syscall.O_CREAT|syscall.O_EXCL|syscall.O_TRUNC), false, handles, good)
	return attrs[r.pick(cin.GFID, good)], fh, 0
}

// openExisting is Create of a name that exists, without O_EXCL.
func (r *Replicate) openExisting(ctx context.Context, parent vfs.GFID, name string, flags uint32) (vfs.Attr, vfs.Handle, syscall.Errno) {
	a, e := r.Lookup(ctx, parent, name)
	if e != 0 {
		return vfs.Attr{}, 0, e
	}
	if a.IsDir() {
		return vfs.Attr{}, 0, syscall.EISDIR
	}
	fh, e := r.Open(ctx, a.GFID, flags&^(syscall.O_CREAT|syscall.O_EXCL))
	if e != 0 {
		return vfs.Attr{}, 0, e
	}
	if flags&syscall.O_TRUNC != 0 {
		a, e = r.GetAttr(ctx, a.GFID, fh)
	}
	return a, fh, e
}

func checkEntryName(parent vfs.GFID, name string) syscall.Errno {
	if e := vfs.CheckName(name); e != 0 {
		return e
	}
	if parent == vfs.RootGFID && name == vfs.ReservedName {
		return syscall.EPERM
	}
	return 0
}

// mkobj is the shared body of Mknod, Mkdir and Symlink: the creation
// travels with its name lock (entryOp.batch), undone by removing the new
// object if another client holds the lock somewhere.
func (r *Replicate) mkobj(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn, dir bool, mk func(in vfs.CreateIn) compound.Op) (vfs.Attr, syscall.Errno) {
	if e := checkEntryName(parent, name); e != 0 {
		return vfs.Attr{}, e
	}
	cin := newGFID(in)
	attrs := make([]vfs.Attr, len(r.children))
	parse := func(i int, res []compound.Result, e syscall.Errno) syscall.Errno {
		if len(res) == 0 {
			return e
		}
		attrs[i] = res[0].Attr
		return res[0].Errno
	}
	op := entryOp{
		run: func(i int) syscall.Errno {
			return parse(i, []compound.Result{compound.Do(ctx, r.children[i].t, ptr(mk(cin)))}, 0)
		},
		batch: func(int) []compound.Op { return []compound.Op{mk(cin)} },
		parse: parse,
		undo: func(i int) {
			if dir {
				r.children[i].t.Rmdir(internalCtx(ctx), parent, name)
			} else {
				r.children[i].t.Unlink(internalCtx(ctx), parent, name)
			}
		},
	}
	good, _, e := r.entryTxn(ctx, []entryKey{{parent, name}}, op)
	if e != 0 {
		return vfs.Attr{}, e
	}
	r.newState(cin.GFID, good)
	r.noteName(cin.GFID, parent, name)
	return attrs[r.pick(cin.GFID, good)], 0
}

func ptr[T any](v T) *T { return &v }

func (r *Replicate) Mknod(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	return r.mkobj(ctx, parent, name, in, false, func(in vfs.CreateIn) compound.Op { return compound.Mknod(parent, name, in) })
}

func (r *Replicate) Mkdir(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	return r.mkobj(ctx, parent, name, in, true, func(in vfs.CreateIn) compound.Op { return compound.Mkdir(parent, name, in) })
}

func (r *Replicate) Symlink(ctx context.Context, parent vfs.GFID, name, target string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	return r.mkobj(ctx, parent, name, in, false, func(in vfs.CreateIn) compound.Op { return compound.Symlink(parent, name, target, in) })
}

// Link adds a name for gfid on every child (a hard link keeps one GFID).
func (r *Replicate) Link(ctx context.Context, gfid vfs.GFID, newParent vfs.GFID, newName string) (vfs.Attr, syscall.Errno) {
	r.awaitQueuedEnd(ctx, gfid)
	if e := checkEntryName(newParent, newName); e != 0 {
		return vfs.Attr{}, e
	}
	attrs := make([]vfs.Attr, len(r.children))
	good, _, e := r.entryTxn(ctx, []entryKey{{newParent, newName}}, plainOp(func(i int) syscall.Errno {
		var e syscall.Errno
		attrs[i], e = r.children[i].t.Link(ctx, gfid, newParent, newName)
		return e
	}))
	if e != 0 {
		return vfs.Attr{}, e
	}
	r.noteName(gfid, newParent, newName)
	return attrs[r.pick(gfid, good)], 0
}

// Unlink travels with its name lock, one request per child, as creates
// do. Its undo, when another client held the lock on some child, brings
// the name back where the unlink went through: the children are asked to
// hold what they unlink for a while (vfs.UnlinkHold) and link it back on
// request (vfs.UnlinkUndo). A child that cannot (a brick without holds,
// or an undo later than the hold) misses the name early: the ordinary
// path that follows unlinks it everywhere, gets ENOENT there and blames
// that child, so entry heal looks at the directory again.
func (r *Replicate) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	if e := checkEntryName(parent, name); e != 0 {
		return e
	}
	op := entryOp{
		run: func(i int) syscall.Errno {
			return r.children[i].t.Unlink(ctx, parent, name)
		},
		batch: func(i int) []compound.Op {
			return []compound.Op{compound.UnlinkHeld(parent, name)}
		},
		parse: func(i int, res []compound.Result, e syscall.Errno) syscall.Errno { return e },
		undo: func(i int) {
			_, e := compound.Run(internalCtx(ctx), r.children[i].t, []compound.Op{compound.UnlinkUndo(parent, name)})
			if e != 0 {
				r.log.Warn("undoing an unlink failed; the ordinary path follows", "parent", parent, "name", name, "child", r.children[i].name, "err", e)
			}
		},
		// Once done, the bricks may free what they hold at once
		// rather than after the hold (a deleted file's space).
		after: []compound.Op{compound.UnlinkCommit(parent, name)},
	}
	_, _, e := r.entryTxn(ctx, []entryKey{{parent, name}}, op)
	return e
}

func (r *Replicate) Rmdir(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	if e := checkEntryName(parent, name); e != 0 {
		return e
	}
	_, _, e := r.entryTxn(ctx, []entryKey{{parent, name}}, plainOp(func(i int) syscall.Errno {
		return r.children[i].t.Rmdir(ctx, parent, name)
	}))
	return e
}

// Rename locks both names (in a fixed order) and blames both parents.
func (r *Replicate) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	if e := checkEntryName(oldParent, oldName); e != 0 {
		return e
	}
	if e := checkEntryName(newParent, newName); e != 0 {
		return e
	}
	names := []entryKey{{oldParent, oldName}}
	if oldParent != newParent || oldName != newName {
		names = append(names, entryKey{newParent, newName})
	}
	_, _, e := r.entryTxn(ctx, names, plainOp(func(i int) syscall.Errno {
		return r.children[i].t.Rename(ctx, oldParent, oldName, newParent, newName, flags)
	}))
	return e
}

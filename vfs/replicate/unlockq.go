package replicate

import (
	"context"
	"math/bits"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// Deferred entry unlocks.
//
// A namespace operation ends by releasing its name locks. Sent on its own,
// that release is one more request per brick for every create, mkdir or
// unlink (a create+write+close of a small file would cost five requests
// per brick instead of four), and on a small machine a brick spends some
// 100 µs of CPU on any request, however little it carries. So the
// unlocks wait, per child, for the next compound request replicate sends
// there that cannot block at the brick (the release that ends a file's
// eager transaction, the next create, the first try of the next lock)
// and travel in front of it; a timer sends whatever is left after
// entryUnlockDelay.

// entryUnlockDelay is how long deferred entry unlocks wait for a request
// to travel with. It bounds how much longer than before a name stays
// locked, which only another client (or heal) wanting the same name
// notices: this client waits for its own unlocks by sending them at once
// (waitEntryUnlocks). 2 ms usually covers the close(2) that follows the
// create of a small file, or the next create of a burst.
const entryUnlockDelay = 2 * time.Millisecond

// unlockTxn is the deferred entry unlocks of one namespace transaction.
type unlockTxn struct {
	ctx    context.Context // the transaction's, without its cancellation
	client string          // the owner's client: brick locks belong to one
	names  []entryKey
	left   int // children whose share has not been sent; guarded by r.mu
	// done is closed once every child's share was sent (whatever the
	// outcome).
	done chan struct{}
	// win, for the deferred end of an eager transaction (releaseLater),
	// is the window those ops close: it is forgotten and its done channel
	// closed with the transaction's.
	win *window
}

// deferredUnlock is one transaction's unlocks on one child.
type deferredUnlock struct {
	txn *unlockTxn
	ops []compound.Op
	// attrs, if set, asks for the result of the GetAttr at ops[attrs.at]
	// (vfs.ReleaseAttrs).
	attrs *deferredAttrs
}

// deferredAttrs is a GetAttr queued with a release (vfs.ReleaseAttrs) and
// whom to give its result.
type deferredAttrs struct {
	child   int
	at      int
	deliver func(vfs.Attr)
}

// deliverAttrs gives the attributes fetched by the GetAttrs queued in ds
// to their askers. res holds the results of ds's ops in order, as far as
// they ran; a GetAttr that did not run or failed delivers nothing.
func deliverAttrs(ds []*deferredUnlock, res []compound.Result) {
	off := 0
	for _, d := range ds {
		if a := d.attrs; a != nil && off+a.at < len(res) && res[off+a.at].Errno == 0 {
			a.deliver(res[off+a.at].Attr)
		}
		off += len(d.ops)
	}
}

// entryUnlockLater releases name locks: it queues the unlocks (and the
// operation's after ops) on every child in mask, recording the names as
// being released until they are sent.
func (r *Replicate) entryUnlockLater(ctx context.Context, names []entryKey, mask, owner uint64, locks []lockReq, after ...compound.Op) {
	if mask == 0 {
		return
	}
	// The after ops go first, while the names are still locked: a brick
	// too old to know an Unlink flag takes UnlinkCommit for an unlink,
	// which must then find nothing (ENOENT), not a file another client
	// made under the name once it was free.
	ops := make([]compound.Op, 0, len(locks)+len(after))
	ops = append(ops, after...)
	for k := len(locks) - 1; k >= 0; k-- {
		ops = append(ops, locks[k].unlockOp(owner))
	}
	txn := &unlockTxn{
		ctx:    context.WithoutCancel(ctx),
		client: vfs.CallerFrom(ctx).Client,
		names:  names,
		left:   bits.OnesCount64(mask),
		done:   make(chan struct{}),
	}
	r.mu.Lock()
	if r.unlocking == nil {
		r.unlocking = make(map[entryKey]*unlockTxn)
	}
	for _, n := range names {
		r.unlocking[n] = txn
	}
	r.wg.Add(1)
	if r.closed {
		// Nothing may stay queued once Close has flushed the queue.
		r.mu.Unlock()
		r.parallel(mask, func(i int) { r.sendDeferred(i, []*deferredUnlock{{txn: txn, ops: ops}}) })
		return
	}
	each(mask, func(i int) {
		r.deferred[i] = append(r.deferred[i], &deferredUnlock{txn: txn, ops: ops})
		r.deferredN++
	})
	if r.unlockTimer == nil {
		r.wg.Add(1) // Close waits for the timer's function too
		r.unlockTimer = time.AfterFunc(r.unlockDelay, r.unlockTimeout)
	}
	r.mu.Unlock()
}

// releaseLater queues the last release of a file, the post-op and the
// unlock that end its eager transaction w (ops[i] for child i, on the
// children in mask) like deferred entry unlocks: they travel in front of
// the next request to each child (typically the next create of a burst
// of small files) instead of costing a request of their own. Nothing in
// them is urgent: the handles are this client's, a late post-op leaves a
// copy marked dirty a little longer, and whoever waits for the lock (this
// client's next transaction on the file, a heal, another client) gets it
// within entryUnlockDelay, or at once when it is this client
// (sendWindowNow).
//
// attrs, if set, is a GetAttr among child attrs.child's ops whose result
// goes to attrs.deliver once it ran.
func (r *Replicate) releaseLater(ctx context.Context, mask uint64, ops [][]compound.Op, w *window, attrs *deferredAttrs) {
	txn := &unlockTxn{
		ctx:    context.WithoutCancel(ctx),
		client: vfs.CallerFrom(ctx).Client,
		left:   bits.OnesCount64(mask),
		done:   make(chan struct{}),
		win:    w,
	}
	share := func(i int) *deferredUnlock {
		d := &deferredUnlock{txn: txn, ops: ops[i]}
		if attrs != nil && attrs.child == i {
			d.attrs = attrs
		}
		return d
	}
	r.mu.Lock()
	r.wg.Add(1)
	if w != nil {
		w.deferred = txn
	}
	if r.closed || mask == 0 {
		r.mu.Unlock()
		if mask == 0 {
			r.finishDeferred([]*deferredUnlock{{txn: txn}})
			return
		}
		r.parallel(mask, func(i int) { r.sendDeferred(i, []*deferredUnlock{share(i)}) })
		return
	}
	each(mask, func(i int) {
		r.deferred[i] = append(r.deferred[i], share(i))
		r.deferredN++
	})
	if r.unlockTimer == nil {
		r.wg.Add(1) // Close waits for the timer's function too
		r.unlockTimer = time.AfterFunc(r.unlockDelay, r.unlockTimeout)
	}
	r.mu.Unlock()
}

// sendWindowNow sends the queued end of window w's transaction, if it is
// still queued, rather than let this client wait for the timer.
func (r *Replicate) sendWindowNow(w *window) {
	r.mu.Lock()
	t := w.deferred
	r.mu.Unlock()
	if t == nil {
		return
	}
	r.sendQueuedNow(map[*unlockTxn]bool{t: true})
}

// awaitQueuedEnd sends the queued end of gfid's last transaction, if one
// is queued (releaseLater), and waits for it, so that what this client
// does next by GFID sees the bricks after its last close: a file unlinked
// while open must be gone (ESTALE) once closed, not still held open by a
// brick handle whose release waits in the queue.
func (r *Replicate) awaitQueuedEnd(ctx context.Context, gfid vfs.GFID) {
	r.mu.Lock()
	w := r.windows[winKey{gfid, windowKind(dataKind)}]
	if w == nil || w.deferred == nil {
		r.mu.Unlock()
		return
	}
	done := w.done
	r.mu.Unlock()
	r.sendWindowNow(w)
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// sendQueuedNow sends the queued shares of the transactions in only at
// once, rather than after the timer.
func (r *Replicate) sendQueuedNow(only map[*unlockTxn]bool) {
	taken := make([][]*deferredUnlock, len(r.children))
	var mask uint64
	for i := range r.children {
		if taken[i] = r.takeDeferred(i, "", only, 0); len(taken[i]) > 0 {
			mask |= 1 << i
		}
	}
	r.parallel(mask, func(i int) { r.sendDeferred(i, taken[i]) })
}

// unlockTimeout sends the unlocks no request took in time.
func (r *Replicate) unlockTimeout() {
	defer r.wg.Done()
	r.mu.Lock()
	r.unlockTimer = nil
	r.mu.Unlock()
	r.flushDeferred()
}

// flushDeferred sends every queued unlock now, and returns once they
// were sent.
func (r *Replicate) flushDeferred() {
	r.mu.Lock()
	queued := make([][]*deferredUnlock, len(r.children))
	var mask uint64
	for i, ds := range r.deferred {
		if len(ds) > 0 {
			queued[i], r.deferred[i] = ds, nil
			mask |= 1 << i
		}
	}
	r.deferredN = 0
	r.stopUnlockTimer()
	r.mu.Unlock()
	r.parallel(mask, func(i int) { r.sendDeferred(i, queued[i]) })
}

// stopUnlockTimer stops the timer once nothing is queued. A timer whose
// function has already started is left to run (it finds nothing or
// newer unlocks to send), so that whatever is queued always has a timer
// coming. Callers hold r.mu.
func (r *Replicate) stopUnlockTimer() {
	if r.deferredN == 0 && r.unlockTimer != nil && r.unlockTimer.Stop() {
		r.unlockTimer = nil
		r.wg.Done()
	}
}

// takeDeferred removes from child i's queue, and returns, the unlocks of
// the transactions in only or, when only is nil, client's that fit in
// room operations, oldest first.
func (r *Replicate) takeDeferred(i int, client string, only map[*unlockTxn]bool, room int) []*deferredUnlock {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.deferred[i]
	if len(q) == 0 {
		return nil
	}
	var taken []*deferredUnlock
	kept := q[:0]
	for _, d := range q {
		if (only != nil && only[d.txn]) || (only == nil && d.txn.client == client && len(d.ops) <= room) {
			taken = append(taken, d)
			room -= len(d.ops)
		} else {
			kept = append(kept, d)
		}
	}
	clear(q[len(kept):])
	r.deferred[i] = kept
	r.deferredN -= len(taken)
	r.stopUnlockTimer()
	return taken
}

// sendDeferred sends unlocks to child i on their own, one request per
// client (a brick knows a lock's owner by the client that sends the
// unlock), and completes their bookkeeping.
func (r *Replicate) sendDeferred(i int, ds []*deferredUnlock) {
	for len(ds) > 0 {
		client := ds[0].txn.client
		var group, rest []*deferredUnlock
		var ops []compound.Op
		for _, d := range ds {
			if d.txn.client == client {
				group = append(group, d)
				ops = append(ops, d.ops...)
			} else {
				rest = append(rest, d)
			}
		}
		ctx, cancel := backgroundCtx(internalCtx(group[0].txn.ctx))
		var results []compound.Result // of ops in order, up to the first batch that stopped
		whole := true
		for len(ops) > 0 {
			n := min(len(ops), compound.MaxOps)
			res, e := compound.Run(ctx, r.children[i].t, ops[:n])
			tryRest(ctx, r.children[i].t, ops[:n], res, e)
			if whole {
				results = append(results, res...)
				whole = len(res) == n
			}
			ops = ops[n:]
		}
		cancel()
		deliverAttrs(group, results)
		r.finishDeferred(group)
		ds = rest
	}
}

// finishDeferred records that the unlocks ds were sent (or died with
// their connection): a transaction whose every share was is done.
func (r *Replicate) finishDeferred(ds []*deferredUnlock) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range ds {
		t := d.txn
		if t.left--; t.left > 0 {
			continue
		}
		for _, n := range t.names {
			if r.unlocking[n] == t {
				delete(r.unlocking, n)
			}
		}
		close(t.done)
		if w := t.win; w != nil {
			w.deferred = nil
			if r.windows[w.key] == w {
				delete(r.windows, w.key)
			}
			close(w.done)
		}
		r.wg.Done()
	}
}

// withDeferred puts in front of ops, bound for child i, the unlocks queued
// there for ctx's client. It returns the ops to send, the unlocks taken
// (for finishDeferred) and how many ops they make.
func (r *Replicate) withDeferred(ctx context.Context, i int, ops []compound.Op) ([]compound.Op, []*deferredUnlock, int) {
	ds := r.takeDeferred(i, vfs.CallerFrom(ctx).Client, nil, compound.MaxOps-len(ops))
	if len(ds) == 0 {
		return ops, nil, 0
	}
	n := 0
	for _, d := range ds {
		n += len(d.ops)
	}
	// Sized once: compound.Op is large, and growing the slice by
	// appends was a sixth of the mount's allocations in a create run.
	all := make([]compound.Op, 0, n+len(ops))
	for _, d := range ds {
		all = append(all, d.ops...)
	}
	return append(all, ops...), ds, n
}

// runOn runs ops on child i in one request, with the unlocks queued for
// child i in front, and returns what ops alone would have returned.
func (r *Replicate) runOn(ctx context.Context, i int, ops []compound.Op) ([]compound.Result, syscall.Errno) {
	t := r.children[i].t
	all, ds, n := r.withDeferred(ctx, i, ops)
	if n == 0 {
		return compound.Run(ctx, t, ops)
	}
	res, e := compound.Run(ctx, t, all)
	if e != 0 && !isDown(e) && len(res) <= n {
		// The batch stopped at one of the unlocks (or before anything
		// ran), so ops did not run: try the other unlocks one by one,
		// as runAll does, then ops on their own, so the caller sees
		// what it would have without the unlocks. A lost connection
		// needs none of this: the brick dropped its locks with it.
		uctx, cancel := backgroundCtx(internalCtx(ctx))
		for k := len(res); k < n; k++ {
			compound.Do(uctx, t, &all[k])
		}
		cancel()
		deliverAttrs(ds, res)
		r.finishDeferred(ds)
		return compound.Run(ctx, t, ops)
	}
	deliverAttrs(ds, res)
	r.finishDeferred(ds)
	if len(res) <= n {
		return nil, e
	}
	return res[n:], e
}

// runAllOn is runAll on child i with the queued unlocks in front.
func (r *Replicate) runAllOn(ctx context.Context, i int, ops []compound.Op) {
	if len(ops) == 0 {
		return
	}
	res, e := r.runOn(ctx, i, ops)
	tryRest(ctx, r.children[i].t, ops, res, e)
}

// waitEntryUnlocks waits until this client's unlocks of names, if any
// are pending, were sent; queued ones are sent now rather than after the
// timer.
func (r *Replicate) waitEntryUnlocks(ctx context.Context, names []entryKey) {
	var txns map[*unlockTxn]bool
	r.mu.Lock()
	for _, n := range names {
		if t := r.unlocking[n]; t != nil {
			if txns == nil {
				txns = make(map[*unlockTxn]bool)
			}
			txns[t] = true
		}
	}
	r.mu.Unlock()
	if txns == nil {
		return
	}
	r.sendQueuedNow(txns)
	for t := range txns {
		select {
		case <-t.done:
		case <-ctx.Done():
			return
		}
	}
}

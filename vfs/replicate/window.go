package replicate

import (
	"context"
	"fmt"
	"math"
	"sync"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// A window is one changelog transaction on an inode: inode lock, pre-op,
// any number of operations, post-op, unlock. Data windows stay open while
// the inode keeps being written (eager locking) and defer their post-op
// until PostOpDelay of idleness, a flush, an fsync or the last release
// (delayed post-op), so a stream of writes costs one round trip per write.
// Metadata windows close as soon as their operation is done; their
// post-op and unlock travel in the background, off the caller's path.
//
// Blame is never deferred: when an operation fails on a participant but
// succeeds on another, the failed child is blamed on the successful ones
// (xattrop +1) before the operation returns, so an acknowledged write is
// always known to be missing from the children that missed it, even if
// this client dies before the post-op.
type window struct {
	key    winKey
	owner  uint64
	client string // the lock owner's client, for the unlock
	eager  bool
	locks  []lockReq
	opened time.Time

	// kinds is the counters pre-op'd on the participants (guarded by
	// Replicate.mu); an inode window opened for data gains metadata at
	// its first metadata operation, and the other way round. pmu
	// serialises those additions.
	kinds kinds
	pmu   sync.Mutex

	// Set once open completes (ready closed); read-only afterwards.
	participants uint64
	openErr      syscall.Errno
	ready        chan struct{}

	// Guarded by Replicate.mu.
	failed       uint64 // participants where an operation failed
	down         uint64 // failed ones that could not be reached (no post-op/unlock sent)
	refs         int
	closing      bool // admits no new operations
	closeStarted bool // closeWindow launched
	timer        *time.Timer
	done         chan struct{} // closed when post-op and unlock are done
	deferred     *unlockTxn    // its queued post-op and unlock (releaseLater)

	// spans orders overlapping operations of this client on the inode:
	// two writes to the same bytes sent in parallel could land in
	// different orders on different children.
	smu   sync.Mutex
	scond *sync.Cond
	spans []span
}

type winKey struct {
	gfid vfs.GFID
	k    kind
}

type span struct{ off, end int64 }

// windowName is the entry-lock name an entry window holds (in
// windowDomain, where no real name is ever locked).
func windowName(owner uint64) string { return fmt.Sprintf("w%016x", owner) }

var wholeFile = span{0, math.MaxInt64}

func (a span) overlaps(b span) bool { return a.off < b.end && b.off < a.end }

// acquire returns an open window for (gfid, windowKind(k)), with kind k
// pre-op'd, that the caller may use until it calls release: an existing
// eager window, or a new one (whose lock and pre-op it performs). It fails
// with ENOTCONN if the children that could be locked do not make quorum.
func (r *Replicate) acquire(ctx context.Context, gfid vfs.GFID, k kind) (*window, syscall.Errno) {
	key := winKey{gfid, windowKind(k)}
	for {
		r.mu.Lock()
		w := r.windows[key]
		if w != nil && w.closing {
			done := w.done
			r.mu.Unlock()
			r.sendWindowNow(w)
			select {
			case <-done:
			case <-ctx.Done():
				return nil, syscall.EINTR
			}
			continue
		}
		if w != nil {
			w.refs++
			if w.timer != nil {
				w.timer.Stop()
				w.timer = nil
			}
			r.mu.Unlock()
			select {
			case <-w.ready:
			case <-ctx.Done():
				r.release(w)
				return nil, syscall.EINTR
			}
			if w.openErr != 0 {
				r.release(w)
				if ctx.Err() != nil {
					return nil, syscall.EINTR
				}
				if w.openErr == syscall.EINTR {
					continue // the opener was cancelled, not us
				}
				return nil, w.openErr
			}
			if e := r.addKind(ctx, w, k); e != 0 {
				r.release(w)
				return nil, e
			}
			return w, 0
		}
		w = &window{
			key:    key,
			owner:  r.newOwner(),
			client: vfs.CallerFrom(ctx).Client,
			eager:  r.cfg.PostOpDelay > 0,
			kinds:  kinds(1) << k,
			refs:   1,
			ready:  make(chan struct{}),
			done:   make(chan struct{}),
		}
		w.scond = sync.NewCond(&w.smu)
		switch key.k {
		case dataKind:
			w.locks = []lockReq{{domain: dataDomain, gfid: gfid, typ: vfs.WriteLock}}
		case entryKind:
			// An entry window holds an entry lock of its own name in a
			// domain of its own: it conflicts with nobody's namespace
			// operations, only with entry self-heal's whole-directory
			// lock there, as heal must not run (and clear counters)
			// while a pre-op is held.
			w.locks = []lockReq{{entry: true, domain: windowDomain, gfid: gfid, name: windowName(w.owner), typ: vfs.WriteLock}}
		}
		r.windows[key] = w
		r.mu.Unlock()
		w.openErr = r.openWindow(ctx, w)
		close(w.ready)
		if w.openErr != 0 {
			r.mu.Lock()
			w.closing = true
			if r.windows[key] == w {
				delete(r.windows, key)
			}
			w.refs--
			close(w.done)
			r.mu.Unlock()
			return nil, w.openErr
		}
		return w, 0
	}
}

// adoptWindow registers, as an idle eager inode window, a transaction
// whose lock and pre-op (of the kinds in ks) were done by Create on the
// children in participants.
func (r *Replicate) adoptWindow(ctx context.Context, gfid vfs.GFID, owner uint64, l lockReq, ks kinds, participants uint64) {
	w := &window{
		key:          winKey{gfid, dataKind},
		owner:        owner,
		client:       vfs.CallerFrom(ctx).Client,
		eager:        true,
		kinds:        ks,
		locks:        []lockReq{l},
		opened:       time.Now(),
		participants: participants,
		ready:        make(chan struct{}),
		done:         make(chan struct{}),
	}
	w.scond = sync.NewCond(&w.smu)
	close(w.ready)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.windows[w.key] != nil || r.closed {
		// Cannot happen for a new GFID; be safe anyway.
		w.closing = true
		r.startClose(w)
		return
	}
	r.windows[w.key] = w
	w.timer = time.AfterFunc(r.cfg.PostOpDelay, func() { r.expire(w) })
}

// openWindow locks and pre-ops w on the reachable children.
func (r *Replicate) openWindow(ctx context.Context, w *window) syscall.Errno {
	up := r.upMask()
	if !r.quorumMet(up) {
		return syscall.ENOTCONN
	}
	var delta []int32
	preop := func(i int) []compound.Op {
		return r.pendingKinds(i, w.key.gfid, w.kinds, delta)
	}
	// Children already known down are blamed by the pre-op itself (+2:
	// one for this transaction, one that the post-op will never take
	// back), so the blame is definitive while the window is open.
	delta = make([]int32, len(r.children))
	for j := range delta {
		delta[j] = 1
		if up&(1<<j) == 0 {
			delta[j] = 2
		}
	}
	ok, errs := r.lockAndPreOp(ctx, up, w.owner, w.locks, preop)
	if ok == 0 {
		return combine(errs, up)
	}
	if !r.quorumMet(ok) {
		r.unlockAndPostOp(ctx, ok, w.owner, w.locks, func(i int) []compound.Op { return negate(preop(i)) })
		return syscall.ENOTCONN
	}
	if missed := up &^ ok; missed != 0 {
		// Children that were up but could not be locked or pre-op'd did
		// not get the +2 above; blame them now on the participants.
		extra := make([]int32, len(r.children))
		each(missed, func(j int) { extra[j] = 1 })
		r.parallel(ok, func(i int) {
			runAll(internalCtx(ctx), r.children[i].t, r.pendingKinds(i, w.key.gfid, w.kinds, extra))
		})
	}
	w.participants = ok
	w.opened = time.Now()
	return 0
}

// release drops a reference taken by acquire. The last reference closes
// the window, now or (eager windows) after PostOpDelay of idleness.
func (r *Replicate) release(w *window) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w.refs--
	if w.refs > 0 || w.openErr != 0 {
		return
	}
	if w.eager && !w.closing && !r.closed && time.Since(w.opened) < r.cfg.EagerLockMaxHold {
		w.timer = time.AfterFunc(r.cfg.PostOpDelay, func() { r.expire(w) })
		return
	}
	w.closing = true
	r.startClose(w)
}

// startClose launches the post-op and unlock of w once. Callers hold r.mu
// and have checked that nobody uses w.
func (r *Replicate) startClose(w *window) {
	if w.closeStarted {
		return
	}
	w.closeStarted = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.closeWindow(w)
	}()
}

// expire closes an idle eager window.
func (r *Replicate) expire(w *window) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w.refs > 0 || w.closeStarted || w.timer == nil {
		return
	}
	w.closing = true
	r.startClose(w)
}

// closeWindow does the post-op and unlock of a window nobody uses.
func (r *Replicate) closeWindow(w *window) {
	ctx, cancel := backgroundCtx(vfs.WithCaller(context.Background(), &vfs.Caller{Client: w.client}))
	defer cancel()
	r.unlockAndPostOp(ctx, r.closeMask(w), w.owner, w.locks, func(i int) []compound.Op { return r.postOps(i, w) })
	r.finishClose(w)
}

// closeMask is the children a window's post-op and unlock go to.
func (r *Replicate) closeMask(w *window) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return w.participants &^ w.down
}

// postOps is a window's post-op: -1, for every kind pre-op'd in it, for
// every participant that never failed in it. (A child that failed one
// kind's operation stays blamed for the others too: at worst a heal
// finds nothing to copy.)
func (r *Replicate) postOps(i int, w *window) []compound.Op {
	r.mu.Lock()
	failed, ks := w.failed, w.kinds
	r.mu.Unlock()
	delta := make([]int32, len(r.children))
	each(w.participants&^failed, func(j int) { delta[j] = -1 })
	return r.pendingKinds(i, w.key.gfid, ks, delta)
}

// addKind pre-ops kind k in the open window w if it is not yet: +1 for
// the active children, +2 for the others (as openWindow does), blaming
// at once any active child where the pre-op fails.
func (r *Replicate) addKind(ctx context.Context, w *window, k kind) syscall.Errno {
	has := func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return w.kinds.has(k)
	}
	if has() {
		return 0
	}
	w.pmu.Lock()
	defer w.pmu.Unlock()
	if has() {
		return 0
	}
	mask, e := r.active(w)
	if e != 0 {
		return e
	}
	delta := make([]int32, len(r.children))
	for j := range delta {
		delta[j] = 2
		if mask&(1<<j) != 0 {
			delta[j] = 1
		}
	}
	errs := make([]syscall.Errno, len(r.children))
	r.parallel(mask, func(i int) {
		_, errs[i] = compound.Run(internalCtx(ctx), r.children[i].t, r.pendingOps(i, w.key.gfid, k, delta))
	})
	ok := okMask(errs, mask)
	good := r.settle(ctx, w, k, mask, ok, errs)
	if good == 0 {
		return combine(errs, mask)
	}
	if !r.quorumMet(good) {
		return syscall.ENOTCONN
	}
	r.mu.Lock()
	w.kinds |= kinds(1) << k
	r.mu.Unlock()
	return 0
}

// takeIdle claims the idle window of (gfid, k) for a caller that closes
// it itself (the last Release, which sends the post-op and unlock in the
// same request as the release). It returns nil when there is none or it
// is in use.
func (r *Replicate) takeIdle(gfid vfs.GFID, k kind, client string) *window {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.windows[winKey{gfid, windowKind(k)}]
	if w == nil || w.refs > 0 || w.openErr != 0 || w.closeStarted || w.client != client {
		return nil
	}
	w.closing, w.closeStarted = true, true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	return w
}

// finishClose forgets a closed window and wakes its waiters.
func (r *Replicate) finishClose(w *window) {
	r.mu.Lock()
	if r.windows[w.key] == w {
		delete(r.windows, w.key)
	}
	close(w.done)
	r.mu.Unlock()
}

// flushWindow closes the window of (gfid, k), if any, and waits until its
// post-op is done: used by fsync, and by heals of this client, which
// would otherwise wait for this client's own eager lock.
func (r *Replicate) flushWindow(ctx context.Context, gfid vfs.GFID, k kind) {
	r.mu.Lock()
	w := r.windows[winKey{gfid, windowKind(k)}]
	r.mu.Unlock()
	if done := r.endWindow(gfid, k); done != nil {
		if w != nil {
			r.sendWindowNow(w) // ended by a release, queued (releaseLater)
		}
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
}

// endWindow makes the window of (gfid, k), if any, admit nothing more and
// close as soon as nobody uses it, without waiting; it returns the channel
// closed when that is done (nil without a window). The last release of a
// file uses it: the post-op need not delay the close(2).
func (r *Replicate) endWindow(gfid vfs.GFID, k kind) chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.windows[winKey{gfid, windowKind(k)}]
	if w == nil {
		return nil
	}
	w.closing = true
	if w.refs == 0 && w.openErr == 0 {
		r.startClose(w)
	}
	return w.done
}

// FlushTransactions ends every eager transaction of this client (post-op
// and unlock), sends the deferred name unlocks of namespace operations,
// and waits for all of them. Close calls it; tests call it before
// looking at the bricks' changelogs.
func (r *Replicate) FlushTransactions(ctx context.Context) {
	r.mu.Lock()
	keys := make([]winKey, 0, len(r.windows))
	for k := range r.windows {
		keys = append(keys, k)
	}
	r.mu.Unlock()
	for _, k := range keys {
		r.flushWindow(ctx, k.gfid, k.k)
	}
	// And the name unlocks of namespace operations: those still queued
	// go now; others may be in flight with some request.
	r.flushDeferred()
	r.mu.Lock()
	chans := make([]chan struct{}, 0, len(r.unlocking))
	for _, t := range r.unlocking {
		chans = append(chans, t.done)
	}
	r.mu.Unlock()
	for _, ch := range chans {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// active returns the children an operation in w should be sent to.
func (r *Replicate) active(w *window) (uint64, syscall.Errno) {
	up := r.upMask()
	r.mu.Lock()
	// A child that went down since the window opened lost our lock
	// there: keep it out for the rest of the window.
	lost := w.participants &^ w.failed &^ up
	w.failed |= lost
	w.down |= lost
	m := w.participants &^ w.failed
	r.mu.Unlock()
	if m == 0 || !r.quorumMet(m) {
		return m, syscall.ENOTCONN
	}
	return m, 0
}

// settle records the outcome of an operation of kind k sent to the
// children in tried, of which those in ok succeeded, and makes new blame
// durable before the caller acknowledges it. It returns the children
// still good.
func (r *Replicate) settle(ctx context.Context, w *window, k kind, tried, ok uint64, errs []syscall.Errno) uint64 {
	var newFailed uint64
	r.mu.Lock()
	each(tried&^ok, func(i int) {
		// An operation that failed everywhere with the same answer
		// (ENOENT, ENOSPC ...) did not diverge the children; only
		// lost connections or a mix of outcomes do.
		if ok == 0 && !isDown(errs[i]) {
			return
		}
		if w.failed&(1<<i) == 0 {
			newFailed |= 1 << i
		}
		if isDown(errs[i]) {
			w.down |= 1 << i
		}
	})
	w.failed |= newFailed
	r.mu.Unlock()
	good := ok
	for newFailed != 0 && good != 0 {
		delta := make([]int32, len(r.children))
		each(newFailed, func(j int) { delta[j] = 1 })
		berrs := make([]syscall.Errno, len(r.children))
		r.parallel(good, func(i int) {
			_, berrs[i] = compound.Run(internalCtx(ctx), r.children[i].t, r.pendingOps(i, w.key.gfid, k, delta))
		})
		newFailed = 0
		each(good, func(i int) {
			if berrs[i] != 0 {
				newFailed |= 1 << i
			}
		})
		good &^= newFailed
		r.mu.Lock()
		w.failed |= newFailed
		each(newFailed, func(i int) {
			if isDown(berrs[i]) {
				w.down |= 1 << i
			}
		})
		r.mu.Unlock()
	}
	r.mu.Lock()
	failed := w.failed
	r.mu.Unlock()
	if failed&tried != 0 {
		r.noteFailed(w.key.gfid, k, failed&tried)
	}
	return good
}

// lockSpan waits until no operation of this client overlapping s is in
// flight on the window's inode, and claims s.
func (w *window) lockSpan(s span) {
	w.smu.Lock()
	defer w.smu.Unlock()
	for {
		busy := false
		for _, o := range w.spans {
			if o.overlaps(s) {
				busy = true
				break
			}
		}
		if !busy {
			w.spans = append(w.spans, s)
			return
		}
		w.scond.Wait()
	}
}

func (w *window) unlockSpan(s span) {
	w.smu.Lock()
	defer w.smu.Unlock()
	for i, o := range w.spans {
		if o == s {
			w.spans = append(w.spans[:i], w.spans[i+1:]...)
			break
		}
	}
	w.scond.Broadcast()
}

// inodeTxn runs op in a window of kind k on gfid: on every active child
// in parallel, serialised with this client's overlapping operations. op
// returns its errno per child. The result is the mask of children where it
// succeeded (blame for the others is durable when it returns) and the
// errno to return: 0 if any child succeeded and quorum holds.
func (r *Replicate) inodeTxn(ctx context.Context, gfid vfs.GFID, k kind, s span, op func(i int) syscall.Errno) (uint64, syscall.Errno) {
	if e := r.refuseSplitBrain(ctx, gfid, k); e != 0 {
		return 0, e
	}
	w, e := r.acquire(ctx, gfid, k)
	if e != 0 {
		return 0, e
	}
	defer r.release(w)
	w.lockSpan(s)
	defer w.unlockSpan(s)
	mask, e := r.active(w)
	if e != 0 {
		return 0, e
	}
	errs := make([]syscall.Errno, len(r.children))
	r.parallel(mask, func(i int) { errs[i] = op(i) })
	ok := okMask(errs, mask)
	good := r.settle(ctx, w, k, mask, ok, errs)
	if good == 0 {
		return 0, combine(errs, mask)
	}
	if !r.quorumMet(good) {
		return good, syscall.ENOTCONN
	}
	return good, 0
}

// refuseSplitBrain fails with EIO a transaction of kind k on a file known
// to be in split-brain for k (confirmed again first).
func (r *Replicate) refuseSplitBrain(ctx context.Context, gfid vfs.GFID, k kind) syscall.Errno {
	if st := r.cachedState(gfid); st != nil && st.splitBrain[k] {
		if st, e := r.confirmSplitBrain(ctx, gfid, k); e == 0 && st.splitBrain[k] {
			r.reportSplitBrain(gfid, k, st)
			return syscall.EIO
		}
	}
	return 0
}

// inodeTxnPair is inodeTxn for an operation that is a write and then a
// setattr on each child (WriteSetAttr): both kinds are pre-op'd in the
// file's window, the whole file is claimed, and op returns the errno of
// each half per child. The results are the children where the write went
// through, those where the setattr did too, and the errno to return.
func (r *Replicate) inodeTxnPair(ctx context.Context, gfid vfs.GFID, op func(i int) (syscall.Errno, syscall.Errno)) (wrote, set uint64, errno syscall.Errno) {
	for _, k := range []kind{dataKind, metaKind} {
		if e := r.refuseSplitBrain(ctx, gfid, k); e != 0 {
			return 0, 0, e
		}
	}
	w, e := r.acquire(ctx, gfid, dataKind)
	if e != 0 {
		return 0, 0, e
	}
	defer r.release(w)
	if e := r.addKind(ctx, w, metaKind); e != 0 {
		return 0, 0, e
	}
	w.lockSpan(wholeFile)
	defer w.unlockSpan(wholeFile)
	mask, e := r.active(w)
	if e != 0 {
		return 0, 0, e
	}
	werrs := make([]syscall.Errno, len(r.children))
	serrs := make([]syscall.Errno, len(r.children))
	r.parallel(mask, func(i int) { werrs[i], serrs[i] = op(i) })
	wrote = r.settle(ctx, w, dataKind, mask, okMask(werrs, mask), werrs)
	if wrote == 0 {
		return 0, 0, combine(werrs, mask)
	}
	if !r.quorumMet(wrote) {
		return wrote, 0, syscall.ENOTCONN
	}
	// The setattr ran where the write went through; a child that failed
	// the write is already blamed, for every kind of the window.
	set = r.settle(ctx, w, metaKind, wrote, okMask(serrs, wrote), serrs)
	if set == 0 {
		return wrote, 0, combine(serrs, wrote)
	}
	if !r.quorumMet(set) {
		return wrote, set, syscall.ENOTCONN
	}
	return wrote, set, 0
}

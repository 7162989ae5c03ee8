package replicate

import (
	"context"
	"encoding/binary"
	"math/bits"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// inodeState is what this client last learnt about a GFID's copies.
type inodeState struct {
	at       time.Time
	exists   uint64 // children holding the GFID
	readable [numKinds]uint64
	split    [numKinds]bool
	dirty    [numKinds]bool
	// splitBrain is split restricted to what cannot be resolved
	// automatically: reads and writes of that kind fail with EIO.
	splitBrain [numKinds]bool
}

// maxStates bounds the state cache; when full it is simply emptied, since
// every entry can be read again from the bricks.
const maxStates = 1 << 16

func (r *Replicate) cachedState(gfid vfs.GFID) *inodeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.states[gfid]
}

func (r *Replicate) storeState(gfid vfs.GFID, st *inodeState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.states) >= maxStates {
		clear(r.states)
	}
	r.states[gfid] = st
}

func (r *Replicate) forgetState(gfid vfs.GFID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.states, gfid)
}

// noteFailed records that an operation of kind k failed on the children
// in mask, so this client stops reading from them at once.
func (r *Replicate) noteFailed(gfid vfs.GFID, k kind, mask uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.states[gfid]; st != nil {
		cp := *st
		cp.readable[k] &^= mask
		cp.dirty[k] = true
		r.states[gfid] = &cp
	}
}

// state returns the state of gfid, read again from the bricks when the
// cached one is older than StateTTL.
func (r *Replicate) state(ctx context.Context, gfid vfs.GFID) (*inodeState, syscall.Errno) {
	if st := r.cachedState(gfid); st != nil && time.Since(st.at) < r.cfg.StateTTL {
		return st, 0
	}
	return r.refresh(ctx, gfid)
}

// refresh reads the changelog of gfid from every reachable child.
func (r *Replicate) refresh(ctx context.Context, gfid vfs.GFID) (*inodeState, syscall.Errno) {
	up := r.upMask()
	m, ok, errs := r.readMatrix(internalCtx(ctx), gfid, up)
	if ok == 0 {
		return nil, combine(errs, up)
	}
	st := r.judgeState(gfid, m, ok)
	r.storeState(gfid, st)
	return st, 0
}

// judgeState turns a changelog matrix read from the children in ok into
// a state, applying the favorite-child policy lazily (only heal applies
// it; reads of a split-brain that a policy can resolve wait for the heal
// that this triggers).
func (r *Replicate) judgeState(gfid vfs.GFID, m matrix, ok uint64) *inodeState {
	st := &inodeState{at: time.Now(), exists: ok}
	for k := range numKinds {
		v := judge(m, ok, k)
		st.readable[k] = v.sources
		st.split[k] = v.splitBrain
		st.dirty[k] = v.dirty
		st.splitBrain[k] = v.splitBrain
	}
	// Our own open windows know more than the bricks about failures.
	r.mu.Lock()
	for k := range numKinds {
		if w := r.windows[winKey{gfid, windowKind(k)}]; w != nil && w.kinds.has(k) {
			st.readable[k] &^= w.failed
		}
	}
	r.mu.Unlock()
	return st
}

// pick chooses the child to read kind k from among cand: the configured
// read-subvolume when it is a candidate, otherwise one chosen by GFID
// hash, so that different files spread over the children while a given
// file is always read from the same one (cache friendly).
func (r *Replicate) pick(gfid vfs.GFID, cand uint64) int {
	if cand == 0 {
		return -1
	}
	if rs := r.cfg.ReadSubvolume; rs >= 0 && cand&(1<<rs) != 0 {
		return rs
	}
	n := bits.OnesCount64(cand)
	h := binary.BigEndian.Uint64(gfid[8:]) ^ binary.BigEndian.Uint64(gfid[:8])
	nth := int(h % uint64(n))
	for m := cand; m != 0; m &= m - 1 {
		if nth == 0 {
			return bits.TrailingZeros64(m)
		}
		nth--
	}
	return first(cand)
}

// readChild returns a child to read kind k of gfid from, and the state
// it was chosen with. EIO means split-brain (logged), ENOTCONN that no
// good copy is reachable.
func (r *Replicate) readChild(ctx context.Context, gfid vfs.GFID, k kind, exclude uint64) (int, *inodeState, syscall.Errno) {
	cand, st, e := r.readable(ctx, gfid, k, exclude)
	if e != 0 {
		return -1, st, e
	}
	return r.pick(gfid, cand), st, 0
}

// readable returns the children holding a good, reachable copy of kind k
// of gfid (never empty when the error is 0), and the state they were
// chosen with. EIO means split-brain (logged), ENOTCONN that no good copy
// is reachable. A dirty file is queued for self-heal on the way.
func (r *Replicate) readable(ctx context.Context, gfid vfs.GFID, k kind, exclude uint64) (uint64, *inodeState, syscall.Errno) {
	st, e := r.state(ctx, gfid)
	if e != 0 {
		return 0, nil, e
	}
	if st.splitBrain[k] {
		if st, e = r.confirmSplitBrain(ctx, gfid, k); e != 0 {
			return 0, nil, e
		}
	}
	if st.splitBrain[k] {
		r.maybeHeal(gfid, st)
		r.reportSplitBrain(gfid, k, st)
		return 0, st, syscall.EIO
	}
	if st.dirty[k] {
		r.maybeHeal(gfid, st)
	}
	cand := st.readable[k] & st.exists & r.upMask() &^ exclude
	if cand == 0 {
		// The good copies are all unreachable: never fall back to a
		// blamed one.
		return 0, st, syscall.ENOTCONN
	}
	return cand, st, 0
}

// reportSplitBrain logs a split-brain, naming the file and the bricks,
// at most once a minute per file and kind (reads retry a lot).
func (r *Replicate) reportSplitBrain(gfid vfs.GFID, k kind, st *inodeState) {
	r.mu.Lock()
	if r.reported == nil || len(r.reported) >= maxStates {
		r.reported = make(map[winKey]time.Time)
	}
	key := winKey{gfid, k}
	if t, ok := r.reported[key]; ok && time.Since(t) < time.Minute {
		r.mu.Unlock()
		return
	}
	r.reported[key] = time.Now()
	r.mu.Unlock()
	var names []string
	each(st.exists, func(i int) { names = append(names, r.children[i].name) })
	r.log.Error("split-brain: copies blame each other; reads and writes fail with EIO until favorite-child-policy or `cairn heal split-brain` picks a source",
		"path", r.pathOf(gfid), "gfid", gfid.String(), "kind", k.String(), "bricks", names)
}

// confirmSplitBrain re-reads the changelog of gfid after settling this
// client's own window of kind k, and returns the fresh state. A cached
// state, or one read while this client's changelog updates were in flight
// (delayed post-ops of concurrent transactions), can look like mutual
// blame for a moment; only a split-brain that survives this is one.
func (r *Replicate) confirmSplitBrain(ctx context.Context, gfid vfs.GFID, k kind) (*inodeState, syscall.Errno) {
	r.flushWindow(ctx, gfid, k)
	return r.refresh(ctx, gfid)
}

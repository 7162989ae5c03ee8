package locks

import (
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// table holds the granted locks and queued requests of one object in one
// namespace. Invariant for POSIX tables: the ranges of one owner never
// overlap, and two ranges of one owner with the same type are never
// adjacent (they would have been merged).
type table struct {
	key     key
	held    []*lock
	waiters []*waiter // arrival order
	clients map[string]struct{}
}

// overlaps reports whether two locks cover common ground.
func (t *table) overlaps(a, b *lock) bool {
	if t.key.space == spaceEntry {
		return a.name == "" || b.name == "" || a.name == b.name
	}
	return a.start <= b.end && b.start <= a.end
}

// conflicts reports whether a and b cannot both be held: different owners,
// overlapping, and not both read locks.
func (t *table) conflicts(a, b *lock) bool {
	if a.owner == b.owner {
		return false
	}
	if a.typ == vfs.ReadLock && b.typ == vfs.ReadLock {
		return false
	}
	return t.overlaps(a, b)
}

// find returns the first held lock satisfying match, or nil.
func (t *table) find(match func(*lock) bool) *lock {
	for _, h := range t.held {
		if match(h) {
			return h
		}
	}
	return nil
}

// blocker returns a lock that keeps req from being granted now, or nil.
// With fair set, the first `before` queued requests count too, unless req's
// owner already holds a lock here (see the package doc for why).
func (t *table) blocker(req *lock, fair bool, before int) *lock {
	for _, h := range t.held {
		if t.conflicts(req, h) {
			return h
		}
	}
	if fair && t.find(func(h *lock) bool { return h.owner == req.owner }) == nil {
		for _, w := range t.waiters[:before] {
			if t.conflicts(req, &w.l) {
				return &w.l
			}
		}
	}
	return nil
}

// blockers appends to out the owners req would wait for if queued at
// position before (the edges of the waits-for graph).
func (t *table) blockers(req *lock, before int, out []owner) []owner {
	for _, h := range t.held {
		if t.conflicts(req, h) {
			out = append(out, h.owner)
		}
	}
	if t.find(func(h *lock) bool { return h.owner == req.owner }) == nil {
		for _, w := range t.waiters[:before] {
			if t.conflicts(req, &w.l) {
				out = append(out, w.l.owner)
			}
		}
	}
	return out
}

func (t *table) waiterIndex(w *waiter) int {
	for i, x := range t.waiters {
		if x == w {
			return i
		}
	}
	return len(t.waiters)
}

func (t *table) removeWaiter(w *waiter) {
	if i := t.waiterIndex(w); i < len(t.waiters) {
		t.waiters = append(t.waiters[:i], t.waiters[i+1:]...)
	}
}

// dropHeld removes the held locks matching drop and reports whether any was.
func (t *table) dropHeld(drop func(*lock) bool) bool {
	kept := t.held[:0]
	for _, h := range t.held {
		if !drop(h) {
			kept = append(kept, h)
		}
	}
	clear(t.held[len(kept):])
	dropped := len(kept) != len(t.held)
	t.held = kept
	return dropped
}

// grant adds req, which must not conflict with any held lock.
func (t *table) grant(req lock) {
	switch t.key.space {
	case spacePosix:
		t.setRange(req)
	default:
		// flock: the owner's old lock was dropped before; inode and
		// entry locks are counted, one entry per grant.
		l := req
		t.held = append(t.held, &l)
	}
}

// unlock removes req (of type Unlock) as its namespace defines.
func (t *table) unlock(req lock) syscall.Errno {
	switch t.key.space {
	case spacePosix:
		t.setRange(req)
	case spaceFlock:
		t.dropHeld(func(h *lock) bool { return h.owner == req.owner })
	case spaceInode:
		// GlusterFS drops the owner's lock with exactly this range, and
		// failing that one overlapping it.
		i := t.index(func(h *lock) bool {
			return h.owner == req.owner && h.start == req.start && h.end == req.end
		})
		if i < 0 {
			i = t.index(func(h *lock) bool { return h.owner == req.owner && t.overlaps(h, &req) })
		}
		if i < 0 {
			return syscall.EINVAL
		}
		t.removeHeld(i)
	case spaceEntry:
		i := t.index(func(h *lock) bool { return h.owner == req.owner && h.name == req.name })
		if i < 0 {
			return syscall.EINVAL
		}
		t.removeHeld(i)
	}
	return 0
}

func (t *table) index(match func(*lock) bool) int {
	for i, h := range t.held {
		if match(h) {
			return i
		}
	}
	return -1
}

func (t *table) removeHeld(i int) {
	copy(t.held[i:], t.held[i+1:])
	t.held[len(t.held)-1] = nil
	t.held = t.held[:len(t.held)-1]
}

// setRange applies a POSIX request of req.owner over [req.start, req.end]:
// the owner's locks there are replaced by req (or removed, for Unlock),
// parts outside survive (splitting a lock in two when req falls inside
// it), and req absorbs overlapping or adjacent locks of the same type.
func (t *table) setRange(req lock) {
	if t.find(func(h *lock) bool { return h.owner == req.owner }) == nil {
		// Fast path: nothing of the owner's to split or merge.
		if req.typ != vfs.Unlock {
			t.held = append(t.held, &req)
		}
		return
	}
	// Rewrite held in place: each lock is kept, dropped or trimmed, which
	// never outgrows the read position; the right part of a lock split in
	// two waits in extra.
	kept := t.held[:0]
	var extra []*lock
	n := len(t.held)
	for _, h := range t.held {
		if h.owner != req.owner {
			kept = append(kept, h)
			continue
		}
		if h.end < req.start || h.start > req.end {
			adjacent := (h.end != vfs.LockEOF && h.end+1 == req.start) ||
				(req.end != vfs.LockEOF && req.end+1 == h.start)
			if adjacent && h.typ == req.typ {
				req.start, req.end = min(req.start, h.start), max(req.end, h.end)
				continue
			}
			kept = append(kept, h)
			continue
		}
		if h.typ == req.typ {
			req.start, req.end = min(req.start, h.start), max(req.end, h.end)
			continue
		}
		if h.end > req.end {
			right := *h
			right.start = req.end + 1
			extra = append(extra, &right)
		}
		if h.start < req.start {
			h.end = req.start - 1
			kept = append(kept, h)
		}
	}
	clear(t.held[len(kept):n])
	kept = append(kept, extra...)
	if req.typ != vfs.Unlock {
		kept = append(kept, &req)
	}
	t.held = kept
}

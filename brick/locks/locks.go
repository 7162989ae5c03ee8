package locks

import (
	"context"
	"sync"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Locks is the features/locks translator. Every operation other than the
// lock operations passes through to the child unchanged.
type Locks struct {
	vfs.Passthrough

	mu     sync.Mutex
	tables map[key]*table
	// byClient lists the tables in which a client holds or awaits locks,
	// so that ReleaseOwner and ReleaseClient need not scan every table.
	byClient map[string]map[*table]struct{}
	// waiting lists the queued POSIX requests of each owner, the edges
	// of the waits-for graph used for deadlock detection.
	waiting map[owner][]*waiter
}

// New returns a locks translator over child.
func New(child vfs.Translator) *Locks {
	return &Locks{
		Passthrough: vfs.Passthrough{Child: child},
		tables:      make(map[key]*table),
		byClient:    make(map[string]map[*table]struct{}),
		waiting:     make(map[owner][]*waiter),
	}
}

// owner identifies a lock owner: the lock owner of one client connection.
type owner struct {
	client string
	id     uint64
}

// space is a lock namespace.
type space uint8

const (
	spacePosix space = iota
	spaceFlock
	spaceInode
	spaceEntry
)

// key names the set of locks that can conflict with each other: one file in
// one namespace (and one domain for inode and entry locks).
type key struct {
	space  space
	domain string
	gfid   vfs.GFID
}

// lock is a granted lock or a queued request.
type lock struct {
	owner owner
	typ   vfs.LockType
	start uint64
	end   uint64 // inclusive
	name  string // entry locks only; "" is the whole directory
	pid   uint32
}

// waiter is a queued blocking request. ready is closed once err is final:
// 0 when granted, otherwise why the request was dropped.
type waiter struct {
	l     lock
	t     *table
	ready chan struct{}
	done  bool
	err   syscall.Errno
}

// Stats counts the locks a Locks holds, for status reports and tests.
type Stats struct {
	Held    int // granted locks (a POSIX owner's merged range counts once)
	Waiting int // queued blocking requests
	Objects int // files, inodes and directories with held or queued locks
}

// Stats returns the current number of locks.
func (l *Locks) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Stats{Objects: len(l.tables)}
	for _, t := range l.tables {
		s.Held += len(t.held)
		s.Waiting += len(t.waiters)
	}
	return s
}

// ReleaseOwner drops the POSIX and flock locks held by owner of client, as
// a close(2) by that owner requires. Its queued requests keep waiting (they
// belong to other threads of the owner, which close does not interrupt).
func (l *Locks) ReleaseOwner(client string, ownerID uint64) {
	o := owner{client, ownerID}
	l.mu.Lock()
	defer l.mu.Unlock()
	for t := range l.byClient[client] {
		if t.key.space != spacePosix && t.key.space != spaceFlock {
			continue
		}
		if t.dropHeld(func(h *lock) bool { return h.owner == o }) {
			l.wake(t)
			l.gc(t)
		}
	}
}

// ReleaseClient drops every lock of client in every namespace and fails its
// queued requests with ENOTCONN. The brick server calls it when the
// client's connection closes, so that a crashed client's locks do not
// outlive it.
func (l *Locks) ReleaseClient(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for t := range l.byClient[client] {
		t.dropHeld(func(h *lock) bool { return h.owner.client == client })
		for i := 0; i < len(t.waiters); {
			if w := t.waiters[i]; w.l.owner.client == client {
				l.finish(w, syscall.ENOTCONN)
				continue
			}
			i++
		}
		l.wake(t)
		l.gc(t)
	}
	delete(l.byClient, client)
}

// table returns the table for k, creating it.
func (l *Locks) table(k key) *table {
	t := l.tables[k]
	if t == nil {
		t = &table{key: k, clients: make(map[string]struct{})}
		l.tables[k] = t
	}
	return t
}

// noteClient records that client has locks or requests in t.
func (l *Locks) noteClient(t *table, client string) {
	if _, ok := t.clients[client]; ok {
		return
	}
	t.clients[client] = struct{}{}
	m := l.byClient[client]
	if m == nil {
		m = make(map[*table]struct{})
		l.byClient[client] = m
	}
	m[t] = struct{}{}
}

// gc forgets t once it holds nothing and nobody waits on it, so that memory
// follows the number of locked objects, not the number ever locked.
func (l *Locks) gc(t *table) {
	if len(t.held) > 0 || len(t.waiters) > 0 {
		return
	}
	if l.tables[t.key] == t {
		delete(l.tables, t.key)
	}
	for c := range t.clients {
		if m := l.byClient[c]; m != nil {
			delete(m, t)
			if len(m) == 0 {
				delete(l.byClient, c)
			}
		}
	}
	t.clients = make(map[string]struct{})
}

// finish takes w out of its queue and completes it with err.
func (l *Locks) finish(w *waiter, err syscall.Errno) {
	w.t.removeWaiter(w)
	if w.t.key.space == spacePosix {
		ws := l.waiting[w.l.owner]
		for i, x := range ws {
			if x == w {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(l.waiting, w.l.owner)
		} else {
			l.waiting[w.l.owner] = ws
		}
	}
	w.done = true
	w.err = err
	close(w.ready)
}

// wake grants every queued request of t that has become grantable, in
// queue order. After each grant the scan restarts, because a POSIX grant
// can also release ranges (an owner's write lock turning into a read lock)
// and changes which owners hold locks.
func (l *Locks) wake(t *table) {
	for i := 0; i < len(t.waiters); i++ {
		w := t.waiters[i]
		if t.blocker(&w.l, true, i) != nil {
			continue
		}
		t.grant(w.l)
		l.finish(w, 0)
		i = -1
	}
}

// acquire sets (or, for Unlock, clears) req in the table for k.
func (l *Locks) acquire(ctx context.Context, k key, req lock, wait bool) syscall.Errno {
	l.mu.Lock()
	t := l.table(k)
	if req.typ == vfs.Unlock {
		errno := t.unlock(req)
		l.wake(t)
		l.gc(t)
		l.mu.Unlock()
		return errno
	}
	if k.space == spaceFlock {
		// Linux drops the old flock before converting it (see package doc).
		if h := t.find(func(h *lock) bool { return h.owner == req.owner }); h != nil {
			if h.typ == req.typ {
				l.mu.Unlock()
				return 0
			}
			t.dropHeld(func(h *lock) bool { return h.owner == req.owner })
			l.wake(t)
		}
	}
	fair := wait || k.space == spaceInode || k.space == spaceEntry
	if t.blocker(&req, fair, len(t.waiters)) == nil {
		t.grant(req)
		l.noteClient(t, req.owner.client)
		if k.space == spacePosix {
			l.wake(t) // the grant may have downgraded a range
		}
		l.mu.Unlock()
		return 0
	}
	if !wait {
		l.gc(t)
		l.mu.Unlock()
		return syscall.EAGAIN
	}
	if k.space == spacePosix && l.deadlocks(t, &req) {
		l.gc(t)
		l.mu.Unlock()
		return syscall.EDEADLK
	}
	w := &waiter{l: req, t: t, ready: make(chan struct{})}
	t.waiters = append(t.waiters, w)
	l.noteClient(t, req.owner.client)
	if k.space == spacePosix {
		l.waiting[req.owner] = append(l.waiting[req.owner], w)
	}
	l.mu.Unlock()

	select {
	case <-w.ready:
		return w.err
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.done {
		// Granted (or dropped) while we were being cancelled: the lock
		// is held, so report it rather than leak it silently.
		return w.err
	}
	l.finish(w, syscall.EINTR)
	l.wake(t) // later requests may have queued behind this one
	l.gc(t)
	return syscall.EINTR
}

// deadlocks reports whether queueing req would close a cycle in the
// waits-for graph of POSIX owners: req's owner would wait for owners that
// (transitively) wait for it.
func (l *Locks) deadlocks(t *table, req *lock) bool {
	stack := t.blockers(req, len(t.waiters), nil)
	seen := make(map[owner]bool)
	for len(stack) > 0 {
		o := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if o == req.owner {
			return true
		}
		if seen[o] {
			continue
		}
		seen[o] = true
		for _, w := range l.waiting[o] {
			stack = w.t.blockers(&w.l, w.t.waiterIndex(w), stack)
		}
	}
	return false
}

// owner returns the lock owner of an operation.
func ownerOf(ctx context.Context, id uint64) owner {
	return owner{client: vfs.CallerFrom(ctx).Client, id: id}
}

// validLock checks the type and range of a lock request.
func validLock(lk vfs.Lock) bool {
	switch lk.Type {
	case vfs.ReadLock, vfs.WriteLock, vfs.Unlock:
	default:
		return false
	}
	return lk.Start <= lk.End
}

// Package writebehind is cairn's performance/write-behind translator: it
// acknowledges writes at once, keeps them in memory, joins small
// contiguous ones into larger writes, and sends them to its child in the
// background, so that an application writing 4 KiB at a time waits neither
// for the network nor for one round trip per 4 KiB.
//
// # What is held, and how much
//
// Writes are queued per file (GFID), in arrival order. A write is joined to
// the last queued one when it comes through the same handle (or, for the
// anonymous handle 0, from the same caller), starts where that one ends,
// and the two fit in AggregateSize. The bytes of one file acknowledged but
// not yet completed by the child never exceed CacheSize (GlusterFS's
// window); a write that would exceed it waits until earlier writes
// complete. TotalSize bounds the same over all files. A write larger than
// CacheSize goes to the child synchronously, after the file's queue.
// Writes are copied (the caller reuses its buffer) unless the caller
// offers its buffer (vfs.DataGift); the copies of large writes (over
// 512 KiB) go into buffers kept from earlier ones, at most 9 of 1 MiB.
//
// The head of a file's queue is sent when it can no longer grow (it is
// full, or another write follows it), when nothing else of the file is in
// flight and TricklingWrites is on, or when an operation needs it on the
// child. Writes that do not overlap may be in flight together, unless
// StrictWriteOrdering is set; an overlapping write waits for the earlier
// one, so the child applies them in order. A write through an O_APPEND
// handle overlaps everything (its offset is only known on the brick).
//
// # Coherence: what waits for the queued writes
//
// This client sees its own writes (read-your-writes), across all its
// handles of a file:
//
//   - Read waits for the queued writes of the file that could change what
//     it returns: any write that ends after the read's offset.
//   - GetAttr, SetAttr (truncate, utimes, chmod; except those held, see
//     below), Fallocate, Lseek, the xattr operations that change xattrs,
//     the lock operations, Link, and Open or Create with O_TRUNC wait for
//     all of them; attributes
//     returned by Lookup and ReadDir with attributes are fetched again
//     after waiting when the file had writes queued. So size, mtime,
//     blocks and the setuid bits that a non-root write drops are always
//     those after the writes.
//   - GetXattr and ListXattr do not wait, as in GlusterFS: writes do not
//     change xattrs, except that a write on the brick drops
//     security.capability — and the Linux kernel asks for exactly that
//     xattr before every write(2) through FUSE, so waiting there would
//     send every write at once. A held write's removal of
//     security.capability is seen once the write is sent.
//   - Fsync and Flush (close) wait for all of them; Release waits for
//     those of its handle.
//
// Setattrs of mode, owner and times on a file this client created and
// still has open are held in its queue too, joined, and answered with the
// attributes the file will have (setattr-behind, setattr.go): tar and
// cp -p set all three on every file they write.
//
// Namespace operations (Unlink, Rename) do not wait: writes through open
// handles still reach the file, and anonymous writes to a file removed
// meanwhile are dropped with it. They forget the removed file's anonymous
// writers (looking its name up first while any is remembered), so that a
// later anonymous write gets ESTALE from the child rather than an
// acknowledgement.
//
// # Errors
//
// A write that fails in the background was already acknowledged, so its
// errno is kept and returned by the next Write, Flush or Fsync on the same
// handle (for anonymous writes: on handle 0 of the same file); Fsync also
// fails when any write it waited for failed. Flush waits for the file's
// writes before it returns, so close(2) reports their errors; with
// FlushBehind the child's own Flush then runs in the background. As in
// GlusterFS, an error of a write completed after the last Flush of its
// handle is lost, and a failed write is not retried. Errors that mean the
// file is gone (ESTALE, ENOENT) are not kept for anonymous writes.
//
// Anonymous writes (handle 0) are checked by the child against the
// caller's permission on every call. So that an acknowledged write cannot
// hide an EACCES, the first anonymous write of a caller to a file goes to
// the child synchronously; later ones of the same caller are held. SetAttr
// of the mode or owner through this translator forgets who has written.
//
// Handles opened with O_SYNC or O_DSYNC always write synchronously, and so
// do O_DIRECT handles when StrictODirect is set (by default O_DIRECT is
// ignored, as GlusterFS's strict-O_DIRECT off does).
//
// Locking: one mutex guards all state; child calls are made without it.
package writebehind

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/internal/gopool"
	"github.com/cairnfs/cairn/vfs"
)

// Defaults, as GlusterFS's.
const (
	DefaultCacheSize     = 1 << 20
	DefaultAggregateSize = 128 << 10
	DefaultTotalSize     = 64 << 20
)

// Config configures a WriteBehind translator. Numeric fields left 0 take
// their default; boolean fields are used as given, so start from
// DefaultConfig to get GlusterFS's defaults.
type Config struct {
	// CacheSize bounds, per file, the bytes acknowledged to applications
	// and not yet completed by the child (GlusterFS option cache-size,
	// alias window-size; 0 means 1 MiB). It must be at least
	// AggregateSize.
	CacheSize int64
	// AggregateSize is the largest write built by joining small
	// contiguous writes (GlusterFS option aggregate-size; 0 means
	// 128 KiB).
	AggregateSize int64
	// TotalSize bounds the bytes held over all files (no GlusterFS
	// option: GlusterFS bounds each file only; 0 means 64 MiB).
	TotalSize int64
	// FlushBehind sends the child's Flush in the background once the
	// file's writes have completed (GlusterFS option flush-behind,
	// default on).
	FlushBehind bool
	// StrictODirect makes writes through O_DIRECT handles synchronous
	// (GlusterFS option strict-O_DIRECT, default off: O_DIRECT is ignored
	// here).
	StrictODirect bool
	// StrictWriteOrdering keeps at most one write of a file in flight, so
	// that no write overtakes an earlier one even when they do not overlap
	// (GlusterFS option strict-write-ordering, default off).
	StrictWriteOrdering bool
	// TricklingWrites sends a held write as soon as nothing else of the
	// file is in flight, rather than holding it until it is full
	// (GlusterFS option trickling-writes, default on).
	TricklingWrites bool
	// FreshHold is how long writes to a file this client created and
	// still has open, and held setattrs, may wait to be joined before
	// they are sent anyway (no GlusterFS option; 0 means 5 ms, negative
	// lets such writes trickle like any other, and sends held setattrs
	// at once, in the background). tar writes a file in
	// 10 KiB records and closes it at once: joined, they are one write
	// per file on the bricks.
	FreshHold time.Duration
}

// DefaultFreshHold is FreshHold's default.
const DefaultFreshHold = 5 * time.Millisecond

// DefaultConfig returns GlusterFS's defaults.
func DefaultConfig() Config {
	return Config{
		CacheSize:       DefaultCacheSize,
		AggregateSize:   DefaultAggregateSize,
		TotalSize:       DefaultTotalSize,
		FlushBehind:     true,
		TricklingWrites: true,
	}
}

// WriteBehind is the write-behind translator.
type WriteBehind struct {
	vfs.Passthrough
	cfg Config

	mu      sync.Mutex
	room    *sync.Cond // signalled when held bytes are freed
	roomers int        // goroutines waiting on room
	files   map[vfs.GFID]*file
	handles map[vfs.Handle]*handle
	pairer  vfs.WriteSetAttrer   // the child, when it takes a write and a setattr in one operation
	fresh   map[vfs.GFID]*handle // files created here whose attributes are followed (setattr.go)
	sets    int                  // setattrs held over all files
	total   int64                // bytes held over all files
	writers map[vfs.GFID][]who   // callers whose anonymous write to the file succeeded
	nwriter int
	closed  bool
	stopped bool // stop is closed
	stats   Stats
	bufs    sync.Pool // of *[]byte with capacity AggregateSize
	// large keeps the buffers of recent large writes (capacity
	// largeBufSize) for the next ones: a fresh 1 MiB buffer per write is
	// fresh memory to fault in, which on the VMs measured cost the copy
	// several times over (TestFigures: 0.57 ms of memmove per MiB). A
	// bounded channel, not internal/hugebuf (its mapping is never
	// unmapped, and there is one write-behind per client graph) nor a
	// sync.Pool (emptied by every other GC, which is what the churn of
	// large writes brings on).
	large chan []byte
	// senders run the background writes and flushes on goroutines whose
	// stacks have already grown through the stack below; they end at
	// Close (stop).
	senders *gopool.Pool
	stop    chan struct{}
}

// maxWriters bounds the remembered anonymous writers.
const maxWriters = 4096

// who is the identity a write is done as: the child checks permissions
// and drops setuid by it, so writes of different callers are never
// joined.
type who struct {
	uid, gid uint32
	groups   string
}

func whoOf(ctx context.Context) who {
	c := vfs.CallerFrom(ctx)
	w := who{uid: c.UID, gid: c.GID}
	if len(c.Groups) > 0 {
		b := make([]byte, 0, 4*len(c.Groups))
		for _, g := range c.Groups {
			b = append(b, byte(g), byte(g>>8), byte(g>>16), byte(g>>24))
		}
		w.groups = string(b)
	}
	return w
}

// handle is an open handle of the child that this translator saw opened.
type handle struct {
	gfid   vfs.GFID
	flags  uint32
	err    syscall.Errno // of a background write, for the next call
	active int           // requests queued or in flight, background flushes included
	fh     vfs.Handle
	// attr is, for a file this handle created, what the file looks like
	// with every write and setattr acknowledged here applied; nil once
	// something it cannot follow happened (setattr.go).
	attr    *vfs.Attr
	changes uint64 // writes and setattrs applied to attr
}

// request is one queued write, or one held setattr (set != nil), which
// carries no data and is sent alone (setattr.go).
type request struct {
	seq    uint64
	fh     vfs.Handle
	h      *handle // nil for anonymous writes
	who    who
	ctx    context.Context // the first writer's, without its cancellation
	off    int64
	data   []byte
	append bool
	pooled bool // data comes from bufs
	large  bool // data comes from large
	// release gives data back to the writer that offered its buffer
	// (vfs.DataGift); nil when data is our own copy.
	release func()
	set     *vfs.SetAttrIn
}

func (r *request) end() int64 { return r.off + int64(len(r.data)) }

// overlaps reports whether r and o touch a common byte, appends touching
// everything.
func (r *request) overlaps(o *request) bool {
	if r.append || o.append || r.set != nil || o.set != nil {
		return true
	}
	return r.off < o.end() && o.off < r.end()
}

// file is the write queue of one GFID. It stays in WriteBehind.files while
// it has work, waiters or an error to report.
type file struct {
	gfid     vfs.GFID
	queue    []*request // acknowledged, not yet sent, in order
	inflight []*request // sent, not yet completed
	bytes    int64      // held by queue and inflight
	seq      uint64     // last sequence number given
	urgent   uint64     // requests up to this one are sent without holding
	cond     *sync.Cond // signalled on every completion
	waiters  int
	bg       int           // background flushes running
	anonErr  syscall.Errno // of a background anonymous write
	failures uint64        // background writes failed so far
	lastErr  syscall.Errno
	sets     int         // held setattrs queued or in flight
	timer    *time.Timer // bounds how long the head of the queue is held (FreshHold)
}

func (f *file) busy() bool { return len(f.queue) > 0 || len(f.inflight) > 0 }

// Stats are the translator's counters.
type Stats struct {
	Writes    uint64 // writes acknowledged without waiting for the child
	Joined    uint64 // of those, writes joined to a queued one
	Kept      uint64 // of those, writes held in the writer's own buffer (vfs.DataGift), not copied
	Sent      uint64 // writes sent to the child in the background
	Bypassed  uint64 // writes passed through synchronously
	Failed    uint64 // background writes that failed
	Syncs     uint64 // times an operation waited for queued writes
	RoomWaits uint64 // times a write waited for window or total room
	BytesSent uint64 // bytes written to the child in the background
	BgFlushes uint64 // child Flushes sent in the background (flush-behind)
	SetsHeld  uint64 // setattrs answered without waiting for the child
	SetsSent  uint64 // held setattrs sent to the child (after joining)
	Pairs     uint64 // writes sent with the setattrs after them in one operation
	Held      int64  // bytes held now
	Files     int    // files with state now
}

// New returns a write-behind translator over child.
func New(cfg Config, child vfs.Translator) (*WriteBehind, error) {
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.AggregateSize == 0 {
		cfg.AggregateSize = DefaultAggregateSize
	}
	if cfg.TotalSize == 0 {
		cfg.TotalSize = DefaultTotalSize
	}
	if cfg.FreshHold == 0 {
		cfg.FreshHold = DefaultFreshHold
	}
	switch {
	case cfg.CacheSize < 0 || cfg.AggregateSize < 0 || cfg.TotalSize < 0:
		return nil, fmt.Errorf("write-behind: negative size")
	case cfg.AggregateSize > cfg.CacheSize:
		return nil, fmt.Errorf("write-behind: aggregate-size %d is larger than cache-size %d", cfg.AggregateSize, cfg.CacheSize)
	case cfg.TotalSize < cfg.CacheSize:
		return nil, fmt.Errorf("write-behind: total size %d is smaller than cache-size %d", cfg.TotalSize, cfg.CacheSize)
	}
	t := &WriteBehind{
		Passthrough: vfs.Passthrough{Child: child},
		cfg:         cfg,
		files:       make(map[vfs.GFID]*file),
		handles:     make(map[vfs.Handle]*handle),
		fresh:       make(map[vfs.GFID]*handle),
		writers:     make(map[vfs.GFID][]who),
		stop:        make(chan struct{}),
	}
	t.senders = gopool.New(t.stop)
	t.pairer, _ = child.(vfs.WriteSetAttrer)
	t.room = sync.NewCond(&t.mu)
	size := cfg.AggregateSize
	t.bufs.New = func() any { b := make([]byte, 0, size); return &b }
	t.large = make(chan []byte, largeBufsKept(cfg))
	return t, nil
}

// largeBufSize is the capacity of the buffers kept for large writes: the
// largest write FUSE, NFS and 9P clients send through cairn.
const largeBufSize = 1 << 20

// largeBufsKept is how many large buffers are kept: as many large writes
// as the total window holds (TotalSize, counted up to 8 MiB) plus the one
// being copied.
func largeBufsKept(cfg Config) int {
	return int(min(cfg.TotalSize, 8*largeBufSize)/largeBufSize) + 1
}

// keepLarge keeps b, a buffer from ownCopy no request uses any more, for
// the next large write, unless enough are kept.
func (t *WriteBehind) keepLarge(b []byte) {
	select {
	case t.large <- b[:0]:
	default:
	}
}

// ownCopy copies data into a buffer of the translator's own, a kept one
// when it fits; large reports that it is one (recycle gives it back).
func (t *WriteBehind) ownCopy(data []byte) (own []byte, large bool) {
	if len(data) <= largeBufSize && len(data) > largeBufSize/2 {
		select {
		case b := <-t.large:
			return append(b, data...), true
		default:
			b := make([]byte, len(data), largeBufSize)
			copy(b, data)
			return b, true
		}
	}
	own = make([]byte, len(data))
	copy(own, data)
	return own, false
}

// Stats returns the counters.
func (t *WriteBehind) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Held, s.Files = t.total, len(t.files)
	return s
}

// Close waits for every held write to reach the child. Writes that arrive
// afterwards pass through synchronously.
func (t *WriteBehind) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	var fs []*file
	for _, f := range t.files {
		fs = append(fs, f)
	}
	for _, f := range fs {
		t.syncLocked(context.Background(), f)
	}
	for _, f := range fs {
		for f.bg > 0 {
			f.waiters++
			f.cond.Wait()
			f.waiters--
		}
		t.forget(f)
	}
	if !t.stopped {
		t.stopped = true
		close(t.stop)
	}
	return nil
}

// fileFor returns the state of gfid, creating it. Called with mu held.
func (t *WriteBehind) fileFor(gfid vfs.GFID) *file {
	f := t.files[gfid]
	if f == nil {
		f = &file{gfid: gfid, cond: sync.NewCond(&t.mu)}
		t.files[gfid] = f
	}
	return f
}

// forget drops f's state when nothing needs it any more. Called with mu
// held.
func (t *WriteBehind) forget(f *file) {
	if !f.busy() && f.bg == 0 && f.waiters == 0 && f.anonErr == 0 && t.files[f.gfid] == f {
		delete(t.files, f.gfid)
	}
}

// pump sends the requests at the head of f's queue that are ready and
// conflict with nothing in flight, in order. Called with mu held.
func (t *WriteBehind) pump(f *file) {
	for len(f.queue) > 0 {
		r := f.queue[0]
		ready := r.seq <= f.urgent || len(f.queue) > 1
		fresh := t.cfg.FreshHold > 0 && t.fresh[f.gfid] != nil
		// A write followed by held setattrs (and nothing else) of a
		// file created here waits for them, to go with them.
		paired := t.pairer != nil && r.set == nil && !r.append && len(f.queue) > 1 &&
			f.queue[1].set != nil && f.queue[1].fh == r.fh && f.queue[1].who == r.who
		if paired && fresh && len(f.queue) == 2 && r.seq > f.urgent {
			ready = false
		}
		if r.set == nil {
			ready = ready || int64(len(r.data)) >= t.cfg.AggregateSize ||
				(t.cfg.TricklingWrites && len(f.inflight) == 0 && !fresh)
		}
		// A held setattr waits to be joined by the next one, and a
		// write to a file created here by the next write, until
		// something needs them or FreshHold has passed.
		if !ready {
			if r.set != nil || fresh {
				t.armHold(f)
			}
			return
		}
		if paired && f.queue[1].seq <= f.urgent {
			// The pair goes once nothing else is in flight (the
			// setattr must follow every write before it).
			if len(f.inflight) > 0 {
				return
			}
			s := f.queue[1]
			f.queue[0], f.queue[1] = nil, nil
			f.queue = f.queue[2:]
			f.inflight = append(f.inflight, r, s)
			t.stats.Sent++
			t.stats.Pairs++
			t.senders.Go(func() { t.sendPair(f, r, s) })
			continue
		}
		if len(f.inflight) > 0 && t.cfg.StrictWriteOrdering {
			return
		}
		for _, o := range f.inflight {
			if r.overlaps(o) {
				return
			}
		}
		f.queue[0] = nil
		f.queue = f.queue[1:]
		f.inflight = append(f.inflight, r)
		if r.set == nil {
			t.stats.Sent++
		}
		t.senders.Go(func() { t.send(f, r) })
	}
}

// armHold makes sure that what f holds is sent within FreshHold. Called
// with mu held.
func (t *WriteBehind) armHold(f *file) {
	if f.timer != nil {
		return
	}
	f.timer = time.AfterFunc(t.cfg.FreshHold, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		f.timer = nil
		if f.urgent < f.seq {
			f.urgent = f.seq
		}
		t.pump(f)
	})
}

// send writes r to the child and accounts for its completion.
func (t *WriteBehind) send(f *file, r *request) {
	var errno syscall.Errno
	if r.set != nil {
		_, errno = t.Child.SetAttr(r.ctx, f.gfid, r.fh, r.set)
	}
	unsent := 0
	if errno == 0 {
		errno, unsent = t.write(f, r, r.data, r.off)
	}
	t.mu.Lock()
	t.completed(f, r, errno, unsent)
	t.mu.Unlock()
	t.recycle(r)
}

// sendPair sends a write and the setattr held after it in one operation
// (vfs.WriteSetAttrer): a new file's last write and tar's times, owner
// and mode in one request per brick.
func (t *WriteBehind) sendPair(f *file, w, s *request) {
	n, _, errno := t.pairer.WriteSetAttr(w.ctx, f.gfid, w.fh, w.data, w.off, s.set)
	werr, serr, unsent := syscall.Errno(0), errno, 0
	switch {
	case n < 0 || n > len(w.data):
		werr, serr, unsent = syscall.EIO, syscall.EIO, len(w.data)
	case n < len(w.data) && errno != 0:
		// The write failed; the setattr did not run.
		werr, serr, unsent = errno, errno, len(w.data)-n
	case n < len(w.data):
		// A short write: the rest, then the setattr, one by one.
		werr, unsent = t.write(f, w, w.data[n:], w.off+int64(n))
		serr = werr
		if werr == 0 {
			_, serr = t.Child.SetAttr(s.ctx, f.gfid, s.fh, s.set)
		}
	}
	t.mu.Lock()
	t.completed(f, w, werr, unsent)
	t.completed(f, s, serr, 0)
	t.mu.Unlock()
	t.recycle(w)
}

// write writes data at off to the child for r, continuing after short
// writes; it returns the errno and how many bytes were not written.
func (t *WriteBehind) write(f *file, r *request, data []byte, off int64) (syscall.Errno, int) {
	for len(data) > 0 {
		n, e := t.Child.Write(r.ctx, f.gfid, r.fh, data, off)
		if e != 0 {
			return e, len(data)
		}
		if n <= 0 || n > len(data) {
			return syscall.EIO, len(data)
		}
		data, off = data[n:], off+int64(n)
	}
	return 0, 0
}

// completed accounts for the completion of r, unsent of whose bytes were
// not written, and sends what can go next. Called with mu held.
func (t *WriteBehind) completed(f *file, r *request, errno syscall.Errno, unsent int) {
	if i := slices.Index(f.inflight, r); i >= 0 {
		f.inflight = slices.Delete(f.inflight, i, i+1)
	}
	n := int64(len(r.data))
	f.bytes -= n
	t.total -= n
	t.stats.BytesSent += uint64(n - int64(unsent))
	if r.h != nil {
		r.h.active--
	}
	if r.set != nil {
		f.sets--
		t.sets--
		t.stats.SetsSent++
	}
	if errno != 0 {
		t.fail(f, r, errno)
	}
	t.pump(f)
	f.cond.Broadcast()
	if t.roomers > 0 {
		t.room.Broadcast()
	}
	t.forget(f)
}

// recycle returns r's buffer to the pool once r is done.
func (t *WriteBehind) recycle(r *request) {
	if r.pooled {
		b := r.data[:0]
		t.bufs.Put(&b)
	}
	if r.large {
		r.large = false
		t.keepLarge(r.data)
	}
	if r.release != nil {
		r.release()
		r.release = nil
	}
	r.data = nil
}

// fail keeps the errno of a background write for its writer's next call.
// Called with mu held.
func (t *WriteBehind) fail(f *file, r *request, errno syscall.Errno) {
	t.stats.Failed++
	f.failures++
	f.lastErr = errno
	switch {
	case r.h != nil:
		if r.h.err == 0 {
			r.h.err = errno
		}
	case errno == syscall.ESTALE || errno == syscall.ENOENT:
		// The file is gone, and no one can ask about it.
	case f.anonErr == 0:
		f.anonErr = errno
	}
}

// syncLocked sends every request of f queued so far and waits until they
// have completed. It returns EINTR (ETIMEDOUT) if ctx ends first; the
// writes continue. Called with mu held.
func (t *WriteBehind) syncLocked(ctx context.Context, f *file) syscall.Errno {
	if !f.busy() {
		return 0
	}
	t.stats.Syncs++
	target := f.seq
	if f.urgent < target {
		f.urgent = target
	}
	t.pump(f)
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() {
			t.mu.Lock()
			f.cond.Broadcast()
			t.mu.Unlock()
		})
		defer stop()
	}
	for pendingUpTo(f, target) {
		if ctx.Err() != nil {
			return ctxErrno(ctx)
		}
		f.waiters++
		f.cond.Wait()
		f.waiters--
	}
	return 0
}

func pendingUpTo(f *file, seq uint64) bool {
	for _, r := range f.inflight {
		if r.seq <= seq {
			return true
		}
	}
	return len(f.queue) > 0 && f.queue[0].seq <= seq
}

// flushFile waits for the queued writes of gfid, if any.
func (t *WriteBehind) flushFile(ctx context.Context, gfid vfs.GFID) syscall.Errno {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.files[gfid]
	if f == nil {
		return 0
	}
	errno := t.syncLocked(ctx, f)
	t.forget(f)
	return errno
}

// hasWork reports whether gfid has writes queued or in flight.
func (t *WriteBehind) hasWork(gfid vfs.GFID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.files[gfid]
	return f != nil && f.busy()
}

// waitRoom waits until n more bytes fit in f's window and in the total,
// sending held writes so that room is made. Called with mu held.
func (t *WriteBehind) waitRoom(ctx context.Context, f *file, n int64) syscall.Errno {
	if f.bytes+n <= t.cfg.CacheSize && t.total+n <= t.cfg.TotalSize {
		return 0
	}
	t.stats.RoomWaits++
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() {
			t.mu.Lock()
			t.room.Broadcast()
			t.mu.Unlock()
		})
		defer stop()
	}
	f.waiters++ // keeps f in files while we wait
	defer func() { f.waiters-- }()
	for f.bytes+n > t.cfg.CacheSize || t.total+n > t.cfg.TotalSize {
		if ctx.Err() != nil {
			return ctxErrno(ctx)
		}
		// Send what is held: of this file, and of every file when the
		// total is the limit (held tails would otherwise wait for ever
		// with trickling-writes off).
		f.urgent = f.seq
		t.pump(f)
		if t.total+n > t.cfg.TotalSize {
			for _, o := range t.files {
				if o.urgent < o.seq {
					o.urgent = o.seq
					t.pump(o)
				}
			}
		}
		t.roomers++
		t.room.Wait()
		t.roomers--
	}
	return 0
}

// proven reports whether w's anonymous writes to gfid are known to be
// allowed. Called with mu held.
func (t *WriteBehind) proven(gfid vfs.GFID, w who) bool {
	return slices.Contains(t.writers[gfid], w)
}

// prove remembers that w may write gfid anonymously.
func (t *WriteBehind) prove(gfid vfs.GFID, w who) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if slices.Contains(t.writers[gfid], w) {
		return
	}
	if t.nwriter >= maxWriters {
		clear(t.writers)
		t.nwriter = 0
	}
	t.writers[gfid] = append(t.writers[gfid], w)
	t.nwriter++
}

// unprove forgets the anonymous writers of gfid, whose permissions may
// have changed.
func (t *WriteBehind) unprove(gfid vfs.GFID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nwriter -= len(t.writers[gfid])
	delete(t.writers, gfid)
}

func ctxErrno(ctx context.Context) syscall.Errno {
	if ctx.Err() == context.DeadlineExceeded {
		return syscall.ETIMEDOUT
	}
	return syscall.EINTR
}

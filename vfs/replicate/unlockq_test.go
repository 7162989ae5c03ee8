package replicate

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// counted counts the requests replicate sends to a brick, as a network
// client would send them: one per compound, one per call outside a
// compound.
type counted struct {
	*faulty
	n atomic.Int64

	mu        sync.Mutex
	compounds [][]compound.Op
}

type inCompound struct{}

func newCounted(f *faulty) *counted {
	c := &counted{faulty: f}
	f.setHook(func(ctx context.Context, op string) syscall.Errno {
		if ctx.Value(inCompound{}) == nil {
			c.n.Add(1)
		}
		return 0
	})
	return c
}

func (c *counted) Compound(ctx context.Context, ops []compound.Op) ([]compound.Result, syscall.Errno) {
	c.n.Add(1)
	c.mu.Lock()
	c.compounds = append(c.compounds, append([]compound.Op(nil), ops...))
	c.mu.Unlock()
	return compound.Exec(context.WithValue(ctx, inCompound{}, true), c.faulty, ops)
}

// lastCompound returns the ops of the last compound request.
func (c *counted) lastCompound() []compound.Op {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.compounds) == 0 {
		return nil
	}
	return c.compounds[len(c.compounds)-1]
}

// countedEnv is an env whose client r counts its requests per brick, with
// eager transactions that outlive the test (so that only the operations
// under test send requests).
func countedEnv(t *testing.T) (*env, []*counted) {
	e := newEnv(t, 2, noBackgroundHeal())
	cs := make([]*counted, len(e.bricks))
	e.kids = nil
	for i, b := range e.bricks {
		cs[i] = newCounted(b)
		e.kids = append(e.kids, cs[i])
	}
	cfg := noBackgroundHeal()
	cfg.PostOpDelay = time.Minute
	cfg.EagerLockMaxHold = time.Minute
	e.r = e.client(cfg)
	return e, cs
}

func opNames(ops []compound.Op) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = op.Kind.String()
		if op.Kind == compound.OpEntryLk || op.Kind == compound.OpInodeLk {
			out[i] += "(" + op.Name + " " + op.Lock.Type.String() + ")"
		}
	}
	return out
}

func counts(cs []*counted) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.n.Load()
	}
	return out
}

// entryLockFree reports whether another client can take name's entry lock
// on brick i right now (and lets it go again).
func entryLockFree(t *testing.T, b *faulty, parent vfs.GFID, name string) bool {
	t.Helper()
	ctx := vfs.WithCaller(context.Background(), &vfs.Caller{Client: "prober"})
	switch e := b.locks.EntryLk(ctx, entryDomain, parent, name, vfs.WriteLock, 7, false); e {
	case 0:
		if e := b.locks.EntryLk(ctx, entryDomain, parent, name, vfs.Unlock, 7, false); e != 0 {
			t.Fatalf("prober unlock: %v", e)
		}
		return true
	case syscall.EAGAIN:
		return false
	default:
		t.Fatalf("prober lock: %v", e)
		return false
	}
}

// TestEntryUnlockPiggyback shows what a burst of small files costs: the
// name unlock of a create, and the release, post-op and unlock that end
// the new file's eager transaction at its last close, all travel with
// the next create. A file written and closed costs two requests per
// brick (create, write), two less than with those sent on their own, and
// no lock stays behind once a request carried them.
func TestEntryUnlockPiggyback(t *testing.T) {
	e, cs := countedEnv(t)
	r := e.r
	r.unlockDelay = time.Minute // only a request may carry the unlocks
	d, errno := r.Mkdir(e.ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o777})
	e.must("mkdir", errno)
	data := []byte("small file")
	cycle := func(name string, alone bool) []int64 {
		before := counts(cs)
		a, fh, errno := r.Create(e.ctx, d.GFID, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
		e.must("create "+name, errno)
		if alone {
			r.flushDeferred() // what happened before: requests of their own
		}
		_, errno = r.Write(e.ctx, a.GFID, fh, data, 0)
		e.must("write "+name, errno)
		e.must("flush "+name, r.Flush(e.ctx, a.GFID, fh))
		e.must("release "+name, r.Release(e.ctx, a.GFID, fh))
		if alone {
			r.flushDeferred()
		}
		after := counts(cs)
		for i := range after {
			after[i] -= before[i]
		}
		return after
	}
	// The first create in d opens its entry window; count the next ones.
	cycle("warm", true)
	alone := cycle("alone", true)
	cycle("first", false)
	carried := cycle("carried", false)
	for i := range cs {
		if carried[i] != alone[i]-2 || carried[i] != 2 {
			t.Errorf("brick %d: %d requests with the unlocks carried, %d with them alone; want 2 and 4 (create, write)", i, carried[i], alone[i])
		}
		// The create of "carried" carried first's name unlock and the
		// end of first's transaction (post-op before the release, while
		// the brick has the file open), in front of its own operations.
		ops := opNames(cs[i].compounds[len(cs[i].compounds)-1])
		want := []string{"entrylk(first unlock)", "xattrop", "release", "inodelk( unlock)", "entrylk(carried write)", "create", "inodelk( write)", "xattrop"}
		if fmt.Sprint(ops) != fmt.Sprint(want) {
			t.Errorf("brick %d: create request %v, want %v", i, ops, want)
		}
		if !entryLockFree(t, e.bricks[i], d.GFID, "first") {
			t.Errorf("brick %d: first's name lock still held after the next create", i)
		}
	}
	r.mu.Lock()
	if r.deferredN != 4 || len(r.unlocking) != 1 {
		t.Errorf("%d queued, %d names unlocking; want carried's name unlock and transaction end on each brick", r.deferredN, len(r.unlocking))
	}
	r.mu.Unlock()

	// Another client uses the names at once: first's locks are free,
	// carried's go within the delay (here forced by this client's flush).
	r2 := e.client(testConfig())
	ctx2 := vfs.WithCaller(e.ctx, &vfs.Caller{Client: "c2"})
	start := time.Now()
	e.must("unlink by c2", r2.Unlink(ctx2, d.GFID, "first"))
	r.FlushTransactions(e.ctx)
	e.must("unlink by c2", r2.Unlink(ctx2, d.GFID, "carried"))
	a, fh, errno := r2.Create(ctx2, d.GFID, "carried", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
	e.must("create by c2", errno)
	e.must("release by c2", r2.Release(ctx2, a.GFID, fh))
	e.must("unlink alone by c2", r2.Unlink(ctx2, d.GFID, "alone"))
	if took := time.Since(start); took > time.Second {
		t.Errorf("second client took %v", took)
	}
	r2.FlushTransactions(ctx2)
	e.compareBricks()
}

// TestReleaseLaterSameFile: this client's next transaction on a file whose
// end is queued (releaseLater) sends it at once rather than wait for the
// timer, as do fsync and FlushTransactions.
func TestReleaseLaterSameFile(t *testing.T) {
	e, _ := countedEnv(t)
	r := e.r
	r.unlockDelay = time.Minute
	start := time.Now()
	g := e.writeFile(r, vfs.RootGFID, "f", []byte("one"))
	for k := range 3 {
		e.must("rewrite", e.writeAt(r, g, []byte(fmt.Sprint("pass ", k)), 0))
	}
	fh, errno := r.Open(e.ctx, g, syscall.O_RDWR)
	e.must("open", errno)
	_, errno = r.Write(e.ctx, g, fh, []byte("synced"), 0)
	e.must("write", errno)
	e.must("fsync", r.Fsync(e.ctx, g, fh, false))
	e.must("release", r.Release(e.ctx, g, fh))
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v: a queued transaction end waited for its timer", took)
	}
	got, errno := e.readAll(r, g)
	e.must("read", errno)
	if string(got) != "synced" {
		t.Errorf("read %q", got)
	}
	e.compareBricks()
}

// TestEntryUnlockTimer: with no request to travel with, the unlock of a
// create goes on its own after the delay.
func TestEntryUnlockTimer(t *testing.T) {
	e, cs := countedEnv(t)
	r := e.r
	_, errno := r.Mkdir(e.ctx, vfs.RootGFID, "warm", &vfs.CreateIn{Mode: 0o755})
	e.must("mkdir", errno)
	r.flushDeferred()
	before := counts(cs)
	_, errno = r.Mkdir(e.ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	e.must("mkdir", errno)
	deadline := time.Now().Add(time.Second)
	for i, b := range e.bricks {
		for !entryLockFree(t, b, vfs.RootGFID, "d") {
			if time.Now().After(deadline) {
				t.Fatalf("brick %d: name lock still held after a second", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// The unlock request may still be returning.
	for unlocking := true; unlocking; time.Sleep(time.Millisecond) {
		r.mu.Lock()
		unlocking = len(r.unlocking) > 0
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("unlock still in progress after a second")
		}
	}
	for i, n := range counts(cs) {
		if n-before[i] != 2 {
			t.Errorf("brick %d: %d requests, want 2 (mkdir, unlock)", i, n-before[i])
		}
		if ops := cs[i].lastCompound(); len(ops) != 1 || ops[0].Kind != compound.OpEntryLk || ops[0].Lock.Type != vfs.Unlock {
			t.Errorf("brick %d: last request %v, want the unlock alone", i, opNames(ops))
		}
	}
	r2 := e.client(testConfig())
	ctx2 := vfs.WithCaller(e.ctx, &vfs.Caller{Client: "c2"})
	e.must("rmdir by c2", r2.Rmdir(ctx2, vfs.RootGFID, "d"))
	r2.FlushTransactions(ctx2)
	e.compareBricks()
}

// TestEntryUnlockSameName: this client's next operation on a name whose
// unlock is queued sends it at once rather than wait for the timer.
func TestEntryUnlockSameName(t *testing.T) {
	e, _ := countedEnv(t)
	r := e.r
	r.unlockDelay = 5 * time.Second
	start := time.Now()
	for range 3 {
		_, errno := r.Mkdir(e.ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
		e.must("mkdir", errno)
		e.must("rmdir", r.Rmdir(e.ctx, vfs.RootGFID, "d"))
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("took %v", took)
	}
	e.compareBricks()
}

// TestEntryUnlockFailedInFront: when an unlock carried in front of a
// request fails (here: a lock the brick does not hold), the request's own
// operations did not run; they are sent again on their own and the caller
// sees their real outcome.
func TestEntryUnlockFailedInFront(t *testing.T) {
	e, cs := countedEnv(t)
	r := e.r
	r.unlockDelay = time.Minute
	_, errno := r.Mkdir(e.ctx, vfs.RootGFID, "warm", &vfs.CreateIn{Mode: 0o755})
	e.must("mkdir", errno)
	r.flushDeferred()
	ghosts := []entryKey{{vfs.RootGFID, "ghost1"}, {vfs.RootGFID, "ghost2"}}
	locks := []lockReq{
		{entry: true, domain: entryDomain, gfid: vfs.RootGFID, name: "ghost1", typ: vfs.WriteLock},
		{entry: true, domain: entryDomain, gfid: vfs.RootGFID, name: "ghost2", typ: vfs.WriteLock},
	}
	r.entryUnlockLater(e.ctx, ghosts, r.all, r.newOwner(), locks)
	before := counts(cs)
	g := e.writeFile(r, vfs.RootGFID, "f", []byte("data"))
	after := counts(cs)
	for i := range cs {
		// create with the unlocks (stops at the first), the second
		// unlock alone, the create alone, write; the release is
		// queued for the next request.
		if n := after[i] - before[i]; n != 4 {
			t.Errorf("brick %d: %d requests, want 4", i, n)
		}
	}
	r.flushDeferred()
	r.mu.Lock()
	if r.deferredN != 0 || len(r.unlocking) != 0 {
		t.Errorf("%d unlocks queued, %d names unlocking", r.deferredN, len(r.unlocking))
	}
	r.mu.Unlock()
	got, errno := e.readAll(r, g)
	e.must("read", errno)
	if string(got) != "data" {
		t.Errorf("read %q", got)
	}
	e.compareBricks()
}

// TestDeferredBatchBound: however many unlocks are queued, a request
// carrying them stays within what the transport accepts, and the rest
// still go.
func TestDeferredBatchBound(t *testing.T) {
	e, cs := countedEnv(t)
	r := e.r
	r.unlockDelay = time.Minute
	// Unlocks of locks nobody holds: the bricks refuse them (EINVAL),
	// which the queue must survive.
	for k := range 40 {
		names := []entryKey{{vfs.RootGFID, fmt.Sprintf("a%d", k)}, {vfs.RootGFID, fmt.Sprintf("b%d", k)}}
		locks := []lockReq{
			{entry: true, domain: entryDomain, gfid: vfs.RootGFID, name: names[0].name, typ: vfs.WriteLock},
			{entry: true, domain: entryDomain, gfid: vfs.RootGFID, name: names[1].name, typ: vfs.WriteLock},
		}
		r.entryUnlockLater(e.ctx, names, r.all, r.newOwner(), locks)
	}
	own := make([]compound.Op, 10)
	all, ds, n := r.withDeferred(e.ctx, 0, own)
	if len(all) > compound.MaxOps || n != len(all)-len(own) || n == 0 {
		t.Errorf("%d ops with %d carried", len(all), n)
	}
	r.finishDeferred(ds) // not sent: nothing is held there anyway
	r.FlushTransactions(e.ctx)
	r.mu.Lock()
	if r.deferredN != 0 || len(r.unlocking) != 0 {
		t.Errorf("%d unlocks queued, %d names unlocking", r.deferredN, len(r.unlocking))
	}
	r.mu.Unlock()
	for i, c := range cs {
		c.mu.Lock()
		for _, ops := range c.compounds {
			if len(ops) > compound.MaxOps {
				t.Errorf("brick %d: a request of %d ops", i, len(ops))
			}
		}
		c.mu.Unlock()
	}
}

// TestReleaseLaterUnlinkedFile: a file unlinked while open is gone for
// this client once closed, although the release that lets the bricks
// drop it waits in the queue: access by GFID sends it first.
func TestReleaseLaterUnlinkedFile(t *testing.T) {
	e, _ := countedEnv(t)
	r := e.r
	r.unlockDelay = time.Minute
	a, fh, errno := r.Create(e.ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	e.must("create", errno)
	_, errno = r.Write(e.ctx, a.GFID, fh, []byte("data"), 0)
	e.must("write", errno)
	e.must("unlink", r.Unlink(e.ctx, vfs.RootGFID, "f"))
	e.must("release", r.Release(e.ctx, a.GFID, fh))
	start := time.Now()
	if _, errno := r.GetAttr(e.ctx, a.GFID, 0); errno != syscall.ESTALE && errno != syscall.ENOENT {
		t.Errorf("getattr after the last close of an unlinked file: %v", errno)
	}
	if _, errno := r.Open(e.ctx, a.GFID, syscall.O_RDONLY); errno != syscall.ESTALE && errno != syscall.ENOENT {
		t.Errorf("open after the last close of an unlinked file: %v", errno)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v: waited for the timer", took)
	}
	e.compareBricks()
}

// TestReleaseAttrsPiggyback: a release asked for the file's attributes
// (vfs.ReleaseAttrs, as md-cache asks after a write) fetches them with
// the GetAttr in the request that carries the file's release, post-op and
// unlock, on one good brick: no request of its own, and what is delivered
// is what that brick then reports. A window where a write failed fetches
// nothing; the asker is told so by Taken and asks the usual way.
func TestReleaseAttrsPiggyback(t *testing.T) {
	e, cs := countedEnv(t)
	r := e.r
	r.unlockDelay = time.Minute // only a request may carry the queued ops
	d, errno := r.Mkdir(e.ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o777})
	e.must("mkdir", errno)
	data := []byte("written before the release")
	write := func(name string) (vfs.GFID, vfs.Handle) {
		a, fh, errno := r.Create(e.ctx, d.GFID, name, &vfs.CreateIn{Mode: 0o640, Flags: syscall.O_WRONLY})
		e.must("create "+name, errno)
		_, errno = r.Write(e.ctx, a.GFID, fh, data, 0)
		e.must("write "+name, errno)
		e.must("flush "+name, r.Flush(e.ctx, a.GFID, fh))
		return a.GFID, fh
	}
	write("warm") // opens d's entry window
	g, fh := write("f")

	delivered := make(chan vfs.Attr, 2)
	ctx, ra := vfs.WithReleaseAttrs(e.ctx, func(a vfs.Attr) { delivered <- a })
	before := counts(cs)
	e.must("release", r.Release(ctx, g, fh))
	if !ra.Taken {
		t.Fatal("release did not take the request for attributes")
	}
	if after := counts(cs); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("requests %v -> %v at the release: want none of its own", before, after)
	}
	select {
	case a := <-delivered:
		t.Fatalf("attributes %+v delivered before any request carried the GetAttr", a)
	default:
	}
	write("next") // carries f's release, post-op, unlock and GetAttr
	var got vfs.Attr
	select {
	case got = <-delivered:
	case <-time.After(10 * time.Second):
		t.Fatal("no attributes delivered after the next request")
	}
	withGetAttr := 0
	for i, c := range cs {
		var ops []compound.Op
		for _, cmp := range c.compounds {
			for _, op := range cmp {
				if op.Kind == compound.OpGetAttr && op.GFID == g {
					ops = cmp
				}
			}
		}
		if ops == nil {
			continue
		}
		withGetAttr++
		names := opNames(ops)
		want := []string{"xattrop", "getattr", "release", "inodelk( unlock)"}
		if k := slices.Index(names, "xattrop"); k < 0 || k+len(want) > len(names) || fmt.Sprint(names[k:k+len(want)]) != fmt.Sprint(want) {
			t.Errorf("brick %d: request %v, want %v in it", i, names, want)
		}
		brick, errno := e.bricks[i].GetAttr(e.ctx, g, 0)
		e.must("brick getattr", errno)
		if got != brick {
			t.Errorf("delivered %+v, brick %d reports %+v", got, i, brick)
		}
	}
	if withGetAttr != 1 {
		t.Errorf("GetAttr sent to %d bricks, want 1", withGetAttr)
	}
	if got.GFID != g || got.Size != uint64(len(data)) || got.Mode&0o777 != 0o640 {
		t.Errorf("delivered %+v, want GFID %v, size %d, mode 0640", got, g, len(data))
	}

	// A write fails on brick 1: that window's end fetches nothing.
	e.bricks[1].setHook(func(ctx context.Context, op string) syscall.Errno {
		if op == "Write" {
			return syscall.EIO
		}
		return 0
	})
	g2, fh2 := write("failed")
	e.bricks[1].setHook(nil)
	ctx, ra = vfs.WithReleaseAttrs(e.ctx, func(a vfs.Attr) { delivered <- a })
	e.must("release", r.Release(ctx, g2, fh2))
	if ra.Taken {
		t.Error("a window with a failed write took the request for attributes")
	}
	r.FlushTransactions(e.ctx)
	select {
	case a := <-delivered:
		t.Errorf("attributes %+v delivered for a window with a failure", a)
	default:
	}
}

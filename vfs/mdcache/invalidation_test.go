package mdcache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfsfake"
)

// watched is a child whose changes the test reports, counting the
// attributes handed down to it.
type watched struct {
	*vfsfake.Fake
	vfsfake.Reporter
	hints atomic.Int64 // HintAttr calls

	takeAttrs bool
	taken     *vfs.ReleaseAttrs
}

func (w *watched) HintAttr(a vfs.Attr) { w.hints.Add(1) }

// Release takes a request for the attributes after the release when
// takeAttrs is set, as cluster/replicate does, and leaves it in taken for
// the test to deliver.
func (w *watched) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	if ra := vfs.ReleaseAttrsFrom(ctx); w.takeAttrs && ra != nil {
		ra.Taken = true
		w.taken = ra
	}
	return w.Fake.Release(ctx, gfid, fh)
}

func newWatchedEnv(t *testing.T) (*env, *watched) {
	t.Helper()
	fs := memfs.New(memfs.Config{})
	w := &watched{Fake: vfsfake.New(fs)}
	w.SetLive(true)
	clk := &clock{t: time.Unix(1e9, 0)}
	cfg := DefaultConfig()
	cfg.Timeout = MaxTimeout
	cfg.CacheInvalidation = true
	cfg.Clock = clk.Now
	md, err := New(cfg, w)
	if err != nil {
		t.Fatal(err)
	}
	return &env{fs: fs, fake: w.Fake, md: md, clock: clk}, w
}

// TestCacheInvalidation: with the bricks' reports flowing, metadata is
// kept for md-cache-timeout, and each kind of report drops what it names.
func TestCacheInvalidation(t *testing.T) {
	e, w := newWatchedEnv(t)
	dir, errno := e.md.Mkdir(bg, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	if errno != 0 {
		t.Fatal(errno)
	}
	g := e.file(t, dir.GFID, "f", 0o644, []byte("abc")) // by another client
	w.Report(vfs.Change{Parent: dir.GFID, Name: "f"})
	lookup := func() vfs.Attr {
		t.Helper()
		a, errno := e.md.Lookup(bg, dir.GFID, "f")
		if errno != 0 {
			t.Fatalf("lookup: %v", errno)
		}
		return a
	}
	lookup()
	e.fake.Reset()
	e.clock.Advance(9 * time.Minute)
	lookup()
	e.getattr(t, g)
	if l, g := e.calls(vfsfake.Lookup), e.calls(vfsfake.GetAttr); l+g != 0 {
		t.Fatalf("%d lookups, %d getattrs to the child within md-cache-timeout", l, g)
	}

	// Another client writes: the file's attributes go, the entry stays.
	fh, _ := e.fs.Open(bg, g, syscall.O_WRONLY)
	e.fs.Write(bg, g, fh, []byte("defg"), 3)
	e.fs.Release(bg, g, fh)
	e.fake.Reset()
	w.Report(vfs.Change{GFID: g})
	if a := lookup(); a.Size != 7 {
		t.Errorf("size %d after a reported write, want 7", a.Size)
	}
	if n := e.calls(vfsfake.Lookup); n != 1 {
		t.Errorf("%d child lookups after the report, want 1", n)
	}

	// Another client renames it away: the entry and the parent go.
	if errno := e.fs.Rename(bg, dir.GFID, "f", dir.GFID, "g", 0); errno != 0 {
		t.Fatal(errno)
	}
	e.fake.Reset()
	w.Report(vfs.Change{Parent: dir.GFID, Name: "f"})
	w.Report(vfs.Change{Parent: dir.GFID, Name: "g"})
	if _, errno := e.md.Lookup(bg, dir.GFID, "f"); errno != syscall.ENOENT {
		t.Errorf("lookup of the renamed name: %v, want ENOENT", errno)
	}
	e.getattr(t, dir.GFID)
	if n := e.calls(vfsfake.GetAttr); n != 1 {
		t.Errorf("%d child getattrs of the parent after the report, want 1", n)
	}

	// A lost report: everything goes.
	if _, errno := e.md.Lookup(bg, dir.GFID, "g"); errno != 0 {
		t.Fatal(errno)
	}
	e.fake.Reset()
	w.Report(vfs.Change{All: true})
	if _, errno := e.md.Lookup(bg, dir.GFID, "g"); errno != 0 {
		t.Fatal(errno)
	}
	if n := e.calls(vfsfake.Lookup); n != 1 {
		t.Errorf("%d child lookups after All, want 1", n)
	}
	if s := e.md.Stats(); s.Changes != 5 {
		t.Errorf("stats %+v, want 5 changes", s)
	}
}

// TestCacheInvalidationNotLive: while the reports do not flow, metadata
// lasts at most a second, whatever md-cache-timeout says.
func TestCacheInvalidationNotLive(t *testing.T) {
	e, w := newWatchedEnv(t)
	w.SetLive(false)
	g := e.file(t, vfs.RootGFID, "f", 0o644, nil)
	e.getattr(t, g)
	e.clock.Advance(999 * time.Millisecond)
	e.getattr(t, g)
	e.clock.Advance(time.Millisecond)
	e.getattr(t, g)
	if n := e.calls(vfsfake.GetAttr); n != 2 {
		t.Errorf("%d child getattrs, want 2 (1 s timeout while not live)", n)
	}
}

// TestChangeRacesFetch: a report arriving while a fetch is in flight keeps
// the fetch's (possibly older) answer out of the cache.
func TestChangeRacesFetch(t *testing.T) {
	e, w := newWatchedEnv(t)
	g := e.file(t, vfs.RootGFID, "f", 0o644, []byte("abc"))
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.fake.SetHook(vfsfake.GetAttr, func(ctx context.Context, c *vfsfake.Call) syscall.Errno {
		once.Do(func() {
			close(entered)
			<-release
		})
		return 0
	})
	done := make(chan struct{})
	go func() {
		e.md.GetAttr(bg, g, 0)
		close(done)
	}()
	<-entered
	fh, _ := e.fs.Open(bg, g, syscall.O_WRONLY)
	e.fs.Write(bg, g, fh, []byte("defg"), 3)
	e.fs.Release(bg, g, fh)
	w.Report(vfs.Change{GFID: g})
	close(release)
	<-done
	if a := e.getattr(t, g); a.Size != 7 {
		t.Errorf("size %d: the fetch that raced with the report was cached", a.Size)
	}
}

// TestRefreshAfterWrite: the release of a file written through this client
// fetches its attributes again, so a stat after close is answered here
// with the written size; without cache invalidation nothing is fetched.
func TestRefreshAfterWrite(t *testing.T) {
	for _, inval := range []bool{true, false} {
		e, _ := newWatchedEnv(t)
		if !inval {
			e.md.watcher = nil
		}
		a, fh, errno := e.md.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		if errno != 0 {
			t.Fatal(errno)
		}
		e.md.Write(bg, a.GFID, fh, []byte("hello"), 0)
		e.md.Flush(bg, a.GFID, fh)
		e.fake.Reset()
		e.md.Release(bg, a.GFID, fh)
		refetched := e.calls(vfsfake.GetAttr)
		got, errno := e.md.Lookup(bg, vfs.RootGFID, "f")
		if errno != 0 || got.Size != 5 {
			t.Fatalf("lookup after close: size %d, %v", got.Size, errno)
		}
		lookups := e.calls(vfsfake.Lookup)
		switch {
		case inval && (refetched != 1 || lookups != 0):
			t.Errorf("cache invalidation: %d getattrs at release, %d lookups after; want 1, 0", refetched, lookups)
		case !inval && (refetched != 0 || lookups != 1):
			t.Errorf("no cache invalidation: %d getattrs at release, %d lookups after; want 0, 1", refetched, lookups)
		}
	}
}

// TestRefreshTaken: when a translator below takes the request for the
// attributes after a written file's release (cluster/replicate fetches
// them with the release's deferred request), md-cache asks for nothing
// itself and keeps what is delivered, unless a report about the file came
// between the release and the delivery.
func TestRefreshTaken(t *testing.T) {
	e, w := newWatchedEnv(t)
	w.takeAttrs = true
	writeAndRelease := func(name string) vfs.GFID {
		t.Helper()
		a, fh, errno := e.md.Create(bg, vfs.RootGFID, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		if errno != 0 {
			t.Fatal(errno)
		}
		e.md.Write(bg, a.GFID, fh, []byte("hello"), 0)
		e.md.Flush(bg, a.GFID, fh)
		e.fake.Reset()
		w.taken = nil
		e.md.Release(bg, a.GFID, fh)
		if w.taken == nil {
			t.Fatal("md-cache did not ask for the attributes after the release")
		}
		if n := e.calls(vfsfake.GetAttr); n != 0 {
			t.Errorf("%d getattrs at a release whose attributes were taken, want 0", n)
		}
		return a.GFID
	}
	deliver := func(g vfs.GFID) {
		t.Helper()
		a, errno := e.fs.GetAttr(bg, g, 0)
		if errno != 0 {
			t.Fatal(errno)
		}
		w.taken.Deliver(a)
	}

	g := writeAndRelease("f")
	deliver(g)
	got, errno := e.md.Lookup(bg, vfs.RootGFID, "f")
	if errno != 0 || got.Size != 5 {
		t.Fatalf("lookup after close: size %d, %v", got.Size, errno)
	}
	if n := e.calls(vfsfake.Lookup) + e.calls(vfsfake.GetAttr); n != 0 {
		t.Errorf("%d child calls for a stat after the delivery, want 0", n)
	}
	if s := e.md.Stats(); s.ReleaseAttrs != 1 || s.Refreshes != 0 {
		t.Errorf("stats %+v, want 1 delivered, 0 refreshes", s)
	}

	// Another client's change reported before the delivery: what is
	// delivered may predate it, so it is not kept.
	g = writeAndRelease("g")
	w.Report(vfs.Change{GFID: g})
	deliver(g)
	if _, errno := e.md.Lookup(bg, vfs.RootGFID, "g"); errno != 0 {
		t.Fatal(errno)
	}
	if n := e.calls(vfsfake.Lookup) + e.calls(vfsfake.GetAttr); n != 1 {
		t.Errorf("%d child calls for a stat after a report, want 1", n)
	}
}

// TestHintsDown: attributes served from the cache are handed down to the
// child (io-cache validates its pages with them) only while the reports
// flow.
func TestHintsDown(t *testing.T) {
	e, w := newWatchedEnv(t)
	g := e.file(t, vfs.RootGFID, "f", 0o644, []byte("abc"))
	if _, errno := e.md.Lookup(bg, vfs.RootGFID, "f"); errno != 0 {
		t.Fatal(errno)
	}
	e.md.Lookup(bg, vfs.RootGFID, "f")
	e.getattr(t, g)
	if n := w.hints.Swap(0); n != 2 {
		t.Errorf("%d hints for 2 cache hits, want 2", n)
	}
	w.SetLive(false)
	e.getattr(t, g)
	if n := w.hints.Load(); n != 0 {
		t.Errorf("%d hints while the reports do not flow, want 0", n)
	}
}

// TestCompleteDirectory: in a directory made here while the reports flow,
// a name with no entry is absent without asking the bricks, until a
// report of a change there, an eviction, or a rename into it.
func TestCompleteDirectory(t *testing.T) {
	e, w := newWatchedEnv(t)
	d, errno := e.md.Mkdir(bg, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	if errno != 0 {
		t.Fatal(errno)
	}
	e.fake.Reset()
	for _, name := range []string{"a", "b", "c"} {
		if _, errno := e.md.Lookup(bg, d.GFID, name); errno != syscall.ENOENT {
			t.Fatalf("lookup %s: %v, want ENOENT", name, errno)
		}
	}
	e.createThenLookup(t, d.GFID, "a")
	if n := e.calls(vfsfake.Lookup); n != 0 {
		t.Errorf("%d child lookups in a directory made here, want 0", n)
	}
	if s := e.md.Stats(); s.NegativeHits != 3 {
		t.Errorf("stats %+v, want 3 negative hits", s)
	}

	// Another client makes "b": reported, so "b" is asked for and found.
	if _, _, errno := e.fs.Create(bg, d.GFID, "b", &vfs.CreateIn{Mode: 0o644}); errno != 0 {
		t.Fatal(errno)
	}
	w.Report(vfs.Change{Parent: d.GFID, Name: "b"})
	if _, errno := e.md.Lookup(bg, d.GFID, "b"); errno != 0 {
		t.Errorf("lookup of a name another client made: %v", errno)
	}

	// A rename into a complete directory ends it too.
	d2, _ := e.md.Mkdir(bg, vfs.RootGFID, "d2", &vfs.CreateIn{Mode: 0o755})
	if errno := e.md.Rename(bg, d.GFID, "a", d2.GFID, "moved", 0); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := e.md.Lookup(bg, d2.GFID, "moved"); errno != 0 {
		t.Errorf("lookup of a name renamed in: %v", errno)
	}

	// Not live: every lookup asks.
	d3, _ := e.md.Mkdir(bg, vfs.RootGFID, "d3", &vfs.CreateIn{Mode: 0o755})
	w.SetLive(false)
	if n := e.childLookups(d3.GFID, "x"); n != 1 {
		t.Errorf("%d child lookups while the reports do not flow, want 1", n)
	}
	// Made while not live: never complete.
	d4, _ := e.md.Mkdir(bg, vfs.RootGFID, "d4", &vfs.CreateIn{Mode: 0o755})
	w.SetLive(true)
	if n := e.childLookups(d4.GFID, "x"); n != 1 {
		t.Errorf("%d child lookups in a directory made while not live, want 1", n)
	}
}

// TestCompleteDirectoryEviction: evicting entries ends every directory's
// completeness (an evicted name would otherwise look absent).
func TestCompleteDirectoryEviction(t *testing.T) {
	e, _ := newWatchedEnv(t)
	e.md.cfg.MaxEntries = 16
	d, _ := e.md.Mkdir(bg, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	for i := range 20 {
		a, fh, errno := e.md.Create(bg, d.GFID, fmt.Sprint("f", i), &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		if errno != 0 {
			t.Fatal(errno)
		}
		e.md.Release(bg, a.GFID, fh)
	}
	for i := range 20 {
		if _, errno := e.md.Lookup(bg, d.GFID, fmt.Sprint("f", i)); errno != 0 {
			t.Fatalf("lookup f%d after evictions: %v", i, errno)
		}
	}
}

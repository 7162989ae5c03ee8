package iocache

import (
	"bytes"
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

// watched is a child whose changes the test reports.
type watched struct {
	*vfsfake.Fake
	vfsfake.Reporter
}

// newWatchedEnv is newEnv over a reporting child, watched from above as
// md-cache does; reported collects what reaches the watcher above.
func newWatchedEnv(t *testing.T) (*env, *watched, *[]vfs.Change) {
	t.Helper()
	fs := memfs.New(memfs.Config{Clock: tickingClock()})
	w := &watched{Fake: vfsfake.New(fs)}
	w.SetLive(true)
	clk := newClock()
	c, err := New(Config{PageSize: ps, CacheTimeout: time.Second, Clock: clk.Now}, w)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reported []vfs.Change
	if !c.WatchChanges(func(ch vfs.Change) {
		mu.Lock()
		reported = append(reported, ch)
		mu.Unlock()
	}) {
		t.Fatal("WatchChanges: false over a reporting child")
	}
	return &env{fs: fs, fake: w.Fake, cache: c, clock: clk}, w, &reported
}

// create makes name through the cache and writes each chunk at its offset.
func (e *env) create(t *testing.T, name string, writes map[int64][]byte) vfs.GFID {
	t.Helper()
	a, fh, errno := e.cache.Create(bg, vfs.RootGFID, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if errno != 0 {
		t.Fatal(errno)
	}
	for off, data := range writes {
		if _, errno := e.cache.Write(bg, a.GFID, fh, data, off); errno != 0 {
			t.Fatal(errno)
		}
	}
	if errno := e.cache.Flush(bg, a.GFID, fh); errno != 0 {
		t.Fatal(errno)
	}
	e.cache.Release(bg, a.GFID, fh)
	return a.GFID
}

// same checks that the cache reads g as the child does, and returns the
// child reads it cost.
func (e *env) same(t *testing.T, g vfs.GFID, n int) int {
	t.Helper()
	before := e.fake.Count(vfsfake.Read)
	got := read(t, e.cache, g, 0, n)
	reads := e.fake.Count(vfsfake.Read) - before
	want := read(t, e.fs, g, 0, n)
	if !bytes.Equal(got, want) {
		t.Fatalf("cache reads %d bytes, the child has %d (equal prefix %v)", len(got), len(want), bytes.HasPrefix(want, got))
	}
	return reads
}

// TestWriteThrough: while the reports flow, what this client writes into a
// file it created is read back from the cache, holes and all, the first
// attributes seen after the writes are taken as the file's, and reports,
// errors and tangled writes drop the pages.
func TestWriteThrough(t *testing.T) {
	e, w, reported := newWatchedEnv(t)
	small := e.create(t, "small", map[int64][]byte{0: []byte("hello")})
	if n := e.same(t, small, 100); n != 0 {
		t.Errorf("%d child reads of a file written through the cache, want 0", n)
	}
	// Several pages, a hole, a short last page, in any order.
	multi := e.create(t, "multi", map[int64][]byte{
		0:        pattern(ps+100, 1),
		3*ps + 7: pattern(50, 2),
		ps / 2:   pattern(10, 3),
	})
	if n := e.same(t, multi, 5*ps); n != 0 {
		t.Errorf("%d child reads of a multi-page file, want 0", n)
	}
	// Attributes seen after the writes (md-cache's refetch at release)
	// keep the pages; the cache is trusted past cache-timeout.
	if _, errno := e.cache.GetAttr(bg, multi, 0); errno != 0 {
		t.Fatal(errno)
	}
	e.clock.Advance(time.Minute)
	if n := e.same(t, multi, 5*ps); n != 0 {
		t.Errorf("%d child reads after attributes and a minute, want 0", n)
	}

	// Another client writes: the report drops the pages.
	fh, _ := e.fs.Open(bg, small, syscall.O_WRONLY)
	e.fs.Write(bg, small, fh, []byte("HELLO"), 0)
	e.fs.Release(bg, small, fh)
	w.Report(vfs.Change{GFID: small})
	if n := e.same(t, small, 100); n == 0 {
		t.Error("no child read after a reported change")
	}
	if len(*reported) != 1 {
		t.Errorf("reports passed up: %+v", *reported)
	}

	// A write error reported at flush drops what was copied in.
	a, fh2, errno := e.cache.Create(bg, vfs.RootGFID, "failing", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if errno != 0 {
		t.Fatal(errno)
	}
	e.cache.Write(bg, a.GFID, fh2, []byte("maybe"), 0)
	e.fake.FailN(vfsfake.Flush, syscall.EIO, 1)
	if errno := e.cache.Flush(bg, a.GFID, fh2); errno != syscall.EIO {
		t.Fatalf("flush: %v", errno)
	}
	e.cache.Release(bg, a.GFID, fh2)
	if n := e.same(t, a.GFID, 100); n == 0 {
		t.Error("no child read after a failed flush")
	}

	// Not live: writes drop pages as without reports.
	w.SetLive(false)
	quiet := e.create(t, "quiet", map[int64][]byte{0: []byte("data")})
	if n := e.same(t, quiet, 100); n == 0 {
		t.Error("no child read of a file written while the reports did not flow")
	}
	w.SetLive(true)

	// Too large a file is not kept.
	big := e.create(t, "big", map[int64][]byte{0: pattern(writeThroughMax+1, 4)})
	if n := e.same(t, big, writeThroughMax+1); n == 0 {
		t.Error("no child read of a file above writeThroughMax")
	}
	// A lost report drops everything.
	kept := e.create(t, "kept", map[int64][]byte{0: []byte("x")})
	w.Report(vfs.Change{All: true})
	if n := e.same(t, kept, 10); n == 0 {
		t.Error("no child read after All")
	}
	if s := e.cache.Stats(); s.WrittenThrough < 4 {
		t.Errorf("stats %+v", s)
	}
	checkAccounting(t, e.cache)
}

// TestWriteThroughTangled: writes of one file in flight together (their
// order at the bricks is unknown here) drop its pages.
func TestWriteThroughTangled(t *testing.T) {
	e, _, _ := newWatchedEnv(t)
	a, fh, errno := e.cache.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if errno != 0 {
		t.Fatal(errno)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	e.fake.SetHook(vfsfake.Write, func(ctx context.Context, c *vfsfake.Call) syscall.Errno {
		if first.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
		return 0
	})
	done := make(chan struct{})
	go func() {
		e.cache.Write(bg, a.GFID, fh, []byte("first"), 0)
		close(done)
	}()
	<-entered
	e.cache.Write(bg, a.GFID, fh, []byte("SECOND"), 0)
	close(release)
	<-done
	e.cache.Release(bg, a.GFID, fh)
	if n := e.same(t, a.GFID, 100); n == 0 {
		t.Error("no child read after overlapping writes")
	}
	checkAccounting(t, e.cache)
}

// TestWriteThroughChunks: a file written front to back in chunks that do
// not line up with pages (as tar and cp write), then patched in the
// middle and extended past a hole, is read back from the cache as the
// child has it, with the cache's byte count right; the pages grow in
// place rather than being copied anew at every write.
func TestWriteThroughChunks(t *testing.T) {
	e, _, _ := newWatchedEnv(t)
	a, fh, errno := e.cache.Create(bg, vfs.RootGFID, "chunks", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if errno != 0 {
		t.Fatal(errno)
	}
	write := func(data []byte, off int64) {
		t.Helper()
		if _, errno := e.cache.Write(bg, a.GFID, fh, data, off); errno != 0 {
			t.Fatal(errno)
		}
	}
	off := int64(0)
	for i, n := range []int{1, 10240, 10240, 3000, ps, 7, 10240} {
		write(pattern(n, byte(i+1)), off)
		off += int64(n)
	}
	write(pattern(500, 9), ps/2)             // inside an existing page
	write(pattern(100, 10), off+int64(ps)+3) // past a hole of more than a page
	end := off + int64(ps) + 103
	if errno := e.cache.Flush(bg, a.GFID, fh); errno != 0 {
		t.Fatal(errno)
	}
	e.cache.Release(bg, a.GFID, fh)
	if n := e.same(t, a.GFID, int(end)+ps); n != 0 {
		t.Errorf("%d child reads of a file written in chunks, want 0", n)
	}
	checkAccounting(t, e.cache)
}

// BenchmarkWriteThroughChunks writes 256 KiB files into the cache in 10 KiB
// chunks, as tar does; allocations should stay near the data's size.
func BenchmarkWriteThroughChunks(b *testing.B) {
	fs := memfs.New(memfs.Config{})
	w := &watched{Fake: vfsfake.New(fs)}
	w.SetLive(true)
	c, err := New(Config{}, w)
	if err != nil {
		b.Fatal(err)
	}
	c.WatchChanges(func(vfs.Change) {})
	chunk := make([]byte, 10240)
	const size = 256 << 10
	b.SetBytes(size)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a, fh, errno := c.Create(bg, vfs.RootGFID, fmt.Sprint("f", i), &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		if errno != 0 {
			b.Fatal(errno)
		}
		for off := int64(0); off < size; off += int64(len(chunk)) {
			c.Write(bg, a.GFID, fh, chunk[:min(len(chunk), int(size-off))], off)
		}
		c.Release(bg, a.GFID, fh)
	}
}

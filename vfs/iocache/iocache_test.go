package iocache

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfsfake"
)

const ps = 1024 // page size in tests

var bg = context.Background()

// clock is a manual clock for the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1e9, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tickingClock gives memfs a distinct time on every call, so every change
// moves the mtime however fast the test runs.
func tickingClock() func() time.Time {
	var mu sync.Mutex
	t := time.Unix(2e9, 0)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Microsecond)
		return t
	}
}

type env struct {
	fs    *memfs.FS
	fake  *vfsfake.Fake // between the cache and memfs, counting calls
	cache *IOCache
	clock *clock
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	fs := memfs.New(memfs.Config{Clock: tickingClock()})
	fake := vfsfake.New(fs)
	clk := newClock()
	if cfg.PageSize == 0 {
		cfg.PageSize = ps
	}
	cfg.Clock = clk.Now
	c, err := New(cfg, fake)
	if err != nil {
		t.Fatal(err)
	}
	return &env{fs: fs, fake: fake, cache: c, clock: clk}
}

// file creates name with content directly in memfs (bypassing the cache).
func (e *env) file(t *testing.T, name string, content []byte) vfs.GFID {
	t.Helper()
	a, fh, errno := e.fs.Create(bg, vfs.RootGFID, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := e.fs.Write(bg, a.GFID, fh, content, 0); errno != 0 {
		t.Fatal(errno)
	}
	e.fs.Release(bg, a.GFID, fh)
	return a.GFID
}

func read(t *testing.T, x vfs.Translator, g vfs.GFID, off, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	got, errno := x.Read(bg, g, 0, buf, int64(off))
	if errno != 0 {
		t.Fatalf("read(%d, %d): %v", off, n, errno)
	}
	return buf[:got]
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7+i/ps)
	}
	return b
}

// checkAccounting verifies that the byte count is exact and within bounds.
func checkAccounting(t *testing.T, c *IOCache) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var sum int64
	pages := 0
	for _, f := range c.files {
		for _, p := range f.pages {
			sum += int64(len(p.data))
			pages++
			if int64(cap(p.data)) != int64(len(p.data)) {
				t.Errorf("page capacity %d for %d bytes", cap(p.data), len(p.data))
			}
		}
		if len(f.pages) == 0 && f.readers == 0 {
			t.Errorf("file entry without pages or readers kept")
		}
	}
	unnamed := 0
	for g, f := range c.files {
		if f.name == nil {
			unnamed++
		} else if c.names[*f.name] != g {
			t.Errorf("file named %q, but that name maps to %v", f.name.name, c.names[*f.name])
		}
	}
	for d, g := range c.names {
		if f := c.files[g]; f == nil || f.name == nil || *f.name != d {
			t.Errorf("name %q maps to a file not cached under it", d.name)
		}
	}
	if unnamed != c.unnamed {
		t.Errorf("%d unnamed files, counted %d", unnamed, c.unnamed)
	}
	if sum != c.bytes || pages != c.lru.Len() {
		t.Errorf("accounted %d bytes in %d pages, cached %d in %d", c.bytes, c.lru.Len(), sum, pages)
	}
	if c.bytes > c.size {
		t.Errorf("cache holds %d bytes, limit %d", c.bytes, c.size)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		cfg     Config
		wantErr bool
	}{
		{Config{}, false},
		{Config{CacheSize: 4 << 20, PageSize: 4096, CacheTimeout: -1}, false},
		{Config{CacheSize: -1}, true},
		{Config{PageSize: 100}, true},
		{Config{CacheSize: 1024, PageSize: 4096}, true},
	}
	for _, tc := range tests {
		c, err := New(tc.cfg, vfsfake.New(nil))
		if (err != nil) != tc.wantErr {
			t.Errorf("%+v: err %v", tc.cfg, err)
		}
		if err == nil && tc.cfg.CacheSize == 0 && tc.cfg.PageSize == 0 && tc.cfg.CacheTimeout == 0 &&
			(c.size != DefaultCacheSize || c.pageSize != DefaultPageSize || c.timeout != DefaultCacheTimeout) {
			t.Errorf("defaults: %d %d %v", c.size, c.pageSize, c.timeout)
		}
	}
}

func TestReadServedFromCache(t *testing.T) {
	e := newEnv(t, Config{CacheSize: 64 * ps})
	size := 10*ps + 100
	content := pattern(size, 1)
	g := e.file(t, "f", content)
	steps := []struct {
		off, n     int
		childReads int // Read calls reaching the child
		wantLen    int
	}{
		{0, 100, 1, 100},          // page 0
		{50, 100, 0, 100},         // page 0 again
		{1000, 2000, 1, 2000},     // pages 0 (hit), 1-2 (one read)
		{0, size, 1, size},        // pages 3-10 in one read
		{0, size + 5000, 0, size}, // all cached; short at EOF
		{size - 10, 100, 0, 10},   // straddles EOF, from the short last page
		{size, 100, 0, 0},         // at EOF: known from the size
		{size + 5000, 100, 0, 0},  // past EOF
		{5*ps - 1, 2, 0, 2},       // across a page boundary
		{3 * ps, 0, 1, 0},         // empty read goes to the child
	}
	for i, s := range steps {
		before := e.fake.Count(vfsfake.Read)
		got := read(t, e.cache, g, s.off, s.n)
		if len(got) != s.wantLen {
			t.Fatalf("step %d: %d bytes, want %d", i, len(got), s.wantLen)
		}
		if o := min(s.off, size); !bytes.Equal(got, content[o:o+len(got)]) {
			t.Fatalf("step %d: wrong data", i)
		}
		if d := e.fake.Count(vfsfake.Read) - before; d != s.childReads {
			t.Errorf("step %d (%d+%d): %d child reads, want %d", i, s.off, s.n, d, s.childReads)
		}
	}
	st := e.cache.Stats()
	if st.Pages != 11 || st.Bytes != int64(size) || st.Files != 1 {
		t.Errorf("stats %+v", st)
	}
	checkAccounting(t, e.cache)
}

func TestRevalidation(t *testing.T) {
	e := newEnv(t, Config{CacheTimeout: time.Second})
	g := e.file(t, "f", []byte("old data"))
	if got := read(t, e.cache, g, 0, 100); string(got) != "old data" {
		t.Fatalf("first read %q", got)
	}
	attrs := e.fake.Count(vfsfake.GetAttr)
	// Another client rewrites the file behind the cache, same size.
	if _, errno := e.fs.Write(bg, g, 0, []byte("new data"), 0); errno != 0 {
		t.Fatal(errno)
	}
	e.clock.Advance(999 * time.Millisecond)
	if got := read(t, e.cache, g, 0, 100); string(got) != "old data" {
		t.Errorf("within cache-timeout: %q, want the cached data", got)
	}
	if e.fake.Count(vfsfake.GetAttr) != attrs {
		t.Errorf("attributes checked within cache-timeout")
	}
	e.clock.Advance(time.Millisecond)
	if got := read(t, e.cache, g, 0, 100); string(got) != "new data" {
		t.Errorf("after cache-timeout: %q", got)
	}
	if e.fake.Count(vfsfake.GetAttr) != attrs+1 {
		t.Errorf("%d attribute checks, want 1", e.fake.Count(vfsfake.GetAttr)-attrs)
	}
	// Unchanged file: the check passes and the pages stay.
	reads := e.fake.Count(vfsfake.Read)
	e.clock.Advance(time.Hour)
	read(t, e.cache, g, 0, 100)
	if e.fake.Count(vfsfake.Read) != reads {
		t.Errorf("unchanged file reread after revalidation")
	}
	if st := e.cache.Stats(); st.Invalidations != 1 || st.Revalidations != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestRevalidateEveryRead(t *testing.T) {
	e := newEnv(t, Config{CacheTimeout: -1})
	g := e.file(t, "f", []byte("abc"))
	for i := 0; i < 3; i++ {
		read(t, e.cache, g, 0, 10)
	}
	if e.fake.Count(vfsfake.GetAttr) != 3 || e.fake.Count(vfsfake.Read) != 1 {
		t.Errorf("%d getattrs, %d reads; want 3, 1", e.fake.Count(vfsfake.GetAttr), e.fake.Count(vfsfake.Read))
	}
}

// TestOwnChangesInvalidate: after each change made through the cache, the
// next read sees the new data at once.
func TestOwnChangesInvalidate(t *testing.T) {
	tests := []struct {
		name       string
		change     func(c *IOCache, g vfs.GFID) syscall.Errno
		want       string
		invalidate bool
	}{
		{"write", func(c *IOCache, g vfs.GFID) syscall.Errno {
			_, errno := c.Write(bg, g, 0, []byte("XY"), 1)
			return errno
		}, "0XY3456789", true},
		{"truncate", func(c *IOCache, g vfs.GFID) syscall.Errno {
			_, errno := c.SetAttr(bg, g, 0, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 4})
			return errno
		}, "0123", true},
		{"set mtime", func(c *IOCache, g vfs.GFID) syscall.Errno {
			_, errno := c.SetAttr(bg, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMtimeNow})
			return errno
		}, "0123456789", true},
		{"chmod", func(c *IOCache, g vfs.GFID) syscall.Errno {
			_, errno := c.SetAttr(bg, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600})
			return errno
		}, "0123456789", false},
		{"punch hole", func(c *IOCache, g vfs.GFID) syscall.Errno {
			return c.Fallocate(bg, g, 0, 3, 0, 2)
		}, "\x00\x0023456789", true},
		{"open O_TRUNC", func(c *IOCache, g vfs.GFID) syscall.Errno {
			fh, errno := c.Open(bg, g, syscall.O_WRONLY|syscall.O_TRUNC)
			c.Release(bg, g, fh)
			return errno
		}, "", true},
		{"open read-only", func(c *IOCache, g vfs.GFID) syscall.Errno {
			fh, errno := c.Open(bg, g, syscall.O_RDONLY|syscall.O_TRUNC)
			c.Release(bg, g, fh)
			return errno
		}, "0123456789", false},
		{"create O_TRUNC", func(c *IOCache, g vfs.GFID) syscall.Errno {
			_, fh, errno := c.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Flags: syscall.O_RDWR | syscall.O_TRUNC})
			c.Release(bg, g, fh)
			return errno
		}, "", true},
		{"unlink", func(c *IOCache, g vfs.GFID) syscall.Errno {
			return c.Unlink(bg, vfs.RootGFID, "f")
		}, "", true}, // the unlinked GFID turns stale: its pages are dropped
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{CacheTimeout: time.Hour})
			g := e.file(t, "f", []byte("0123456789"))
			read(t, e.cache, g, 0, 100)
			if errno := tc.change(e.cache, g); errno != 0 {
				t.Fatal(errno)
			}
			reads := e.fake.Count(vfsfake.Read)
			if tc.name == "unlink" {
				// An unlinked GFID is stale for anonymous I/O (NFS
				// clients must get ESTALE), so the pages must not be
				// served: the read reaches the child and fails.
				if _, errno := e.cache.Read(bg, g, 0, make([]byte, 100), 0); errno != syscall.ENOENT && errno != syscall.ESTALE {
					t.Errorf("read after unlink: errno %v, want ENOENT or ESTALE", errno)
				}
				if e.fake.Count(vfsfake.Read) == reads {
					t.Error("read after unlink was served from the cache")
				}
				return
			}
			if got := read(t, e.cache, g, 0, 100); string(got) != tc.want {
				t.Errorf("read %q, want %q", got, tc.want)
			}
			reread := e.fake.Count(vfsfake.Read) > reads
			if reread != tc.invalidate && tc.want != "" {
				t.Errorf("child read again: %v, want %v", reread, tc.invalidate)
			}
		})
	}
}

func TestAttrsSeenInPassing(t *testing.T) {
	e := newEnv(t, Config{CacheTimeout: time.Hour})
	g := e.file(t, "f", []byte("before"))
	read(t, e.cache, g, 0, 100)
	e.fs.Write(bg, g, 0, []byte("after!"), 0)
	if _, errno := e.cache.Lookup(bg, vfs.RootGFID, "f"); errno != 0 {
		t.Fatal(errno)
	}
	if got := read(t, e.cache, g, 0, 100); string(got) != "after!" {
		t.Errorf("after a lookup showed a new mtime: %q", got)
	}
	e.fs.Write(bg, g, 0, []byte("again!"), 0)
	if _, _, errno := e.cache.ReadDir(bg, vfs.RootGFID, 0, 0, 0, true); errno != 0 {
		t.Fatal(errno)
	}
	if got := read(t, e.cache, g, 0, 100); string(got) != "again!" {
		t.Errorf("after readdirplus showed a new mtime: %q", got)
	}
}

func TestDirectIOBypasses(t *testing.T) {
	e := newEnv(t, Config{})
	g := e.file(t, "f", []byte("data"))
	fh, errno := e.cache.Open(bg, g, syscall.O_RDONLY|syscall.O_DIRECT)
	if errno != 0 {
		t.Fatal(errno)
	}
	for i := 0; i < 3; i++ {
		e.cache.Read(bg, g, fh, make([]byte, 10), 0)
	}
	if n := e.fake.Count(vfsfake.Read); n != 3 {
		t.Errorf("%d child reads through an O_DIRECT handle, want 3", n)
	}
	e.cache.Release(bg, g, fh)
	if st := e.cache.Stats(); st.Pages != 0 {
		t.Errorf("O_DIRECT reads were cached: %+v", st)
	}
}

func TestChildErrorsNotCached(t *testing.T) {
	e := newEnv(t, Config{})
	g := e.file(t, "f", []byte("data"))
	e.fake.FailN(vfsfake.Read, syscall.EIO, 1)
	if _, errno := e.cache.Read(bg, g, 0, make([]byte, 10), 0); errno != syscall.EIO {
		t.Fatalf("got %v, want EIO", errno)
	}
	if got := read(t, e.cache, g, 0, 10); string(got) != "data" {
		t.Errorf("after the error: %q", got)
	}
	e.fake.FailN(vfsfake.GetAttr, syscall.ENOENT, 1)
	if _, errno := e.cache.Read(bg, vfs.GFID{42}, 0, make([]byte, 10), 0); errno != syscall.ENOENT {
		t.Errorf("read of a missing file: %v", errno)
	}
}

// shortReader returns at most 100 bytes per Read, like a transport that
// splits reads; short pages that are not at end of file must not be cached.
type shortReader struct{ vfs.Passthrough }

func (s shortReader) Read(ctx context.Context, g vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	return s.Child.Read(ctx, g, fh, dest[:min(len(dest), 100)], off)
}

func TestShortChildReadsNotCachedAsEOF(t *testing.T) {
	fs := memfs.New(memfs.Config{})
	c, _ := New(Config{PageSize: ps}, shortReader{vfs.Passthrough{Child: fs}})
	a, fh, _ := fs.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Flags: syscall.O_RDWR})
	fs.Write(bg, a.GFID, fh, pattern(3*ps, 3), 0)
	got := read(t, c, a.GFID, 0, 3*ps)
	if !bytes.Equal(got, pattern(3*ps, 3)[:len(got)]) {
		t.Fatal("wrong data")
	}
	if st := c.Stats(); st.Pages != 0 {
		t.Errorf("short non-EOF page cached: %+v", st)
	}
	if got := read(t, c, a.GFID, 2*ps, 10); !bytes.Equal(got, pattern(3*ps, 3)[2*ps:2*ps+10]) {
		t.Errorf("later page: %q", got)
	}
}

func TestLRU(t *testing.T) {
	e := newEnv(t, Config{CacheSize: 4 * ps, CacheTimeout: time.Hour})
	var files []vfs.GFID
	for i := 0; i < 5; i++ {
		files = append(files, e.file(t, fmt.Sprint(i), pattern(ps, byte(i))))
	}
	// Fill with 0-3, touch 0, add 4: 1 is the least recently used.
	for _, i := range []int{0, 1, 2, 3, 0, 4} {
		read(t, e.cache, files[i], 0, ps)
	}
	checkAccounting(t, e.cache)
	for _, tc := range []struct {
		file   int
		cached bool
	}{{0, true}, {2, true}, {3, true}, {4, true}, {1, false}} {
		before := e.fake.Count(vfsfake.Read)
		read(t, e.cache, files[tc.file], 0, ps)
		if hit := e.fake.Count(vfsfake.Read) == before; hit != tc.cached {
			t.Errorf("file %d cached %v, want %v", tc.file, hit, tc.cached)
		}
		if !tc.cached {
			break // rereading it evicted another
		}
	}
	if st := e.cache.Stats(); st.Evictions < 1 || st.Bytes != 4*ps {
		t.Errorf("stats %+v", st)
	}
}

// TestMemoryBound reads random ranges of files of odd sizes through a
// small cache from many goroutines, checking the accounting as it goes.
func TestMemoryBound(t *testing.T) {
	e := newEnv(t, Config{CacheSize: 5*ps + 300, CacheTimeout: time.Millisecond})
	var files []vfs.GFID
	var contents [][]byte
	for i := 0; i < 6; i++ {
		b := pattern(i*ps+i*37+1, byte(i))
		contents = append(contents, b)
		files = append(files, e.file(t, fmt.Sprint(i), b))
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < 300; i++ {
				k := rng.IntN(len(files))
				off := rng.IntN(len(contents[k]) + 10)
				n := rng.IntN(3 * ps)
				buf := make([]byte, n)
				got, errno := e.cache.Read(bg, files[k], 0, buf, int64(off))
				if errno != 0 {
					t.Errorf("read: %v", errno)
					return
				}
				want := contents[k][min(off, len(contents[k])):min(off+n, len(contents[k]))]
				if !bytes.Equal(buf[:got], want) {
					t.Errorf("file %d [%d,+%d): wrong data", k, off, n)
					return
				}
				if i%50 == 0 {
					e.clock.Advance(time.Millisecond)
					checkAccounting(t, e.cache)
				}
			}
		}()
	}
	wg.Wait()
	checkAccounting(t, e.cache)
	t.Logf("stats %+v", e.cache.Stats())
}

// TestConcurrentWritesNeverLeaveStaleData: once a write through the cache
// has returned, no read may serve older data, however reads and writes
// interleave — even with a cache-timeout of an hour.
func TestConcurrentWritesNeverLeaveStaleData(t *testing.T) {
	e := newEnv(t, Config{CacheTimeout: time.Hour})
	const size = 3 * ps
	g := e.file(t, "f", bytes.Repeat([]byte{0}, size))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, size)
			for {
				select {
				case <-stop:
					return
				default:
				}
				e.cache.Read(bg, g, 0, buf, int64(r*100))
			}
		}()
	}
	for v := byte(1); v <= 100; v++ {
		if _, errno := e.cache.Write(bg, g, 0, bytes.Repeat([]byte{v}, size), 0); errno != 0 {
			t.Fatal(errno)
		}
		got := read(t, e.cache, g, 0, size)
		if i := bytes.IndexFunc(got, func(r rune) bool { return byte(r) != v }); i >= 0 || len(got) != size {
			t.Fatalf("after write %d: byte %d is stale (len %d)", v, i, len(got))
		}
	}
	close(stop)
	wg.Wait()
}

// TestTwoClients: two caches over one child see each other's writes once
// cache-timeout has passed.
func TestTwoClients(t *testing.T) {
	fs := memfs.New(memfs.Config{Clock: tickingClock()})
	clkA, clkB := newClock(), newClock()
	a, _ := New(Config{PageSize: ps, CacheTimeout: time.Second, Clock: clkA.Now}, fs)
	b, _ := New(Config{PageSize: ps, CacheTimeout: time.Second, Clock: clkB.Now}, fs)
	attr, fh, _ := fs.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Flags: syscall.O_RDWR})
	fs.Release(bg, attr.GFID, fh)
	g := attr.GFID
	steps := []struct {
		writer  *IOCache
		data    string
		advance time.Duration // on the reader's clock before it reads
		reader  *IOCache
		clk     *clock
		want    string
	}{
		{a, "one", 0, b, clkB, "one"},           // b had nothing cached
		{a, "two", 0, b, clkB, "one"},           // b's pages are fresh: stale read
		{a, "two", time.Second, b, clkB, "two"}, // timeout passed: b sees it
		{b, "six", 0, b, clkB, "six"},           // own write: at once
		{b, "six", 0, a, clkA, "six"},           // a had not read before
		{b, "ten", 500 * time.Millisecond, a, clkA, "six"},
		{b, "ten", 500 * time.Millisecond, a, clkA, "ten"},
	}
	for i, s := range steps {
		if _, errno := s.writer.Write(bg, g, 0, []byte(s.data), 0); errno != 0 {
			t.Fatal(errno)
		}
		s.clk.Advance(s.advance)
		if got := read(t, s.reader, g, 0, 10); string(got) != s.want {
			t.Errorf("step %d: read %q, want %q", i, got, s.want)
		}
	}
}

func TestForwardsEveryOp(t *testing.T) {
	f := vfsfake.New(nil)
	c, _ := New(Config{}, f)
	vfsfake.Exercise(bg, c)
	for _, op := range vfsfake.AllOps {
		if f.Count(op) < 1 {
			t.Errorf("%s never reached the child", op)
		}
	}
}

// TestLookupHint: a first read soon after a lookup takes its attributes
// from the lookup instead of asking the child again; a hint past the
// timeout, or dropped by a write of this client, is not used, and data
// another client wrote after the lookup is noticed at the next check.
func TestLookupHint(t *testing.T) {
	e := newEnv(t, Config{CacheTimeout: time.Second})
	g := e.file(t, "f", []byte("old data"))
	if _, errno := e.cache.Lookup(bg, vfs.RootGFID, "f"); errno != 0 {
		t.Fatal(errno)
	}
	attrs := e.fake.Count(vfsfake.GetAttr)
	if got := read(t, e.cache, g, 0, 100); string(got) != "old data" {
		t.Fatalf("read %q", got)
	}
	if n := e.fake.Count(vfsfake.GetAttr) - attrs; n != 0 {
		t.Errorf("%d GetAttr calls for a read right after a lookup, want 0", n)
	}

	// Written by another client after the lookup: the pages carry the
	// lookup's (older) attributes, so the next check retires them.
	g2 := e.file(t, "g", []byte("aaaaaaaa"))
	if _, errno := e.cache.Lookup(bg, vfs.RootGFID, "g"); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := e.fs.Write(bg, g2, 0, []byte("bbbbbbbbbb"), 0); errno != 0 {
		t.Fatal(errno)
	}
	read(t, e.cache, g2, 0, 100)
	e.clock.Advance(time.Second)
	if got := read(t, e.cache, g2, 0, 100); string(got) != "bbbbbbbbbb" {
		t.Errorf("after the timeout: %q, want the other client's data", got)
	}

	// A stale hint is not used.
	g3 := e.file(t, "h", []byte("x"))
	if _, errno := e.cache.Lookup(bg, vfs.RootGFID, "h"); errno != 0 {
		t.Fatal(errno)
	}
	e.clock.Advance(time.Second)
	attrs = e.fake.Count(vfsfake.GetAttr)
	read(t, e.cache, g3, 0, 10)
	if n := e.fake.Count(vfsfake.GetAttr) - attrs; n != 1 {
		t.Errorf("%d GetAttr calls with an expired hint, want 1", n)
	}
	// A write through the cache drops the hint.
	g4 := e.file(t, "i", []byte("1234"))
	if _, errno := e.cache.Lookup(bg, vfs.RootGFID, "i"); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := e.cache.Write(bg, g4, 0, []byte("56789"), 0); errno != 0 {
		t.Fatal(errno)
	}
	attrs = e.fake.Count(vfsfake.GetAttr)
	if got := read(t, e.cache, g4, 0, 10); string(got) != "56789" {
		t.Errorf("after a write: %q", got)
	}
	if n := e.fake.Count(vfsfake.GetAttr) - attrs; n != 1 {
		t.Errorf("%d GetAttr calls after a write dropped the hint, want 1", n)
	}
	checkAccounting(t, e.cache)
}

// TestStreamingReuse: a reader streaming through a file larger than the
// cache, in page-aligned reads of several pages (read straight into its
// buffer), gets the right bytes, a second pass serves the tail from the
// cache, and the pages dropped on the way are reused, not reallocated.
func TestStreamingReuse(t *testing.T) {
	e := newEnv(t, Config{CacheSize: 8 * ps, CacheTimeout: time.Hour})
	content := pattern(40*ps+123, 3)
	g := e.file(t, "big", content)
	for pass := 0; pass < 2; pass++ {
		// Backwards with gaps, then the partial last page: not one
		// sequential scan (see TestScanPastCache), so every page goes
		// through the cache.
		offs := []int{}
		for off := 35 * ps; off >= 0; off -= 5 * ps {
			offs = append(offs, off)
		}
		for _, off := range append(offs, 40*ps) {
			got := read(t, e.cache, g, off, 4*ps)
			want := content[off:min(off+4*ps, len(content))]
			if !bytes.Equal(got, want) {
				t.Fatalf("pass %d: read at %d: wrong data (%d bytes, want %d)", pass, off, len(got), len(want))
			}
		}
		checkAccounting(t, e.cache)
	}
	e.cache.mu.Lock()
	spare := len(e.cache.spare)
	e.cache.mu.Unlock()
	if spare == 0 {
		t.Error("no page buffer was kept for reuse while streaming")
	}
	if got := read(t, e.cache, g, 39*ps, 2*ps); !bytes.Equal(got, content[39*ps:]) {
		t.Error("the cached tail differs")
	}
}

// TestScanOutOfOrder: a sequential reader whose requests arrive out of
// order, as FUSE's parallel read-ahead delivers them (a later one
// overtaking up to a few before it), is still a scan, and goes past the
// cache once longer than it; reads further apart than that start a new
// run each, and stay cached.
func TestScanOutOfOrder(t *testing.T) {
	e := newEnv(t, Config{CacheSize: 8 * ps, CacheTimeout: time.Hour})
	content := pattern(48*ps, 7)
	g := e.file(t, "big", content)
	check := func(e *env, g vfs.GFID, off int) {
		t.Helper()
		if got := read(t, e.cache, g, off, 2*ps); !bytes.Equal(got, content[off:off+2*ps]) {
			t.Fatalf("read at %d: wrong data", off)
		}
	}
	// Groups of three reads, served last first.
	for off := 0; off < len(content); off += 6 * ps {
		check(e, g, off+4*ps)
		check(e, g, off+2*ps)
		check(e, g, off)
	}
	st := e.cache.Stats()
	if st.Scanned == 0 || st.Bytes > 8*ps {
		t.Fatalf("reads out of order: %+v; want a scan past the cache", st)
	}
	checkAccounting(t, e.cache)

	// Reads more than maxJump reads apart: a new run each, all cached.
	e2 := newEnv(t, Config{CacheSize: 64 * ps, CacheTimeout: time.Hour})
	g2 := e2.file(t, "big", content)
	for off := 0; off+2*ps <= len(content); off += 2 * (maxJump + 2) * ps {
		check(e2, g2, off)
	}
	if st := e2.cache.Stats(); st.Scanned != 0 || st.Bytes != 6*ps {
		t.Fatalf("reads far apart: %+v; want 3 reads cached, no scan", st)
	}
}

// TestVictimByName: Unlink and Rename find the pages of the file they
// remove by the name it was cached under, without a lookup in the child;
// only while a file whose name is unknown is cached do they ask the child
// first. Either way the removed file's pages are never served again.
func TestVictimByName(t *testing.T) {
	e := newEnv(t, Config{CacheTimeout: time.Hour})
	gone := func(g vfs.GFID) {
		t.Helper()
		reads := e.fake.Count(vfsfake.Read)
		if _, errno := e.cache.Read(bg, g, 0, make([]byte, 100), 0); errno != syscall.ENOENT && errno != syscall.ESTALE {
			t.Errorf("read of a removed file: errno %v, want ENOENT or ESTALE", errno)
		}
		if e.fake.Count(vfsfake.Read) == reads {
			t.Error("read of a removed file was served from the cache")
		}
	}
	lookups := func() int { return e.fake.Count(vfsfake.Lookup) }
	cached := func(name string) vfs.GFID {
		t.Helper()
		g := e.file(t, name, []byte("data of "+name))
		if _, errno := e.cache.Lookup(bg, vfs.RootGFID, name); errno != 0 {
			t.Fatal(errno)
		}
		read(t, e.cache, g, 0, 100)
		return g
	}

	// Looked up, then read: the unlink needs no lookup.
	f := cached("f")
	n := lookups()
	if errno := e.cache.Unlink(bg, vfs.RootGFID, "f"); errno != 0 {
		t.Fatal(errno)
	}
	if d := lookups() - n; d != 0 {
		t.Errorf("unlink of a file cached by name: %d lookups, want 0", d)
	}
	gone(f)

	// A name no cached file has: nothing to drop, nothing to ask.
	e.file(t, "other", []byte("x"))
	cached("keep")
	n = lookups()
	if errno := e.cache.Unlink(bg, vfs.RootGFID, "other"); errno != 0 {
		t.Fatal(errno)
	}
	if d := lookups() - n; d != 0 {
		t.Errorf("unlink of an uncached file: %d lookups, want 0", d)
	}

	// Renamed through the cache: the name moves with the file.
	h := cached("h")
	if errno := e.cache.Rename(bg, vfs.RootGFID, "h", vfs.RootGFID, "h2", 0); errno != 0 {
		t.Fatal(errno)
	}
	read(t, e.cache, h, 0, 100)
	n = lookups()
	if errno := e.cache.Unlink(bg, vfs.RootGFID, "h2"); errno != 0 {
		t.Fatal(errno)
	}
	if d := lookups() - n; d != 0 {
		t.Errorf("unlink of a renamed cached file: %d lookups, want 0", d)
	}
	gone(h)

	// Renamed over: the replaced file's pages go.
	x := cached("x")
	e.file(t, "y", []byte("new x"))
	if errno := e.cache.Rename(bg, vfs.RootGFID, "y", vfs.RootGFID, "x", 0); errno != 0 {
		t.Fatal(errno)
	}
	gone(x)

	// Listed with attributes, then read: named too.
	l := e.file(t, "listed", []byte("in a listing"))
	if _, _, errno := e.cache.ReadDir(bg, vfs.RootGFID, 0, 0, 0, true); errno != 0 {
		t.Fatal(errno)
	}
	read(t, e.cache, l, 0, 100)
	n = lookups()
	if errno := e.cache.Unlink(bg, vfs.RootGFID, "listed"); errno != 0 {
		t.Fatal(errno)
	}
	if d := lookups() - n; d != 0 {
		t.Errorf("unlink of a file cached from a listing: %d lookups, want 0", d)
	}
	gone(l)
	checkAccounting(t, e.cache)

	// Read by GFID alone (its name unknown): the unlink asks the child
	// which file the name is, and drops it.
	u := e.file(t, "u", []byte("read by handle"))
	read(t, e.cache, u, 0, 100)
	checkAccounting(t, e.cache)
	n = lookups()
	if errno := e.cache.Unlink(bg, vfs.RootGFID, "u"); errno != 0 {
		t.Fatal(errno)
	}
	if d := lookups() - n; d != 1 {
		t.Errorf("unlink while a file of unknown name is cached: %d lookups, want 1", d)
	}
	gone(u)
	checkAccounting(t, e.cache)
}

// TestScanPastCache: a sequential read longer than the cache caches its
// first cache-size bytes and reads the rest past the cache, evicting
// nothing; re-reading the file is served from those first pages; reads
// that are not sequential are cached as always. The data is right
// throughout.
func TestScanPastCache(t *testing.T) {
	e := newEnv(t, Config{CacheSize: 8 * ps, CacheTimeout: time.Hour})
	content := pattern(40*ps+123, 5)
	g := e.file(t, "big", content)
	other := e.file(t, "other", pattern(2*ps, 6))
	read(t, e.cache, other, 0, 2*ps) // two pages of another file, cached

	scan := func() {
		t.Helper()
		for off := 0; off < len(content); off += 2 * ps {
			if got := read(t, e.cache, g, off, 2*ps); !bytes.Equal(got, content[off:min(off+2*ps, len(content))]) {
				t.Fatalf("read at %d: wrong data", off)
			}
		}
		checkAccounting(t, e.cache)
	}
	scan()
	st := e.cache.Stats()
	if st.Evictions != 2 || st.Bytes != 8*ps || st.Scanned == 0 {
		t.Fatalf("after one scan: %+v; want the first 8 pages cached at the cost of the other file's 2 only", st)
	}
	reads := e.fake.Count(vfsfake.Read)
	scan()
	st2 := e.cache.Stats()
	if st2.Hits-st.Hits != 8 || st2.Evictions != st.Evictions {
		t.Errorf("second scan: %d hits, %d evictions; want the 8 cached pages served and nothing evicted", st2.Hits-st.Hits, st2.Evictions-st.Evictions)
	}
	// 21 requests of 2 pages, the first 4 served by the cache.
	if n := e.fake.Count(vfsfake.Read) - reads; n != 21-4 {
		t.Errorf("second scan read the child %d times, want 17", n)
	}

	// Backwards, two pages at a time: not a scan, so it is cached and
	// evicts as the LRU says.
	for off := 38 * ps; off >= 0; off -= 2 * ps {
		if got := read(t, e.cache, g, off, 2*ps); !bytes.Equal(got, content[off:off+2*ps]) {
			t.Fatalf("backward read at %d: wrong data", off)
		}
	}
	st3 := e.cache.Stats()
	if st3.Scanned != st2.Scanned || st3.Evictions <= st2.Evictions || st3.Bytes != 8*ps {
		t.Errorf("backward reads: %+v; want them cached, evicting", st3)
	}
	checkAccounting(t, e.cache)
}

// TestHintAttr: attributes handed down by md-cache serve the file's first
// read without a GetAttr, as a lookup seen in passing does.
func TestHintAttr(t *testing.T) {
	e := newEnv(t, Config{CacheTimeout: time.Second})
	g := e.file(t, "f", []byte("hinted"))
	a, errno := e.fs.GetAttr(bg, g, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	var _ vfs.AttrHinter = e.cache
	e.cache.HintAttr(a)
	attrs := e.fake.Count(vfsfake.GetAttr)
	if got := read(t, e.cache, g, 0, 100); string(got) != "hinted" {
		t.Fatalf("read %q", got)
	}
	if n := e.fake.Count(vfsfake.GetAttr) - attrs; n != 0 {
		t.Errorf("%d GetAttr calls for a read after a hint, want 0", n)
	}
	checkAccounting(t, e.cache)
}

// TestSequentialHoles: a read that overtakes leaves a hole; reads filling
// it, from either end or the middle, keep the run; a re-read starts anew.
func TestSequentialHoles(t *testing.T) {
	var f file
	f.sequential(0, 10)
	f.sequential(40, 50) // overtakes: hole [10, 40)
	if f.run != 50 || len(f.holes) != 1 || f.holes[0] != (span{10, 40}) {
		t.Fatalf("after a jump: run %d holes %v", f.run, f.holes)
	}
	f.sequential(20, 30) // the middle: [10, 20) and [30, 40) remain
	f.sequential(10, 20)
	f.sequential(30, 40)
	if f.run != 50 || f.next != 50 || len(f.holes) != 0 {
		t.Fatalf("after filling: run %d next %d holes %v", f.run, f.next, f.holes)
	}
	f.sequential(50, 60)
	if f.run != 60 {
		t.Fatalf("continuation: run %d", f.run)
	}
	f.sequential(20, 30) // a re-read
	if f.run != 10 || f.next != 30 || len(f.holes) != 0 {
		t.Fatalf("after a re-read: run %d next %d holes %v", f.run, f.next, f.holes)
	}
}

// TestAnonymousReadsOfOthersChecked: pages filled by root serve another
// caller's reads without a handle only after the child has allowed that
// caller one; the allowance is not retried for every read, and a chmod
// made behind the cache is honoured once its attributes are next checked.
func TestAnonymousReadsOfOthersChecked(t *testing.T) {
	e := newEnv(t, Config{CacheTimeout: time.Second})
	g := e.file(t, "f", []byte("data"))
	if got := read(t, e.cache, g, 0, 100); string(got) != "data" {
		t.Fatalf("root reads %q", got)
	}
	alice := vfs.WithCaller(bg, &vfs.Caller{UID: 1000, GID: 1000})
	anonRead := func() (string, syscall.Errno) {
		buf := make([]byte, 100)
		n, errno := e.cache.Read(alice, g, 0, buf, 0)
		return string(buf[:n]), errno
	}
	reads := e.fake.Count(vfsfake.Read)
	for i := range 3 {
		if got, errno := anonRead(); errno != 0 || got != "data" {
			t.Fatalf("alice's read %d of a 0644 file: %q %v", i, got, errno)
		}
	}
	if n := e.fake.Count(vfsfake.Read) - reads; n != 1 {
		t.Errorf("alice's 3 reads reached the child %d times, want 1 (the first)", n)
	}
	// Another client takes the permission away.
	if _, errno := e.fs.SetAttr(bg, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600}); errno != 0 {
		t.Fatal(errno)
	}
	e.clock.Advance(time.Second)
	if got, errno := anonRead(); errno != syscall.EACCES {
		t.Errorf("alice's read after a chmod 0600 behind the cache: %q %v, want EACCES", got, errno)
	}
	if got := read(t, e.cache, g, 0, 100); string(got) != "data" {
		t.Errorf("root reads %q after the chmod", got)
	}
	if st := e.cache.Stats(); st.Invalidations != 0 {
		t.Errorf("a chmod dropped the pages: %+v", st)
	}
}

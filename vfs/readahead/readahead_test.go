package readahead

import (
	"bytes"
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfsfake"
)

const ps = 4096 // page size in tests

var bg = context.Background()

type env struct {
	fs   *memfs.FS
	fake *vfsfake.Fake // between read-ahead and memfs, counting calls
	ra   *ReadAhead
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	fs := memfs.New(memfs.Config{})
	fake := vfsfake.New(fs)
	if cfg.PageSize == 0 {
		cfg.PageSize = ps
	}
	ra, err := New(cfg, fake)
	if err != nil {
		t.Fatal(err)
	}
	return &env{fs: fs, fake: fake, ra: ra}
}

// file creates name with content directly in memfs, mode 0600.
func (e *env) file(t *testing.T, name string, content []byte) vfs.GFID {
	t.Helper()
	a, fh, errno := e.fs.Create(bg, vfs.RootGFID, name, &vfs.CreateIn{Mode: 0o600, Flags: syscall.O_RDWR})
	if errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := e.fs.Write(bg, a.GFID, fh, content, 0); errno != 0 {
		t.Fatal(errno)
	}
	e.fs.Release(bg, a.GFID, fh)
	return a.GFID
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7+i/ps)
	}
	return b
}

func read(t *testing.T, x vfs.Translator, ctx context.Context, g vfs.GFID, fh vfs.Handle, off, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	got, errno := x.Read(ctx, g, fh, buf, int64(off))
	if errno != 0 {
		t.Fatalf("read(%d, %d): %v", off, n, errno)
	}
	return buf[:got]
}

// settle waits until no page read is in flight.
func (e *env) settle(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		e.ra.mu.Lock()
		busy := false
		for _, s := range e.ra.streams {
			for _, p := range s.pages {
				select {
				case <-p.done:
				default:
					busy = true
				}
			}
		}
		e.ra.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("page reads never finished")
		}
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		cfg     Config
		wantErr bool
	}{
		{Config{}, false},
		{Config{PageCount: 16}, false},
		{Config{PageCount: 17}, true},
		{Config{PageCount: -1}, true},
		{Config{PageSize: 512}, true},
		{Config{MaxStreams: -1}, true},
	}
	for _, tc := range tests {
		if _, err := New(tc.cfg, memfs.New(memfs.Config{})); (err != nil) != tc.wantErr {
			t.Errorf("New(%+v): %v, want error %v", tc.cfg, err, tc.wantErr)
		}
	}
}

// TestSequential: a sequential reader finds its pages read ahead: after
// the ramp-up every read is served from them, and the child reads each
// byte once.
func TestSequential(t *testing.T) {
	e := newEnv(t, Config{})
	data := pattern(64*ps, 1)
	g := e.file(t, "f", data)
	fh, errno := e.ra.Open(bg, g, syscall.O_RDONLY)
	if errno != 0 {
		t.Fatal(errno)
	}
	var got []byte
	for off := 0; off <= len(data); off += ps {
		got = append(got, read(t, e.ra, bg, g, fh, off, ps)...)
		e.settle(t) // make the test deterministic: pages arrive before the next read
		if off == 2*ps {
			// Pages beyond the reader were asked for before the reader did.
			ahead := 0
			for _, c := range e.fake.CallsOf(vfsfake.Read) {
				if c.Off > int64(off) {
					ahead++
				}
			}
			if ahead == 0 {
				t.Fatal("nothing read ahead after three sequential reads")
			}
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
	s := e.ra.Stats()
	reads := e.fake.Count(vfsfake.Read)
	t.Logf("%d reads: %+v, %d child reads", len(data)/ps+1, s, reads)
	if s.Hits < 60 || s.Wasted > 0 {
		t.Errorf("stats %+v", s)
	}
	if reads > 64+DefaultPageCount+1 {
		t.Errorf("child read %d times for 64 pages", reads)
	}
	// The reader stopped at end of file: nothing read beyond it.
	for _, c := range e.fake.CallsOf(vfsfake.Read) {
		if c.Off > int64(len(data)) {
			t.Errorf("read ahead past end of file: %d", c.Off)
		}
	}
	e.ra.Release(bg, g, fh)
	if s := e.ra.Stats(); s.Streams != 0 {
		t.Errorf("stream kept after release")
	}
}

// TestRandom: reads that are not sequential cost exactly one child read.
func TestRandom(t *testing.T) {
	e := newEnv(t, Config{})
	data := pattern(256*ps, 2)
	g := e.file(t, "f", data)
	for i, off := range []int{100, 50, 200, 10, 150, 30, 250, 0, 77} {
		if got := read(t, e.ra, bg, g, 0, off*ps, ps); !bytes.Equal(got, data[off*ps:off*ps+ps]) {
			t.Fatalf("read %d differs", i)
		}
	}
	if s := e.ra.Stats(); s.Prefetched != 0 {
		t.Errorf("random reads read ahead %d pages", s.Prefetched)
	}
	if n := e.fake.Count(vfsfake.Read); n != 9 {
		t.Errorf("%d child reads for 9 random reads", n)
	}
}

// TestSmallFile: reading a file smaller than the read costs one child read.
func TestSmallFile(t *testing.T) {
	e := newEnv(t, Config{PageSize: DefaultPageSize})
	g := e.file(t, "small", []byte("tiny"))
	for i := 0; i < 3; i++ {
		fh, _ := e.ra.Open(bg, g, syscall.O_RDONLY)
		if got := read(t, e.ra, bg, g, fh, 0, 128<<10); string(got) != "tiny" {
			t.Fatalf("read %q", got)
		}
		e.ra.Release(bg, g, fh)
	}
	if n := e.fake.Count(vfsfake.Read); n != 3 {
		t.Errorf("%d child reads for three reads of a small file", n)
	}
}

// TestWriteDropsPages: a write through the translator is seen by a
// sequential reader at once, even for pages that were in flight.
func TestWriteDropsPages(t *testing.T) {
	e := newEnv(t, Config{})
	data := pattern(32*ps, 3)
	g := e.file(t, "f", data)
	fh, _ := e.ra.Open(bg, g, syscall.O_RDWR)
	defer e.ra.Release(bg, g, fh)
	read(t, e.ra, bg, g, fh, 0, ps)
	read(t, e.ra, bg, g, fh, ps, ps)
	e.settle(t)

	// Pages 2.. are held; hold the next page reads in the child.
	gate := make(chan struct{})
	e.fake.SetHook(vfsfake.Read, func(ctx context.Context, c *vfsfake.Call) syscall.Errno {
		if c.Off >= 3*ps {
			<-gate
		}
		return 0
	})
	read(t, e.ra, bg, g, fh, 2*ps, ps) // starts reads of pages 3, 4, 5 (stuck)
	fresh := bytes.Repeat([]byte("N"), 3*ps)
	if _, errno := e.ra.Write(bg, g, fh, fresh, 3*ps); errno != 0 {
		t.Fatal(errno)
	}
	close(gate)
	for off := 3 * ps; off < 6*ps; off += ps {
		if got := read(t, e.ra, bg, g, fh, off, ps); !bytes.Equal(got, fresh[:ps]) {
			t.Fatalf("read at %d after the write: old data", off)
		}
	}
	if _, errno := e.ra.SetAttr(bg, g, fh, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 6*ps + 10}); errno != 0 {
		t.Fatal(errno)
	}
	if got := read(t, e.ra, bg, g, fh, 6*ps, ps); len(got) != 10 {
		t.Errorf("read after truncate: %d bytes, want 10", len(got))
	}
	if s := e.ra.Stats(); s.Invalidations < 2 {
		t.Errorf("invalidations %d", s.Invalidations)
	}
}

// TestAnonymousPerCaller: pages read ahead for one caller's anonymous reads
// are never served to another caller.
func TestAnonymousPerCaller(t *testing.T) {
	e := newEnv(t, Config{})
	data := pattern(16*ps, 4)
	g := e.file(t, "secret", data) // 0600 root
	for off := 0; off < 4*ps; off += ps {
		read(t, e.ra, bg, g, 0, off, ps)
	}
	e.settle(t)
	alice := vfs.WithCaller(bg, &vfs.Caller{UID: 1000, GID: 1000})
	for off := 0; off < 8*ps; off += ps {
		if _, errno := e.ra.Read(alice, g, 0, make([]byte, ps), int64(off)); errno != syscall.EACCES {
			t.Fatalf("alice's read at %d: %v, want EACCES", off, errno)
		}
	}
	// Root's stream is intact.
	if got := read(t, e.ra, bg, g, 0, 4*ps, ps); !bytes.Equal(got, data[4*ps:5*ps]) {
		t.Error("root's stream disturbed")
	}
}

// TestBounded: read-ahead never holds more than max-streams streams of
// page-count+1 pages.
func TestBounded(t *testing.T) {
	e := newEnv(t, Config{MaxStreams: 4, PageCount: 3})
	data := pattern(64*ps, 5)
	g := e.file(t, "f", data)
	var wg sync.WaitGroup
	for w := 0; w < 10; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := vfs.WithCaller(bg, &vfs.Caller{GID: uint32(w)}) // root, one stream per caller
			fh, _ := e.ra.Open(bg, g, syscall.O_RDONLY)
			for off := 0; off < len(data); off += ps {
				buf := make([]byte, ps)
				h := fh
				if off%(8*ps) < 4*ps {
					h = 0
				}
				n, errno := e.ra.Read(ctx, g, h, buf, int64(off))
				if errno != 0 || !bytes.Equal(buf[:n], data[off:off+ps]) {
					t.Errorf("reader %d at %d: %d %v", w, off, n, errno)
					return
				}
				e.ra.mu.Lock()
				if len(e.ra.streams) > 4 {
					t.Errorf("%d streams", len(e.ra.streams))
				}
				for _, s := range e.ra.streams {
					if len(s.pages) > 4 {
						t.Errorf("stream holds %d pages", len(s.pages))
					}
				}
				e.ra.mu.Unlock()
			}
			e.ra.Release(bg, g, fh)
		}()
	}
	wg.Wait()
}

// TestODirect: O_DIRECT handles bypass read-ahead.
func TestODirect(t *testing.T) {
	e := newEnv(t, Config{})
	data := pattern(16*ps, 6)
	g := e.file(t, "f", data)
	fh, _ := e.ra.Open(bg, g, syscall.O_RDONLY|syscall.O_DIRECT)
	for off := 0; off < len(data); off += ps {
		read(t, e.ra, bg, g, fh, off, ps)
	}
	e.ra.Release(bg, g, fh)
	if s := e.ra.Stats(); s.Prefetched != 0 || s.Streams != 0 {
		t.Errorf("O_DIRECT reads: %+v", s)
	}
}

// TestReadError: a failed page read is retried by the reader itself.
func TestReadError(t *testing.T) {
	e := newEnv(t, Config{})
	data := pattern(16*ps, 7)
	g := e.file(t, "f", data)
	read(t, e.ra, bg, g, 0, 0, ps)
	e.fake.FailN(vfsfake.Read, syscall.EIO, 1) // the page read ahead
	read(t, e.ra, bg, g, 0, ps, ps)
	e.settle(t)
	if got := read(t, e.ra, bg, g, 0, 2*ps, ps); !bytes.Equal(got, data[2*ps:3*ps]) {
		t.Error("read after a failed page read")
	}
}

// TestForwards: every operation reaches the child, once.
func TestForwards(t *testing.T) {
	e := newEnv(t, Config{})
	vfsfake.Exercise(bg, e.ra)
	for _, op := range vfsfake.AllOps {
		if n := e.fake.Count(op); n != 1 { // no pages: Unlink and Rename look nothing up
			t.Errorf("%s reached the child %d times", op, n)
		}
	}
}

// TestUnlinkedAnonymous: after an unlink through the translator, pages read
// ahead for anonymous reads are not served: the GFID is stale. A stream of
// an open handle survives, since the open file stays readable.
func TestUnlinkedAnonymous(t *testing.T) {
	for _, open := range []bool{false, true} {
		for _, rename := range []bool{false, true} {
			e := newEnv(t, Config{})
			data := pattern(16*ps, 8)
			g := e.file(t, "f", data)
			var fh vfs.Handle
			if open {
				fh, _ = e.ra.Open(bg, g, syscall.O_RDONLY)
			}
			for off := 0; off < 4*ps; off += ps {
				read(t, e.ra, bg, g, fh, off, ps)
			}
			e.settle(t)
			if rename {
				e.file(t, "other", nil)
				if errno := e.ra.Rename(bg, vfs.RootGFID, "other", vfs.RootGFID, "f", 0); errno != 0 {
					t.Fatal(errno)
				}
			} else if errno := e.ra.Unlink(bg, vfs.RootGFID, "f"); errno != 0 {
				t.Fatal(errno)
			}
			n, errno := e.ra.Read(bg, g, fh, make([]byte, ps), 4*ps)
			switch {
			case open && (errno != 0 || n != ps):
				t.Errorf("rename %v: read through the open handle: %d %v", rename, n, errno)
			case !open && errno != syscall.ESTALE && errno != syscall.ENOENT:
				t.Errorf("rename %v: anonymous read of the removed file: %v", rename, errno)
			}
			if open {
				e.ra.Release(bg, g, fh)
			}
		}
	}
}

package writebehind

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

var bg = context.Background()

type env struct {
	fs   *memfs.FS
	fake *vfsfake.Fake // between write-behind and memfs, counting calls
	wb   *WriteBehind
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	fs := memfs.New(memfs.Config{})
	fake := vfsfake.New(fs)
	wb, err := New(cfg, fake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		wb.Close()
		if s := wb.Stats(); s.Files != 0 || s.Held != 0 {
			t.Errorf("after Close: %d files with state, %d bytes held", s.Files, s.Held)
		}
	})
	return &env{fs: fs, fake: fake, wb: wb}
}

// create makes an empty file through write-behind and returns it open
// with flags.
func (e *env) create(t *testing.T, name string, flags uint32) (vfs.GFID, vfs.Handle) {
	t.Helper()
	a, fh, errno := e.wb.Create(bg, vfs.RootGFID, name, &vfs.CreateIn{Mode: 0o644, Flags: flags})
	if errno != 0 {
		t.Fatal(errno)
	}
	return a.GFID, fh
}

// content reads a file straight from memfs, below write-behind.
func (e *env) content(t *testing.T, g vfs.GFID) []byte {
	t.Helper()
	a, errno := e.fs.GetAttr(bg, g, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	buf := make([]byte, a.Size)
	n, errno := e.fs.Read(bg, g, 0, buf, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	return buf[:n]
}

func write(t *testing.T, x vfs.Translator, g vfs.GFID, fh vfs.Handle, data []byte, off int64) {
	t.Helper()
	n, errno := x.Write(bg, g, fh, data, off)
	if errno != 0 || n != len(data) {
		t.Fatalf("write at %d: %d %v", off, n, errno)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7+i/4096)
	}
	return b
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// gate blocks the child's writes until opened.
type gate struct {
	mu     sync.Mutex
	ch     chan struct{}
	waits  int
	closed bool
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) hook(ctx context.Context, c *vfsfake.Call) syscall.Errno {
	g.mu.Lock()
	g.waits++
	g.mu.Unlock()
	<-g.ch
	return 0
}

func (g *gate) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waits
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		close(g.ch)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"zero", Config{}, false},
		{"defaults", DefaultConfig(), false},
		{"aggregate above window", Config{CacheSize: 64 << 10, AggregateSize: 128 << 10}, true},
		{"negative", Config{CacheSize: -1}, true},
		{"total below window", Config{CacheSize: 4 << 20, TotalSize: 1 << 20}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, memfs.New(memfs.Config{}))
			if (err != nil) != tc.wantErr {
				t.Fatalf("New: %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// TestAggregation: 256 sequential 4 KiB writes reach the child as 128 KiB
// writes, and the content is intact.
func TestAggregation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TricklingWrites = false // deterministic: only full aggregates leave
	cfg.FreshHold = -1          // even when the race detector is slow
	e := newEnv(t, cfg)
	g, fh := e.create(t, "f", syscall.O_WRONLY)
	data := pattern(1<<20, 1)
	for off := 0; off < len(data); off += 4096 {
		write(t, e.wb, g, fh, data[off:off+4096], int64(off))
	}
	if errno := e.wb.Flush(bg, g, fh); errno != 0 {
		t.Fatal(errno)
	}
	e.wb.Release(bg, g, fh)
	ws := e.fake.CallsOf(vfsfake.Write)
	if len(ws) != 8 {
		t.Errorf("child got %d writes, want 8", len(ws))
	}
	for _, c := range ws {
		if c.Size != DefaultAggregateSize {
			t.Errorf("child write of %d bytes at %d", c.Size, c.Off)
		}
	}
	if !bytes.Equal(e.content(t, g), data) {
		t.Error("content differs")
	}
	s := e.wb.Stats()
	if s.Writes != 256 || s.Joined != 248 || s.Held != 0 || s.Files != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestTrickling: with trickling-writes a write leaves as soon as nothing
// else is in flight, and writes made while one is in flight are joined.
func TestTrickling(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	gt := newGate()
	e.fake.SetHook(vfsfake.Write, gt.hook)
	g, fh := e.create(t, "f", syscall.O_WRONLY)
	write(t, e.wb, g, fh, pattern(4096, 1), 0)
	eventually(t, "the first write to leave", func() bool { return gt.waiting() == 1 })
	for i := 1; i < 20; i++ {
		write(t, e.wb, g, fh, pattern(4096, byte(i)), int64(i*4096))
	}
	if n := e.fake.Count(vfsfake.Write); n != 1 {
		t.Fatalf("%d child writes while the first is in flight, want 1", n)
	}
	gt.open()
	if errno := e.wb.Fsync(bg, g, fh, false); errno != 0 {
		t.Fatal(errno)
	}
	ws := e.fake.CallsOf(vfsfake.Write)
	if len(ws) != 2 || ws[1].Off != 4096 || ws[1].Size != 19*4096 {
		t.Errorf("child writes %d, second %+v", len(ws), ws[len(ws)-1])
	}
	e.wb.Release(bg, g, fh)
}

// TestAcknowledgedBeforeChild: writes return while the child is stuck.
func TestAcknowledgedBeforeChild(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	gt := newGate()
	defer gt.open()
	e.fake.SetHook(vfsfake.Write, gt.hook)
	g, fh := e.create(t, "f", syscall.O_WRONLY)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 64; i++ {
			write(t, e.wb, g, fh, pattern(4096, byte(i)), int64(i*4096))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("writes waited for a stuck child")
	}
	gt.open()
	e.wb.Release(bg, g, fh)
}

// TestReadYourWrites: held writes are seen by reads through any handle,
// by GetAttr, Lookup and readdirplus.
func TestReadYourWrites(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TricklingWrites = false
	e := newEnv(t, cfg)
	g, fh := e.create(t, "f", syscall.O_RDWR)
	write(t, e.wb, g, fh, []byte("hello"), 0)

	// A read past every held write needs nothing.
	buf := make([]byte, 16)
	if n, errno := e.wb.Read(bg, g, fh, buf, 100); n != 0 || errno != 0 {
		t.Errorf("read past EOF %d %v", n, errno)
	}
	if n := e.fake.Count(vfsfake.Write); n != 0 {
		t.Fatalf("a read past the held write sent %d writes", n)
	}
	ro, errno := e.wb.Open(bg, g, syscall.O_RDONLY)
	if errno != 0 {
		t.Fatal(errno)
	}
	n, errno := e.wb.Read(bg, g, ro, buf, 0)
	if errno != 0 || string(buf[:n]) != "hello" {
		t.Errorf("read through another handle %q %v", buf[:n], errno)
	}

	// A write beyond EOF makes a hole that a read before it must see.
	write(t, e.wb, g, fh, []byte("tail"), 1000)
	n, errno = e.wb.Read(bg, g, 0, buf, 995)
	if errno != 0 || !bytes.Equal(buf[:n], []byte("\x00\x00\x00\x00\x00tail")) {
		t.Errorf("anonymous read across the hole %q %v", buf[:n], errno)
	}

	write(t, e.wb, g, fh, []byte("more"), 2000)
	if a, errno := e.wb.GetAttr(bg, g, 0); errno != 0 || a.Size != 2004 {
		t.Errorf("getattr size %d %v, want 2004", a.Size, errno)
	}
	write(t, e.wb, g, fh, []byte("x"), 3000)
	if a, errno := e.wb.Lookup(bg, vfs.RootGFID, "f"); errno != 0 || a.Size != 3001 {
		t.Errorf("lookup size %d %v, want 3001", a.Size, errno)
	}
	write(t, e.wb, g, fh, []byte("y"), 4000)
	ents, _, errno := e.wb.ReadDir(bg, vfs.RootGFID, 0, 0, 0, true)
	if errno != 0 || len(ents) != 1 || ents[0].Attr.Size != 4001 {
		t.Errorf("readdirplus %+v %v", ents, errno)
	}
	write(t, e.wb, g, fh, []byte("z"), 5000)
	if _, errno := e.wb.SetAttr(bg, g, 0, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 10}); errno != 0 {
		t.Fatal(errno)
	}
	e.wb.Release(bg, g, ro)
	e.wb.Release(bg, g, fh)
	if got := string(e.content(t, g)); got != "hello\x00\x00\x00\x00\x00" {
		t.Errorf("truncate did not follow the held write: %q", got)
	}
}

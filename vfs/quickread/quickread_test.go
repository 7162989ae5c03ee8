package quickread

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfsfake"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// looker gives a plain translator LookupContent (lookup, then read), as
// replicate does in one round trip.
type looker struct{ vfs.Translator }

func (l looker) LookupContent(ctx context.Context, parent vfs.GFID, name string, readMax int64) (vfs.Attr, []byte, bool, syscall.Errno) {
	a, e := l.Lookup(ctx, parent, name)
	if e != 0 || !a.IsRegular() || int64(a.Size) > readMax {
		return a, nil, false, e
	}
	buf := make([]byte, a.Size)
	if n, e := l.Read(ctx, a.GFID, 0, buf, 0); e != 0 || n != len(buf) {
		return a, nil, false, 0
	}
	return a, buf, true, 0
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestConformance: with content trusted for an hour, a single client sees
// no difference (its own changes drop what it cached).
func TestConformance(t *testing.T) {
	vfstest.Run(t, func(t *testing.T) vfs.Translator {
		cfg := DefaultConfig()
		cfg.CacheTimeout = time.Hour
		return New(cfg, looker{locks.New(memfs.New(memfs.Config{}))})
	})
}

func TestServedFromLookup(t *testing.T) {
	ctx := context.Background()
	fake := vfsfake.New(memfs.New(memfs.Config{}))
	clk := &clock{t: time.Unix(1e9, 0)}
	cfg := DefaultConfig()
	cfg.Clock = clk.now
	q := New(cfg, looker{fake})
	a, fh, e := q.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	q.Write(ctx, a.GFID, fh, []byte("hello"), 0)
	q.Release(ctx, a.GFID, fh)

	if _, e := q.Lookup(ctx, vfs.RootGFID, "f"); e != 0 {
		t.Fatal(e)
	}
	reads := fake.Count(vfsfake.Read)
	buf := make([]byte, 16)
	if n, e := q.Read(ctx, a.GFID, 0, buf, 0); e != 0 || string(buf[:n]) != "hello" {
		t.Fatalf("read %q %v", buf[:n], e)
	}
	if n, e := q.Read(ctx, a.GFID, 0, buf, 3); e != 0 || string(buf[:n]) != "lo" {
		t.Fatalf("read at 3: %q %v", buf[:n], e)
	}
	if d := fake.Count(vfsfake.Read) - reads; d != 0 {
		t.Errorf("%d reads reached the child, want 0", d)
	}
	// A write of this client drops the content.
	if _, e := q.Write(ctx, a.GFID, 0, []byte("HE"), 0); e != 0 {
		t.Fatal(e)
	}
	if n, e := q.Read(ctx, a.GFID, 0, buf, 0); e != 0 || string(buf[:n]) != "HEllo" {
		t.Fatalf("read after write: %q %v", buf[:n], e)
	}
	// Another client's change is seen once the content expires.
	q.Lookup(ctx, vfs.RootGFID, "f")
	fake.Write(ctx, a.GFID, 0, []byte("xy"), 0)
	if n, _ := q.Read(ctx, a.GFID, 0, buf, 0); string(buf[:n]) != "HEllo" {
		t.Errorf("within cache-timeout: %q, want the cached content", buf[:n])
	}
	clk.add(time.Second)
	if n, _ := q.Read(ctx, a.GFID, 0, buf, 0); string(buf[:n]) != "xyllo" {
		t.Errorf("after cache-timeout: %q", buf[:n])
	}
	// Truncation through SetAttr drops it too.
	q.Lookup(ctx, vfs.RootGFID, "f")
	if _, e := q.SetAttr(ctx, a.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 1}); e != 0 {
		t.Fatal(e)
	}
	if n, _ := q.Read(ctx, a.GFID, 0, buf, 0); string(buf[:n]) != "x" {
		t.Errorf("after truncate: %q", buf[:n])
	}
}

// TestUnlinkedIsStale: content cached by a lookup does not outlive an
// unlink or a rename over its name: the GFID turns stale for reads.
func TestUnlinkedIsStale(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"unlink", "rename-over"} {
		q := New(DefaultConfig(), looker{memfs.New(memfs.Config{})})
		a, fh, e := q.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		if e != 0 {
			t.Fatal(e)
		}
		q.Write(ctx, a.GFID, fh, []byte("x"), 0)
		q.Release(ctx, a.GFID, fh)
		q.Lookup(ctx, vfs.RootGFID, "f")
		if how == "unlink" {
			e = q.Unlink(ctx, vfs.RootGFID, "f")
		} else {
			b, bfh, _ := q.Create(ctx, vfs.RootGFID, "g", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
			q.Release(ctx, b.GFID, bfh)
			e = q.Rename(ctx, vfs.RootGFID, "g", vfs.RootGFID, "f", 0)
		}
		if e != 0 {
			t.Fatal(e)
		}
		if n, e := q.Read(ctx, a.GFID, 0, make([]byte, 4), 0); e != syscall.ESTALE && e != syscall.ENOENT {
			t.Errorf("%s: read of the removed file: %d bytes, %v; want ESTALE", how, n, e)
		}
	}
}

// TestCacheSize: content beyond cache-size is evicted, least recently used
// first, and files over max-file-size are not fetched.
func TestCacheSize(t *testing.T) {
	ctx := context.Background()
	fs := memfs.New(memfs.Config{})
	cfg := DefaultConfig()
	cfg.CacheSize = 10
	cfg.MaxFileSize = 6
	q := New(cfg, looker{fs})
	for _, f := range []struct{ name, data string }{{"a", "aaaa"}, {"b", "bbbb"}, {"c", "cccc"}, {"big", "0123456789"}} {
		a, fh, e := q.Create(ctx, vfs.RootGFID, f.name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		if e != 0 {
			t.Fatal(e)
		}
		q.Write(ctx, a.GFID, fh, []byte(f.data), 0)
		q.Release(ctx, a.GFID, fh)
		q.Lookup(ctx, vfs.RootGFID, f.name)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bytes > cfg.CacheSize || q.lru.Len() != 2 {
		t.Errorf("%d bytes in %d entries, limit %d", q.bytes, q.lru.Len(), cfg.CacheSize)
	}
}

package posix

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

// dirtyOp is an XattrOp adding d to the dirty data counter of g.
func dirtyOp(t *testing.T, p *Posix, g vfs.GFID, d int32) {
	t.Helper()
	v := make([]byte, 12)
	binary.BigEndian.PutUint32(v, uint32(d))
	if _, e := p.XattrOp(context.Background(), g, vfs.XattrAddArray32, map[string][]byte{XattrDirty: v}); e != 0 {
		t.Error("xattrop:", e)
	}
}

// While a file is open, XattrOp and GetAttr by GFID borrow the open
// handle's descriptor (no resolve of their own), and they act on the same
// inode as a resolve would: the counter, the dirty index and the
// attributes read back the same through the handle and after its release.
func TestResolveOpenLendsHandle(t *testing.T) {
	p, _ := newTestPosix(t)
	ctx := context.Background()
	a, fh, e := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
	if e != 0 {
		t.Fatal(e)
	}
	o, e := p.resolveOpen(a.GFID)
	if e != 0 {
		t.Fatal(e)
	}
	if o.lent == nil {
		t.Fatal("resolveOpen of an open file did not lend its handle")
	}
	o.close()

	dirtyOp(t, p, a.GFID, 1)
	if gs, err := p.DirtyGFIDs(); err != nil || !slices.Contains(gs, a.GFID) {
		t.Fatalf("dirty index after the pre-op through the handle: %v %v", gs, err)
	}
	if _, e := p.Write(ctx, a.GFID, fh, []byte("data"), 0); e != 0 {
		t.Fatal(e)
	}
	dirtyOp(t, p, a.GFID, -1)
	if gs, _ := p.DirtyGFIDs(); slices.Contains(gs, a.GFID) {
		t.Fatal("still in the dirty index after the post-op through the handle")
	}
	open, e := p.GetAttr(ctx, a.GFID, 0)
	if e != 0 || open.Size != 4 {
		t.Fatalf("GetAttr while open: %+v %v", open, e)
	}
	if e := p.Release(ctx, a.GFID, fh); e != 0 {
		t.Fatal(e)
	}
	o, e = p.resolveOpen(a.GFID)
	if e != 0 {
		t.Fatal(e)
	}
	if o.lent != nil {
		t.Fatal("resolveOpen lent a released handle")
	}
	o.close()
	closed, e := p.GetAttr(ctx, a.GFID, 0)
	if e != 0 || closed != open {
		t.Fatalf("GetAttr after release %+v %v, while open %+v", closed, e, open)
	}
	v, e := p.GetXattr(ctx, a.GFID, XattrDirty)
	if e != 0 || binary.BigEndian.Uint32(v) != 0 {
		t.Fatalf("dirty counter %x %v, want 0", v, e)
	}
}

// XattrOps through a lent handle race with the handle's release (which
// closes the descriptor) without deadlock and without losing an update:
// run with -race.
func TestResolveOpenRacesRelease(t *testing.T) {
	p, _ := newTestPosix(t)
	ctx := context.Background()
	a, fh, e := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	const rounds, workers = 200, 4
	for r := range rounds {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() { dirtyOp(t, p, a.GFID, 1) })
		}
		wg.Go(func() {
			if e := p.Release(ctx, a.GFID, fh); e != 0 {
				t.Error(e)
			}
		})
		wg.Wait()
		if fh, e = p.Open(ctx, a.GFID, syscall.O_RDWR); e != 0 {
			t.Fatalf("round %d: reopen: %v", r, e)
		}
	}
	p.Release(ctx, a.GFID, fh)
	v, e := p.GetXattr(ctx, a.GFID, XattrDirty)
	if e != 0 || binary.BigEndian.Uint32(v) != rounds*workers {
		t.Fatalf("dirty counter %x %v, want %d", v, e, rounds*workers)
	}
}

// A directory descriptor lent by the cache stays open and right while it
// is lent, even when its entry is dropped or evicted meanwhile; the last
// release closes it.
func TestDirCacheLends(t *testing.T) {
	dir := t.TempDir()
	c := newDirCache(2)
	open := func() int {
		fd, err := sys.Open(dir, sys.O_PATH|sys.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	ino := func(fd int) (uint64, error) {
		var st sys.Stat_t
		err := sys.Fstat(fd, &st)
		return st.Ino, err
	}
	probe := open()
	want, _ := ino(probe)
	sys.Close(probe)
	gs := make([]vfs.GFID, 4)
	for i := range gs {
		gs[i] = vfs.NewGFID()
		fd := open()
		c.put(gs[i], fd)
		sys.Close(fd)
	}
	// Two were evicted by the later puts.
	for i, g := range gs {
		if _, ok := c.get(g); ok != (i >= 2) {
			t.Fatalf("entry %d cached: %v", i, ok)
		}
	}
	// gs[2] and gs[3] are now lent once each (the gets above). Drop one,
	// evict the other: both descriptors must still be the directory's.
	e2 := c.m[gs[2]].Value.(*dirEntry)
	e3 := c.m[gs[3]].Value.(*dirEntry)
	c.drop(gs[2])
	for range 2 {
		g := vfs.NewGFID()
		fd := open()
		c.put(g, fd)
		sys.Close(fd)
	}
	for _, e := range []*dirEntry{e2, e3} {
		if !e.dead {
			t.Fatal("entry left the cache but is not marked dead")
		}
		if got, err := ino(e.fd); err != nil || got != want {
			t.Fatalf("lent descriptor after it left the cache: inode %d, %v; want %d", got, err, want)
		}
	}
	for _, e := range []*dirEntry{e2, e3} {
		fd := e.fd
		c.release(e)
		// Closed now: the number is free or reused by something else.
		if got, err := ino(fd); err == nil && got == want {
			t.Fatalf("descriptor %d still the directory's after the last release", fd)
		}
	}
}

package replicate

import (
	"bytes"
	"context"
	"math/rand"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// readCounts counts the Read calls each brick serves.
func readCounts(e *env) []*atomic.Int64 {
	out := make([]*atomic.Int64, len(e.bricks))
	for i, b := range e.bricks {
		n := new(atomic.Int64)
		out[i] = n
		b.setHook(func(ctx context.Context, op string) syscall.Errno {
			if op == "Read" {
				n.Add(1)
			}
			return 0
		})
	}
	return out
}

func loads(ns []*atomic.Int64) []int64 {
	out := make([]int64, len(ns))
	for i, n := range ns {
		out[i] = n.Swap(0)
	}
	return out
}

// TestSplitRead shows a large read served by both good copies at once,
// with the right bytes, the end of the file where it falls inside a part,
// and reads staying on one brick when the other's copy is blamed or the
// brick is gone.
func TestSplitRead(t *testing.T) {
	cfg := noBackgroundHeal()
	cfg.SplitReads = true
	e := newEnv(t, 2, cfg)
	data := make([]byte, 3<<20+100<<10) // not a multiple of a part
	rand.New(rand.NewSource(1)).Read(data)
	g := e.writeFile(e.r, vfs.RootGFID, "big", data)
	reads := readCounts(e)

	fh, errno := e.r.Open(e.ctx, g, syscall.O_RDONLY)
	e.must("open", errno)
	read := func(size int, off int64) []byte {
		t.Helper()
		buf := make([]byte, size)
		n, errno := e.r.Read(e.ctx, g, fh, buf, off)
		e.must("read", errno)
		return buf[:n]
	}
	for _, c := range []struct {
		size int
		off  int64
	}{
		{1 << 20, 0},                    // the start: not split
		{1 << 20, 1<<20 + 4096},         // unaligned offset
		{1<<20 + 12345, 1 << 20},        // odd length
		{1 << 20, 3 << 20},              // the end inside the first part
		{1 << 20, 3<<20 - 300<<10},      // the end inside the second part
		{1 << 20, int64(len(data))},     // at the end
		{1 << 20, int64(len(data)) + 1}, // past the end
	} {
		got := read(c.size, c.off)
		lo := min(int(c.off), len(data))
		want := data[lo:min(lo+c.size, len(data))]
		if !bytes.Equal(got, want) {
			t.Fatalf("read %d at %d: %d bytes, want %d (equal prefix %v)", c.size, c.off, len(got), len(want), bytes.HasPrefix(want, got))
		}
	}
	if l := loads(reads); l[0] == 0 || l[1] == 0 {
		t.Errorf("reads per brick %v: a large read should use both copies", l)
	}
	// A small read, and the first large read of a file (which may be a
	// small file), go to one brick.
	read(64<<10, 1<<20)
	if l := loads(reads); l[0]+l[1] != 1 {
		t.Errorf("reads per brick %v for one small read", l)
	}
	read(1<<20, 0)
	if l := loads(reads); l[0]+l[1] != 1 {
		t.Errorf("reads per brick %v for a first 1 MiB read", l)
	}
	e.must("release", e.r.Release(e.ctx, g, fh))

	// Brick 1 misses a write: its copy is blamed and serves no part.
	e.down(1)
	e.must("write with b1 down", e.writeAt(e.r, g, []byte("NEW"), 600<<10))
	e.r.FlushTransactions(e.ctx)
	e.bricks[1].setDown(false)
	copy(data[600<<10:], "NEW")
	fh, errno = e.r.Open(e.ctx, g, syscall.O_RDONLY)
	e.must("open", errno)
	loads(reads)
	if got := read(1<<20, 0); !bytes.Equal(got, data[:1<<20]) {
		t.Fatal("a read returned the blamed copy's bytes")
	}
	if got := read(1<<20, 1<<20); !bytes.Equal(got, data[1<<20:2<<20]) {
		t.Fatal("a split read returned wrong bytes")
	}
	if l := loads(reads); l[1] != 0 {
		t.Errorf("reads per brick %v: the blamed copy was read", l)
	}
	e.must("release", e.r.Release(e.ctx, g, fh))
	st, err := e.r.HealIndex(e.ctx)
	if err != nil || st.Pending != 0 {
		t.Fatalf("heal: %+v %v", st, err)
	}

	// Brick 0 goes away without replicate knowing yet: the read still
	// returns the whole range, from brick 1.
	fh, errno = e.r.Open(e.ctx, g, syscall.O_RDONLY)
	e.must("open", errno)
	e.bricks[0].setDown(true)
	if got := read(1<<20, 1<<20); !bytes.Equal(got, data[1<<20:2<<20]) {
		t.Fatal("read with brick 0 gone returned the wrong bytes")
	}
	e.bricks[0].setDown(false)
	e.must("release", e.r.Release(e.ctx, g, fh))
}

// TestSplitReadsOff shows the default: every read, large or not, goes to
// the one read child, as in GlusterFS.
func TestSplitReadsOff(t *testing.T) {
	e := newEnv(t, 2, noBackgroundHeal())
	data := make([]byte, 4<<20)
	rand.New(rand.NewSource(2)).Read(data)
	g := e.writeFile(e.r, vfs.RootGFID, "big", data)
	reads := readCounts(e)
	fh, errno := e.r.Open(e.ctx, g, syscall.O_RDONLY)
	e.must("open", errno)
	buf := make([]byte, 1<<20)
	for off := int64(0); off < int64(len(data)); off += int64(len(buf)) {
		n, errno := e.r.Read(e.ctx, g, fh, buf, off)
		e.must("read", errno)
		if !bytes.Equal(buf[:n], data[off:off+int64(len(buf))]) {
			t.Fatalf("read at %d: wrong bytes", off)
		}
	}
	e.must("release", e.r.Release(e.ctx, g, fh))
	if l := loads(reads); l[0]+l[1] != 4 || (l[0] != 0 && l[1] != 0) {
		t.Errorf("reads per brick %v: want all 4 on one brick", l)
	}
}

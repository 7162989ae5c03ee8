package writebehind

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// heldWrites records where the data of each Write lies and holds the
// writes until its gate opens.
type heldWrites struct {
	vfs.Translator
	gate chan struct{}
	mu   sync.Mutex
	at   []*byte
}

func (h *heldWrites) Write(ctx context.Context, g vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	h.mu.Lock()
	h.at = append(h.at, unsafe.SliceData(data))
	h.mu.Unlock()
	<-h.gate
	return h.Translator.Write(ctx, g, fh, data, off)
}

// heldFile returns write-behind over a memfs whose writes wait at
// child's gate, and a file created through it (closed with the test).
func heldFile(t *testing.T, cfg Config) (*memfs.FS, *heldWrites, *WriteBehind, vfs.GFID, vfs.Handle) {
	t.Helper()
	fs := memfs.New(memfs.Config{})
	child := &heldWrites{Translator: fs, gate: make(chan struct{})}
	wb, err := New(cfg, child)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wb.Close() })
	a, fh, errno := wb.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
	if errno != 0 {
		t.Fatal(errno)
	}
	return fs, child, wb, a.GFID, fh
}

// TestDataGiftKept: a write of aggregate-size or more whose buffer is
// offered (vfs.DataGift) is held in that buffer, not a copy, and the
// buffer is given back only after the child wrote it; a smaller write,
// which may be joined, is copied and its gift left alone.
func TestDataGiftKept(t *testing.T) {
	fs, child, wb, g, fh := heldFile(t, DefaultConfig())

	big := pattern(256<<10, 1)
	var released atomic.Int32
	ctx, gift := vfs.OfferData(bg, big, func() { released.Add(1) })
	if n, errno := wb.Write(ctx, g, fh, big, 0); errno != 0 || n != len(big) {
		t.Fatalf("write: %d %v", n, errno)
	}
	if !gift.Taken() || wb.Stats().Kept != 1 {
		t.Fatalf("the offered buffer was not kept: taken %v, stats %+v", gift.Taken(), wb.Stats())
	}

	small := pattern(4096, 2)
	sctx, sgift := vfs.OfferData(bg, small, func() { t.Error("a small write's buffer was released") })
	write(t, wb, g, fh, small, 0) // no gift in this context
	if n, errno := wb.Write(sctx, g, fh, small, int64(len(big))); errno != 0 || n != len(small) {
		t.Fatalf("small write: %d %v", n, errno)
	}
	if sgift.Taken() || wb.Stats().Kept != 1 {
		t.Fatalf("a write below aggregate-size took its buffer: taken %v, stats %+v", sgift.Taken(), wb.Stats())
	}
	clear(small) // the caller may reuse a buffer that was not taken

	eventually(t, "the first write at the child", func() bool {
		child.mu.Lock()
		defer child.mu.Unlock()
		return len(child.at) > 0
	})
	if released.Load() != 0 {
		t.Fatal("buffer given back before the child wrote it")
	}
	child.mu.Lock()
	first := child.at[0]
	child.mu.Unlock()
	if first != unsafe.SliceData(big) {
		t.Fatal("the child did not get the offered buffer")
	}
	close(child.gate)
	if errno := wb.Flush(bg, g, fh); errno != 0 {
		t.Fatal(errno)
	}
	if released.Load() != 1 {
		t.Fatalf("buffer given back %d times after the write, want 1", released.Load())
	}
	want := append(append([]byte(nil), big...), pattern(4096, 2)...)
	copy(want, pattern(4096, 2))
	got := make([]byte, len(want)+1)
	n, errno := fs.Read(bg, g, 0, got, 0)
	if errno != 0 || !bytes.Equal(got[:n], want) {
		t.Fatalf("file content differs (%d bytes, %v)", n, errno)
	}
	wb.Release(bg, g, fh)
}

// TestLargeBuffersKept: the copy of a large write goes into a buffer kept
// from an earlier large write once that one is done, never into one a
// queued or in-flight write still holds, and what the child gets is
// each write's own data.
func TestLargeBuffersKept(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CacheSize = 4 << 20
	fs, child, wb, g, fh := heldFile(t, cfg)
	const mib = 1 << 20
	buf := make([]byte, mib) // the caller's one buffer, reused as FUSE does
	var want []byte
	// Three writes held at the child's gate: three different buffers.
	for k := range 3 {
		copy(buf, pattern(mib, byte(k+1)))
		write(t, wb, g, fh, buf, int64(k)*mib)
		want = append(want, buf...)
	}
	eventually(t, "the first write at the child", func() bool {
		child.mu.Lock()
		defer child.mu.Unlock()
		return len(child.at) > 0
	})
	close(child.gate)
	if errno := wb.Flush(bg, g, fh); errno != 0 {
		t.Fatal(errno)
	}
	child.mu.Lock()
	held := map[*byte]bool{}
	for _, p := range child.at {
		held[p] = true
	}
	child.mu.Unlock()
	if len(held) != 3 {
		t.Fatalf("three writes in flight shared buffers: %d distinct", len(held))
	}
	// The next write, all of those done, reuses one of them.
	copy(buf, pattern(mib, 9))
	write(t, wb, g, fh, buf, 3*mib)
	want = append(want, buf...)
	if errno := wb.Flush(bg, g, fh); errno != 0 {
		t.Fatal(errno)
	}
	child.mu.Lock()
	last := child.at[len(child.at)-1]
	child.mu.Unlock()
	if !held[last] {
		t.Fatal("a large write after the earlier ones were done got a fresh buffer")
	}
	got := make([]byte, len(want)+1)
	n, errno := fs.Read(bg, g, 0, got, 0)
	if errno != 0 || !bytes.Equal(got[:n], want) {
		t.Fatalf("file content differs (%d of %d bytes, %v)", n, len(want), errno)
	}
	wb.Release(bg, g, fh)
}

package posix

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"

	"github.com/cairnfs/cairn/vfs"
)

// alignedBlock returns n bytes of pattern seed at a 4 KiB aligned address.
func alignedBlock(t *testing.T, n int, seed byte) []byte {
	t.Helper()
	b := make([]byte, n+directAlign)
	skip := int((directAlign - uintptr(unsafe.Pointer(&b[0]))%directAlign) % directAlign)
	b = b[skip : skip+n]
	for i := range b {
		b[i] = seed + byte(i/4096)
	}
	return b
}

// TestDirectWrites: large aligned writes through a handle go through its
// O_DIRECT descriptor, and every reader (buffered reads of the brick, the
// file on disk) sees them, mixed with small buffered writes on both sides;
// unaligned and O_APPEND writes take the buffered path and are right too.
func TestDirectWrites(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("storage/posix needs root (trusted.* xattrs); skipping")
	}
	dir := filepath.Join(t.TempDir(), "export")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Directory: dir, DirectWriteMin: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	a, fh, e := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	want := make([]byte, 0, 3<<20)
	write := func(data []byte, off int64) {
		t.Helper()
		if n, e := p.Write(ctx, a.GFID, fh, data, off); e != 0 || n != len(data) {
			t.Fatalf("write %d at %d: %d %v", len(data), off, n, e)
		}
		if end := int(off) + len(data); end > len(want) {
			want = want[:end]
		}
		copy(want[off:], data)
	}
	write([]byte("small, buffered"), 0)            // page cache
	write(alignedBlock(t, 1<<20, 1), 0)            // direct, over the cached page
	write([]byte("in the middle"), 4096+7)         // buffered, inside the direct range
	write(alignedBlock(t, 1<<20, 50), 1<<20)       // direct, extends the file
	write(alignedBlock(t, 128<<10, 90)[1:], 2<<20) // unaligned length and address: buffered
	p.mu.Lock()
	h := p.handles[fh]
	p.mu.Unlock()
	if h.direct < 0 {
		t.Fatalf("no O_DIRECT descriptor after aligned 1 MiB writes (direct=%d)", h.direct)
	}
	got := make([]byte, len(want)+10)
	n, e := p.Read(ctx, a.GFID, fh, got, 0)
	if e != 0 || n != len(want) || !bytes.Equal(got[:n], want) {
		t.Fatalf("read through the brick: %d bytes %v, equal %v", n, e, bytes.Equal(got[:min(n, len(want))], want[:min(n, len(want))]))
	}
	disk, err := os.ReadFile(filepath.Join(dir, "f"))
	if err != nil || !bytes.Equal(disk, want) {
		t.Fatalf("file on disk differs (%d bytes, %v)", len(disk), err)
	}
	if e := p.Release(ctx, a.GFID, fh); e != 0 {
		t.Fatal(e)
	}

	// O_APPEND: the offset is not the file's end, so never direct.
	fh, e = p.Open(ctx, a.GFID, syscall.O_WRONLY|syscall.O_APPEND)
	if e != 0 {
		t.Fatal(e)
	}
	blk := alignedBlock(t, 64<<10, 7)
	if n, e := p.Write(ctx, a.GFID, fh, blk, 0); e != 0 || n != len(blk) {
		t.Fatalf("append: %d %v", n, e)
	}
	want = append(want, blk...)
	p.Release(ctx, a.GFID, fh)
	disk, _ = os.ReadFile(filepath.Join(dir, "f"))
	if !bytes.Equal(disk, want) {
		t.Fatalf("after O_APPEND write: %d bytes, want %d", len(disk), len(want))
	}
}

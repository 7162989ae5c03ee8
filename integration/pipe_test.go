package integration

import (
	"bytes"
	"context"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/vfs"
)

// TestPipeReadsDefaultStack: through the whole default client stack over
// two brick processes (the volume the NFS gateway serves), a file's bytes
// are moved into a pipe from a brick's file (every layer forwards
// ReadToPipe), and what write-behind still holds is written first: the
// pipe gets the data just written, never the brick's older copy.
func TestPipeReadsDefaultStack(t *testing.T) {
	b1 := harness.StartBrick(t, harness.BrickOptions{})
	b2 := harness.StartBrick(t, harness.BrickOptions{})
	top := buildClient(t, defaultClientVolfile(b1, b2))
	ctx := vfs.WithCaller(context.Background(), &vfs.Caller{})
	data := bytes.Repeat([]byte("abcdefghijklmnop"), 3<<16) // 3 MiB
	a, fh, e := top.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{GFID: vfs.NewGFID(), Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	g := a.GFID
	if n, e := top.Write(ctx, g, fh, data, 0); e != 0 || n != len(data) {
		t.Fatalf("write: %d %v", n, e)
	}
	if e := top.Flush(ctx, g, fh); e != 0 {
		t.Fatal(e)
	}
	// Reads fetch the local descriptor (the second read of a file).
	buf := make([]byte, 1<<20)
	for i := range 3 {
		if n, e := top.Read(ctx, g, fh, buf, int64(i)<<20); e != 0 || !bytes.Equal(buf[:n], data[i<<20:(i+1)<<20]) {
			t.Fatalf("read %d: %d %v", i, n, e)
		}
	}
	got, e := harness.ReadToPipe(t, ctx, top, g, fh, 1<<20, 1<<20)
	if e != 0 || !bytes.Equal(got, data[1<<20:2<<20]) {
		t.Fatalf("moved into a pipe: %v, %d bytes (equal %v)", e, len(got), bytes.Equal(got, data[1<<20:2<<20]))
	}

	// Held by write-behind (not yet on the bricks), then moved.
	fresh := bytes.Repeat([]byte("Z"), 64<<10)
	if n, e := top.Write(ctx, g, fh, fresh, 1<<20+100); e != 0 || n != len(fresh) {
		t.Fatalf("second write: %d %v", n, e)
	}
	copy(data[1<<20+100:], fresh)
	got, e = harness.ReadToPipe(t, ctx, top, g, fh, 1<<20, 1<<20)
	if e != 0 || !bytes.Equal(got, data[1<<20:2<<20]) {
		t.Fatalf("moved after a held write: %v, %d bytes (equal %v, first difference at %d)", e, len(got), bytes.Equal(got, data[1<<20:2<<20]), firstDiff(got, data[1<<20:2<<20]))
	}
	if e := top.Release(ctx, g, fh); e != 0 {
		t.Fatal(e)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

package client

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"golang.org/x/sys/unix"
)

// testPipe is a pipe with room for size bytes.
type testPipe struct{ r, w int }

func newTestPipe(t *testing.T, size int) *testPipe {
	t.Helper()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	p := &testPipe{r: fds[0], w: fds[1]}
	t.Cleanup(func() { unix.Close(p.r); unix.Close(p.w) })
	if got, err := unix.FcntlInt(uintptr(p.w), unix.F_SETPIPE_SZ, size); err != nil || got < size {
		t.Fatalf("pipe of %d bytes: %d, %v", size, got, err)
	}
	return p
}

// drain returns what the pipe holds.
func (p *testPipe) drain(t *testing.T) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		fds := []unix.PollFd{{Fd: int32(p.r), Events: unix.POLLIN}}
		if k, err := unix.Poll(fds, 0); err != nil || k == 0 {
			return out
		}
		n, err := unix.Read(p.r, buf)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, buf[:n]...)
	}
}

// TestReadToPipe: the client moves a file's bytes into a pipe through the
// local descriptor a Read would use, and only then: not before a Read
// fetched one (and without counting toward fetching it), not for another
// caller, not through a write-only handle, not after the epoch ended.
// What it moves follows other clients' writes and truncates, and stops at
// the end of file.
func TestReadToPipe(t *testing.T) {
	local, other, rc, b := localReadRig(t)
	ctx := vfs.WithCaller(context.Background(), &vfs.Caller{})
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	data = append(data, "tail"...)
	g := mustCreate(t, other, ctx, "f", 0o644, data)
	p := newTestPipe(t, 1<<20)

	if _, e := local.GetAttr(ctx, vfs.RootGFID, 0); e != 0 {
		t.Fatal(e)
	}
	for range 3 {
		if n, e := local.ReadToPipe(ctx, g, 0, p.w, 1<<20, 0); e != syscall.EOPNOTSUPP || n != 0 {
			t.Fatalf("ReadToPipe without a descriptor: %d, %v, want EOPNOTSUPP", n, e)
		}
	}
	if s := rc.shares.Load(); s != 0 {
		t.Fatalf("ReadToPipe fetched %d descriptors, want none", s)
	}
	// The first Read is the first counted: it goes to the brick; the
	// second fetches the descriptor.
	for range 2 {
		if _, e := readAt(t, local, ctx, g, 0, 4096, 0); e != 0 {
			t.Fatal(e)
		}
	}
	if r, s := rc.reads.Load(), rc.shares.Load(); r != 1 || s != 1 {
		t.Fatalf("brick reads %d, shares %d, want 1 and 1", r, s)
	}

	move := func(what string, fh vfs.Handle, n int, off int64, want []byte) {
		t.Helper()
		got, e := local.ReadToPipe(ctx, g, fh, p.w, n, off)
		if e != 0 {
			t.Fatalf("%s: %v", what, e)
		}
		if moved := p.drain(t); got != len(want) || !bytes.Equal(moved, want) {
			t.Fatalf("%s: said %d, moved %d bytes, want %d (equal: %v)", what, got, len(moved), len(want), bytes.Equal(moved, want))
		}
	}
	move("whole", 0, 1<<20, 0, data[:1<<20])
	move("unaligned", 0, 1<<20-4096, 1000, data[1000:1000+1<<20-4096])
	move("past the end", 0, 8192, 1<<20-10, data[1<<20-10:])
	move("at the end", 0, 1<<20, int64(len(data)), nil)
	// 1 MiB from inside a page touches 257 pages, one more than the
	// pipe's slots: an error, not a wait for room that never comes.
	if n, e := local.ReadToPipe(ctx, g, 0, p.w, 1<<20, 1000); e == 0 || e == syscall.EOPNOTSUPP {
		t.Fatalf("a range larger than the pipe: %d, %v, want an error", n, e)
	}
	p.drain(t)
	fh, e := local.Open(ctx, g, syscall.O_RDONLY)
	if e != 0 {
		t.Fatal(e)
	}
	move("through a handle", fh, 100, 5, data[5:105])
	local.Release(ctx, g, fh)
	if r := rc.reads.Load(); r != 1 {
		t.Fatalf("brick reads %d after the moves, want 1", r)
	}

	ofh, e := other.Open(ctx, g, syscall.O_RDWR)
	if e != 0 {
		t.Fatal(e)
	}
	if _, e := other.Write(ctx, g, ofh, []byte("NEW!"), 100); e != 0 {
		t.Fatal(e)
	}
	move("after another client's write", 0, 8, 98, []byte("23NEW!89"))
	if _, e := other.SetAttr(ctx, g, ofh, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 50}); e != 0 {
		t.Fatal(e)
	}
	move("after a truncate", 0, 1<<20, 0, data[:50])
	other.Release(ctx, g, ofh)

	if n, e := local.ReadToPipe(vfs.WithCaller(context.Background(), &vfs.Caller{UID: 5}), g, 0, p.w, 10, 0); e != syscall.EOPNOTSUPP || n != 0 {
		t.Fatalf("another caller: %d, %v, want EOPNOTSUPP", n, e)
	}
	wfh, e := local.Open(ctx, g, syscall.O_WRONLY)
	if e != 0 {
		t.Fatal(e)
	}
	if n, e := local.ReadToPipe(ctx, g, wfh, p.w, 10, 0); e != syscall.EOPNOTSUPP || n != 0 {
		t.Fatalf("write-only handle: %d, %v, want EOPNOTSUPP", n, e)
	}
	local.Release(ctx, g, wfh)

	b.stop()
	waitFor(t, "the brick declared down", 10*time.Second, func() bool { return !local.Up() })
	if n, e := local.ReadToPipe(ctx, g, 0, p.w, 10, 0); e != syscall.EOPNOTSUPP || n != 0 {
		t.Fatalf("brick down: %d, %v, want EOPNOTSUPP", n, e)
	}
	if moved := p.drain(t); len(moved) != 0 {
		t.Fatalf("%d bytes in the pipe after refusals", len(moved))
	}
}

package harness

import (
	"context"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
	"golang.org/x/sys/unix"
)

// ReadToPipe calls vfs.ReadToPipe on t with a fresh pipe of 1 MiB (what
// the NFS gateway uses) and returns the bytes it moved; n must fit the
// pipe (at most 1 MiB, less when off is not page aligned).
func ReadToPipe(tb testing.TB, ctx context.Context, t vfs.Translator, g vfs.GFID, fh vfs.Handle, n int, off int64) ([]byte, syscall.Errno) {
	tb.Helper()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		tb.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if size, err := unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, 1<<20); err != nil || size < 1<<20 {
		tb.Fatalf("a pipe of 1 MiB: %d, %v", size, err)
	}
	got, e := vfs.ReadToPipe(ctx, t, g, fh, fds[1], n, off)
	if e != 0 {
		return nil, e
	}
	out := make([]byte, got)
	for k := 0; k < got; {
		m, err := unix.Read(fds[0], out[k:])
		if err != nil || m == 0 {
			tb.Fatalf("reading the pipe: %d of %d bytes, %v", k, got, err)
		}
		k += m
	}
	return out, 0
}

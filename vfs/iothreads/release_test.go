package iothreads

import (
	"context"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// TestReleaseReachesLocks: the brick server calls ReleaseClient on the top
// of a stack like io-threads → locks; the locks below must be dropped.
func TestReleaseReachesLocks(t *testing.T) {
	x, _ := New(Config{}, locks.New(memfs.New(memfs.Config{})))
	a := vfs.WithCaller(context.Background(), &vfs.Caller{Client: "a"})
	b := vfs.WithCaller(context.Background(), &vfs.Caller{Client: "b"})
	lk := vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 1}
	inodelk := func(ctx context.Context, g vfs.GFID) syscall.Errno { return x.InodeLk(ctx, "d", g, lk, false) }
	setlk := func(ctx context.Context, g vfs.GFID) syscall.Errno {
		return x.SetLk(ctx, g, 0, vfs.PosixLock, lk, false)
	}
	tests := []struct {
		name    string
		lock    func(context.Context, vfs.GFID) syscall.Errno
		release func()
	}{
		{"client", inodelk, func() { x.ReleaseClient("a") }},
		{"owner", setlk, func() { x.ReleaseOwner("a", 1) }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := vfs.GFID{byte(i + 1)}
			if e := tc.lock(a, g); e != 0 {
				t.Fatal(e)
			}
			if e := tc.lock(b, g); e != syscall.EAGAIN {
				t.Fatalf("conflicting lock: %v, want EAGAIN", e)
			}
			tc.release()
			if e := tc.lock(b, g); e != 0 {
				t.Fatalf("lock of the released client still held: %v", e)
			}
		})
	}
}

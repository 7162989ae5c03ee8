package client

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// TestChannelConcurrentCalls checks that calls sharing the Channel stream
// get their own replies: many goroutines look up different names at once.
func TestChannelConcurrentCalls(t *testing.T) {
	c, _ := connected(t, locks.New(memfs.New(memfs.Config{})), nil)
	ctx := context.Background()
	const n = 64
	want := make([]vfs.GFID, n)
	for i := range want {
		a, fh, e := c.Create(ctx, vfs.RootGFID, fmt.Sprintf("f%d", i), &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		if e != 0 {
			t.Fatal(e)
		}
		c.Release(ctx, a.GFID, fh)
		want[i] = a.GFID
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < 200; k++ {
				i := (g*31 + k*7) % n
				a, e := c.Lookup(ctx, vfs.RootGFID, fmt.Sprintf("f%d", i))
				if e != 0 || a.GFID != want[i] {
					t.Errorf("lookup f%d: %v %v, want %v", i, a.GFID, e, want[i])
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

// TestChannelWaitDoesNotBlockOthers checks that a lock request waiting on
// the brick does not hold up later calls on the same stream, and that
// cancelling it (CancelWait) answers EINTR and leaves no lock behind.
func TestChannelWaitDoesNotBlockOthers(t *testing.T) {
	c, _ := connected(t, locks.New(memfs.New(memfs.Config{})), nil)
	ctx := context.Background()
	a, e := c.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	if e != 0 {
		t.Fatal(e)
	}
	held := vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 1}
	if e := c.InodeLk(ctx, "dom", a.GFID, held, false); e != 0 {
		t.Fatal(e)
	}
	wctx, cancel := context.WithCancel(ctx)
	got := make(chan syscall.Errno, 1)
	go func() {
		got <- c.InodeLk(wctx, "dom", a.GFID, vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 2}, true)
	}()
	time.Sleep(100 * time.Millisecond) // let the wait reach the brick
	for i := 0; i < 20; i++ {
		if _, e := c.GetAttr(ctx, a.GFID, 0); e != 0 {
			t.Fatalf("getattr while a lock waits: %v", e)
		}
	}
	select {
	case e := <-got:
		t.Fatalf("waiting lock returned %v while the lock was held", e)
	default:
	}
	cancel()
	select {
	case e := <-got:
		if e != syscall.EINTR {
			t.Fatalf("cancelled wait: %v, want EINTR", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled wait did not return")
	}
	// Owner 2 must not hold the lock: after owner 1 unlocks, owner 3 gets
	// it at once.
	unlock := held
	unlock.Type = vfs.Unlock
	if e := c.InodeLk(ctx, "dom", a.GFID, unlock, false); e != 0 {
		t.Fatal(e)
	}
	if e := c.InodeLk(ctx, "dom", a.GFID, vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 3}, false); e != 0 {
		t.Fatalf("lock after the cancelled wait: %v (a lock was left behind)", e)
	}
}

package iothreads

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/vfsfake"
)

func TestConfig(t *testing.T) {
	tests := []struct {
		in      int
		want    int
		wantErr bool
	}{
		{0, DefaultThreadCount, false},
		{1, 1, false},
		{64, 64, false},
		{-1, 0, true},
		{65, 0, true},
	}
	for _, tc := range tests {
		x, err := New(Config{ThreadCount: tc.in}, vfsfake.New(nil))
		if (err != nil) != tc.wantErr {
			t.Errorf("thread-count %d: err %v", tc.in, err)
			continue
		}
		if err == nil && x.ThreadCount() != tc.want {
			t.Errorf("thread-count %d: got %d, want %d", tc.in, x.ThreadCount(), tc.want)
		}
	}
}

// TestForwardsEveryOp: each operation reaches the child once, and leaves no
// slot taken.
func TestForwardsEveryOp(t *testing.T) {
	f := vfsfake.New(nil)
	x, _ := New(Config{ThreadCount: 1}, f)
	vfsfake.Exercise(context.Background(), x)
	for _, op := range vfsfake.AllOps {
		if f.Count(op) != 1 {
			t.Errorf("%s reached the child %d times", op, f.Count(op))
		}
	}
	if x.Running() != 0 {
		t.Errorf("%d slots still taken", x.Running())
	}
}

// gate is a child hook that counts concurrent operations and holds them
// until opened.
type gate struct {
	open      chan struct{}
	cur, max  atomic.Int32
	entered   atomic.Int32
	closeOnce sync.Once
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) hook(ctx context.Context, c *vfsfake.Call) syscall.Errno {
	n := g.cur.Add(1)
	defer g.cur.Add(-1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			break
		}
	}
	g.entered.Add(1)
	select {
	case <-g.open:
	case <-ctx.Done():
	}
	return 0
}

func (g *gate) release() { g.closeOnce.Do(func() { close(g.open) }) }

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBound(t *testing.T) {
	for _, n := range []int{1, 4, 16} {
		t.Run("", func(t *testing.T) {
			f := vfsfake.New(nil)
			g := newGate()
			f.SetHook("", g.hook)
			x, _ := New(Config{ThreadCount: n}, f)
			var wg sync.WaitGroup
			for i := 0; i < 3*n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i%2 == 0 {
						x.Read(context.Background(), vfs.GFID{1}, 0, make([]byte, 1), 0)
					} else {
						x.Lookup(context.Background(), vfs.RootGFID, "x")
					}
				}()
			}
			eventually(t, "slots to fill", func() bool { return g.entered.Load() == int32(n) })
			time.Sleep(20 * time.Millisecond) // give extra callers a chance to slip through
			if got := g.entered.Load(); got != int32(n) {
				t.Fatalf("%d operations running, bound %d", got, n)
			}
			g.release()
			wg.Wait()
			if g.max.Load() != int32(n) || g.entered.Load() != int32(3*n) {
				t.Errorf("max concurrency %d (want %d), completed %d", g.max.Load(), n, g.entered.Load())
			}
			if x.Running() != 0 {
				t.Errorf("%d slots leaked", x.Running())
			}
		})
	}
}

func TestQueuedCancel(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want syscall.Errno
	}{
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(10*time.Millisecond, cancel)
			return ctx, cancel
		}, syscall.EINTR},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 10*time.Millisecond)
		}, syscall.ETIMEDOUT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := vfsfake.New(nil)
			g := newGate()
			defer g.release()
			f.SetHook(vfsfake.Read, g.hook)
			x, _ := New(Config{ThreadCount: 1}, f)
			go x.Read(context.Background(), vfs.GFID{1}, 0, nil, 0)
			eventually(t, "slot taken", func() bool { return g.entered.Load() == 1 })
			ctx, cancel := tc.ctx()
			defer cancel()
			if e := x.Unlink(ctx, vfs.RootGFID, "x"); e != tc.want {
				t.Errorf("queued Unlink: %v, want %v", e, tc.want)
			}
			if f.Count(vfsfake.Unlink) != 0 {
				t.Errorf("cancelled operation reached the child")
			}
		})
	}
}

// TestLockBypass: with every slot busy, blocking lock requests and unlocks
// still reach the child, non-blocking requests queue.
func TestLockBypass(t *testing.T) {
	g1 := vfs.GFID{1}
	tests := []struct {
		name   string
		call   func(ctx context.Context, x *IOThreads) syscall.Errno
		op     vfsfake.Op
		bypass bool
	}{
		{"setlk wait", func(ctx context.Context, x *IOThreads) syscall.Errno {
			return x.SetLk(ctx, g1, 0, vfs.PosixLock, vfs.Lock{Type: vfs.WriteLock}, true)
		}, vfsfake.SetLk, true},
		{"setlk unlock", func(ctx context.Context, x *IOThreads) syscall.Errno {
			return x.SetLk(ctx, g1, 0, vfs.PosixLock, vfs.Lock{Type: vfs.Unlock}, false)
		}, vfsfake.SetLk, true},
		{"setlk try", func(ctx context.Context, x *IOThreads) syscall.Errno {
			return x.SetLk(ctx, g1, 0, vfs.PosixLock, vfs.Lock{Type: vfs.WriteLock}, false)
		}, vfsfake.SetLk, false},
		{"inodelk wait", func(ctx context.Context, x *IOThreads) syscall.Errno {
			return x.InodeLk(ctx, "d", g1, vfs.Lock{Type: vfs.WriteLock}, true)
		}, vfsfake.InodeLk, true},
		{"inodelk try", func(ctx context.Context, x *IOThreads) syscall.Errno {
			return x.InodeLk(ctx, "d", g1, vfs.Lock{Type: vfs.ReadLock}, false)
		}, vfsfake.InodeLk, false},
		{"entrylk wait", func(ctx context.Context, x *IOThreads) syscall.Errno {
			return x.EntryLk(ctx, "d", g1, "n", vfs.WriteLock, 1, true)
		}, vfsfake.EntryLk, true},
		{"entrylk unlock", func(ctx context.Context, x *IOThreads) syscall.Errno {
			return x.EntryLk(ctx, "d", g1, "n", vfs.Unlock, 1, false)
		}, vfsfake.EntryLk, true},
		{"getlk", func(ctx context.Context, x *IOThreads) syscall.Errno {
			_, e := x.GetLk(ctx, g1, 0, vfs.PosixLock, vfs.Lock{Type: vfs.WriteLock})
			return e
		}, vfsfake.GetLk, false},
		{"release", func(ctx context.Context, x *IOThreads) syscall.Errno {
			return x.Release(ctx, g1, 1)
		}, vfsfake.Release, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := vfsfake.New(nil)
			g := newGate()
			f.SetHook(vfsfake.Read, g.hook)
			x, _ := New(Config{ThreadCount: 2}, f)
			for i := 0; i < 2; i++ {
				go x.Read(context.Background(), g1, 0, nil, 0)
			}
			eventually(t, "slots taken", func() bool { return g.entered.Load() == 2 })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			done := make(chan syscall.Errno, 1)
			go func() { done <- tc.call(ctx, x) }()
			if tc.bypass {
				eventually(t, "bypassing call to reach the child", func() bool { return f.Count(tc.op) == 1 })
			} else {
				<-ctx.Done()
				time.Sleep(10 * time.Millisecond)
				if f.Count(tc.op) != 0 {
					t.Fatalf("%s passed a full bound", tc.op)
				}
			}
			g.release()
			e := <-done
			mustRun := tc.bypass || tc.op == vfsfake.Release
			if mustRun && f.Count(tc.op) != 1 {
				t.Errorf("%s reached the child %d times", tc.op, f.Count(tc.op))
			}
			if !mustRun && e != syscall.ETIMEDOUT {
				t.Errorf("queued %s past its deadline: %v, want ETIMEDOUT", tc.op, e)
			}
		})
	}
}

// TestNoLockDeadlock: with a single slot over features/locks, a blocked
// lock request must not keep the unlock that would free it from running.
func TestNoLockDeadlock(t *testing.T) {
	x, _ := New(Config{ThreadCount: 1}, locks.New(vfsfake.New(nil)))
	a := vfs.WithCaller(context.Background(), &vfs.Caller{Client: "a"})
	b := vfs.WithCaller(context.Background(), &vfs.Caller{Client: "b"})
	lk := vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 1}
	if e := x.InodeLk(a, "d", vfs.GFID{1}, lk, false); e != 0 {
		t.Fatal(e)
	}
	done := make(chan syscall.Errno, 1)
	go func() { done <- x.InodeLk(b, "d", vfs.GFID{1}, lk, true) }()
	time.Sleep(10 * time.Millisecond)
	if _, e := x.GetLk(a, vfs.GFID{2}, 0, vfs.PosixLock, lk); e != 0 {
		t.Fatalf("non-blocking op while a lock waits: %v", e)
	}
	unlock := lk
	unlock.Type = vfs.Unlock
	if e := x.InodeLk(a, "d", vfs.GFID{1}, unlock, false); e != 0 {
		t.Fatal(e)
	}
	select {
	case e := <-done:
		if e != 0 {
			t.Fatal(e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("lock wait never granted")
	}
}

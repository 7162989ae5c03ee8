package writebehind

import (
	"bytes"
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfsfake"
)

// TestErrorAtNextWrite: a background write that fails is reported by the
// next write on the handle, once.
func TestErrorAtNextWrite(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	g, fh := e.create(t, "f", syscall.O_WRONLY)
	e.fake.FailN(vfsfake.Write, syscall.ENOSPC, 1)
	write(t, e.wb, g, fh, []byte("lost"), 0)
	eventually(t, "the background write to fail", func() bool { return e.wb.Stats().Failed == 1 })
	if _, errno := e.wb.Write(bg, g, fh, []byte("next"), 4); errno != syscall.ENOSPC {
		t.Fatalf("next write: %v, want ENOSPC", errno)
	}
	write(t, e.wb, g, fh, []byte("again"), 4)
	if errno := e.wb.Flush(bg, g, fh); errno != 0 {
		t.Errorf("flush after the error was reported: %v", errno)
	}
	e.wb.Release(bg, g, fh)
}

// TestErrorAtClose: Flush waits for the held writes and reports their
// failure, with flush-behind on or off.
func TestErrorAtClose(t *testing.T) {
	for _, behind := range []bool{true, false} {
		t.Run(map[bool]string{true: "flush-behind", false: "no-flush-behind"}[behind], func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.FlushBehind = behind
			cfg.TricklingWrites = false // held until the flush
			e := newEnv(t, cfg)
			g, fh := e.create(t, "f", syscall.O_WRONLY)
			write(t, e.wb, g, fh, []byte("doomed"), 0)
			if n := e.fake.Count(vfsfake.Write); n != 0 {
				t.Fatalf("%d writes sent before the flush", n)
			}
			e.fake.FailN(vfsfake.Write, syscall.EDQUOT, 1)
			if errno := e.wb.Flush(bg, g, fh); errno != syscall.EDQUOT {
				t.Fatalf("flush: %v, want EDQUOT", errno)
			}
			if errno := e.wb.Release(bg, g, fh); errno != 0 {
				t.Fatal(errno)
			}
			if e.fake.Count(vfsfake.Flush) != 1 {
				t.Errorf("child flushes %d, want 1", e.fake.Count(vfsfake.Flush))
			}
		})
	}
}

// TestAnonymousError: an anonymous write that fails in the background is
// reported to the next anonymous write of the file; one whose file is gone
// is not kept.
func TestAnonymousError(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	g, fh := e.create(t, "f", syscall.O_WRONLY)
	e.wb.Release(bg, g, fh)
	write(t, e.wb, g, 0, []byte("sync"), 0) // proves the caller
	e.fake.FailN(vfsfake.Write, syscall.EIO, 1)
	write(t, e.wb, g, 0, []byte("held"), 4)
	eventually(t, "the background write to fail", func() bool { return e.wb.Stats().Failed == 1 })
	if _, errno := e.wb.Write(bg, g, 0, []byte("x"), 8); errno != syscall.EIO {
		t.Fatalf("next anonymous write: %v, want EIO", errno)
	}
	e.fake.FailN(vfsfake.Write, syscall.ESTALE, 1)
	write(t, e.wb, g, 0, []byte("gone"), 8)
	eventually(t, "the background write to fail", func() bool { return e.wb.Stats().Failed == 2 })
	write(t, e.wb, g, 0, []byte("fine"), 12)
	if errno := e.wb.Fsync(bg, g, 0, false); errno != 0 {
		t.Fatal(errno)
	}
	if s := e.wb.Stats(); s.Files != 0 {
		t.Errorf("state kept for %d files", s.Files)
	}
}

// TestFsync: Fsync sends the held writes before the child's fsync, and
// fails when one of them failed.
func TestFsync(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TricklingWrites = false
	e := newEnv(t, cfg)
	g, fh := e.create(t, "f", syscall.O_RDWR)
	data := pattern(300<<10, 3)
	for off := 0; off < len(data); off += 1000 {
		write(t, e.wb, g, fh, data[off:min(off+1000, len(data))], int64(off))
	}
	if errno := e.wb.Fsync(bg, g, fh, true); errno != 0 {
		t.Fatal(errno)
	}
	if !bytes.Equal(e.content(t, g), data) {
		t.Fatal("fsync returned before the data reached the child")
	}
	calls := e.fake.Calls()
	if last := calls[len(calls)-1]; last.Op != vfsfake.Fsync || !last.Sync {
		t.Errorf("last child call %v, want the fdatasync", last.Op)
	}
	// The failure is armed before the write: write-behind may send a
	// held write by itself (a created file's writes are joined for only
	// 5 ms), and on a slow machine it went through before the failure
	// was set.
	e.fake.FailN(vfsfake.Write, syscall.EIO, 1)
	write(t, e.wb, g, fh, []byte("x"), 0)
	if errno := e.wb.Fsync(bg, g, fh, false); errno != syscall.EIO {
		t.Errorf("fsync after a failed write: %v, want EIO", errno)
	}
	if errno := e.wb.Fsync(bg, g, fh, false); errno != 0 {
		t.Errorf("second fsync: %v", errno)
	}
	e.wb.Release(bg, g, fh)
}

// TestFsyncCancelled: a cancelled fsync gives up waiting with EINTR; the
// writes still complete.
func TestFsyncCancelled(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	gt := newGate()
	defer gt.open()
	e.fake.SetHook(vfsfake.Write, gt.hook)
	g, fh := e.create(t, "f", syscall.O_WRONLY)
	write(t, e.wb, g, fh, []byte("slow"), 0)
	ctx, cancel := context.WithTimeout(bg, 20*time.Millisecond)
	defer cancel()
	if errno := e.wb.Fsync(ctx, g, fh, false); errno != syscall.ETIMEDOUT {
		t.Fatalf("fsync: %v, want ETIMEDOUT", errno)
	}
	gt.open()
	e.wb.Release(bg, g, fh)
	if string(e.content(t, g)) != "slow" {
		t.Error("write lost")
	}
}

// TestAnonymousPermission: an anonymous write is held only once the child
// accepted one from the same caller, so EACCES is never hidden.
func TestAnonymousPermission(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	g, fh := e.create(t, "f", syscall.O_WRONLY)
	e.wb.Release(bg, g, fh)
	alice := vfs.WithCaller(bg, &vfs.Caller{UID: 1000, GID: 1000})
	for i := 0; i < 2; i++ {
		if _, errno := e.wb.Write(alice, g, 0, []byte("x"), 0); errno != syscall.EACCES {
			t.Fatalf("alice's write %d: %v, want EACCES", i, errno)
		}
	}
	write(t, e.wb, g, 0, []byte("a"), 0)
	write(t, e.wb, g, 0, []byte("b"), 1)
	if s := e.wb.Stats(); s.Bypassed != 3 || s.Writes != 1 {
		t.Errorf("bypassed %d held %d, want 3 and 1", s.Bypassed, s.Writes)
	}
	// chmod forgets who may write.
	if _, errno := e.wb.SetAttr(bg, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o666}); errno != 0 {
		t.Fatal(errno)
	}
	write(t, e.wb, g, 0, []byte("c"), 2)
	if s := e.wb.Stats(); s.Bypassed != 4 {
		t.Errorf("write after chmod was held")
	}
	if got := string(e.content(t, g)); got != "abc" {
		t.Errorf("content %q", got)
	}
}

// TestUnlinkedAnonymous: once a file is removed, an anonymous write to it
// fails at once, even from a caller whose writes were being held.
func TestUnlinkedAnonymous(t *testing.T) {
	for _, rename := range []bool{false, true} {
		e := newEnv(t, DefaultConfig())
		g, fh := e.create(t, "f", syscall.O_WRONLY)
		e.wb.Release(bg, g, fh)
		write(t, e.wb, g, 0, []byte("a"), 0)
		write(t, e.wb, g, 0, []byte("b"), 1) // held
		if rename {
			o, ofh := e.create(t, "other", syscall.O_WRONLY)
			e.wb.Release(bg, o, ofh)
			if errno := e.wb.Rename(bg, vfs.RootGFID, "other", vfs.RootGFID, "f", 0); errno != 0 {
				t.Fatal(errno)
			}
		} else if errno := e.wb.Unlink(bg, vfs.RootGFID, "f"); errno != 0 {
			t.Fatal(errno)
		}
		if _, errno := e.wb.Write(bg, g, 0, []byte("c"), 2); errno != syscall.ESTALE && errno != syscall.ENOENT {
			t.Errorf("rename %v: anonymous write to a removed file: %v", rename, errno)
		}
	}
}

// TestSynchronousHandles: O_SYNC handles, and O_DIRECT ones with
// strict-O_DIRECT, write through; O_DIRECT is otherwise ignored.
func TestSynchronousHandles(t *testing.T) {
	tests := []struct {
		flags  uint32
		strict bool
		held   bool
	}{
		{syscall.O_WRONLY, false, true},
		{syscall.O_WRONLY | syscall.O_SYNC, false, false},
		{syscall.O_WRONLY | syscall.O_DSYNC, false, false},
		{syscall.O_WRONLY | syscall.O_DIRECT, false, true},
		{syscall.O_WRONLY | syscall.O_DIRECT, true, false},
	}
	for _, tc := range tests {
		cfg := DefaultConfig()
		cfg.StrictODirect = tc.strict
		cfg.TricklingWrites = false
		e := newEnv(t, cfg)
		g, fh := e.create(t, "f", tc.flags)
		write(t, e.wb, g, fh, []byte("data"), 0)
		if held := e.fake.Count(vfsfake.Write) == 0; held != tc.held {
			t.Errorf("flags %#x strict %v: held %v, want %v", tc.flags, tc.strict, held, tc.held)
		}
		e.wb.Release(bg, g, fh)
		if string(e.content(t, g)) != "data" {
			t.Errorf("flags %#x: content lost", tc.flags)
		}
	}
}

// TestAppend: appends are joined, and never run beside another write.
func TestAppend(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TricklingWrites = false
	e := newEnv(t, cfg)
	g, fh := e.create(t, "f", syscall.O_WRONLY|syscall.O_APPEND)
	var want []byte
	for i := 0; i < 100; i++ {
		b := []byte{byte('a' + i%26)}
		write(t, e.wb, g, fh, b, 0)
		want = append(want, b...)
	}
	e.wb.Flush(bg, g, fh)
	e.wb.Release(bg, g, fh)
	if n := e.fake.Count(vfsfake.Write); n != 1 {
		t.Errorf("%d child writes for 100 joined appends", n)
	}
	if got := e.content(t, g); !bytes.Equal(got, want) {
		t.Errorf("content %q", got)
	}
}

// TestReleaseWaits: the child's Release comes after the handle's writes and
// its background flush.
func TestReleaseWaits(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	gt := newGate()
	e.fake.SetHook(vfsfake.Flush, gt.hook)
	g, fh := e.create(t, "f", syscall.O_WRONLY)
	write(t, e.wb, g, fh, []byte("data"), 0)
	if errno := e.wb.Flush(bg, g, fh); errno != 0 { // returns with the child's flush stuck
		t.Fatal(errno)
	}
	released := make(chan syscall.Errno)
	go func() { released <- e.wb.Release(bg, g, fh) }()
	select {
	case <-released:
		t.Fatal("release did not wait for the background flush")
	case <-time.After(20 * time.Millisecond):
	}
	gt.open()
	if errno := <-released; errno != 0 {
		t.Fatal(errno)
	}
	var order []vfsfake.Op
	for _, c := range e.fake.Calls() {
		order = append(order, c.Op)
	}
	want := []vfsfake.Op{vfsfake.Create, vfsfake.Write, vfsfake.Flush, vfsfake.Release}
	if len(order) != len(want) {
		t.Fatalf("child calls %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("child calls %v, want %v", order, want)
		}
	}
}

// TestWindow: a file never holds more than cache-size, and all files no
// more than the total; writers wait instead.
func TestWindow(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CacheSize = 64 << 10
	cfg.AggregateSize = 16 << 10
	cfg.TotalSize = 96 << 10
	e := newEnv(t, cfg)
	gt := newGate()
	e.fake.SetHook(vfsfake.Write, gt.hook)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		g, fh := e.create(t, string(rune('a'+i)), syscall.O_WRONLY)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := 0; off < 256<<10; off += 4096 {
				write(t, e.wb, g, fh, pattern(4096, byte(off)), int64(off))
			}
			e.wb.Release(bg, g, fh)
		}()
	}
	eventually(t, "writers to fill the windows", func() bool { return e.wb.Stats().RoomWaits >= 3 })
	time.Sleep(10 * time.Millisecond)
	if s := e.wb.Stats(); s.Held > cfg.TotalSize {
		t.Errorf("holding %d bytes, total limit %d", s.Held, cfg.TotalSize)
	}
	e.wb.mu.Lock()
	for _, f := range e.wb.files {
		if f.bytes > cfg.CacheSize {
			t.Errorf("file holds %d bytes, window %d", f.bytes, cfg.CacheSize)
		}
	}
	e.wb.mu.Unlock()
	gt.open()
	wg.Wait()
	if s := e.wb.Stats(); s.Held != 0 || s.Files != 0 {
		t.Errorf("after release: %+v", s)
	}
}

// TestOrdering: random overlapping writes through two handles over a
// child with random latency end up as the same writes done in order.
func TestOrdering(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	r := rand.New(rand.NewPCG(1, 2))
	lat := rand.New(rand.NewPCG(3, 4))
	var lmu sync.Mutex
	e.fake.SetHook(vfsfake.Write, func(ctx context.Context, c *vfsfake.Call) syscall.Errno {
		lmu.Lock()
		d := time.Duration(lat.IntN(300)) * time.Microsecond
		lmu.Unlock()
		time.Sleep(d)
		return 0
	})
	g, fh1 := e.create(t, "f", syscall.O_RDWR)
	fh2, errno := e.wb.Open(bg, g, syscall.O_WRONLY)
	if errno != 0 {
		t.Fatal(errno)
	}
	const size = 256 << 10
	model := make([]byte, 0, size)
	for i := 0; i < 1000; i++ {
		off := r.IntN(size - 8192)
		n := 1 + r.IntN(8192)
		fh := fh1
		if i%3 == 0 {
			fh = fh2
		}
		if i%10 < 5 { // runs of sequential writes, joined
			off, fh = len(model)%(size-8192), fh1
		}
		data := pattern(n, byte(i))
		write(t, e.wb, g, fh, data, int64(off))
		if end := off + n; end > len(model) {
			model = append(model, make([]byte, end-len(model))...)
		}
		copy(model[off:], data)
		if i%250 == 249 { // and read back now and then
			got := make([]byte, len(model))
			k, errno := e.wb.Read(bg, g, fh1, got, 0)
			if errno != 0 || !bytes.Equal(got[:k], model) {
				t.Fatalf("read back after %d writes differs (%d bytes, %v)", i+1, k, errno)
			}
		}
	}
	e.wb.Release(bg, g, fh2)
	e.wb.Release(bg, g, fh1)
	if !bytes.Equal(e.content(t, g), model) {
		t.Fatal("content differs from the writes applied in order")
	}
	s := e.wb.Stats()
	t.Logf("1000 writes: %d joined, %d child writes", s.Joined, s.Sent)
}

// TestConcurrentFiles: many goroutines writing their own files and
// reading them back, under -race.
func TestConcurrentFiles(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, fh := e.create(t, string(rune('a'+w)), syscall.O_RDWR)
			data := pattern(200<<10, byte(w))
			for off := 0; off < len(data); off += 3000 {
				write(t, e.wb, g, fh, data[off:min(off+3000, len(data))], int64(off))
			}
			got := make([]byte, len(data)+10)
			n, errno := e.wb.Read(bg, g, fh, got, 0)
			if errno != 0 || !bytes.Equal(got[:n], data) {
				t.Errorf("file %d read back %d bytes %v", w, n, errno)
			}
			e.wb.Flush(bg, g, fh)
			e.wb.Release(bg, g, fh)
		}()
	}
	wg.Wait()
}

// TestClose: Close writes everything held.
func TestClose(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TricklingWrites = false
	e := newEnv(t, cfg)
	g, fh := e.create(t, "f", syscall.O_WRONLY)
	write(t, e.wb, g, fh, []byte("kept"), 0)
	if err := e.wb.Close(); err != nil {
		t.Fatal(err)
	}
	if string(e.content(t, g)) != "kept" {
		t.Error("held write lost at Close")
	}
}

// TestForwards: every operation reaches the child, once.
func TestForwards(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	vfsfake.Exercise(bg, e.wb)
	for _, op := range vfsfake.AllOps {
		if n := e.fake.Count(op); n != 1 {
			t.Errorf("%s reached the child %d times", op, n)
		}
	}
}

// TestReleaseReachesLocks: the brick server calls ReleaseClient on the top
// of the stack; the locks below must be dropped.
func TestReleaseReachesLocks(t *testing.T) {
	x, _ := New(DefaultConfig(), locks.New(memfs.New(memfs.Config{})))
	a := vfs.WithCaller(bg, &vfs.Caller{Client: "a"})
	b := vfs.WithCaller(bg, &vfs.Caller{Client: "b"})
	lk := vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 1}
	g := vfs.GFID{1}
	if e := x.InodeLk(a, "d", g, lk, false); e != 0 {
		t.Fatal(e)
	}
	if e := x.InodeLk(b, "d", g, lk, false); e != syscall.EAGAIN {
		t.Fatalf("conflicting lock: %v", e)
	}
	x.ReleaseClient("a")
	if e := x.InodeLk(b, "d", g, lk, false); e != 0 {
		t.Fatalf("lock of the released client still held: %v", e)
	}
	g2 := vfs.GFID{2}
	if e := x.SetLk(a, g2, 0, vfs.PosixLock, lk, false); e != 0 {
		t.Fatal(e)
	}
	x.ReleaseOwner("a", 1)
	if e := x.SetLk(b, g2, 0, vfs.PosixLock, lk, false); e != 0 {
		t.Fatalf("lock of the released owner still held: %v", e)
	}
}

// TestSharedFile: writers of disjoint regions of one file, through their
// own handles and anonymously, each read back their own writes at once,
// while another goroutine stats and syncs the file, over a child with
// random latency.
func TestSharedFile(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	lat := rand.New(rand.NewPCG(5, 6))
	var lmu sync.Mutex
	e.fake.SetHook(vfsfake.Write, func(ctx context.Context, c *vfsfake.Call) syscall.Errno {
		lmu.Lock()
		n := lat.IntN(50)
		lmu.Unlock()
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		return 0
	})
	g, fh := e.create(t, "f", syscall.O_RDWR)
	e.wb.Release(bg, g, fh)
	const region = 64 << 10
	stop := make(chan struct{})
	var side sync.WaitGroup
	side.Add(1)
	go func() {
		defer side.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			e.wb.GetAttr(bg, g, 0)
			e.wb.Fsync(bg, g, 0, true)
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := vfs.Handle(0)
			if w%2 == 0 {
				var errno syscall.Errno
				if h, errno = e.wb.Open(bg, g, syscall.O_RDWR); errno != 0 {
					t.Error(errno)
					return
				}
				defer e.wb.Release(bg, g, h)
			}
			base := int64(w * region)
			buf := make([]byte, 2048)
			for i := 0; i < 64; i++ {
				data := pattern(1024, byte(w*64+i))
				off := base + int64(i*1024)
				if n, errno := e.wb.Write(bg, g, h, data, off); errno != 0 || n != len(data) {
					t.Errorf("write %d %v", n, errno)
					return
				}
				n, errno := e.wb.Read(bg, g, h, buf[:1024], off)
				if errno != 0 || !bytes.Equal(buf[:n], data) {
					t.Errorf("writer %d did not read its write at %d back (%d bytes, %v)", w, off, n, errno)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	side.Wait()
	got := e.content(t, g)
	for w := 0; w < 4; w++ {
		for i := 0; i < 64; i++ {
			off := w*region + i*1024
			if !bytes.Equal(got[off:off+1024], pattern(1024, byte(w*64+i))) {
				t.Fatalf("writer %d block %d lost", w, i)
			}
		}
	}
}

package client

import (
	"context"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBrickKilled stops the brick: calls fail promptly with ENOTCONN
// (not after ping-timeout), the state hook fires, and after a restart on
// the same port the client is up again and an old handle still works
// (reopened by GFID).
func TestBrickKilled(t *testing.T) {
	fs := memfs.New(memfs.Config{}) // survives the "brick process"
	b := startBrick(t, fs, nil)
	c := newClient(t, b.port, func(cfg *Config) { cfg.PingTimeout = 30 * time.Second })
	ctx := context.Background()
	if err := c.WaitConnect(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []bool
	c.OnStateChange(func(up bool) { mu.Lock(); events = append(events, up); mu.Unlock() })

	a, fh, e := c.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal("create:", e)
	}
	if _, e := c.Write(ctx, a.GFID, fh, []byte("hello"), 0); e != 0 {
		t.Fatal("write:", e)
	}

	b.stop()
	start := time.Now()
	_, e = c.GetAttr(ctx, a.GFID, fh)
	if e != syscall.ENOTCONN {
		t.Fatalf("getattr on a stopped brick: %v, want ENOTCONN", e)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("ENOTCONN took %v", d)
	}
	waitFor(t, "client sees the brick down", 2*time.Second, func() bool { return !c.Up() })
	if _, e := c.Lookup(ctx, vfs.RootGFID, "f"); e != syscall.ENOTCONN {
		t.Fatalf("lookup while down: %v, want ENOTCONN", e)
	}

	b.restart()
	waitFor(t, "client reconnects", 5*time.Second, c.Up)
	buf := make([]byte, 16)
	n, e := c.Read(ctx, a.GFID, fh, buf, 0) // the brick forgot fh: reopened
	if e != 0 || string(buf[:n]) != "hello" {
		t.Fatalf("read through a handle from before the restart: %q, %v", buf[:n], e)
	}
	if e := c.Release(ctx, a.GFID, fh); e != 0 {
		t.Fatal("release:", e)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) < 2 || events[0] || !events[len(events)-1] {
		t.Fatalf("state events %v, want down … up", events)
	}
}

// proxy forwards TCP to a backend until frozen, then stops forwarding
// (like a SIGSTOPped brick or a silent network: connections stay open,
// nothing comes back).
type proxy struct {
	lis     net.Listener
	backend string
	mu      sync.Mutex
	frozen  bool
	thaw    chan struct{}
	conns   []net.Conn
}

func newProxy(t *testing.T, backend string) *proxy {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{lis: lis, backend: backend, thaw: make(chan struct{})}
	go p.accept()
	t.Cleanup(func() {
		lis.Close()
		p.setFrozen(false)
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *proxy) port() int { return p.lis.Addr().(*net.TCPAddr).Port }

func (p *proxy) setFrozen(f bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen == f {
		return
	}
	p.frozen = f
	if !f {
		close(p.thaw)
		p.thaw = make(chan struct{})
	}
}

// gate blocks while frozen.
func (p *proxy) gate() {
	p.mu.Lock()
	frozen, thaw := p.frozen, p.thaw
	p.mu.Unlock()
	if frozen {
		<-thaw
	}
}

func (p *proxy) accept() {
	for {
		in, err := p.lis.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.backend)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	if err := dst.(*net.TCPConn).CloseWrite(); err != nil && err != io.EOF {
		dst.Close()
	}
}

// TestFrozenBrick stops the traffic of a brick without closing anything:
// a call in flight and a blocked lock wait fail with ENOTCONN within
// ping-timeout, new calls fail fast, and the client recovers after the
// brick thaws.
func TestFrozenBrick(t *testing.T) {
	const pingTimeout = time.Second
	b := startBrick(t, locks.New(memfs.New(memfs.Config{})), nil)
	p := newProxy(t, b.addr)
	c := newClient(t, p.port(), func(cfg *Config) { cfg.PingTimeout = pingTimeout })
	ctx := context.Background()
	if err := c.WaitConnect(ctx); err != nil {
		t.Fatal(err)
	}
	a, fh, e := c.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal("create:", e)
	}
	// Let a ping or two establish the rhythm before freezing.
	time.Sleep(pingTimeout / 2)
	p.setFrozen(true)
	frozenAt := time.Now()

	type res struct {
		e syscall.Errno
		d time.Duration
	}
	results := make(chan res, 2)
	go func() {
		_, e := c.GetAttr(ctx, a.GFID, fh)
		results <- res{e, time.Since(frozenAt)}
	}()
	go func() {
		e := c.InodeLk(ctx, "test", a.GFID, vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 1}, true)
		results <- res{e, time.Since(frozenAt)}
	}()
	for i := 0; i < 2; i++ {
		select {
		case r := <-results:
			if r.e != syscall.ENOTCONN {
				t.Errorf("call on a frozen brick: %v, want ENOTCONN", r.e)
			}
			if r.d > pingTimeout+500*time.Millisecond {
				t.Errorf("ENOTCONN after %v, ping-timeout is %v", r.d, pingTimeout)
			}
		case <-time.After(5 * pingTimeout):
			t.Fatal("call on a frozen brick hangs")
		}
	}
	if c.Up() {
		t.Error("Up() while frozen")
	}
	start := time.Now()
	if _, e := c.Lookup(ctx, vfs.RootGFID, "f"); e != syscall.ENOTCONN || time.Since(start) > 100*time.Millisecond {
		t.Errorf("new call while down: %v after %v, want ENOTCONN at once", e, time.Since(start))
	}

	p.setFrozen(false)
	waitFor(t, "client recovers after thaw", 5*time.Second, c.Up)
	if _, e := c.GetAttr(ctx, a.GFID, fh); e != 0 {
		t.Fatal("getattr after thaw:", e)
	}
}

// TestLocksReleasedOnDisconnect: a client's locks go away with its
// connection, so another client can take them.
func TestLocksReleasedOnDisconnect(t *testing.T) {
	disconnected := make(chan string, 4)
	b := startBrick(t, locks.New(memfs.New(memfs.Config{})), nil)
	b.stop()
	b.cfg.OnDisconnect = func(id string) { disconnected <- id }
	b.restart()
	c1 := newClient(t, b.port, nil)
	c2 := newClient(t, b.port, nil)
	ctx := context.Background()
	a, e := c1.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	if e != 0 {
		t.Fatal(e)
	}
	lk := vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 7}
	if e := c1.InodeLk(ctx, "d", a.GFID, lk, false); e != 0 {
		t.Fatal("c1 inodelk:", e)
	}
	if e := c1.EntryLk(ctx, "d", a.GFID, "x", vfs.WriteLock, 7, false); e != 0 {
		t.Fatal("c1 entrylk:", e)
	}
	// Same owner number, other connection: a different owner.
	if e := c2.InodeLk(ctx, "d", a.GFID, lk, false); e != syscall.EAGAIN {
		t.Fatalf("c2 inodelk while c1 holds it: %v, want EAGAIN", e)
	}
	c1.Close()
	select {
	case <-disconnected:
	case <-time.After(5 * time.Second):
		t.Fatal("OnDisconnect not called")
	}
	if e := c2.InodeLk(ctx, "d", a.GFID, lk, false); e != 0 {
		t.Fatalf("c2 inodelk after c1 disconnected: %v", e)
	}
	if e := c2.EntryLk(ctx, "d", a.GFID, "x", vfs.WriteLock, 7, false); e != 0 {
		t.Fatalf("c2 entrylk after c1 disconnected: %v", e)
	}
}

// TestLockWaitCancel: a cancelled wait comes back EINTR and leaves no lock
// behind, even when the holder unlocks right after the cancel.
func TestLockWaitCancel(t *testing.T) {
	c, _ := connected(t, locks.New(memfs.New(memfs.Config{})), nil)
	ctx := context.Background()
	a, e := c.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	if e != 0 {
		t.Fatal(e)
	}
	hold := vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 1}
	for i := 0; i < 20; i++ {
		if e := c.InodeLk(ctx, "d", a.GFID, hold, false); e != 0 {
			t.Fatal("holder:", e)
		}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan syscall.Errno, 1)
		go func() {
			done <- c.InodeLk(wctx, "d", a.GFID, vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 2}, true)
		}()
		time.Sleep(time.Duration(i%4) * time.Millisecond)
		cancel()
		unl := hold
		unl.Type = vfs.Unlock
		if e := c.InodeLk(ctx, "d", a.GFID, unl, false); e != 0 {
			t.Fatal("unlock:", e)
		}
		got := <-done
		switch got {
		case syscall.EINTR:
		case 0: // granted before the cancel arrived: we know we hold it
			unl.Owner = 2
			if e := c.InodeLk(ctx, "d", a.GFID, unl, false); e != 0 {
				t.Fatal("unlock of granted waiter:", e)
			}
		default:
			t.Fatalf("cancelled wait: %v", got)
		}
		// Nothing left behind: owner 3 gets the lock at once.
		l3 := vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 3}
		if e := c.InodeLk(ctx, "d", a.GFID, l3, false); e != 0 {
			t.Fatalf("round %d: lock left behind after a cancelled wait (%v)", i, e)
		}
		l3.Type = vfs.Unlock
		c.InodeLk(ctx, "d", a.GFID, l3, false)
	}
}

package client

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
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

// TestSideConnection: small calls go on a side connection (a plain TCP
// connection attached to the gRPC one), sharing its handles with the unary
// Read and Write; after the brick restarts a new one is opened.
func TestSideConnection(t *testing.T) {
	c, b := connected(t, locks.New(memfs.New(memfs.Config{})), nil)
	ctx := context.Background()
	a, fh, e := c.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	ep := c.ep.Load()
	ep.chMu.Lock()
	side := ep.ch != nil && ep.ch.side
	ep.chMu.Unlock()
	if !side {
		t.Fatal("the channel is not on a side connection")
	}
	// The handle made on the side connection serves the unary Write and
	// Read of the gRPC connection.
	if n, e := c.Write(ctx, a.GFID, fh, []byte("data"), 0); e != 0 || n != 4 {
		t.Fatalf("write: %d %v", n, e)
	}
	buf := make([]byte, 8)
	if n, e := c.Read(ctx, a.GFID, fh, buf, 0); e != 0 || string(buf[:n]) != "data" {
		t.Fatalf("read: %q %v", buf[:n], e)
	}
	c.Release(ctx, a.GFID, fh)

	b.stop()
	b.restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, e := c.GetAttr(ctx, vfs.RootGFID, 0)
		if e == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no getattr after the brick restarted: %v", e)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The first channel after the restart may have fallen back to a gRPC
	// stream (gRPC still on the closed connection when the side
	// connection's token was asked for); it moves over in the background.
	if ch := waitSide(t, c, 10*time.Second); ch == nil {
		t.Error("after the restart, the channel is not on a side connection")
	}
}

// waitSide waits until c's current channel is on a side connection and
// returns it, or nil after d.
func waitSide(t *testing.T, c *Client, d time.Duration) *channel {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ep := c.ep.Load()
		ep.chMu.Lock()
		ch := ep.ch
		ep.chMu.Unlock()
		if ch != nil && ch.side {
			return ch
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSideConnectionUpgrade: a channel that fell back to a gRPC stream
// because the side connection could not be opened moves to a side
// connection once one opens; a call waiting on the stream (a blocked lock)
// still gets its reply there, and the stream closes after it.
func TestSideConnectionUpgrade(t *testing.T) {
	var refuse atomic.Bool
	refuse.Store(true)
	var dials atomic.Int32
	c, _ := connected(t, locks.New(memfs.New(memfs.Config{})), func(cfg *Config) {
		cfg.sideDialControl = func(network, address string, _ syscall.RawConn) error {
			dials.Add(1)
			if refuse.Load() {
				return fmt.Errorf("side connection refused by the test")
			}
			return nil
		}
	})
	ctx := context.Background()
	a, fh, e := c.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	ep := c.ep.Load()
	ep.chMu.Lock()
	stream := ep.ch
	ep.chMu.Unlock()
	if stream == nil || stream.side {
		t.Fatal("with side connections refused, the channel is not a gRPC stream")
	}
	held := vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 1}
	if e := c.InodeLk(ctx, "dom", a.GFID, held, false); e != 0 {
		t.Fatal(e)
	}
	got := make(chan syscall.Errno, 1)
	go func() {
		got <- c.InodeLk(ctx, "dom", a.GFID, vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 2}, true)
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		stream.mu.Lock()
		n := len(stream.pending)
		stream.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock wait never reached the stream")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Retries are spaced: not one per call.
	for range 20 {
		if _, e := c.GetAttr(ctx, a.GFID, 0); e != 0 {
			t.Fatal(e)
		}
	}
	if n := dials.Load(); n > 3 {
		t.Errorf("%d side connection dials in the first moments, want a few", n)
	}

	refuse.Store(false)
	side := waitSide(t, c, 15*time.Second)
	if side == nil {
		t.Fatal("the channel did not move to a side connection once one could open")
	}
	// The stream stays open while the wait is on it.
	stream.mu.Lock()
	err := stream.err
	stream.mu.Unlock()
	if err != nil {
		t.Fatalf("the stream was closed under a waiting call: %v", err)
	}
	select {
	case e := <-got:
		t.Fatalf("the waiting lock returned %v while the lock was held", e)
	default:
	}
	// A call that took the stream before it was replaced goes to the side
	// connection rather than keep the stream open.
	op := compound.GetAttr(a.GFID, 0)
	req := &brickpb.CompoundRequest{Ops: []*brickpb.SubRequest{c.encode(&op)}}
	stream.mu.Lock()
	sent := stream.next
	stream.mu.Unlock()
	if rep, err := stream.call(ctx, req, protocol.EncodeCaller(&vfs.Caller{}), 0, nil); err != nil || len(rep.Replies) != 1 {
		t.Fatalf("a call on the replaced stream: %v %v", rep, err)
	}
	stream.mu.Lock()
	sentAfter := stream.next
	stream.mu.Unlock()
	if sentAfter != sent {
		t.Error("a call on the replaced stream was sent there, not on the side connection")
	}
	// The handle and the lock live on the brick's connection, not on the
	// channel: both serve through the side connection.
	if n, e := c.Write(ctx, a.GFID, fh, []byte("data"), 0); e != 0 || n != 4 {
		t.Fatalf("write: %d %v", n, e)
	}
	unlock := held
	unlock.Type = vfs.Unlock
	if e := c.InodeLk(ctx, "dom", a.GFID, unlock, false); e != 0 {
		t.Fatal(e)
	}
	select {
	case e := <-got:
		if e != 0 {
			t.Fatalf("the waiting lock, once free: %v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting lock was not granted")
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		stream.mu.Lock()
		err := stream.err
		stream.mu.Unlock()
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stream stayed open after its last call")
		}
		time.Sleep(20 * time.Millisecond)
	}
	buf := make([]byte, 8)
	if n, e := c.Read(ctx, a.GFID, fh, buf, 0); e != 0 || string(buf[:n]) != "data" {
		t.Fatalf("read: %q %v", buf[:n], e)
	}
	if st := c.state.Load(); st != stateUp {
		t.Errorf("brick state %d after the move, want up", st)
	}
	c.Release(ctx, a.GFID, fh)
}

// TestSideConnectionRefused: a side connection with a made-up token, or
// from another address than its gRPC connection, is refused.
func TestSideConnectionRefused(t *testing.T) {
	c, b := connected(t, locks.New(memfs.New(memfs.Config{})), nil)
	hello := func(local string, token []byte) *brickpb.ChannelReply {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		nc, err := d.Dial("tcp", b.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		nc.Write([]byte(protocol.FastPathMagic))
		if err := protocol.WriteFrame(nc, &brickpb.ChannelHello{Token: token, Subvolume: "brick"}); err != nil {
			t.Fatal(err)
		}
		var rep brickpb.ChannelReply
		if _, err := protocol.ReadFrame(nc, &rep, nil); err != nil {
			t.Fatal(err)
		}
		return &rep
	}
	if rep := hello("127.0.0.1", []byte("not a token at all")); codes.Code(rep.Code) != codes.Unauthenticated {
		t.Errorf("made-up token: %v %q", codes.Code(rep.Code), rep.Message)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), protocol.MDSubvolume, "brick",
		protocol.MDCaller, protocol.EncodeCaller(&vfs.Caller{}))
	tok, err := c.ep.Load().rpc.ChannelToken(ctx, &brickpb.ChannelTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if rep := hello("127.0.0.2", tok.Token); codes.Code(rep.Code) != codes.PermissionDenied {
		t.Errorf("token from another address: %v %q", codes.Code(rep.Code), rep.Message)
	}
	if rep := hello("127.0.0.1", tok.Token); rep.Code != 0 {
		t.Errorf("the connection's own token: %v %q", codes.Code(rep.Code), rep.Message)
	}
}

// TestChannelMoreWaitsThanWorkers: the brick runs channel calls on a pool
// of workers; calls waiting for locks, more of them than workers, must not
// keep a later call from running.
func TestChannelMoreWaitsThanWorkers(t *testing.T) {
	c, _ := connected(t, locks.New(memfs.New(memfs.Config{})), nil)
	ctx := context.Background()
	a, e := c.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	if e != 0 {
		t.Fatal(e)
	}
	if e := c.InodeLk(ctx, "dom", a.GFID, vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 1}, false); e != 0 {
		t.Fatal(e)
	}
	const waiters = 64 // the brick has max(8, 4×CPUs) workers
	wctx, cancel := context.WithCancel(ctx)
	got := make(chan syscall.Errno, waiters)
	for i := range waiters {
		go func() {
			got <- c.InodeLk(wctx, "dom", a.GFID, vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: uint64(100 + i)}, true)
		}()
	}
	time.Sleep(300 * time.Millisecond) // let the waits reach the brick
	done := make(chan syscall.Errno, 1)
	go func() {
		_, e := c.GetAttr(ctx, a.GFID, 0)
		done <- e
	}()
	select {
	case e := <-done:
		if e != 0 {
			t.Errorf("getattr behind %d waiting calls: %v", waiters, e)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("getattr stuck behind %d waiting calls", waiters)
	}
	cancel()
	for range waiters {
		if e := <-got; e != syscall.EINTR {
			t.Errorf("cancelled wait: %v, want EINTR", e)
		}
	}
}

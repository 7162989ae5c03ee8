package client

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// stuckGetAttr is a brick stack whose GetAttr does not answer until
// released, while everything else (pings included) works.
type stuckGetAttr struct {
	vfs.Translator
	release chan struct{}
}

func (s stuckGetAttr) GetAttr(ctx context.Context, g vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	<-s.release
	return s.Translator.GetAttr(ctx, g, fh)
}

// A call the brick never answers, on a brick that answers pings, fails
// with ENOTCONN once CallTimeout (GlusterFS's frame-timeout) is past,
// instead of waiting for ever; the brick stays up and later calls work.
func TestCallTimeoutBailsOut(t *testing.T) {
	stuck := stuckGetAttr{locks.New(memfs.New(memfs.Config{})), make(chan struct{})}
	b := startBrick(t, stuck, nil)
	defer close(stuck.release)
	c := newClient(t, b.port, func(cfg *Config) { cfg.CallTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	if err := c.WaitConnect(ctx); err != nil {
		t.Fatal(err)
	}
	a, e := c.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	if e != 0 {
		t.Fatal("mkdir:", e)
	}
	done := make(chan syscall.Errno, 1)
	go func() {
		_, e := c.GetAttr(ctx, a.GFID, 0)
		done <- e
	}()
	select {
	case e := <-done:
		if e != syscall.ENOTCONN {
			t.Fatalf("unanswered call: %v, want ENOTCONN", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call the brick never answers still waits after 10 s (call timeout 300 ms)")
	}
	if !c.Up() {
		t.Error("brick declared down after one unanswered call; pings still work")
	}
	if _, e := c.Lookup(ctx, vfs.RootGFID, "d"); e != 0 {
		t.Fatal("lookup after the bail-out:", e)
	}
}

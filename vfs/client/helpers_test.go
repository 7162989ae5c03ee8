package client

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/posix"
	"github.com/cairnfs/cairn/brick/server"
	"github.com/cairnfs/cairn/vfs"
)

// testLogger discards unless CAIRN_TEST_LOG is set (then it writes to
// stderr: t.Log cannot be used from goroutines that outlive a test).
func testLogger() *slog.Logger {
	if os.Getenv("CAIRN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newPosix returns a storage/posix translator over a fresh export dir.
func newPosix(t testing.TB) vfs.Translator {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("storage/posix needs root (trusted.* xattrs)")
	}
	dir := filepath.Join(t.TempDir(), "export")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := posix.New(posix.Config{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// testBrick is a brick server on a loopback port, restartable on that port.
type testBrick struct {
	t    testing.TB
	cfg  server.Config
	addr string
	port int
	srv  *server.Server
	done chan error
}

// startBrick serves xl as subvolume "brick", allowing 127.0.0.1 unless mod
// changes the config.
func startBrick(t testing.TB, xl vfs.Translator, mod func(*server.Config)) *testBrick {
	t.Helper()
	cfg := server.Config{
		Subvolumes: map[string]vfs.Translator{"brick": xl},
		Auth:       map[string]server.AuthRules{"brick": {Allow: []string{"127.0.0.1"}}},
		Logger:     testLogger(),
	}
	if mod != nil {
		mod(&cfg)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &testBrick{t: t, cfg: cfg, addr: lis.Addr().String(), port: lis.Addr().(*net.TCPAddr).Port}
	b.serve(lis)
	t.Cleanup(b.stop)
	return b
}

func (b *testBrick) serve(lis net.Listener) {
	b.t.Helper()
	srv, err := server.New(b.cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	b.srv, b.done = srv, make(chan error, 1)
	go func() { b.done <- srv.Serve(lis) }()
}

// stop kills the brick (all connections dropped); idempotent.
func (b *testBrick) stop() {
	if b.srv == nil {
		return
	}
	b.srv.Stop()
	<-b.done
	b.srv = nil
}

// restart serves again on the same port.
func (b *testBrick) restart() {
	b.t.Helper()
	var lis net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if lis, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatal(err)
	}
	b.serve(lis)
}

// newClient connects a client to b's subvolume "brick".
func newClient(t testing.TB, port int, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		RemoteHost:      "127.0.0.1",
		RemotePort:      port,
		RemoteSubvolume: "brick",
		Name:            "test-client",
		Logger:          testLogger(),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connected returns a client of a fresh brick over posix, once it is up.
func connected(t testing.TB, xl vfs.Translator, mod func(*Config)) (*Client, *testBrick) {
	t.Helper()
	b := startBrick(t, xl, nil)
	c := newClient(t, b.port, mod)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitConnect(ctx); err != nil {
		t.Fatal(err)
	}
	return c, b
}

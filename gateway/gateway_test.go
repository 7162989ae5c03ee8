package gateway

import (
	"bytes"
	"context"
	"errors"
	"github.com/cairnfs/cairn/gateway/ninep"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/hugelgupf/p9/p9"
	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/brick/posix"
	"github.com/cairnfs/cairn/gateway/internal/memvfs"
	"github.com/cairnfs/cairn/vfs"
)

func newVolume(t *testing.T) vfs.Translator {
	t.Helper()
	if os.Geteuid() != 0 {
		return memvfs.New()
	}
	p, err := posix.New(posix.Config{Directory: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return locks.New(p)
}

func start(t *testing.T, cfg Config) *Gateway {
	t.Helper()
	if cfg.NFSAddr == "" && cfg.NinePAddr == "" {
		cfg.NFSAddr, cfg.NinePAddr = "127.0.0.1:0", "127.0.0.1:0"
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return g
}

func nfsMount(t *testing.T, g *Gateway, vol string) *nfsc.Target {
	t.Helper()
	// go-nfs-client binds a random local port of its own, which another
	// test may hold at that moment (EADDRINUSE): pick again, as it does
	// itself for privileged ports.
	c, err := rpc.DialTCP("tcp", g.NFSAddr().String(), false)
	for attempt := 0; err != nil && errors.Is(err, syscall.EADDRINUSE) && attempt < 5; attempt++ {
		c, err = rpc.DialTCP("tcp", g.NFSAddr().String(), false)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	tg, err := (&nfsc.Mount{Client: c}).Mount("/"+vol, rpc.NewAuthUnix("t", 0, 0).Auth())
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func attach9p(t *testing.T, g *Gateway, vol string) p9.File {
	t.Helper()
	c, err := net.Dial("tcp", g.NinePAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	// p9's client does not lower its msize to the server's answer.
	cl, err := p9.NewClient(c, p9.WithMessageSize(ninep.DefaultMaxMessageSize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	root, err := cl.Attach(vol)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestCrossProtocol: a file written through NFS is read through 9P and the
// other way round, on the same volume.
func TestCrossProtocol(t *testing.T) {
	fs := newVolume(t)
	// p9's client attaches without a user, as the anonymous user
	fs.SetAttr(context.Background(), vfs.RootGFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o777})
	g := start(t, Config{Volume: "vol", FS: fs, NoRootSquash: true})
	tg := nfsMount(t, g, "vol")
	root := attach9p(t, g, "vol")

	data := bytes.Repeat([]byte("via nfs "), 200000)
	f, err := tg.OpenFile("from-nfs", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, pf, err := root.Walk([]string{"from-nfs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pf.Open(p9.ReadOnly); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data)+1)
	n, err := pf.ReadAt(got, 0)
	if (err != nil && err != io.EOF) || !bytes.Equal(got[:n], data) {
		t.Fatalf("9P read %d bytes of the NFS file: %v", n, err)
	}

	_, dir, err := root.Walk(nil)
	if err != nil {
		t.Fatal(err)
	}
	nf, _, _, err := dir.Create("from-9p", p9.WriteOnly, 0o644, p9.NoUID, 0)
	if err != nil {
		t.Fatal(err)
	}
	data2 := bytes.Repeat([]byte("via 9p "), 150000)
	if _, err := nf.WriteAt(data2, 0); err != nil {
		t.Fatal(err)
	}
	nf.Close()
	r, err := tg.Open("from-9p")
	if err != nil {
		t.Fatal(err)
	}
	var back []byte
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		back = append(back, buf[:n]...)
		if err != nil || n == 0 {
			break
		}
	}
	if !bytes.Equal(back, data2) {
		t.Fatalf("NFS read %d bytes of the 9P file, want %d", len(back), len(data2))
	}
}

// TestAllow: a client outside --allow is refused at connect, for both
// protocols; one inside is served.
func TestAllow(t *testing.T) {
	fs := memvfs.New()
	deny := start(t, Config{Volume: "vol", FS: fs, Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, a := range []net.Addr{deny.NFSAddr(), deny.NinePAddr()} {
		c, err := net.Dial("tcp", a.String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte{0x80, 0, 0, 40})
		if n, err := c.Read(make([]byte, 10)); err == nil || n > 0 {
			t.Fatalf("%v: refused client got %d bytes, %v", a, n, err)
		}
		c.Close()
	}
	allow, err := ParseAllow("10.0.0.0/8, 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ok := start(t, Config{Volume: "vol", FS: fs, Allow: allow})
	nfsMount(t, ok, "vol")
	attach9p(t, ok, "vol")
}

func TestParseAllow(t *testing.T) {
	p, err := ParseAllow("10.1.2.3/8,192.168.0.7,::ffff:10.0.0.0/104, fd00::/8,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.0.7/32", "10.0.0.0/8", "fd00::/8"}
	if len(p) != len(want) {
		t.Fatalf("%v", p)
	}
	for i := range p {
		if p[i].String() != want[i] {
			t.Fatalf("%d: %v, want %s", i, p[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "host", "1.2.3"} {
		if _, err := ParseAllow(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestReadOnly: both protocols refuse changes.
func TestReadOnly(t *testing.T) {
	fs := memvfs.New()
	g := start(t, Config{Volume: "vol", FS: fs, ReadOnly: true, NoRootSquash: true})
	tg := nfsMount(t, g, "vol")
	if _, err := tg.Mkdir("d", 0o755); err == nil {
		t.Fatal("NFS mkdir on a read-only gateway succeeded")
	}
	root := attach9p(t, g, "vol")
	if _, err := root.Mkdir("d", 0o755, p9.NoUID, 0); err == nil {
		t.Fatal("9P mkdir on a read-only gateway succeeded")
	}
}

func TestConfigErrors(t *testing.T) {
	fs := memvfs.New()
	for _, cfg := range []Config{
		{Volume: "vol", NFSAddr: ":0"},
		{Volume: "", FS: fs, NFSAddr: ":0"},
		{Volume: "a/b", FS: fs, NFSAddr: ":0"},
		{Volume: "vol", FS: fs},
		{Volume: "vol", FS: fs, NFSAddr: "256.0.0.1:0"},
	} {
		if g, err := New(cfg); err == nil {
			g.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	g, err := New(Config{Volume: "vol", FS: fs, NFSAddr: "127.0.0.1:0", NinePAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if l := g.MountCommands("gw"); len(l) != 2 {
		t.Fatalf("mount commands %v", l)
	}
	// a port in use is New's error
	if g2, err := New(Config{Volume: "vol", FS: fs, NFSAddr: g.NFSAddr().String()}); err == nil {
		g2.Close()
		t.Fatal("second gateway on the same port")
	}
}

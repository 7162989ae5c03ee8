package nfs

import (
	"bytes"
	"net"
	"testing"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"

	"github.com/cairnfs/cairn/gateway/internal/memvfs"
)

func TestSmoke(t *testing.T) {
	fs := memvfs.New()
	srv, err := New(Config{Exports: []Export{{Name: "vol", FS: fs}}, NoRootSquash: true})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	c, err := rpc.DialTCP("tcp", l.Addr().String(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := &nfsc.Mount{Client: c}
	tg, err := m.Mount("/vol", rpc.NewAuthUnix("x", 0, 0).Auth())
	if err != nil {
		t.Fatal(err)
	}
	f, err := tg.OpenFile("a.txt", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, err := tg.Open("a.txt")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, _ := r.Read(buf)
	if !bytes.Equal(buf[:n], []byte("hello")) {
		t.Fatalf("read %q", buf[:n])
	}
	if _, err := tg.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := tg.Rename("a.txt", "d/b.txt"); err != nil {
		t.Fatal(err)
	}
	ents, err := tg.ReadDirPlus("d")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Logf("%s %v %d", e.Name(), e.Mode(), e.Size())
	}
}

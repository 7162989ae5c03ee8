package server

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"google.golang.org/grpc/codes"
)

// sharer hands out descriptors of one file and records who asked.
type sharer struct {
	vfs.Translator
	path string

	mu     sync.Mutex // the race detector cannot see the socket's ordering
	caller vfs.Caller
	gfid   vfs.GFID
}

func (s *sharer) last() (vfs.GFID, vfs.Caller) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gfid, s.caller
}

func (s *sharer) ShareReadFD(ctx context.Context, gfid vfs.GFID) (int, syscall.Errno) {
	s.mu.Lock()
	s.caller, s.gfid = *vfs.CallerFrom(ctx), gfid
	s.mu.Unlock()
	if gfid == vfs.RootGFID {
		return -1, syscall.EISDIR
	}
	fd, err := syscall.Open(s.path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, err.(syscall.Errno)
	}
	return fd, 0
}

func dialLocal(t *testing.T, name string, token []byte, subvol string) (*net.UnixConn, *brickpb.ChannelReply) {
	t.Helper()
	uc, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: name, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	if _, err := uc.Write([]byte(protocol.LocalFDMagic)); err != nil {
		t.Fatal(err)
	}
	if err := protocol.WritePacket(uc, &brickpb.ChannelHello{Token: token, Subvolume: subvol}, -1); err != nil {
		t.Fatal(err)
	}
	var rep brickpb.ChannelReply
	if _, err := protocol.ReadPacket(uc, &rep); err != nil {
		t.Fatal(err)
	}
	return uc, &rep
}

func askFD(t *testing.T, uc *net.UnixConn, g []byte, caller string) (int, syscall.Errno) {
	t.Helper()
	if err := protocol.WritePacket(uc, &brickpb.LocalFDRequest{Gfid: g, Caller: caller}, -1); err != nil {
		t.Fatal(err)
	}
	var rep brickpb.LocalFDReply
	fd, err := protocol.ReadPacket(uc, &rep)
	if err != nil {
		t.Fatal(err)
	}
	return fd, syscall.Errno(rep.Errno)
}

// tokenFor opens s's local socket with listen (closed when the test ends)
// and returns a connection from 127.0.0.1 and its ChannelToken reply.
func tokenFor(t *testing.T, s *Server, listen func() error) (*conn, *brickpb.ChannelTokenReply) {
	t.Helper()
	if err := listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.closeLocal)
	r := &rig{s: s, svc: &service{s: s}}
	c := r.conn("127.0.0.1")
	rep, err := r.call(r.ctx(c), "ChannelToken", &brickpb.ChannelTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return c, rep.(*brickpb.ChannelTokenReply)
}

// TestLocalFDSocket: ChannelToken names the socket; a connection needs a
// live token and a subvolume it was admitted to; a descriptor comes back
// for the identity asked with, errors come back as errnos, and the
// socket's connections end with their gRPC connection.
func TestLocalFDSocket(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("local bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := &sharer{Translator: memfs.New(memfs.Config{}), path: file}
	s, err := New(Config{
		Subvolumes:   map[string]vfs.Translator{"brick": sh, "plain": memfs.New(memfs.Config{})},
		Auth:         map[string]AuthRules{"brick": {Allow: []string{"127.0.0.1"}}, "plain": {Allow: []string{"127.0.0.1"}}},
		LocalReadFDs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	c, tok := tokenFor(t, s, s.listenLocal)
	if tok.LocalSocket == "" || tok.LocalSocket != s.localSocket() {
		t.Fatalf("ChannelToken names local socket %q, the server has %q", tok.LocalSocket, s.localSocket())
	}

	if _, a := dialLocal(t, tok.LocalSocket, []byte("not a token"), "brick"); codes.Code(a.Code) != codes.Unauthenticated {
		t.Fatalf("unknown token: code %v %q, want Unauthenticated", codes.Code(a.Code), a.Message)
	}
	if _, a := dialLocal(t, tok.LocalSocket, tok.Token, "nosuch"); a.Code == 0 {
		t.Fatal("unknown subvolume accepted")
	}

	uc, a := dialLocal(t, tok.LocalSocket, tok.Token, "brick")
	if a.Code != 0 {
		t.Fatalf("refused: %v %s", codes.Code(a.Code), a.Message)
	}
	g := vfs.NewGFID()
	fd, e := askFD(t, uc, protocol.GFIDBytes(g), "1000:100:7:5,6")
	if e != 0 || fd < 0 {
		t.Fatalf("share: fd %d, %v", fd, e)
	}
	buf := make([]byte, 64)
	n, err := syscall.Pread(fd, buf, 0)
	syscall.Close(fd)
	if err != nil || string(buf[:n]) != "local bytes" {
		t.Fatalf("pread of the shared descriptor: %q, %v", buf[:n], err)
	}
	if sg, sc := sh.last(); sg != g || sc.UID != 1000 || sc.GID != 100 || len(sc.Groups) != 2 || sc.Client != c.id {
		t.Fatalf("the translator saw gfid %v caller %+v; want %v, uid 1000 gid 100, two groups, client %s", sg, sc, g, c.id)
	}
	if fd, e := askFD(t, uc, vfs.RootGFID[:], ""); e != syscall.EISDIR || fd >= 0 {
		t.Fatalf("the translator's refusal: fd %d, %v, want EISDIR and none", fd, e)
	}
	if _, e := askFD(t, uc, []byte{1, 2, 3}, ""); e != syscall.EINVAL {
		t.Fatalf("malformed gfid: %v, want EINVAL", e)
	}

	// A subvolume whose graph cannot share descriptors says so.
	uc2, a := dialLocal(t, tok.LocalSocket, tok.Token, "plain")
	if a.Code != 0 {
		t.Fatalf("refused on plain: %s", a.Message)
	}
	if _, e := askFD(t, uc2, protocol.GFIDBytes(g), ""); e != syscall.EOPNOTSUPP {
		t.Fatalf("share on a graph without ShareReadFD: %v, want EOPNOTSUPP", e)
	}

	// The gRPC connection ends: so do its local connections, and its
	// token no longer opens new ones.
	s.closeConn(c)
	var rp brickpb.LocalFDReply
	if err := protocol.WritePacket(uc, &brickpb.LocalFDRequest{Gfid: protocol.GFIDBytes(g)}, -1); err == nil {
		if _, err := protocol.ReadPacket(uc, &rp); err == nil {
			t.Fatal("local connection still answering after its connection closed")
		}
	}
	if _, a := dialLocal(t, tok.LocalSocket, tok.Token, "brick"); codes.Code(a.Code) != codes.Unauthenticated {
		t.Fatalf("token of a closed connection: code %v, want Unauthenticated", codes.Code(a.Code))
	}
}

// TestLocalFDSocketServe: Serve opens the local descriptor socket only
// with LocalReadFDs and the local channel socket only with LocalChannels,
// and Stop closes them.
func TestLocalFDSocketServe(t *testing.T) {
	for _, on := range []bool{false, true} {
		s, err := New(Config{
			Subvolumes:    map[string]vfs.Translator{"brick": memfs.New(memfs.Config{})},
			Auth:          map[string]AuthRules{"brick": {Allow: []string{"127.0.0.1"}}},
			LocalReadFDs:  on,
			LocalChannels: on,
		})
		if err != nil {
			t.Fatal(err)
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Serve(lis) }()
		name, chName := "", ""
		for i := 0; i < 200 && (name == "" || chName == ""); i++ {
			name, chName = s.localSocket(), s.localChannel()
			time.Sleep(5 * time.Millisecond)
		}
		if (name != "") != on || (chName != "") != on {
			t.Fatalf("LocalReadFDs and LocalChannels %v: local socket %q, local channel %q", on, name, chName)
		}
		s.Stop()
		<-done
		if s.localSocket() != "" || s.localChannel() != "" {
			t.Fatal("local sockets still named after Stop")
		}
		if on {
			if _, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: name, Net: "unixpacket"}); err == nil {
				t.Fatal("local socket still accepting after Stop")
			}
			if _, err := net.Dial("unix", chName); err == nil {
				t.Fatal("local channel socket still accepting after Stop")
			}
		}
	}
}

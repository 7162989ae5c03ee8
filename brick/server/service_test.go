package server

import (
	"context"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfsfake"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// rig drives a Server's handlers in-process through the same interceptor
// and generated dispatch gRPC uses, without a transport.
type rig struct {
	s   *Server
	svc *service
}

func newRig(t testing.TB, xl vfs.Translator, onDisconnect func(string)) *rig {
	t.Helper()
	s, err := New(Config{
		Subvolumes:   map[string]vfs.Translator{"brick": xl},
		Auth:         map[string]AuthRules{"brick": {Allow: []string{"127.0.0.1"}}},
		OnDisconnect: onDisconnect,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{s: s, svc: &service{s: s}}
}

// conn makes a connection from ip.
func (r *rig) conn(ip string) *conn {
	return r.s.newConn(&net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 6996})
}

// ctx is the context of a call on c with the given metadata pairs after the
// default subvolume and caller.
func (r *rig) ctx(c *conn, kv ...string) context.Context {
	md := metadata.Pairs(append([]string{protocol.MDSubvolume, "brick", protocol.MDCaller, "0:0:1"}, kv...)...)
	return metadata.NewIncomingContext(context.WithValue(context.Background(), connKey{}, c), md)
}

// call runs method with req (merged into the handler's fresh request).
func (r *rig) call(ctx context.Context, method string, req proto.Message) (any, error) {
	for _, m := range brickpb.Brick_ServiceDesc.Methods {
		if m.MethodName == method {
			dec := func(v any) error { proto.Merge(v.(proto.Message), req); return nil }
			return m.Handler(r.svc, ctx, dec, r.s.intercept)
		}
	}
	panic("no method " + method)
}

func errnoOfReply(t *testing.T, rep any, err error) syscall.Errno {
	t.Helper()
	if err != nil {
		t.Fatalf("status error: %v", err)
	}
	return syscall.Errno(rep.(interface{ GetErrno() uint32 }).GetErrno())
}

var root = vfs.RootGFID[:]

func TestCallerAndClient(t *testing.T) {
	fake := vfsfake.New(memfs.New(memfs.Config{}))
	r := newRig(t, fake, nil)
	c := r.conn("127.0.0.1")
	ctx := r.ctx(c)
	ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(protocol.MDSubvolume, "brick",
		protocol.MDCaller, protocol.EncodeCaller(&vfs.Caller{UID: 1000, GID: 100, Pid: 42, Groups: []uint32{5, 6}, Client: "spoofed"})))
	rep, err := r.call(ctx, "Lookup", &brickpb.LookupRequest{Parent: root, Name: []byte("x")})
	if e := errnoOfReply(t, rep, err); e != syscall.ENOENT {
		t.Fatalf("lookup: %v", e)
	}
	got := fake.CallsOf(vfsfake.Lookup)[0].Caller
	if got.UID != 1000 || got.GID != 100 || got.Pid != 42 || len(got.Groups) != 2 || got.Groups[1] != 6 || got.Client != c.id {
		t.Fatalf("caller %+v, client id %q", got, c.id)
	}
	// Garbage identity is refused before the translator.
	bad := metadata.NewIncomingContext(ctx, metadata.Pairs(protocol.MDSubvolume, "brick", protocol.MDCaller, "x:y"))
	if _, err := r.call(bad, "Lookup", &brickpb.LookupRequest{Parent: root, Name: []byte("x")}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad caller: %v", err)
	}
}

func TestValidation(t *testing.T) {
	fake := vfsfake.New(memfs.New(memfs.Config{}))
	r := newRig(t, fake, nil)
	ctx := r.ctx(r.conn("127.0.0.1"))
	long := strings.Repeat("n", 256)
	big := make([]byte, protocol.MaxIOSize+1)
	wlk := &brickpb.Lock{Type: uint32(vfs.WriteLock), End: 10}
	cases := []struct {
		method string
		req    proto.Message
		want   syscall.Errno
	}{
		{"Lookup", &brickpb.LookupRequest{Parent: root[:15], Name: []byte("a")}, syscall.EINVAL},
		{"Lookup", &brickpb.LookupRequest{Parent: root, Name: []byte("a/b")}, syscall.EINVAL},
		{"Lookup", &brickpb.LookupRequest{Parent: root, Name: []byte("..")}, syscall.EINVAL},
		{"Lookup", &brickpb.LookupRequest{Parent: root, Name: []byte("a\x00")}, syscall.EINVAL},
		{"Lookup", &brickpb.LookupRequest{Parent: root, Name: []byte(long)}, syscall.ENAMETOOLONG},
		{"GetAttr", &brickpb.GetAttrRequest{}, syscall.EINVAL},
		{"GetAttr", &brickpb.GetAttrRequest{Gfid: root, Xattrs: [][]byte{{}}}, syscall.EINVAL},
		{"GetAttr", &brickpb.GetAttrRequest{Gfid: root, Xattrs: make([][]byte, 65)}, syscall.EINVAL},
		{"Lookup", &brickpb.LookupRequest{Parent: root, Name: []byte("a"), Xattrs: [][]byte{[]byte("a\x00")}}, syscall.EINVAL},
		{"Create", &brickpb.CreateRequest{Parent: root, Name: []byte("a"), In: &brickpb.CreateIn{Gfid: []byte{1, 2}}}, syscall.EINVAL},
		{"Symlink", &brickpb.SymlinkRequest{Parent: root, Name: []byte("s"), Target: make([]byte, 5000)}, syscall.ENAMETOOLONG},
		{"Rename", &brickpb.RenameRequest{OldParent: root, OldName: []byte("a"), NewParent: root, NewName: []byte("b"), Flags: 8}, syscall.EINVAL},
		{"Link", &brickpb.LinkRequest{Gfid: root, NewParent: root, NewName: []byte(".")}, syscall.EINVAL},
		{"SetAttr", &brickpb.SetAttrRequest{Gfid: root, In: &brickpb.SetAttrIn{Valid: 1 << 20}}, syscall.EINVAL},
		{"Read", &brickpb.ReadRequest{Gfid: root, Size: protocol.MaxIOSize + 1}, syscall.EINVAL},
		{"Read", &brickpb.ReadRequest{Gfid: root, Offset: -1, Size: 1}, syscall.EINVAL},
		{"Write", &brickpb.WriteRequest{Gfid: root, Data: big}, syscall.EINVAL},
		{"Fallocate", &brickpb.FallocateRequest{Gfid: root, Length: 0}, syscall.EINVAL},
		{"GetXattr", &brickpb.GetXattrRequest{Gfid: root}, syscall.EINVAL},
		{"SetXattr", &brickpb.SetXattrRequest{Gfid: root, Name: []byte("user.a"), Value: make([]byte, 65537)}, syscall.E2BIG},
		{"XattrOp", &brickpb.XattrOpRequest{Gfid: root, Op: 7, Operands: []*brickpb.Xattr{{Name: []byte("a")}}}, syscall.EINVAL},
		{"XattrOp", &brickpb.XattrOpRequest{Gfid: root, Operands: make([]*brickpb.Xattr, 65)}, syscall.EINVAL},
		{"InodeLk", &brickpb.InodeLkRequest{Domain: []byte("d"), Gfid: root}, syscall.EINVAL},
		{"InodeLk", &brickpb.InodeLkRequest{Gfid: root, Lock: wlk}, syscall.EINVAL},
		{"InodeLk", &brickpb.InodeLkRequest{Domain: []byte("d"), Gfid: root, Lock: &brickpb.Lock{Type: 99}}, syscall.EINVAL},
		{"InodeLk", &brickpb.InodeLkRequest{Domain: []byte("d"), Gfid: root, Lock: &brickpb.Lock{Type: uint32(vfs.ReadLock), Start: 5, End: 4}}, syscall.EINVAL},
		{"EntryLk", &brickpb.EntryLkRequest{Domain: []byte("d"), Parent: root, Name: []byte("a/b"), Type: uint32(vfs.WriteLock)}, syscall.EINVAL},
		{"SetLk", &brickpb.SetLkRequest{Gfid: root, Kind: 5, Lock: wlk}, syscall.EINVAL},
		{"GetLk", &brickpb.GetLkRequest{Gfid: root}, syscall.EINVAL},
		{"Compound", &brickpb.CompoundRequest{Ops: make([]*brickpb.SubRequest, protocol.MaxCompoundOps+1)}, syscall.EINVAL},
		{"Compound", &brickpb.CompoundRequest{Ops: []*brickpb.SubRequest{{}}}, syscall.EINVAL},
		{"Compound", &brickpb.CompoundRequest{Ops: []*brickpb.SubRequest{{Op: &brickpb.SubRequest_Lookup{}}}}, syscall.EINVAL},
	}
	for _, tc := range cases {
		rep, err := r.call(ctx, tc.method, tc.req)
		if e := errnoOfReply(t, rep, err); e != tc.want {
			t.Errorf("%s %v: errno %v, want %v", tc.method, tc.req, e, tc.want)
		}
	}
	if n := fake.Total(); n != 0 {
		t.Errorf("%d invalid requests reached the translator: %+v", n, fake.Calls())
	}
}

func TestReadDirCapped(t *testing.T) {
	fs := memfs.New(memfs.Config{})
	ctx := context.Background()
	for i := 0; i < protocol.MaxReadDirEntries+10; i++ {
		if _, e := fs.Mkdir(ctx, vfs.RootGFID, "d"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+itoa(i), &vfs.CreateIn{Mode: 0o755}); e != 0 {
			t.Fatal(e)
		}
	}
	r := newRig(t, fs, nil)
	rep, err := r.call(r.ctx(r.conn("127.0.0.1")), "ReadDir", &brickpb.ReadDirRequest{Gfid: root, Max: 1 << 30, Plus: true})
	if err != nil {
		t.Fatal(err)
	}
	rd := rep.(*brickpb.ReadDirReply)
	if rd.Errno != 0 || len(rd.Entries) != protocol.MaxReadDirEntries || rd.Eof {
		t.Fatalf("errno %d, %d entries, eof %v", rd.Errno, len(rd.Entries), rd.Eof)
	}
}

func itoa(i int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		if i /= 10; i == 0 {
			return string(b)
		}
	}
}

// releaser records ReleaseClient calls.
type releaser struct {
	*vfsfake.Fake
	mu      sync.Mutex
	clients []string
}

func (r *releaser) ReleaseClient(client string) {
	r.mu.Lock()
	r.clients = append(r.clients, client)
	r.mu.Unlock()
}

// TestHandlesPerConnection: a handle is only valid on the connection that
// opened it, must match its GFID and kind, and is released with the
// connection, which also releases the client's locks.
func TestHandlesPerConnection(t *testing.T) {
	rel := &releaser{Fake: vfsfake.New(memfs.New(memfs.Config{}))}
	var gone []string
	r := newRig(t, rel, func(id string) { gone = append(gone, id) })
	ca, cb := r.conn("127.0.0.1"), r.conn("127.0.0.1")
	a, b := r.ctx(ca), r.ctx(cb)
	rep, err := r.call(a, "Create", &brickpb.CreateRequest{Parent: root, Name: []byte("f"),
		In: &brickpb.CreateIn{Mode: 0o644, Flags: uint32(syscall.O_RDWR)}})
	if e := errnoOfReply(t, rep, err); e != 0 {
		t.Fatal(e)
	}
	cr := rep.(*brickpb.CreateReply)
	fh, g := cr.Fh, cr.Attr.Gfid
	rep, err = r.call(a, "OpenDir", &brickpb.OpenDirRequest{Gfid: root})
	if e := errnoOfReply(t, rep, err); e != 0 {
		t.Fatal(e)
	}
	dfh := rep.(*brickpb.HandleReply).Fh

	// Another connection's handle is stale.
	_, err = r.call(b, "Read", &brickpb.ReadRequest{Gfid: g, Fh: fh, Size: 10})
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition || len(st.Details()) != 1 || st.Details()[0].(*brickpb.StaleHandle).Fh != fh {
		t.Fatalf("foreign handle: %v", err)
	}
	// Kind and GFID must match.
	rep, err = r.call(a, "ReadDir", &brickpb.ReadDirRequest{Gfid: g, Fh: fh})
	if e := errnoOfReply(t, rep, err); e != syscall.EBADF {
		t.Errorf("readdir on a file handle: %v", e)
	}
	rep, err = r.call(a, "Read", &brickpb.ReadRequest{Gfid: root, Fh: dfh, Size: 1})
	if e := errnoOfReply(t, rep, err); e != syscall.EBADF {
		t.Errorf("read on a dir handle: %v", e)
	}
	rep, err = r.call(a, "Write", &brickpb.WriteRequest{Gfid: root, Fh: fh, Data: []byte("x")})
	if e := errnoOfReply(t, rep, err); e != syscall.EBADF {
		t.Errorf("write with another file's gfid: %v", e)
	}
	// A released handle is gone.
	rep, err = r.call(a, "Open", &brickpb.OpenRequest{Gfid: g, Flags: uint32(syscall.O_RDONLY)})
	if e := errnoOfReply(t, rep, err); e != 0 {
		t.Fatal(e)
	}
	ofh := rep.(*brickpb.HandleReply).Fh
	rep, err = r.call(a, "Release", &brickpb.ReleaseRequest{Gfid: g, Fh: ofh})
	if e := errnoOfReply(t, rep, err); e != 0 {
		t.Fatal(e)
	}
	if _, err := r.call(a, "Flush", &brickpb.FlushRequest{Gfid: g, Fh: ofh}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("released handle: %v", err)
	}

	before := rel.Count(vfsfake.Release) + rel.Count(vfsfake.ReleaseDir)
	r.s.closeConn(ca)
	r.s.cleanups.Wait()
	if n := rel.Count(vfsfake.Release) + rel.Count(vfsfake.ReleaseDir) - before; n != 2 {
		t.Errorf("%d handles released at disconnect, want 2", n)
	}
	for _, call := range rel.Calls()[len(rel.Calls())-2:] {
		if call.Caller.Client != ca.id {
			t.Errorf("release at disconnect as %q, want %q", call.Caller.Client, ca.id)
		}
	}
	if len(rel.clients) != 1 || rel.clients[0] != ca.id || len(gone) != 1 || gone[0] != ca.id {
		t.Errorf("ReleaseClient %v, OnDisconnect %v, want [%s]", rel.clients, gone, ca.id)
	}
	// A closed connection takes no more calls.
	if _, err := r.call(a, "Ping", &brickpb.PingRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("call on a closed connection: %v", err)
	}
}

func TestRefusedAndUnknown(t *testing.T) {
	fake := vfsfake.New(memfs.New(memfs.Config{}))
	r := newRig(t, fake, nil)
	c := r.conn("10.1.2.3")
	_, err := r.call(r.ctx(c), "Ping", &brickpb.PingRequest{})
	want := "brick 127.0.0.1:6996 refused connection from 10.1.2.3 to subvolume brick: not allowed by auth.addr.brick.allow"
	if status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != want {
		t.Fatalf("refused peer: %v", err)
	}
	ctx := metadata.NewIncomingContext(context.WithValue(context.Background(), connKey{}, r.conn("127.0.0.1")),
		metadata.Pairs(protocol.MDSubvolume, "other"))
	if _, err := r.call(ctx, "Lookup", &brickpb.LookupRequest{Parent: root, Name: []byte("a")}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown subvolume: %v", err)
	}
	if fake.Total() != 0 {
		t.Fatal("refused calls reached the translator")
	}
	// GetVolfile needs no auth; unknown names are ENOENT, paths cannot be named.
	rep, err := r.call(r.ctx(c), "GetVolfile", &brickpb.GetVolfileRequest{Name: []byte("/etc/passwd")})
	if e := errnoOfReply(t, rep, err); e != syscall.ENOENT {
		t.Fatalf("getvolfile of a path: %v", e)
	}
}

func TestClientsXattr(t *testing.T) {
	r := newRig(t, memfs.New(memfs.Config{}), nil)
	ca, cb, refused := r.conn("127.0.0.1"), r.conn("127.0.0.1"), r.conn("10.0.0.9")
	for _, c := range []*conn{ca, cb, refused} {
		r.call(r.ctx(c), "Ping", &brickpb.PingRequest{})
	}
	get := func() string {
		rep, err := r.call(r.ctx(ca), "GetXattr", &brickpb.GetXattrRequest{Gfid: root, Name: []byte(XattrClients)})
		if e := errnoOfReply(t, rep, err); e != 0 {
			t.Fatal(e)
		}
		return string(rep.(*brickpb.GetXattrReply).Value)
	}
	want := []string{ca.id, cb.id}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if got := get(); got != want[0]+"\n"+want[1]+"\n" {
		t.Fatalf("clients %q", got)
	}
	r.s.closeConn(cb)
	r.s.cleanups.Wait()
	if got := get(); got != ca.id+"\n" {
		t.Fatalf("clients after a disconnect %q", got)
	}
	rep, err := r.call(r.ctx(ca), "SetXattr", &brickpb.SetXattrRequest{Gfid: root, Name: []byte(XattrClients), Value: []byte("x")})
	if e := errnoOfReply(t, rep, err); e != syscall.EPERM {
		t.Fatalf("setxattr of the virtual xattr: %v", e)
	}
}

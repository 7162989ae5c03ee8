package server

import (
	"context"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// TestChangeQueueOverflow: changes queued while a subscriber's writer is
// stuck are replaced, beyond the queue's bound, by one All; changes of
// the subscriber's own connection are not queued; repeats are merged.
func TestChangeQueueOverflow(t *testing.T) {
	r := newRig(t, memfs.New(memfs.Config{}), nil)
	sv := r.s.subvols["brick"]
	self, other := r.conn("127.0.0.1"), r.conn("127.0.0.1")
	release := make(chan struct{})
	got := make(chan *brickpb.ChannelReply, 16)
	var once sync.Once
	send := func(rep *brickpb.ChannelReply) {
		once.Do(func() { <-release }) // the writer is stuck on its first send
		got <- rep
	}
	sb := sv.subscribe(self, send, 4)
	defer sb.stop()
	var g vfs.GFID
	for i := range 10 {
		g[0] = byte(i + 1)
		sv.publish(other, []vfs.Change{{GFID: g}})
	}
	close(release)
	next := func() *brickpb.ChannelReply {
		t.Helper()
		select {
		case rep := <-got:
			return rep
		case <-time.After(5 * time.Second):
			t.Fatal("no reply from the writer")
			return nil
		}
	}
	if rep := next(); !rep.Subscribed || len(rep.Changes) != 0 {
		t.Fatalf("first reply %v, want the subscription's acceptance", rep)
	}
	if rep := next(); len(rep.Changes) != 1 || !rep.Changes[0].All {
		t.Fatalf("after overflow: %v, want one All", rep)
	}
	// Own changes are not reported; a burst on one file is one report.
	sv.publish(self, []vfs.Change{{Parent: vfs.RootGFID, Name: "own"}})
	g[0] = 42
	sv.publish(other, []vfs.Change{{GFID: g}, {GFID: g}, {Parent: vfs.RootGFID, Name: "x"}})
	rep := next()
	var chs []vfs.Change
	for _, pc := range rep.Changes {
		chs = append(chs, protocol.ChangeFromPB(pc))
	}
	want := []vfs.Change{{GFID: g}, {Parent: vfs.RootGFID, Name: "x"}}
	if len(chs) != len(want) || chs[0] != want[0] || chs[1] != want[1] {
		t.Fatalf("got %+v, want %+v", chs, want)
	}
}

// brickConn dials a Server on a loopback listener with plain gRPC.
func brickConn(t *testing.T, addr string) brickpb.BrickClient {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return brickpb.NewBrickClient(cc)
}

// TestChangesOnStream subscribes on a Channel carried by the gRPC stream
// (the client's fallback when it has no side connection) and checks that
// unary calls and Compound calls of another connection are reported, and
// those of the subscriber's own connection are not.
func TestChangesOnStream(t *testing.T) {
	s, err := New(Config{
		Subvolumes: map[string]vfs.Translator{"brick": memfs.New(memfs.Config{})},
		Auth:       map[string]AuthRules{"brick": {Allow: []string{"127.0.0.1"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(lis)
	defer s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, protocol.MDSubvolume, "brick", protocol.MDCaller, "0:0:1")

	x, y := brickConn(t, lis.Addr().String()), brickConn(t, lis.Addr().String())
	stream, err := x.Channel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&brickpb.ChannelCall{Subscribe: true}); err != nil {
		t.Fatal(err)
	}
	rep, err := stream.Recv()
	if err != nil || rep.Id != 0 || !rep.Subscribed {
		t.Fatalf("subscription answer %v, %v", rep, err)
	}
	mkdir := func(c brickpb.BrickClient, name string) {
		t.Helper()
		r, err := c.Mkdir(ctx, &brickpb.MkdirRequest{Parent: root, Name: []byte(name), In: &brickpb.CreateIn{Mode: 0o755}})
		if err != nil || r.Errno != 0 {
			t.Fatalf("mkdir %s: %v %v", name, r, err)
		}
	}
	mkdir(x, "own") // not reported to x
	mkdir(y, "a")
	op := compound.Rename(vfs.RootGFID, "a", vfs.RootGFID, "b", 0)
	crep, err := y.Compound(ctx, &brickpb.CompoundRequest{Ops: []*brickpb.SubRequest{protocol.EncodeSubRequest(&op)}})
	if err != nil || crep.Errno != 0 {
		t.Fatalf("compound rename: %v %v", crep, err)
	}
	// A failed operation changes nothing.
	if r, err := y.Rmdir(ctx, &brickpb.RmdirRequest{Parent: root, Name: []byte("nonesuch")}); err != nil || syscall.Errno(r.Errno) != syscall.ENOENT {
		t.Fatalf("rmdir: %v %v", r, err)
	}
	mkdir(y, "end")
	// mkdir a and the rename's removal of a are one report when the
	// brick queued them together.
	want := []vfs.Change{
		{Parent: vfs.RootGFID, Name: "a"}, {Parent: vfs.RootGFID, Name: "b"},
		{Parent: vfs.RootGFID, Name: "end"},
	}
	var chs []vfs.Change
	for len(chs) == 0 || chs[len(chs)-1] != want[len(want)-1] {
		rep, err := stream.Recv()
		if err != nil {
			t.Fatalf("after %+v: %v", chs, err)
		}
		if rep.Id != 0 {
			t.Fatalf("reply of id %d", rep.Id)
		}
		for _, pc := range rep.Changes {
			if ch := protocol.ChangeFromPB(pc); len(chs) == 0 || chs[len(chs)-1] != ch {
				chs = append(chs, ch)
			}
		}
	}
	for i := range want {
		if i >= len(chs) || chs[i] != want[i] {
			t.Fatalf("got %+v, want %+v", chs, want)
		}
	}
	if len(chs) != len(want) {
		t.Fatalf("got %+v, want %+v", chs, want)
	}
}

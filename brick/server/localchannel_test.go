package server

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"google.golang.org/grpc/codes"
)

// helloLocalChannel opens a side connection on the local channel socket
// name and returns it with the brick's answer to its hello (nil when the
// brick closed it without one).
func helloLocalChannel(t *testing.T, name string, magic string, token []byte, subvol string) (net.Conn, *brickpb.ChannelReply) {
	t.Helper()
	nc, err := net.Dial("unix", name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	// A brick that closes at once (wrong magic) may break the writes.
	if _, err := nc.Write([]byte(magic)); err != nil {
		return nc, nil
	}
	if err := protocol.WriteFrame(nc, &brickpb.ChannelHello{Token: token, Subvolume: subvol, RawPayloads: true}); err != nil {
		return nc, nil
	}
	var rep brickpb.ChannelReply
	if _, err := protocol.ReadFrame(nc, &rep, nil); err != nil {
		return nc, nil
	}
	return nc, &rep
}

// TestLocalChannelSocket: ChannelToken names the socket; a side connection
// there needs the magic, a live token and an admitted subvolume; an
// accepted one answers calls, and it ends with its gRPC connection.
func TestLocalChannelSocket(t *testing.T) {
	s, err := New(Config{
		Subvolumes:    map[string]vfs.Translator{"brick": memfs.New(memfs.Config{})},
		Auth:          map[string]AuthRules{"brick": {Allow: []string{"127.0.0.1"}}},
		LocalChannels: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	c, tok := tokenFor(t, s, s.listenLocalChannel)
	if tok.LocalChannel == "" || tok.LocalChannel != s.localChannel() {
		t.Fatalf("ChannelToken names local channel %q, the server has %q", tok.LocalChannel, s.localChannel())
	}

	if _, a := helloLocalChannel(t, tok.LocalChannel, "NOTCAIRN", tok.Token, "brick"); a != nil {
		t.Fatalf("wrong magic answered: %v", a)
	}
	if _, a := helloLocalChannel(t, tok.LocalChannel, protocol.FastPathMagic, []byte("not a token"), "brick"); a == nil || codes.Code(a.Code) != codes.Unauthenticated {
		t.Fatalf("unknown token: %v, want Unauthenticated", a)
	}
	if _, a := helloLocalChannel(t, tok.LocalChannel, protocol.FastPathMagic, tok.Token, "nosuch"); a == nil || a.Code == 0 {
		t.Fatalf("unknown subvolume: %v, want a refusal", a)
	}
	nc, a := helloLocalChannel(t, tok.LocalChannel, protocol.FastPathMagic, tok.Token, "brick")
	if a == nil || a.Code != 0 || !a.RawPayloads {
		t.Fatalf("the connection's own token: %v, want accepted with raw payloads", a)
	}
	call := &brickpb.ChannelCall{Id: 7, Call: &brickpb.CompoundRequest{Ops: []*brickpb.SubRequest{
		{Op: &brickpb.SubRequest_Getattr{Getattr: &brickpb.GetAttrRequest{Gfid: protocol.GFIDBytes(vfs.RootGFID)}}},
	}}}
	if err := protocol.WriteFrame(nc, call); err != nil {
		t.Fatal(err)
	}
	var answer brickpb.ChannelReply
	if _, err := protocol.ReadFrame(nc, &answer, nil); err != nil {
		t.Fatal(err)
	}
	if answer.Id != 7 || answer.Code != 0 || len(answer.GetReply().GetReplies()) != 1 {
		t.Fatalf("getattr of the root: %v", &answer)
	}

	// The gRPC connection ends: so does its side connection, and its
	// token opens no new one.
	s.closeConn(c)
	if _, err := protocol.ReadFrame(nc, &answer, nil); err == nil {
		t.Fatal("side connection still open after its connection closed")
	} else if err != io.EOF && err != io.ErrUnexpectedEOF {
		t.Logf("side connection ended with %v", err)
	}
	if _, a := helloLocalChannel(t, tok.LocalChannel, protocol.FastPathMagic, tok.Token, "brick"); a == nil || codes.Code(a.Code) != codes.Unauthenticated {
		t.Fatalf("token of a closed connection: %v, want Unauthenticated", a)
	}
}

package client

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// rawChannel reports whether c's channel is a side connection with raw
// payloads agreed.
func rawChannel(c *Client) bool {
	ep := c.ep.Load()
	ep.chMu.Lock()
	defer ep.chMu.Unlock()
	return ep.ch != nil && ep.ch.side && ep.ch.raw && c.rawBulk.Load()
}

// rawFile connects a client to an in-memory brick and creates a file,
// released when the test ends.
func rawFile(t *testing.T) (*Client, *testBrick, vfs.Attr, vfs.Handle) {
	t.Helper()
	c, b := connected(t, locks.New(memfs.New(memfs.Config{})), nil)
	a, fh, e := c.Create(context.Background(), vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	t.Cleanup(func() { c.Release(context.Background(), a.GFID, fh) })
	return c, b, a, fh
}

// TestRawPayloads: bulk reads and writes of every size, including ones
// split into several 1 MiB requests and odd sizes, travel as raw payloads
// on the side connection and arrive intact, at the right offsets.
func TestRawPayloads(t *testing.T) {
	c, _, a, fh := rawFile(t)
	ctx := context.Background()
	if !rawChannel(c) {
		t.Fatal("the channel does not carry raw payloads")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([]byte, 3<<20+12345)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	// Writes of assorted sizes cover the file.
	for off, k := 0, 0; off < len(want); k++ {
		size := []int{1, 4096, 300 << 10, 1 << 20, 2<<20 + 7}[k%5]
		end := min(len(want), off+size)
		if n, e := c.Write(ctx, a.GFID, fh, want[off:end], int64(off)); e != 0 || n != end-off {
			t.Fatalf("write at %d of %d bytes: %d %v", off, end-off, n, e)
		}
		off = end
	}
	// One read of everything (several requests), then reads of assorted
	// sizes and offsets, one past the end.
	got := make([]byte, len(want)+100)
	n, e := c.Read(ctx, a.GFID, fh, got, 0)
	if e != 0 || n != len(want) || !bytes.Equal(got[:n], want) {
		t.Fatalf("read all: %d bytes, %v, equal %v", n, e, bytes.Equal(got[:min(n, len(want))], want[:min(n, len(want))]))
	}
	for k := 0; k < 20; k++ {
		off := rng.IntN(len(want))
		size := rng.IntN(1<<20 + 5000)
		buf := make([]byte, size)
		n, e := c.Read(ctx, a.GFID, fh, buf, int64(off))
		wantN := min(size, len(want)-off)
		if e != 0 || n != wantN || !bytes.Equal(buf[:n], want[off:off+wantN]) {
			t.Fatalf("read %d at %d: %d %v", size, off, n, e)
		}
	}
	if n, e := c.Read(ctx, a.GFID, fh, make([]byte, 1<<20), int64(len(want))); e != 0 || n != 0 {
		t.Fatalf("read at EOF: %d %v", n, e)
	}
}

// TestRawReadCancelled: callers that give up on a bulk read get their
// buffer back untouched by the channel afterwards (the race detector
// watches the writes below), and the channel keeps working.
func TestRawReadCancelled(t *testing.T) {
	c, _, a, fh := rawFile(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if _, e := c.Write(ctx, a.GFID, fh, data, 0); e != 0 {
		t.Fatal(e)
	}
	buf := make([]byte, len(data))
	for k := 0; k < 200; k++ {
		cctx, cancel := context.WithTimeout(ctx, time.Duration(k%20)*20*time.Microsecond)
		c.Read(cctx, a.GFID, fh, buf, 0)
		cancel()
		for i := range buf { // the buffer is ours again
			buf[i] = 0
		}
	}
	n, e := c.Read(ctx, a.GFID, fh, buf, 0)
	if e != 0 || !bytes.Equal(buf[:n], data) {
		t.Fatalf("read after cancelled ones: %d %v", n, e)
	}
}

// TestRawPayloadMisuse: a brick refuses a raw payload that does not belong
// to a Write sent without data (and the connection goes on), and closes a
// side connection that sends one without having agreed to them.
func TestRawPayloadMisuse(t *testing.T) {
	c, b, a, fh := rawFile(t)
	ctx := context.Background()
	remote := c.handles[fh].remote.Load()
	open := func(raw bool) (net.Conn, *brickpb.ChannelReply) {
		t.Helper()
		mctx := metadata.AppendToOutgoingContext(ctx, protocol.MDSubvolume, "brick",
			protocol.MDCaller, protocol.EncodeCaller(&vfs.Caller{}))
		tok, err := c.ep.Load().rpc.ChannelToken(mctx, &brickpb.ChannelTokenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := net.Dial("tcp", b.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		nc.Write([]byte(protocol.FastPathMagic))
		if err := protocol.WriteFrame(nc, &brickpb.ChannelHello{Token: tok.Token, Subvolume: "brick", RawPayloads: raw}); err != nil {
			t.Fatal(err)
		}
		var rep brickpb.ChannelReply
		if _, err := protocol.ReadFrame(nc, &rep, nil); err != nil || rep.Code != 0 {
			t.Fatalf("hello: %v %v", err, rep.Code)
		}
		return nc, &rep
	}
	g := protocol.GFIDBytes(a.GFID)
	writeOp := &brickpb.SubRequest{Op: &brickpb.SubRequest_Write{Write: &brickpb.WriteRequest{Gfid: g, Fh: remote}}}
	readOp := &brickpb.SubRequest{Op: &brickpb.SubRequest_Read{Read: &brickpb.ReadRequest{Gfid: g, Fh: remote, Size: 4}}}
	call := func(nc net.Conn, id uint64, ops []*brickpb.SubRequest, rawOp int, raw []byte) *brickpb.ChannelReply {
		t.Helper()
		msg := &brickpb.ChannelCall{Id: id, Call: &brickpb.CompoundRequest{Ops: ops},
			Caller: []byte(protocol.EncodeCaller(&vfs.Caller{})), RawOp: uint32(rawOp), RawLen: uint32(len(raw))}
		if err := protocol.WriteFrameRaw(nc, msg, raw); err != nil {
			t.Fatal(err)
		}
		var rep brickpb.ChannelReply
		if _, err := protocol.ReadFrame(nc, &rep, nil); err != nil {
			return nil
		}
		return &rep
	}

	nc, hello := open(true)
	if !hello.RawPayloads {
		t.Fatal("the brick did not agree to raw payloads")
	}
	if rep := call(nc, 1, []*brickpb.SubRequest{readOp}, 1, []byte("abcd")); rep == nil || codes.Code(rep.Code) != codes.InvalidArgument {
		t.Errorf("raw payload for a read: %v", rep)
	}
	if rep := call(nc, 2, []*brickpb.SubRequest{writeOp}, 2, []byte("abcd")); rep == nil || codes.Code(rep.Code) != codes.InvalidArgument {
		t.Errorf("raw payload for op 2 of 1: %v", rep)
	}
	// The stream is still in step: a proper raw write works.
	if rep := call(nc, 3, []*brickpb.SubRequest{writeOp}, 1, []byte("abcd")); rep == nil || rep.Code != 0 || rep.GetReply().GetReplies()[0].GetWrite().GetSize() != 4 {
		t.Errorf("raw write: %v", rep)
	}
	buf := make([]byte, 4)
	if n, e := c.Read(ctx, a.GFID, fh, buf, 0); e != 0 || string(buf[:n]) != "abcd" {
		t.Errorf("read back: %q %v", buf[:n], e)
	}

	nc2, hello2 := open(false)
	if hello2.RawPayloads {
		t.Error("the brick agreed to raw payloads nobody asked for")
	}
	if rep := call(nc2, 1, []*brickpb.SubRequest{writeOp}, 1, []byte("wxyz")); rep != nil {
		t.Errorf("raw payload without agreement answered: %v", rep)
	}
	if n, e := c.Read(ctx, a.GFID, fh, buf, 0); e != 0 || string(buf[:n]) != "abcd" {
		t.Errorf("after the refused payload: %q %v", buf[:n], e)
	}
}

package protocol

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/cairnfs/cairn/protocol/brickpb"
)

// TestFrameWriterReusesBuffer writes frames of changing sizes through one
// FrameWriter, with and without raw payloads, and reads each back whole:
// a buffer kept from a longer frame must not leak its tail into a shorter
// one, and a frame larger than what is kept must not be truncated.
func TestFrameWriterReusesBuffer(t *testing.T) {
	var wire bytes.Buffer
	fw := NewFrameWriter(&wire)
	type frame struct {
		msg string
		raw []byte
	}
	frames := []frame{
		{msg: strings.Repeat("a", 5000)},
		{msg: "short"},
		{msg: strings.Repeat("b", maxKeptFrame+1000), raw: []byte("raw after a big frame")},
		{msg: "after the big one", raw: bytes.Repeat([]byte{7}, 3000)},
		{msg: ""},
	}
	for _, f := range frames {
		if err := fw.Write(&brickpb.ChannelReply{Message: f.msg}, f.raw); err != nil {
			t.Fatal(err)
		}
		if cap(fw.buf) > maxKeptFrame {
			t.Fatalf("kept a buffer of %d bytes, want at most %d", cap(fw.buf), maxKeptFrame)
		}
		if fw.iov[0] != nil || fw.iov[1] != nil {
			t.Fatal("the writer still references the caller's raw payload")
		}
	}
	r := bufio.NewReader(&wire)
	var buf []byte
	for i, f := range frames {
		var rep brickpb.ChannelReply
		var err error
		if buf, err = ReadFrame(r, &rep, buf); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if rep.Message != f.msg {
			t.Fatalf("frame %d: message of %d bytes, want %d", i, len(rep.Message), len(f.msg))
		}
		got := make([]byte, len(f.raw))
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, f.raw) {
			t.Fatalf("frame %d: raw payload %q, %v", i, got, err)
		}
	}
	if wire.Len() != 0 || r.Buffered() != 0 {
		t.Fatalf("%d bytes left after the last frame", wire.Len()+r.Buffered())
	}
}

// TestFrameWriterLimit refuses a frame over MaxMessageSize and writes
// nothing.
func TestFrameWriterLimit(t *testing.T) {
	var wire bytes.Buffer
	err := NewFrameWriter(&wire).Write(&brickpb.ChannelReply{Message: strings.Repeat("x", MaxMessageSize)}, nil)
	if err == nil || wire.Len() != 0 {
		t.Fatalf("err %v, %d bytes written; want an error and nothing written", err, wire.Len())
	}
}

package protocol

import (
	"bytes"
	"testing"

	"github.com/cairnfs/cairn/protocol/brickpb"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// fragmented splits b into small buffers, as gRPC's frames do.
func fragmented(b []byte, size int) *mem.Reader {
	var s mem.BufferSlice
	for len(b) > 0 {
		n := min(size, len(b))
		s = append(s, mem.SliceBuffer(append([]byte(nil), b[:n]...)))
		b = b[n:]
	}
	return s.Reader()
}

func TestReadReplyWire(t *testing.T) {
	for _, tc := range []struct {
		errno uint32
		data  []byte
	}{
		{0, nil}, {2, nil}, {0, []byte("hello")}, {0, bytes.Repeat([]byte{7}, 100000)},
	} {
		want, _ := proto.Marshal(&brickpb.ReadReply{Errno: tc.errno, Data: tc.data})
		got := append(ReadReplyHeader(tc.errno, len(tc.data)), tc.data...)
		if !bytes.Equal(got, want) {
			t.Errorf("encoding of errno %d, %d bytes differs from proto", tc.errno, len(tc.data))
		}
		// With an unknown field in front, fragmented.
		in := protowire.AppendTag(nil, 9, protowire.BytesType)
		in = protowire.AppendBytes(in, []byte("future"))
		in = append(in, want...)
		dest := make([]byte, len(tc.data)+10)
		n, e, err := DecodeReadReplyInto(fragmented(in, 7), dest)
		if err != nil || e != tc.errno || !bytes.Equal(dest[:n], tc.data) {
			t.Errorf("decode: %d bytes, errno %d, %v", n, e, err)
		}
	}
	big, _ := proto.Marshal(&brickpb.ReadReply{Data: make([]byte, 10)})
	if _, _, err := DecodeReadReplyInto(fragmented(big, 3), make([]byte, 9)); err == nil {
		t.Error("reply larger than the buffer accepted")
	}
	for _, bad := range [][]byte{{0x12, 5, 1}, {0x08}, {0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x0b}} {
		if _, _, err := DecodeReadReplyInto(fragmented(bad, 1), make([]byte, 100)); err == nil {
			t.Errorf("malformed %x accepted", bad)
		}
	}
}

func TestWriteRequestWire(t *testing.T) {
	m := &brickpb.WriteRequest{Gfid: bytes.Repeat([]byte{1}, 16), Fh: 1 << 40, Offset: -5, Data: bytes.Repeat([]byte("ab"), 3000)}
	in, _ := proto.Marshal(m)
	var got brickpb.WriteRequest
	pooled := make([]byte, 1<<20)
	if err := DecodeWriteRequest(fragmented(in, 100), &got, func(n int) []byte { return pooled[:n] }); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, m) || &got.Data[0] != &pooled[0] {
		t.Fatalf("decoded %v (pooled: %v)", &got, &got.Data[0] == &pooled[0])
	}
}

func TestWriteRequestHeader(t *testing.T) {
	for _, m := range []*brickpb.WriteRequest{
		{},
		{Gfid: bytes.Repeat([]byte{1}, 16)},
		{Gfid: bytes.Repeat([]byte{2}, 16), Fh: 7, Offset: 1 << 33, Data: []byte("x")},
		{Gfid: bytes.Repeat([]byte{3}, 16), Fh: 1 << 40, Offset: -5, Data: bytes.Repeat([]byte("ab"), 3000)},
		{Offset: 9, Data: make([]byte, 1<<20)},
	} {
		want, _ := proto.Marshal(m)
		got := append(WriteRequestHeader(m.Gfid, m.Fh, m.Offset, len(m.Data)), m.Data...)
		if !bytes.Equal(got, want) {
			t.Errorf("encoding of %d bytes at %d differs from proto", len(m.Data), m.Offset)
		}
	}
}

// FuzzWriteRequestWire checks the hand decoder against proto.Unmarshal.
func FuzzWriteRequestWire(f *testing.F) {
	b, _ := proto.Marshal(&brickpb.WriteRequest{Gfid: make([]byte, 16), Fh: 3, Offset: 9, Data: []byte("xyz")})
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var want, got brickpb.WriteRequest
		werr := proto.Unmarshal(in, &want)
		gerr := DecodeWriteRequest(fragmented(in, 5), &got, nil)
		if werr == nil && gerr != nil {
			t.Fatalf("proto accepts, we refuse: %v", gerr)
		}
		want.ProtoReflect().SetUnknown(nil) // skipped on purpose
		if werr == nil && !proto.Equal(&want, &got) {
			t.Fatalf("decoded %v, proto %v", &got, &want)
		}
	})
}

package server

import (
	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"google.golang.org/grpc/encoding"
	encproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// codec is gRPC's proto codec plus one thing: once a Read reply has been
// marshalled (copied into gRPC's own buffers), its data buffer goes back to
// the server's pool, so sequential 1 MiB reads do not allocate 1 MiB each.
// Only the Read handler makes top-level ReadReplies with pool-sized
// buffers; anything else is left to the garbage collector.
type codec struct {
	s *Server
}

var protoCodec = encoding.GetCodecV2(encproto.Name)

func (c *codec) Name() string { return encproto.Name }

func (c *codec) Marshal(v any) (mem.BufferSlice, error) {
	out, err := protoCodec.Marshal(v)
	if rr, ok := v.(*brickpb.ReadReply); ok && cap(rr.Data) == protocol.MaxIOSize {
		b := rr.Data[:cap(rr.Data)]
		rr.Data = nil
		c.s.readBufs.Put(&b)
	}
	return out, err
}

func (c *codec) Unmarshal(data mem.BufferSlice, v any) error {
	return protoCodec.Unmarshal(data, v)
}

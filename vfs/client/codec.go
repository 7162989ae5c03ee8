package client

import (
	"github.com/cairnfs/cairn/protocol"
	"google.golang.org/grpc/encoding"
	encproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// codec is gRPC's proto codec, except that a Read reply is decoded straight
// into the caller's buffer (readInto) instead of being materialised, copied
// into a fresh 1 MiB allocation and copied again.
type codec struct{}

var protoCodec = encoding.GetCodecV2(encproto.Name)

func (codec) Name() string { return encproto.Name }

func (codec) Marshal(v any) (mem.BufferSlice, error) { return protoCodec.Marshal(v) }

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	if ri, ok := v.(*readInto); ok {
		r := data.Reader()
		defer r.Close()
		var err error
		ri.n, ri.errno, err = protocol.DecodeReadReplyInto(r, ri.dest)
		return err
	}
	return protoCodec.Unmarshal(data, v)
}

// readInto receives a ReadReply: its data lands in dest.
type readInto struct {
	dest  []byte
	n     int
	errno uint32
}

func (r *readInto) GetErrno() uint32 { return r.errno }

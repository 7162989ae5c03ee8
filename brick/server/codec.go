package server

import (
	"github.com/cairnfs/cairn/internal/hugebuf"
	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"google.golang.org/grpc/encoding"
	encproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// codec is gRPC's proto codec with two shortcuts for bulk data, so that a
// 1 MiB payload is copied once between the file system and gRPC's frames:
//
//   - a Read reply is not marshalled: its header is encoded by hand and the
//     pooled buffer the file was read into is handed to gRPC as is, which
//     gives it back to the pool once written to the connection;
//   - a Write request's data is decoded straight into a pooled buffer,
//     which the Write handler gives back once the translator returns.
//
// Only the Read handler makes top-level ReadReplies with pool-sized
// buffers; anything else goes through the proto codec unchanged.
type codec struct {
	s *Server
}

var protoCodec = encoding.GetCodecV2(encproto.Name)

func (c *codec) Name() string { return encproto.Name }

func (c *codec) Marshal(v any) (mem.BufferSlice, error) {
	if rr, ok := v.(*brickpb.ReadReply); ok && cap(rr.Data) == protocol.MaxIOSize {
		out := mem.BufferSlice{mem.SliceBuffer(protocol.ReadReplyHeader(rr.Errno, len(rr.Data)))}
		p := new([]byte)
		*p, rr.Data = rr.Data, nil
		if len(*p) > 0 {
			out = append(out, mem.NewBuffer(p, bufPool{c.s.bufs}))
		} else {
			c.s.putBuf(p)
		}
		return out, nil
	}
	return protoCodec.Marshal(v)
}

func (c *codec) Unmarshal(data mem.BufferSlice, v any) error {
	if wr, ok := v.(*brickpb.WriteRequest); ok {
		r := data.Reader()
		defer r.Close()
		return protocol.DecodeWriteRequest(r, wr, func(n int) []byte {
			if n == 0 || n > protocol.MaxIOSize {
				return nil
			}
			return (*c.s.getWriteBuf(n))[:n]
		})
	}
	return protoCodec.Unmarshal(data, v)
}

// getBuf and putBuf manage the server's MaxIOSize buffers. getBuf's come
// from the heap: reads and small writes gain nothing from huge pages.
func (s *Server) getBuf() *[]byte { return s.bufs.GetHeap() }

// getWriteBuf returns a buffer for an n-byte write's data: from the
// huge-page mapping when storage/posix may write it with O_DIRECT.
func (s *Server) getWriteBuf(n int) *[]byte {
	if n >= hugeWriteMin {
		return s.bufs.Get()
	}
	return s.bufs.GetHeap()
}

func (s *Server) putBuf(p *[]byte) { s.bufs.Put(p) }

// releaseData gives a pooled request or reply buffer back.
func (s *Server) releaseData(b []byte) {
	if cap(b) == protocol.MaxIOSize {
		s.putBuf(&b)
	}
}

// bufPool lets gRPC return a reply buffer to the server's pool.
type bufPool struct{ p *hugebuf.Pool }

func (p bufPool) Get(n int) *[]byte {
	b := make([]byte, n)
	return &b
}

func (p bufPool) Put(b *[]byte) { p.p.Put(b) }

package client

import (
	"sync"
	"time"

	"github.com/cairnfs/cairn/protocol"
	"google.golang.org/grpc/encoding"
	encproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// codec is gRPC's proto codec, except that a Read reply is decoded straight
// into the caller's buffer (readInto) instead of being materialised, copied
// into a fresh 1 MiB allocation and copied again, and that a Write request's
// data is handed to gRPC as the caller's buffer (writeFrom) instead of
// being copied into a marshalled message (a zeroed pool buffer) first.
type codec struct{}

var protoCodec = encoding.GetCodecV2(encproto.Name)

func (codec) Name() string { return encproto.Name }

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	if w, ok := v.(*writeFrom); ok {
		return w.marshal(), nil
	}
	return protoCodec.Marshal(v)
}

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

// writeFrom sends a WriteRequest whose data is the caller's buffer, which
// gRPC's writer copies into its frames straight from there.
//
// gRPC holds on to the buffer until its frames are written or dropped, then
// frees it, which closes released. A reply from the brick proves that the
// whole request went out (the brick decodes a request before it answers),
// so after a successful call the buffer is no longer read; after a failed
// one (cancelled, brick down) the call waits for released, bounded by
// writeReleaseWait because a broken transport never frees what it had
// queued (its writer is gone by then and reads nothing either).
type writeFrom struct {
	gfid       []byte
	fh         uint64
	off        int64
	data       []byte
	marshalled bool
	released   chan struct{}
	once       sync.Once
}

// writeReleaseWait bounds the wait for gRPC to let go of a failed write's
// buffer; well below the slack callers allow after a ping-timeout.
const writeReleaseWait = 100 * time.Millisecond

// smallWrite is the size up to which data is copied (gRPC does not
// reference-count buffers below its pooling threshold, 1 KiB).
const smallWrite = 4 << 10

func (w *writeFrom) marshal() mem.BufferSlice {
	w.marshalled = true
	hdr := protocol.WriteRequestHeader(w.gfid, w.fh, w.off, len(w.data))
	if len(w.data) <= smallWrite {
		return mem.BufferSlice{mem.SliceBuffer(append(hdr, w.data...))}
	}
	w.released = make(chan struct{})
	d := w.data[:len(w.data):len(w.data)]
	return mem.BufferSlice{mem.SliceBuffer(hdr), mem.NewBuffer(&d, releasePool{w})}
}

// waitReleased waits, after a failed call, until gRPC no longer reads the
// data (see writeFrom).
func (w *writeFrom) waitReleased() {
	if !w.marshalled || w.released == nil {
		return
	}
	t := time.NewTimer(writeReleaseWait)
	defer t.Stop()
	select {
	case <-w.released:
	case <-t.C:
	}
}

// releasePool is the mem.BufferPool of a writeFrom's data: Put is gRPC
// freeing it.
type releasePool struct{ w *writeFrom }

func (p releasePool) Get(n int) *[]byte {
	b := make([]byte, n)
	return &b
}

func (p releasePool) Put(*[]byte) { p.w.once.Do(func() { close(p.w.released) }) }

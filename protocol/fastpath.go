package protocol

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"google.golang.org/protobuf/proto"
)

// The side connection of a Channel (brick.proto: ChannelToken).
//
// gRPC costs a small call far more than the work it carries: per message,
// HTTP/2 framing, flow control, and hand-offs to the transport's reader and
// writer goroutines on both ends (measured here: ~165 µs of CPU for a
// getattr round trip on a gRPC stream, ~35 µs for a plain TCP ping-pong).
// So a client may carry its Channel messages on a plain TCP connection to
// the brick's port instead:
//
//	client: FastPathMagic, then a frame holding a ChannelHello
//	        (the token from ChannelToken on its gRPC connection, and the
//	        subvolume)
//	brick:  a frame holding a ChannelReply with id 0: code 0 accepts,
//	        otherwise code and message say why not (the connection closes)
//	then:   frames of ChannelCall one way, ChannelReply the other, as on
//	        the Channel stream (including, once the client subscribed
//	        with ChannelCall.subscribe, the unsolicited replies of id 0
//	        that report other clients' changes).
//
// A brick may also take side connections on an abstract Unix stream socket
// (ChannelTokenReply.local_channel) that only clients on its host and
// network namespace reach; the conversation is the same.
//
// A frame is a 4-byte big-endian length and that many bytes of protobuf.
// The brick tells the two kinds of connection apart by their first bytes
// (HTTP/2 starts with "PRI * HTTP/2.0").
//
// When both ends agree to raw payloads (ChannelHello.raw_payloads), a
// call's Write data or a reply's Read data may follow its frame as raw
// bytes (raw_op, raw_len): written from the caller's buffer with one
// writev and read straight into the receiver's buffer. A 1 MiB write then
// costs the two kernel copies of the socket and nothing else, where gRPC
// or a marshalled frame add two to four more (and HTTP/2 framing).
const FastPathMagic = "CAIRN/1\n"

// LocalChannelBuffer is the send buffer both ends set on a side connection
// over the brick's Unix socket. A Unix stream socket's sender owns the
// queue (the receiver's buffer size does not count), and with the default
// 208 KiB a 1 MiB write wakes the reader five times.
const LocalChannelBuffer = 4 << 20

// WriteFrame marshals m as one frame, written with a single Write.
func WriteFrame(w io.Writer, m proto.Message) error {
	return WriteFrameRaw(w, m, nil)
}

// WriteFrameRaw writes m as one frame followed by raw, with a single
// writev when w is a net.Conn.
func WriteFrameRaw(w io.Writer, m proto.Message, raw []byte) error {
	return NewFrameWriter(w).Write(m, raw)
}

// maxKeptFrame is the largest frame buffer a FrameWriter keeps for the
// next frame; a rare larger one (a big readdir or xattr list) is let go.
const maxKeptFrame = 256 << 10

// FrameWriter writes the frames of one connection, marshalling each into
// a buffer it keeps for the next. Its callers serialize Write (a
// connection's frames must not interleave anyway).
//
// A fresh buffer per frame was a fifth of everything the mount allocated
// during an untar: a small write travels inside its frame, so each brick's
// copy of the data was a new allocation, zeroed, then collected.
type FrameWriter struct {
	w    io.Writer
	buf  []byte
	iov  [2][]byte
	bufs net.Buffers
}

// NewFrameWriter returns a FrameWriter for w.
func NewFrameWriter(w io.Writer) *FrameWriter {
	return &FrameWriter{w: w}
}

// Write writes m as one frame followed by raw, with a single writev when
// the writer is a net.Conn.
func (f *FrameWriter) Write(m proto.Message, raw []byte) error {
	size := proto.Size(m)
	if size > MaxMessageSize {
		return fmt.Errorf("frame of %d bytes is over the limit of %d", size, MaxMessageSize)
	}
	buf := binary.BigEndian.AppendUint32(f.buf[:0], uint32(size))
	buf, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(buf, m)
	if cap(buf) <= maxKeptFrame {
		f.buf = buf
	} else {
		f.buf = nil
	}
	if err != nil {
		return err
	}
	if len(raw) == 0 {
		_, err = f.w.Write(buf)
		return err
	}
	f.iov = [2][]byte{buf, raw}
	f.bufs = f.iov[:]
	_, err = f.bufs.WriteTo(f.w)
	f.iov = [2][]byte{} // raw is the caller's
	return err
}

// ReadFrame reads one frame into m. buf is reused when large enough; the
// returned slice is the buffer to pass next time. m must not keep
// references into buf (proto.Unmarshal copies bytes fields).
func ReadFrame(r io.Reader, m proto.Message, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxMessageSize {
		return buf, fmt.Errorf("frame of %d bytes is over the limit of %d", n, MaxMessageSize)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	b := buf[:n]
	if _, err := io.ReadFull(r, b); err != nil {
		return buf, err
	}
	return buf, proto.Unmarshal(b, m)
}

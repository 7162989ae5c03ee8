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

// WriteFrame marshals m as one frame, written with a single Write.
func WriteFrame(w io.Writer, m proto.Message) error {
	return WriteFrameRaw(w, m, nil)
}

// WriteFrameRaw writes m as one frame followed by raw, with a single
// writev when w is a net.Conn.
func WriteFrameRaw(w io.Writer, m proto.Message, raw []byte) error {
	size := proto.Size(m)
	if size > MaxMessageSize {
		return fmt.Errorf("frame of %d bytes is over the limit of %d", size, MaxMessageSize)
	}
	buf := make([]byte, 4, 4+size)
	binary.BigEndian.PutUint32(buf, uint32(size))
	buf, err := proto.MarshalOptions{}.MarshalAppend(buf, m)
	if err != nil {
		return err
	}
	if len(raw) == 0 {
		_, err = w.Write(buf)
		return err
	}
	bufs := net.Buffers{buf, raw}
	_, err = bufs.WriteTo(w)
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

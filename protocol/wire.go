package protocol

import (
	"errors"
	"io"

	"github.com/cairnfs/cairn/protocol/brickpb"
	"google.golang.org/protobuf/encoding/protowire"
)

// Hand-written encoders and decoders for the two bulk messages, ReadReply
// and WriteRequest, so that their 1 MiB payloads are copied once between
// gRPC's frame buffers and the buffers that the file system reads into or
// writes from, instead of being materialised, copied into a fresh
// allocation by the proto codec and copied again. They produce and accept
// exactly the proto3 encoding of brick.proto's messages (tested against
// proto.Marshal), including unknown fields, which are skipped.

// ByteReader is what the decoders read from: gRPC's *mem.Reader over a
// received message.
type ByteReader interface {
	io.Reader
	io.ByteReader
}

var errWire = errors.New("protocol: malformed message")

// ReadReplyHeader returns the encoding of a ReadReply up to its data bytes:
// appending n bytes of data to it gives the whole message.
func ReadReplyHeader(errno uint32, n int) []byte {
	b := make([]byte, 0, 16)
	if errno != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(errno))
	}
	if n > 0 {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
	}
	return b
}

// WriteRequestHeader returns the encoding of a WriteRequest up to its data
// bytes: appending n bytes of data to it gives the whole message, so the
// client can hand the caller's buffer to gRPC without copying it into a
// marshalled message first.
func WriteRequestHeader(gfid []byte, fh uint64, off int64, n int) []byte {
	b := make([]byte, 0, 48)
	if len(gfid) > 0 {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, gfid)
	}
	if fh != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, fh)
	}
	if off != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(off))
	}
	if n > 0 {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
	}
	return b
}

// DecodeReadReplyInto decodes a ReadReply, copying its data straight into
// dest. It fails if the data does not fit.
func DecodeReadReplyInto(r ByteReader, dest []byte) (n int, errno uint32, err error) {
	for {
		num, typ, err := readTag(r)
		if err == io.EOF {
			return n, errno, nil
		}
		if err != nil {
			return 0, 0, err
		}
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, err := readVarint(r)
			if err != nil {
				return 0, 0, err
			}
			errno = uint32(v)
		case num == 2 && typ == protowire.BytesType:
			l, err := readVarint(r)
			if err != nil {
				return 0, 0, err
			}
			if l > uint64(len(dest)) {
				return 0, 0, errors.New("protocol: read reply larger than the request")
			}
			// Proto3: the last occurrence of a field wins.
			n = int(l)
			if _, err := io.ReadFull(r, dest[:n]); err != nil {
				return 0, 0, errWire
			}
		default:
			if err := skipField(r, typ); err != nil {
				return 0, 0, err
			}
		}
	}
}

// DecodeWriteRequest decodes a WriteRequest into m, reading its data into
// a buffer from getBuf(len) (which may return nil to have one allocated).
func DecodeWriteRequest(r ByteReader, m *brickpb.WriteRequest, getBuf func(n int) []byte) error {
	for {
		num, typ, err := readTag(r)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case num == 1 && typ == protowire.BytesType:
			if m.Gfid, err = readBytes(r, nil); err != nil {
				return err
			}
		case num == 2 && typ == protowire.VarintType:
			if m.Fh, err = readVarint(r); err != nil {
				return err
			}
		case num == 3 && typ == protowire.VarintType:
			v, err := readVarint(r)
			if err != nil {
				return err
			}
			m.Offset = int64(v)
		case num == 4 && typ == protowire.BytesType:
			if m.Data, err = readBytes(r, getBuf); err != nil {
				return err
			}
		default:
			if err := skipField(r, typ); err != nil {
				return err
			}
		}
	}
}

func readVarint(r io.ByteReader) (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, errWire
		}
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errWire
}

// readTag returns io.EOF only at a clean end of message.
func readTag(r io.ByteReader) (protowire.Number, protowire.Type, error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, 0, io.EOF
	}
	v := uint64(b & 0x7f)
	if b >= 0x80 {
		rest, err := readVarint(r)
		if err != nil || rest > (1<<57)-1 {
			return 0, 0, errWire
		}
		v |= rest << 7
	}
	num, typ := protowire.DecodeTag(v)
	if num < 1 || num > protowire.MaxValidNumber {
		return 0, 0, errWire
	}
	return num, typ, nil
}

// maxField bounds any length-delimited field we read, far above every
// legitimate message (gRPC enforces MaxMessageSize before this anyway).
const maxField = MaxMessageSize

func readBytes(r ByteReader, getBuf func(int) []byte) ([]byte, error) {
	l, err := readVarint(r)
	if err != nil || l > maxField {
		return nil, errWire
	}
	var b []byte
	if getBuf != nil {
		b = getBuf(int(l))
	}
	if b == nil {
		b = make([]byte, l)
	}
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, errWire
	}
	return b, nil
}

func skipField(r ByteReader, typ protowire.Type) error {
	var n uint64
	switch typ {
	case protowire.VarintType:
		_, err := readVarint(r)
		return err
	case protowire.Fixed32Type:
		n = 4
	case protowire.Fixed64Type:
		n = 8
	case protowire.BytesType:
		l, err := readVarint(r)
		if err != nil || l > maxField {
			return errWire
		}
		n = l
	default:
		return errWire // groups are not used by brick.proto
	}
	if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
		return errWire
	}
	return nil
}

package nfs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/cairnfs/cairn/gateway/internal/memvfs"
	"github.com/cairnfs/cairn/vfs"
)

func FuzzDecodeHandle(f *testing.F) {
	f.Add(EncodeHandle(VolumeIDOf("vol"), vfs.RootGFID))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{1}, 64))
	f.Fuzz(func(t *testing.T, h []byte) {
		vol, g, err := DecodeHandle(h)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeHandle(vol, g), h) {
			t.Fatalf("handle %x does not round-trip", h)
		}
	})
}

// FuzzReadRecord feeds arbitrary bytes to the record reader and the call
// parser.
func FuzzReadRecord(f *testing.F) {
	rec := func(frags ...[]byte) []byte {
		var out []byte
		for i, fr := range frags {
			v := uint32(len(fr))
			if i == len(frags)-1 {
				v |= 0x80000000
			}
			out = binary.BigEndian.AppendUint32(out, v)
			out = append(out, fr...)
		}
		return out
	}
	f.Add(rec(args(uint32(1), uint32(0), uint32(2), uint32(progNFS), uint32(3), uint32(0), uint32(0), []byte{}, uint32(0), []byte{})))
	f.Add(rec([]byte{0, 0, 0, 1}, []byte{0, 0, 0, 0}))
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := readRecord(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil {
			return
		}
		if len(r) > maxRecord {
			t.Fatalf("record of %d bytes accepted", len(r))
		}
		c, err := parseCall(r)
		if err == nil && c.credFlavor == authUnix {
			_, _ = parseAuthUnix(c.cred)
		}
	})
}

// discardConn is a net.Conn that drops what is written to it.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)     { return len(b), nil }
func (discardConn) Close() error                    { return nil }
func (discardConn) RemoteAddr() net.Addr            { return &net.TCPAddr{} }
func (discardConn) LocalAddr() net.Addr             { return &net.TCPAddr{} }
func (discardConn) SetDeadline(time.Time) error     { return nil }
func (discardConn) SetReadDeadline(time.Time) error { return nil }

// FuzzProcedures runs every NFSv3 procedure on arbitrary arguments (with
// valid handles of a small tree in the corpus); the procedures must not
// panic and must produce a decodable status.
func FuzzProcedures(f *testing.F) {
	mem := memvfs.New()
	ctx := context.Background()
	d, _ := mem.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	a, h, _ := mem.Create(ctx, d.GFID, "f", &vfs.CreateIn{Mode: 0o644})
	mem.Release(ctx, a.GFID, h)
	mem.Symlink(ctx, d.GFID, "l", "f", &vfs.CreateIn{})
	srv, err := New(Config{Exports: []Export{{Name: "vol", FS: mem}}, OpenIdle: time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	vol := VolumeIDOf("vol")
	root, dir, file := EncodeHandle(vol, vfs.RootGFID), EncodeHandle(vol, d.GFID), EncodeHandle(vol, a.GFID)
	for p := uint32(0); p <= procCommit; p++ {
		f.Add(p, args(root, "d", uint64(0), uint32(4096)))
		f.Add(p, args(dir, "f", dir, "g"))
		f.Add(p, args(file, uint64(0), uint32(100), uint32(2), []byte("data")))
		f.Add(p, args(file, dir, "hard"))
		f.Add(p, args(dir, uint64(3), uint64(0), uint32(0xffffffff), uint32(0xffffffff)))
		f.Add(p, args(dir, "n", uint32(2), sattrArgs{mode: u32p(0o7777), size: u64p(1 << 62)}.enc()))
	}
	c := newConn(srv, discardConn{})
	f.Fuzz(func(t *testing.T, proc uint32, body []byte) {
		fn := procTable(proc % 23)
		if fn == nil {
			return
		}
		q := &request{ctx: vfs.WithCaller(ctx, &vfs.Caller{UID: 1000, GID: 1000}), srv: srv, conn: c,
			caller: &vfs.Caller{UID: 1000, GID: 1000}, r: xdrReader{b: body}}
		replyHeader(&q.w, 1, acceptSuccess)
		if err := fn(q); err != nil {
			return
		}
		if proc%23 == procNull {
			return
		}
		r := &xdrReader{b: q.w.b[rpcReplyHeader:]}
		if r.u32(); r.err != nil {
			t.Fatalf("proc %d wrote no status", proc%23)
		}
	})
}

package ninep

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// raw9p is a minimal 9P2000.L client for what p9's client cannot do:
// attach as a given uid, locks (p9's client leaves the fid out of Tlock)
// and xattrs (unimplemented in p9's client). One request at a time.
type raw9p struct {
	t   testing.TB
	c   net.Conn
	tag uint16
}

func dialRaw9p(t testing.TB, addr string) *raw9p {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &raw9p{t: t, c: c}
	b := &enc{}
	b.u32(1 << 20)
	b.str("9P2000.L")
	if _, err := r.rpcTag(100, 0xffff, b.b); err != nil {
		t.Fatalf("version: %v", err)
	}
	return r
}

type enc struct{ b []byte }

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) str(s string) { e.u16(uint16(len(s))); e.b = append(e.b, s...) }

type dec struct{ b []byte }

func (d *dec) u8() uint8 {
	if len(d.b) < 1 {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}
func (d *dec) u32() uint32 {
	if len(d.b) < 4 {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}
func (d *dec) u64() uint64 {
	if len(d.b) < 8 {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (r *raw9p) rpc(typ uint8, body []byte) (*dec, error) {
	r.tag++
	return r.rpcTag(typ, r.tag, body)
}

// rpcTag sends a T-message and returns the R-message body, or the
// errno of an Rlerror.
func (r *raw9p) rpcTag(typ uint8, tag uint16, body []byte) (*dec, error) {
	m := &enc{}
	m.u32(uint32(7 + len(body)))
	m.u8(typ)
	m.u16(tag)
	m.b = append(m.b, body...)
	r.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.c.Write(m.b); err != nil {
		r.t.Fatal(err)
	}
	var hdr [7]byte
	if _, err := io.ReadFull(r.c, hdr[:]); err != nil {
		r.t.Fatal(err)
	}
	size := binary.LittleEndian.Uint32(hdr[:])
	rb := make([]byte, size-7)
	if _, err := io.ReadFull(r.c, rb); err != nil {
		r.t.Fatal(err)
	}
	if hdr[4] == 7 { // Rlerror
		return nil, syscall.Errno(binary.LittleEndian.Uint32(rb))
	}
	if hdr[4] != typ+1 {
		r.t.Fatalf("reply type %d to %d", hdr[4], typ)
	}
	return &dec{b: rb}, nil
}

func (r *raw9p) attach(fid uint32, uname, aname string, uid uint32) error {
	b := &enc{}
	b.u32(fid)
	b.u32(noFID)
	b.str(uname)
	b.str(aname)
	b.u32(uid)
	_, err := r.rpc(104, b.b)
	return err
}

func (r *raw9p) walk(fid, newfid uint32, names ...string) error {
	b := &enc{}
	b.u32(fid)
	b.u32(newfid)
	b.u16(uint16(len(names)))
	for _, n := range names {
		b.str(n)
	}
	_, err := r.rpc(110, b.b)
	return err
}

func (r *raw9p) lcreate(fid uint32, name string, flags, mode, gid uint32) error {
	b := &enc{}
	b.u32(fid)
	b.str(name)
	b.u32(flags)
	b.u32(mode)
	b.u32(gid)
	_, err := r.rpc(14, b.b)
	return err
}

func (r *raw9p) lopen(fid, flags uint32) error {
	b := &enc{}
	b.u32(fid)
	b.u32(flags)
	_, err := r.rpc(12, b.b)
	return err
}

func (r *raw9p) mkdir(dfid uint32, name string, mode, gid uint32) error {
	b := &enc{}
	b.u32(dfid)
	b.str(name)
	b.u32(mode)
	b.u32(gid)
	_, err := r.rpc(72, b.b)
	return err
}

// owner returns uid and gid of fid.
func (r *raw9p) owner(fid uint32) (uint32, uint32, uint32) {
	b := &enc{}
	b.u32(fid)
	b.u64(0x3fff)
	d, err := r.rpc(24, b.b)
	if err != nil {
		r.t.Fatalf("getattr: %v", err)
	}
	d.u64()
	d.b = d.b[13:]
	mode := d.u32()
	return d.u32(), d.u32(), mode
}

func (r *raw9p) lock(fid uint32, typ uint8, flags uint32, start, length uint64, pid uint32, client string) (uint8, error) {
	b := &enc{}
	b.u32(fid)
	b.u8(typ)
	b.u32(flags)
	b.u64(start)
	b.u64(length)
	b.u32(pid)
	b.str(client)
	d, err := r.rpc(52, b.b)
	if err != nil {
		return 0, err
	}
	return d.u8(), nil
}

func (r *raw9p) clunk(fid uint32) error {
	b := &enc{}
	b.u32(fid)
	_, err := r.rpc(120, b.b)
	return err
}

func (r *raw9p) setxattr(fid, tmp uint32, name string, val []byte, flags uint32) error {
	if err := r.walk(fid, tmp); err != nil {
		return err
	}
	b := &enc{}
	b.u32(tmp)
	b.str(name)
	b.u64(uint64(len(val)))
	b.u32(flags)
	if _, err := r.rpc(32, b.b); err != nil {
		return err
	}
	if len(val) > 0 {
		w := &enc{}
		w.u32(tmp)
		w.u64(0)
		w.u32(uint32(len(val)))
		w.b = append(w.b, val...)
		if _, err := r.rpc(118, w.b); err != nil {
			return err
		}
	}
	return r.clunk(tmp)
}

func (r *raw9p) getxattr(fid, tmp uint32, name string) ([]byte, error) {
	b := &enc{}
	b.u32(fid)
	b.u32(tmp)
	b.str(name)
	d, err := r.rpc(30, b.b)
	if err != nil {
		return nil, err
	}
	size := d.u64()
	defer r.clunk(tmp)
	if size == 0 {
		return nil, nil
	}
	rb := &enc{}
	rb.u32(tmp)
	rb.u64(0)
	rb.u32(uint32(size))
	d, err = r.rpc(116, rb.b)
	if err != nil {
		return nil, err
	}
	n := d.u32()
	return d.b[:n], nil
}

func (r *raw9p) String() string { return fmt.Sprintf("raw9p(%s)", r.c.LocalAddr()) }

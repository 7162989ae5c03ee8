package nfs

import "errors"

// errGarbage reports arguments that cannot be decoded; the call gets
// GARBAGE_ARGS.
var errGarbage = errors.New("nfs: undecodable arguments")

// xdrReader decodes XDR (RFC 4506) from a byte slice. Every read is bounds
// checked against the slice, so a hostile length or count can never make it
// allocate more than the record it came in, nor panic. After the first
// failure it returns zero values and err stays set.
type xdrReader struct {
	b   []byte
	off int
	err error
}

func (r *xdrReader) fail() { r.err = errGarbage }

func (r *xdrReader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail()
		return false
	}
	return true
}

func (r *xdrReader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	b := r.b[r.off:]
	r.off += 4
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func (r *xdrReader) u64() uint64 {
	hi := r.u32()
	lo := r.u32()
	return uint64(hi)<<32 | uint64(lo)
}

func (r *xdrReader) bool() bool {
	v := r.u32()
	if v > 1 {
		r.fail()
	}
	return v == 1
}

// opaque reads a variable-length opaque of at most max bytes. The returned
// slice aliases the record.
func (r *xdrReader) opaque(max int) []byte {
	n := r.u32()
	if r.err != nil {
		return nil
	}
	if int64(n) > int64(max) {
		r.fail()
		return nil
	}
	return r.fixed(int(n))
}

// fixed reads n bytes plus padding to a multiple of 4.
func (r *xdrReader) fixed(n int) []byte {
	pad := (4 - n%4) % 4
	if !r.need(n + pad) {
		return nil
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n + pad
	return v
}

func (r *xdrReader) string(max int) string { return string(r.opaque(max)) }

func (r *xdrReader) rest() []byte {
	if r.err != nil {
		return nil
	}
	return r.b[r.off:]
}

// xdrWriter appends XDR to a byte slice.
type xdrWriter struct{ b []byte }

func (w *xdrWriter) u32(v uint32) {
	w.b = append(w.b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func (w *xdrWriter) u64(v uint64) {
	w.u32(uint32(v >> 32))
	w.u32(uint32(v))
}

func (w *xdrWriter) bool(v bool) {
	if v {
		w.u32(1)
	} else {
		w.u32(0)
	}
}

func (w *xdrWriter) opaque(v []byte) {
	w.u32(uint32(len(v)))
	w.fixed(v)
}

func (w *xdrWriter) fixed(v []byte) {
	w.b = append(w.b, v...)
	if pad := (4 - len(v)%4) % 4; pad > 0 {
		w.b = append(w.b, make([]byte, pad)...)
	}
}

func (w *xdrWriter) string(s string) {
	w.u32(uint32(len(s)))
	w.b = append(w.b, s...)
	if pad := (4 - len(s)%4) % 4; pad > 0 {
		w.b = append(w.b, make([]byte, pad)...)
	}
}

// xdrLen is the encoded size of an opaque or string of n bytes.
func xdrLen(n int) int { return 4 + (n+3)&^3 }

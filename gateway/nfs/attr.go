package nfs

import (
	"math"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// ftype3 values.
const (
	nf3Reg  = 1
	nf3Dir  = 2
	nf3Blk  = 3
	nf3Chr  = 4
	nf3Lnk  = 5
	nf3Sock = 6
	nf3FIFO = 7
)

func ftypeOf(mode uint32) uint32 {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		return nf3Dir
	case syscall.S_IFBLK:
		return nf3Blk
	case syscall.S_IFCHR:
		return nf3Chr
	case syscall.S_IFLNK:
		return nf3Lnk
	case syscall.S_IFSOCK:
		return nf3Sock
	case syscall.S_IFIFO:
		return nf3FIFO
	}
	return nf3Reg
}

// nfsTime encodes a timestamp as nfstime3, whose seconds are unsigned 32
// bits: times outside 1970..2106 are clamped rather than wrapped.
func nfsTime(w *xdrWriter, t vfs.Timespec) {
	sec, nsec := t.Sec, t.Nsec
	switch {
	case sec < 0:
		sec, nsec = 0, 0
	case sec > math.MaxUint32:
		sec, nsec = math.MaxUint32, 999999999
	}
	if nsec < 0 || nsec > 999999999 {
		nsec = 0
	}
	w.u32(uint32(sec))
	w.u32(uint32(nsec))
}

// devMajor and devMinor split a Linux dev_t.
func devMajor(d uint64) uint32 { return uint32((d>>8)&0xfff | (d>>32)&^0xfff) }
func devMinor(d uint64) uint32 { return uint32(d&0xff | (d>>12)&^0xff) }

func mkdev(major, minor uint32) uint64 {
	ma, mi := uint64(major), uint64(minor)
	return (ma&0xfff)<<8 | (ma&^0xfff)<<32 | mi&0xff | (mi&^0xff)<<12
}

// fattr3 writes the attributes of a file. Mode keeps setuid, setgid and
// sticky bits; atime and ctime are the volume's, not copies of mtime.
func (ex *export) fattr3(w *xdrWriter, a *vfs.Attr) {
	w.u32(ftypeOf(a.Mode))
	w.u32(a.Mode & 0o7777)
	w.u32(a.Nlink)
	w.u32(a.UID)
	w.u32(a.GID)
	w.u64(a.Size)
	w.u64(a.Blocks * 512)
	w.u32(devMajor(a.Rdev))
	w.u32(devMinor(a.Rdev))
	w.u64(ex.id.fsid())
	w.u64(a.GFID.Ino())
	nfsTime(w, a.Atime)
	nfsTime(w, a.Mtime)
	nfsTime(w, a.Ctime)
}

// postOpAttr writes post_op_attr: attributes when a is non-nil.
func (ex *export) postOpAttr(w *xdrWriter, a *vfs.Attr) {
	if a == nil {
		w.bool(false)
		return
	}
	w.bool(true)
	ex.fattr3(w, a)
}

// wcc writes wcc_data. pre is the attributes before the operation (may be
// nil), post after it (may be nil).
func (ex *export) wcc(w *xdrWriter, pre, post *vfs.Attr) {
	if pre == nil {
		w.bool(false)
	} else {
		w.bool(true)
		w.u64(pre.Size)
		nfsTime(w, pre.Mtime)
		nfsTime(w, pre.Ctime)
	}
	ex.postOpAttr(w, post)
}

// time_how values of sattr3.
const (
	dontChange      = 0
	setToServerTime = 1
	setToClientTime = 2
)

// readSattr3 decodes sattr3 into a vfs.SetAttrIn. The mode keeps all of
// 07777, so chmod u+s / g+s / +t reach the volume (go-nfs masks 0777).
func readSattr3(r *xdrReader) vfs.SetAttrIn {
	var s vfs.SetAttrIn
	if r.bool() {
		s.Valid |= vfs.SetMode
		s.Mode = r.u32() & 0o7777
	}
	if r.bool() {
		s.Valid |= vfs.SetUID
		s.UID = r.u32()
	}
	if r.bool() {
		s.Valid |= vfs.SetGID
		s.GID = r.u32()
	}
	if r.bool() {
		s.Valid |= vfs.SetSize
		s.Size = r.u64()
	}
	switch r.u32() {
	case dontChange:
	case setToServerTime:
		s.Valid |= vfs.SetAtimeNow
	case setToClientTime:
		s.Valid |= vfs.SetAtime
		s.Atime = vfs.Timespec{Sec: int64(r.u32()), Nsec: int64(r.u32())}
	default:
		r.fail()
	}
	switch r.u32() {
	case dontChange:
	case setToServerTime:
		s.Valid |= vfs.SetMtimeNow
	case setToClientTime:
		s.Valid |= vfs.SetMtime
		s.Mtime = vfs.Timespec{Sec: int64(r.u32()), Nsec: int64(r.u32())}
	default:
		r.fail()
	}
	if s.Atime.Nsec > 999999999 || s.Mtime.Nsec > 999999999 {
		r.fail()
	}
	return s
}

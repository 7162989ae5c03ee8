package nfs

import (
	"github.com/cairnfs/cairn/vfs"
)

func (q *request) getattr() error {
	ex, g, st := q.fh()
	if q.r.err != nil {
		return errGarbage
	}
	if st != nfsOK {
		q.w.u32(st)
		return nil
	}
	a, e := q.attrs(ex, g)
	if e != 0 {
		q.w.u32(fileStatus(e))
		return nil
	}
	q.w.u32(nfsOK)
	ex.fattr3(&q.w, a)
	return nil
}

// setattr applies sattr3 as one vfs SetAttr. The guard compares the real
// ctime (go-nfs compares against mtime because it has no ctime).
func (q *request) setattr() error {
	ex, g, st := q.fh()
	in := readSattr3(&q.r)
	guard := q.r.bool()
	var gsec, gnsec uint32
	if guard {
		gsec, gnsec = q.r.u32(), q.r.u32()
	}
	if q.r.err != nil {
		return errGarbage
	}
	if st != nfsOK {
		q.failWcc(st)
		return nil
	}
	if ex.ro {
		q.failWcc(nfsErrROFS)
		return nil
	}
	pre, e := q.attrs(ex, g)
	if e != 0 {
		q.failWcc(fileStatus(e))
		return nil
	}
	if guard && (uint32(pre.Ctime.Sec) != gsec || uint32(pre.Ctime.Nsec) != gnsec) {
		q.w.u32(nfsErrNotSync)
		ex.wcc(&q.w, pre, pre)
		return nil
	}
	if in.Valid == 0 {
		q.w.u32(nfsOK)
		ex.wcc(&q.w, pre, pre)
		return nil
	}
	post, e := ex.fs.SetAttr(q.ctx, g, 0, &in)
	if e != 0 {
		q.w.u32(fileStatus(e))
		ex.wcc(&q.w, pre, q.dirAttrs(ex, g))
		return nil
	}
	q.w.u32(nfsOK)
	ex.wcc(&q.w, pre, &post)
	return nil
}

// ACCESS3 bits.
const (
	accessRead    = 0x01
	accessLookup  = 0x02
	accessModify  = 0x04
	accessExtend  = 0x08
	accessDelete  = 0x10
	accessExecute = 0x20
)

// accessFor computes which of the requested ACCESS3 bits the caller has,
// from the mode bits and owner, the way the kernel's generic_permission
// does (no ACLs). The volume enforces permissions on every operation
// anyway; this only answers the client's question truthfully, where
// go-nfs grants everything asked.
func accessFor(c *vfs.Caller, a *vfs.Attr, want uint32, ro bool) uint32 {
	isDir := a.IsDir()
	var granted uint32
	if c.IsRoot() {
		granted = accessRead | accessLookup | accessModify | accessExtend | accessDelete
		if isDir || a.Mode&0o111 != 0 {
			granted |= accessExecute
		}
	} else {
		var bits uint32
		switch {
		case c.UID == a.UID:
			bits = a.Mode >> 6 & 7
		case c.InGroup(a.GID):
			bits = a.Mode >> 3 & 7
		default:
			bits = a.Mode & 7
		}
		if bits&4 != 0 {
			granted |= accessRead
		}
		if bits&2 != 0 {
			granted |= accessModify | accessExtend
			if isDir {
				granted |= accessDelete
			}
		}
		if bits&1 != 0 {
			if isDir {
				granted |= accessLookup
			} else {
				granted |= accessExecute
			}
		}
	}
	if !isDir {
		granted &^= accessLookup | accessDelete
	} else {
		granted &^= accessExecute
	}
	if ro {
		granted &^= accessModify | accessExtend | accessDelete
	}
	return want & granted
}

func (q *request) access() error {
	ex, g, st := q.fh()
	want := q.r.u32()
	if q.r.err != nil {
		return errGarbage
	}
	if st != nfsOK {
		q.failAttr(st)
		return nil
	}
	a, e := q.attrs(ex, g)
	if e != 0 {
		q.failAttr(fileStatus(e))
		return nil
	}
	q.w.u32(nfsOK)
	ex.postOpAttr(&q.w, a)
	q.w.u32(accessFor(q.caller, a, want, ex.ro))
	return nil
}

func (q *request) fsstat() error {
	ex, g, st := q.fh()
	if q.r.err != nil {
		return errGarbage
	}
	if st != nfsOK {
		q.failAttr(st)
		return nil
	}
	a, e := q.attrs(ex, g)
	if e != 0 {
		q.failAttr(fileStatus(e))
		return nil
	}
	sf, e := ex.fs.StatFS(q.ctx, g)
	if e != 0 {
		q.w.u32(statusOf(e))
		ex.postOpAttr(&q.w, a)
		return nil
	}
	bs := uint64(sf.Frsize)
	if bs == 0 {
		bs = uint64(sf.Bsize)
	}
	q.w.u32(nfsOK)
	ex.postOpAttr(&q.w, a)
	q.w.u64(sf.Blocks * bs)
	q.w.u64(sf.Bfree * bs)
	q.w.u64(sf.Bavail * bs)
	q.w.u64(sf.Files)
	q.w.u64(sf.Ffree)
	q.w.u64(sf.Ffree)
	q.w.u32(0) // invarsec: the figures change at any time
	return nil
}

// FSINFO3 properties.
const (
	fsfLink        = 0x0001
	fsfSymlink     = 0x0002
	fsfHomogeneous = 0x0008
	fsfCanSetTime  = 0x0010
)

// fsinfo reports the transfer sizes the gateway really accepts (go-nfs
// claims 1 GiB) and nanosecond timestamps.
func (q *request) fsinfo() error {
	ex, g, st := q.fh()
	if q.r.err != nil {
		return errGarbage
	}
	if st != nfsOK {
		q.failAttr(st)
		return nil
	}
	a, e := q.attrs(ex, g)
	if e != 0 {
		q.failAttr(fileStatus(e))
		return nil
	}
	q.w.u32(nfsOK)
	ex.postOpAttr(&q.w, a)
	q.w.u32(maxIO)    // rtmax
	q.w.u32(maxIO)    // rtpref
	q.w.u32(4096)     // rtmult
	q.w.u32(maxIO)    // wtmax
	q.w.u32(maxIO)    // wtpref
	q.w.u32(4096)     // wtmult
	q.w.u32(64 << 10) // dtpref
	q.w.u64(1<<63 - 1)
	q.w.u32(0) // time_delta: 1 ns
	q.w.u32(1)
	q.w.u32(fsfLink | fsfSymlink | fsfHomogeneous | fsfCanSetTime)
	return nil
}

func (q *request) pathconf() error {
	ex, g, st := q.fh()
	if q.r.err != nil {
		return errGarbage
	}
	if st != nfsOK {
		q.failAttr(st)
		return nil
	}
	a, e := q.attrs(ex, g)
	if e != 0 {
		q.failAttr(fileStatus(e))
		return nil
	}
	nameMax := uint32(vfs.NameMax)
	if sf, e := ex.fs.StatFS(q.ctx, g); e == 0 && sf.NameLen > 0 && sf.NameLen < nameMax {
		nameMax = sf.NameLen
	}
	q.w.u32(nfsOK)
	ex.postOpAttr(&q.w, a)
	q.w.u32(linkMax)
	q.w.u32(nameMax)
	q.w.bool(true)  // no_trunc: long names fail with NAMETOOLONG
	q.w.bool(true)  // chown_restricted: only root gives files away
	q.w.bool(false) // case_insensitive
	q.w.bool(true)  // case_preserving
	return nil
}

// linkMax is the hard-link limit of the bricks' file systems (ext4's
// EXT4_LINK_MAX; xfs allows more).
const linkMax = 65000

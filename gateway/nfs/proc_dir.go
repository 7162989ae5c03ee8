package nfs

import (
	"context"
	"encoding/binary"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// ParentLookuper is an optional interface of a translator stack that can
// name a directory's parent from its GFID alone (the bricks' GFID index
// knows it). LOOKUP of ".." uses it; without it the gateway tries
// Lookup(dir, "..") and otherwise answers NOENT.
type ParentLookuper interface {
	Parent(ctx context.Context, dir vfs.GFID) (vfs.Attr, syscall.Errno)
}

func (ex *export) parent(ctx context.Context, dir vfs.GFID) (vfs.Attr, syscall.Errno) {
	if dir == vfs.RootGFID {
		return ex.fs.GetAttr(ctx, dir, 0)
	}
	if p, ok := ex.fs.(ParentLookuper); ok {
		return p.Parent(ctx, dir)
	}
	a, e := ex.fs.Lookup(ctx, dir, "..")
	if e == syscall.EINVAL {
		e = syscall.ENOENT
	}
	return a, e
}

func (q *request) lookup() error {
	d := q.dirop()
	if q.r.err != nil {
		return errGarbage
	}
	if d.st != nfsOK {
		q.failAttr(d.st)
		return nil
	}
	var a vfs.Attr
	var e syscall.Errno
	switch d.name {
	case ".":
		a, e = d.ex.fs.GetAttr(q.ctx, d.dir, 0)
	case "..":
		a, e = d.ex.parent(q.ctx, d.dir)
	default:
		if st := nameStatus(d.name); st != nfsOK {
			q.w.u32(st)
			d.ex.postOpAttr(&q.w, q.dirAttrs(d.ex, d.dir))
			return nil
		}
		a, e = d.ex.fs.Lookup(q.ctx, d.dir, d.name)
	}
	dirA := q.dirAttrs(d.ex, d.dir)
	if e != 0 {
		st := statusOf(e)
		if dirA == nil && (e == syscall.ENOENT || e == syscall.ESTALE) {
			st = nfsErrStale
		}
		q.w.u32(st)
		d.ex.postOpAttr(&q.w, dirA)
		return nil
	}
	q.w.u32(nfsOK)
	q.w.opaque(EncodeHandle(d.ex.id, a.GFID))
	d.ex.postOpAttr(&q.w, &a)
	d.ex.postOpAttr(&q.w, dirA)
	return nil
}

func (q *request) readlink() error {
	ex, g, st := q.fh()
	if q.r.err != nil {
		return errGarbage
	}
	if st != nfsOK {
		q.failAttr(st)
		return nil
	}
	target, e := ex.fs.Readlink(q.ctx, g)
	if e != 0 {
		q.failAttr(fileStatus(e))
		return nil
	}
	a, _ := q.attrs(ex, g)
	q.w.u32(nfsOK)
	ex.postOpAttr(&q.w, a)
	q.w.string(target)
	return nil
}

// createhow3 modes.
const (
	createUnchecked = 0
	createGuarded   = 1
	createExclusive = 2
)

// create implements all three CREATE modes. EXCLUSIVE (which go-nfs
// refuses) stores the client's verifier in atime/mtime, as knfsd does, so a
// retransmitted CREATE finds its own file and succeeds; the client then
// sets the real mode and times with SETATTR.
func (q *request) create() error {
	d := q.dirop()
	how := q.r.u32()
	var in vfs.SetAttrIn
	var verf []byte
	switch how {
	case createUnchecked, createGuarded:
		in = readSattr3(&q.r)
	case createExclusive:
		verf = q.r.fixed(8)
	default:
		q.r.fail()
	}
	if q.r.err != nil {
		return errGarbage
	}
	if d.st != nfsOK {
		q.failWcc(d.st)
		return nil
	}
	ex := d.ex
	if st := nameStatus(d.name); st != nfsOK {
		q.failWcc(st)
		return nil
	}
	if ex.ro {
		q.failWcc(nfsErrROFS)
		return nil
	}
	pre, unlock := q.changeDir(ex, d.dir)
	defer unlock()
	ci := &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_CREAT | syscall.O_EXCL | syscall.O_WRONLY}
	if in.Valid&vfs.SetMode != 0 {
		ci.Mode = in.Mode
	}
	var vatime, vmtime uint32
	if how == createExclusive {
		ci.Mode = 0o600
		vatime = binary.BigEndian.Uint32(verf[0:4])
		vmtime = binary.BigEndian.Uint32(verf[4:8])
	}
	a, h, e := ex.fs.Create(q.ctx, d.dir, d.name, ci)
	switch {
	case e == syscall.EEXIST && how != createGuarded:
		ea, le := ex.fs.Lookup(q.ctx, d.dir, d.name)
		if le != 0 {
			q.dirFail(ex, d.dir, pre, le)
			return nil
		}
		if how == createExclusive {
			if !ea.IsRegular() || uint32(ea.Atime.Sec) != vatime || uint32(ea.Mtime.Sec) != vmtime {
				q.dirFail(ex, d.dir, pre, syscall.EEXIST)
				return nil
			}
		} else {
			if ea.IsDir() {
				q.dirFail(ex, d.dir, pre, syscall.EISDIR)
				return nil
			}
			// UNCHECKED on an existing file applies only a size change
			// (O_TRUNC), as knfsd does.
			if in.Valid&vfs.SetSize != 0 {
				sa, se := ex.fs.SetAttr(q.ctx, ea.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: in.Size})
				if se != 0 {
					q.dirFail(ex, d.dir, pre, se)
					return nil
				}
				ea = sa
			}
		}
		a = ea
	case e != 0:
		q.dirFail(ex, d.dir, pre, e)
		return nil
	default:
		// The creator may write the new file whatever its mode, through the
		// descriptor create returned (cp -p of a read-only file): keep it
		// for the caller's WRITEs.
		q.srv.opens.put(q.ctx, ex, a.GFID, q.caller, true, h)
		rest := in
		rest.Valid &^= vfs.SetMode
		if rest.Valid&vfs.SetSize != 0 && rest.Size == 0 {
			rest.Valid &^= vfs.SetSize
		}
		if how == createExclusive {
			rest = vfs.SetAttrIn{Valid: vfs.SetAtime | vfs.SetMtime,
				Atime: vfs.Timespec{Sec: int64(vatime)}, Mtime: vfs.Timespec{Sec: int64(vmtime)}}
		}
		if rest.Valid != 0 {
			if sa, se := ex.fs.SetAttr(q.ctx, a.GFID, 0, &rest); se == 0 {
				a = sa
			}
		}
	}
	q.w.u32(nfsOK)
	q.postOpFH(ex, a.GFID)
	ex.postOpAttr(&q.w, &a)
	ex.wcc(&q.w, pre, q.dirAttrs(ex, d.dir))
	return nil
}

// newObject writes the reply of MKDIR, SYMLINK and MKNOD, applying the
// attributes the creating call could not (owner, times). pre is the
// directory's attributes before the call (changeDir).
func (q *request) newObject(d dirop, pre *vfs.Attr, a vfs.Attr, e syscall.Errno, rest vfs.SetAttrIn) {
	if e != 0 {
		q.dirFail(d.ex, d.dir, pre, e)
		return
	}
	rest.Valid &^= vfs.SetMode | vfs.SetSize
	if rest.Valid != 0 {
		if sa, se := d.ex.fs.SetAttr(q.ctx, a.GFID, 0, &rest); se == 0 {
			a = sa
		}
	}
	q.w.u32(nfsOK)
	q.postOpFH(d.ex, a.GFID)
	d.ex.postOpAttr(&q.w, &a)
	d.ex.wcc(&q.w, pre, q.dirAttrs(d.ex, d.dir))
}

// checkNew validates the directory, name and writability for a call that
// makes a new name, writing the failure reply. It reports whether to go on.
func (q *request) checkNew(d dirop) bool {
	st := d.st
	if st == nfsOK {
		st = nameStatus(d.name)
	}
	if st == nfsOK && d.ex.ro {
		st = nfsErrROFS
	}
	if st != nfsOK {
		q.failWcc(st)
		return false
	}
	return true
}

func (q *request) mkdir() error {
	d := q.dirop()
	in := readSattr3(&q.r)
	if q.r.err != nil {
		return errGarbage
	}
	if !q.checkNew(d) {
		return nil
	}
	ci := &vfs.CreateIn{Mode: 0o755}
	if in.Valid&vfs.SetMode != 0 {
		ci.Mode = in.Mode
	}
	pre, unlock := q.changeDir(d.ex, d.dir)
	defer unlock()
	a, e := d.ex.fs.Mkdir(q.ctx, d.dir, d.name, ci)
	q.newObject(d, pre, a, e, in)
	return nil
}

func (q *request) symlink() error {
	d := q.dirop()
	in := readSattr3(&q.r)
	target := q.r.string(maxPath)
	if q.r.err != nil {
		return errGarbage
	}
	if !q.checkNew(d) {
		return nil
	}
	if target == "" {
		q.failWcc(nfsErrInval)
		return nil
	}
	pre, unlock := q.changeDir(d.ex, d.dir)
	defer unlock()
	a, e := d.ex.fs.Symlink(q.ctx, d.dir, d.name, target, &vfs.CreateIn{Mode: 0o777})
	in.Valid &^= vfs.SetAtime | vfs.SetMtime | vfs.SetAtimeNow | vfs.SetMtimeNow
	q.newObject(d, pre, a, e, in)
	return nil
}

func (q *request) mknod() error {
	d := q.dirop()
	typ := q.r.u32()
	var in vfs.SetAttrIn
	var rdev uint64
	var mode uint32
	switch typ {
	case nf3Chr, nf3Blk:
		in = readSattr3(&q.r)
		major, minor := q.r.u32(), q.r.u32()
		rdev = mkdev(major, minor)
		mode = syscall.S_IFCHR
		if typ == nf3Blk {
			mode = syscall.S_IFBLK
		}
	case nf3Sock, nf3FIFO:
		in = readSattr3(&q.r)
		mode = syscall.S_IFSOCK
		if typ == nf3FIFO {
			mode = syscall.S_IFIFO
		}
	case nf3Reg, nf3Dir, nf3Lnk:
	default:
		q.r.fail()
	}
	if q.r.err != nil {
		return errGarbage
	}
	if !q.checkNew(d) {
		return nil
	}
	if mode == 0 {
		q.failWcc(nfsErrBadType)
		return nil
	}
	perm := uint32(0o644)
	if in.Valid&vfs.SetMode != 0 {
		perm = in.Mode
	}
	pre, unlock := q.changeDir(d.ex, d.dir)
	defer unlock()
	a, e := d.ex.fs.Mknod(q.ctx, d.dir, d.name, &vfs.CreateIn{Mode: mode | perm, Rdev: rdev})
	q.newObject(d, pre, a, e, in)
	return nil
}

// removeName implements REMOVE and RMDIR.
func (q *request) removeName(dir bool) error {
	d := q.dirop()
	if q.r.err != nil {
		return errGarbage
	}
	if d.st != nfsOK {
		q.failWcc(d.st)
		return nil
	}
	if d.name == "." || d.name == ".." {
		// RFC 1813: RMDIR of "." is INVAL, of ".." is EXIST (knfsd).
		if d.name == "." {
			q.failWcc(nfsErrInval)
		} else {
			q.failWcc(nfsErrExist)
		}
		return nil
	}
	if st := nameStatus(d.name); st != nfsOK {
		q.failWcc(st)
		return nil
	}
	if d.ex.ro {
		q.failWcc(nfsErrROFS)
		return nil
	}
	pre, unlock := q.changeDir(d.ex, d.dir)
	defer unlock()
	var e syscall.Errno
	if dir {
		e = d.ex.fs.Rmdir(q.ctx, d.dir, d.name)
	} else {
		e = d.ex.fs.Unlink(q.ctx, d.dir, d.name)
	}
	if e != 0 {
		q.dirFail(d.ex, d.dir, pre, e)
		return nil
	}
	q.w.u32(nfsOK)
	d.ex.wcc(&q.w, pre, q.dirAttrs(d.ex, d.dir))
	return nil
}

func (q *request) remove() error { return q.removeName(false) }
func (q *request) rmdir() error  { return q.removeName(true) }

func (q *request) rename() error {
	from := q.dirop()
	to := q.dirop()
	if q.r.err != nil {
		return errGarbage
	}
	fail := func(st uint32) {
		q.w.u32(st)
		for i := 0; i < 4; i++ {
			q.w.bool(false)
		}
	}
	st := from.st
	if st == nfsOK {
		st = to.st
	}
	if st == nfsOK && from.ex != to.ex {
		st = nfsErrXDev
	}
	if st == nfsOK {
		st = nameStatus(from.name)
	}
	if st == nfsOK {
		st = nameStatus(to.name)
	}
	if st == nfsOK && from.ex.ro {
		st = nfsErrROFS
	}
	if st != nfsOK {
		fail(st)
		return nil
	}
	ex := from.ex
	fromPre, toPre, unlock := q.changeDirs(ex, from.dir, to.dir)
	defer unlock()
	e := ex.fs.Rename(q.ctx, from.dir, from.name, to.dir, to.name, 0)
	fromA := q.dirAttrs(ex, from.dir)
	toA := fromA
	if to.dir != from.dir {
		toA = q.dirAttrs(ex, to.dir)
	}
	if e != 0 {
		st := statusOf(e)
		if (fromA == nil || toA == nil) && (e == syscall.ENOENT || e == syscall.ESTALE) {
			st = nfsErrStale
		}
		q.w.u32(st)
	} else {
		q.w.u32(nfsOK)
	}
	ex.wcc(&q.w, fromPre, fromA)
	ex.wcc(&q.w, toPre, toA)
	return nil
}

// link implements LINK3 (file handle, then the directory and name of the
// new link). go-nfs decodes these arguments as if they were SYMLINK's,
// which is why this procedure never reaches it.
func (q *request) link() error {
	ex, g, st := q.fh()
	d := q.dirop()
	if q.r.err != nil {
		return errGarbage
	}
	fail := func(st uint32) {
		q.w.u32(st)
		q.w.bool(false)
		q.w.bool(false)
		q.w.bool(false)
	}
	if st == nfsOK {
		st = d.st
	}
	if st == nfsOK && ex != d.ex {
		st = nfsErrXDev
	}
	if st == nfsOK {
		st = nameStatus(d.name)
	}
	if st == nfsOK && ex.ro {
		st = nfsErrROFS
	}
	if st != nfsOK {
		fail(st)
		return nil
	}
	pre, unlock := q.changeDir(ex, d.dir)
	defer unlock()
	a, e := ex.fs.Link(q.ctx, g, d.dir, d.name)
	if e != 0 {
		fa, fe := q.attrs(ex, g)
		dirA := q.dirAttrs(ex, d.dir)
		st := statusOf(e)
		if e == syscall.ENOENT || e == syscall.ESTALE {
			if fe != 0 || dirA == nil {
				st = nfsErrStale
			}
		}
		q.w.u32(st)
		ex.postOpAttr(&q.w, fa)
		ex.wcc(&q.w, pre, dirA)
		return nil
	}
	q.w.u32(nfsOK)
	ex.postOpAttr(&q.w, &a)
	ex.wcc(&q.w, pre, q.dirAttrs(ex, d.dir))
	return nil
}

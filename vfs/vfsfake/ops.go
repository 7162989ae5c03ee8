package vfsfake

import (
	"context"
	"maps"
	"slices"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

func (f *Fake) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: Lookup, GFID: parent, Name: name}); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.Lookup(ctx, parent, name)
}

func (f *Fake) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: GetAttr, GFID: gfid, Handle: fh}); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.GetAttr(ctx, gfid, fh)
}

func (f *Fake) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	cp := *in
	if e := f.begin(ctx, Call{Op: SetAttr, GFID: gfid, Handle: fh, SetAttr: &cp}); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.SetAttr(ctx, gfid, fh, in)
}

func (f *Fake) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	cp := *in
	if e := f.begin(ctx, Call{Op: Create, GFID: parent, Name: name, CreateIn: &cp, Flags: in.Flags}); e != 0 {
		return vfs.Attr{}, 0, e
	}
	return f.child.Create(ctx, parent, name, in)
}

func (f *Fake) Mknod(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	cp := *in
	if e := f.begin(ctx, Call{Op: Mknod, GFID: parent, Name: name, CreateIn: &cp}); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.Mknod(ctx, parent, name, in)
}

func (f *Fake) Mkdir(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	cp := *in
	if e := f.begin(ctx, Call{Op: Mkdir, GFID: parent, Name: name, CreateIn: &cp}); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.Mkdir(ctx, parent, name, in)
}

func (f *Fake) Symlink(ctx context.Context, parent vfs.GFID, name, target string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	cp := *in
	if e := f.begin(ctx, Call{Op: Symlink, GFID: parent, Name: name, Target: target, CreateIn: &cp}); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.Symlink(ctx, parent, name, target, in)
}

func (f *Fake) Readlink(ctx context.Context, gfid vfs.GFID) (string, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: Readlink, GFID: gfid}); e != 0 {
		return "", e
	}
	return f.child.Readlink(ctx, gfid)
}

func (f *Fake) Link(ctx context.Context, gfid vfs.GFID, newParent vfs.GFID, newName string) (vfs.Attr, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: Link, GFID: gfid, NewParent: newParent, NewName: newName}); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.Link(ctx, gfid, newParent, newName)
}

func (f *Fake) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	if e := f.begin(ctx, Call{Op: Unlink, GFID: parent, Name: name}); e != 0 {
		return e
	}
	return f.child.Unlink(ctx, parent, name)
}

func (f *Fake) Rmdir(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	if e := f.begin(ctx, Call{Op: Rmdir, GFID: parent, Name: name}); e != 0 {
		return e
	}
	return f.child.Rmdir(ctx, parent, name)
}

func (f *Fake) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	if e := f.begin(ctx, Call{Op: Rename, GFID: oldParent, Name: oldName, NewParent: newParent, NewName: newName, Flags: flags}); e != 0 {
		return e
	}
	return f.child.Rename(ctx, oldParent, oldName, newParent, newName, flags)
}

func (f *Fake) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: Open, GFID: gfid, Flags: flags}); e != 0 {
		return 0, e
	}
	return f.child.Open(ctx, gfid, flags)
}

func (f *Fake) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: Read, GFID: gfid, Handle: fh, Off: off, Size: len(dest)}); e != 0 {
		return 0, e
	}
	return f.child.Read(ctx, gfid, fh, dest, off)
}

func (f *Fake) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: Write, GFID: gfid, Handle: fh, Off: off, Size: len(data), Data: slices.Clone(data)}); e != 0 {
		return 0, e
	}
	return f.child.Write(ctx, gfid, fh, data, off)
}

func (f *Fake) Flush(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	if e := f.begin(ctx, Call{Op: Flush, GFID: gfid, Handle: fh}); e != 0 {
		return e
	}
	return f.child.Flush(ctx, gfid, fh)
}

func (f *Fake) Fsync(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	if e := f.begin(ctx, Call{Op: Fsync, GFID: gfid, Handle: fh, Sync: datasync}); e != 0 {
		return e
	}
	return f.child.Fsync(ctx, gfid, fh, datasync)
}

func (f *Fake) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	if e := f.begin(ctx, Call{Op: Release, GFID: gfid, Handle: fh}); e != 0 {
		return e
	}
	return f.child.Release(ctx, gfid, fh)
}

func (f *Fake) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	if e := f.begin(ctx, Call{Op: Fallocate, GFID: gfid, Handle: fh, Flags: mode, Off: off, Size: int(length)}); e != 0 {
		return e
	}
	return f.child.Fallocate(ctx, gfid, fh, mode, off, length)
}

func (f *Fake) Lseek(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, off int64, whence int) (int64, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: Lseek, GFID: gfid, Handle: fh, Off: off, Flags: uint32(whence)}); e != 0 {
		return 0, e
	}
	return f.child.Lseek(ctx, gfid, fh, off, whence)
}

func (f *Fake) OpenDir(ctx context.Context, gfid vfs.GFID) (vfs.Handle, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: OpenDir, GFID: gfid}); e != 0 {
		return 0, e
	}
	return f.child.OpenDir(ctx, gfid)
}

func (f *Fake) ReadDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: ReadDir, GFID: gfid, Handle: fh, Cookie: cookie, Size: max, Plus: plus}); e != 0 {
		return nil, false, e
	}
	return f.child.ReadDir(ctx, gfid, fh, cookie, max, plus)
}

func (f *Fake) ReleaseDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	if e := f.begin(ctx, Call{Op: ReleaseDir, GFID: gfid, Handle: fh}); e != 0 {
		return e
	}
	return f.child.ReleaseDir(ctx, gfid, fh)
}

func (f *Fake) FsyncDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	if e := f.begin(ctx, Call{Op: FsyncDir, GFID: gfid, Handle: fh, Sync: datasync}); e != 0 {
		return e
	}
	return f.child.FsyncDir(ctx, gfid, fh, datasync)
}

func (f *Fake) StatFS(ctx context.Context, gfid vfs.GFID) (vfs.StatFS, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: StatFS, GFID: gfid}); e != 0 {
		return vfs.StatFS{}, e
	}
	return f.child.StatFS(ctx, gfid)
}

func (f *Fake) GetXattr(ctx context.Context, gfid vfs.GFID, name string) ([]byte, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: GetXattr, GFID: gfid, Name: name}); e != 0 {
		return nil, e
	}
	return f.child.GetXattr(ctx, gfid, name)
}

func (f *Fake) SetXattr(ctx context.Context, gfid vfs.GFID, name string, value []byte, flags uint32) syscall.Errno {
	if e := f.begin(ctx, Call{Op: SetXattr, GFID: gfid, Name: name, Data: slices.Clone(value), Flags: flags}); e != 0 {
		return e
	}
	return f.child.SetXattr(ctx, gfid, name, value, flags)
}

func (f *Fake) ListXattr(ctx context.Context, gfid vfs.GFID) ([]string, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: ListXattr, GFID: gfid}); e != 0 {
		return nil, e
	}
	return f.child.ListXattr(ctx, gfid)
}

func (f *Fake) RemoveXattr(ctx context.Context, gfid vfs.GFID, name string) syscall.Errno {
	if e := f.begin(ctx, Call{Op: RemoveXattr, GFID: gfid, Name: name}); e != 0 {
		return e
	}
	return f.child.RemoveXattr(ctx, gfid, name)
}

func (f *Fake) XattrOp(ctx context.Context, gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: XattrOp, GFID: gfid, XattrOp: op, Operands: maps.Clone(operands)}); e != 0 {
		return nil, e
	}
	return f.child.XattrOp(ctx, gfid, op, operands)
}

func (f *Fake) GetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock) (vfs.Lock, syscall.Errno) {
	if e := f.begin(ctx, Call{Op: GetLk, GFID: gfid, Handle: fh, Kind: kind, Lock: lk}); e != 0 {
		return vfs.Lock{}, e
	}
	return f.child.GetLk(ctx, gfid, fh, kind, lk)
}

func (f *Fake) SetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock, wait bool) syscall.Errno {
	if e := f.begin(ctx, Call{Op: SetLk, GFID: gfid, Handle: fh, Kind: kind, Lock: lk, Wait: wait}); e != 0 {
		return e
	}
	return f.child.SetLk(ctx, gfid, fh, kind, lk, wait)
}

func (f *Fake) InodeLk(ctx context.Context, domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) syscall.Errno {
	if e := f.begin(ctx, Call{Op: InodeLk, Domain: domain, GFID: gfid, Lock: lk, Wait: wait}); e != 0 {
		return e
	}
	return f.child.InodeLk(ctx, domain, gfid, lk, wait)
}

func (f *Fake) EntryLk(ctx context.Context, domain string, parent vfs.GFID, name string, typ vfs.LockType, owner uint64, wait bool) syscall.Errno {
	if e := f.begin(ctx, Call{Op: EntryLk, Domain: domain, GFID: parent, Name: name, Lock: vfs.Lock{Type: typ, Owner: owner}, Wait: wait}); e != 0 {
		return e
	}
	return f.child.EntryLk(ctx, domain, parent, name, typ, owner, wait)
}

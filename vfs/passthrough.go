package vfs

import (
	"context"
	"syscall"
)

// Passthrough forwards every operation to Child. Translators embed it and
// override only what they change.
type Passthrough struct {
	Child Translator
}

var _ Translator = Passthrough{}

func (p Passthrough) Lookup(ctx context.Context, parent GFID, name string) (Attr, syscall.Errno) {
	return p.Child.Lookup(ctx, parent, name)
}
func (p Passthrough) GetAttr(ctx context.Context, gfid GFID, fh Handle) (Attr, syscall.Errno) {
	return p.Child.GetAttr(ctx, gfid, fh)
}
func (p Passthrough) SetAttr(ctx context.Context, gfid GFID, fh Handle, in *SetAttrIn) (Attr, syscall.Errno) {
	return p.Child.SetAttr(ctx, gfid, fh, in)
}
func (p Passthrough) Create(ctx context.Context, parent GFID, name string, in *CreateIn) (Attr, Handle, syscall.Errno) {
	return p.Child.Create(ctx, parent, name, in)
}
func (p Passthrough) Mknod(ctx context.Context, parent GFID, name string, in *CreateIn) (Attr, syscall.Errno) {
	return p.Child.Mknod(ctx, parent, name, in)
}
func (p Passthrough) Mkdir(ctx context.Context, parent GFID, name string, in *CreateIn) (Attr, syscall.Errno) {
	return p.Child.Mkdir(ctx, parent, name, in)
}
func (p Passthrough) Symlink(ctx context.Context, parent GFID, name, target string, in *CreateIn) (Attr, syscall.Errno) {
	return p.Child.Symlink(ctx, parent, name, target, in)
}
func (p Passthrough) Readlink(ctx context.Context, gfid GFID) (string, syscall.Errno) {
	return p.Child.Readlink(ctx, gfid)
}
func (p Passthrough) Link(ctx context.Context, gfid GFID, newParent GFID, newName string) (Attr, syscall.Errno) {
	return p.Child.Link(ctx, gfid, newParent, newName)
}
func (p Passthrough) Unlink(ctx context.Context, parent GFID, name string) syscall.Errno {
	return p.Child.Unlink(ctx, parent, name)
}
func (p Passthrough) Rmdir(ctx context.Context, parent GFID, name string) syscall.Errno {
	return p.Child.Rmdir(ctx, parent, name)
}
func (p Passthrough) Rename(ctx context.Context, oldParent GFID, oldName string, newParent GFID, newName string, flags uint32) syscall.Errno {
	return p.Child.Rename(ctx, oldParent, oldName, newParent, newName, flags)
}
func (p Passthrough) Open(ctx context.Context, gfid GFID, flags uint32) (Handle, syscall.Errno) {
	return p.Child.Open(ctx, gfid, flags)
}
func (p Passthrough) Read(ctx context.Context, gfid GFID, fh Handle, dest []byte, off int64) (int, syscall.Errno) {
	return p.Child.Read(ctx, gfid, fh, dest, off)
}

// ReadsLocally forwards the LocalReader question to the child.
func (p Passthrough) ReadsLocally(ctx context.Context, gfid GFID) bool {
	return ReadsLocally(ctx, p.Child, gfid)
}
func (p Passthrough) Write(ctx context.Context, gfid GFID, fh Handle, data []byte, off int64) (int, syscall.Errno) {
	return p.Child.Write(ctx, gfid, fh, data, off)
}
func (p Passthrough) Flush(ctx context.Context, gfid GFID, fh Handle) syscall.Errno {
	return p.Child.Flush(ctx, gfid, fh)
}
func (p Passthrough) Fsync(ctx context.Context, gfid GFID, fh Handle, datasync bool) syscall.Errno {
	return p.Child.Fsync(ctx, gfid, fh, datasync)
}
func (p Passthrough) Release(ctx context.Context, gfid GFID, fh Handle) syscall.Errno {
	return p.Child.Release(ctx, gfid, fh)
}
func (p Passthrough) Fallocate(ctx context.Context, gfid GFID, fh Handle, mode uint32, off, length int64) syscall.Errno {
	return p.Child.Fallocate(ctx, gfid, fh, mode, off, length)
}
func (p Passthrough) Lseek(ctx context.Context, gfid GFID, fh Handle, off int64, whence int) (int64, syscall.Errno) {
	return p.Child.Lseek(ctx, gfid, fh, off, whence)
}
func (p Passthrough) OpenDir(ctx context.Context, gfid GFID) (Handle, syscall.Errno) {
	return p.Child.OpenDir(ctx, gfid)
}
func (p Passthrough) ReadDir(ctx context.Context, gfid GFID, fh Handle, cookie uint64, max int, plus bool) ([]DirEntry, bool, syscall.Errno) {
	return p.Child.ReadDir(ctx, gfid, fh, cookie, max, plus)
}
func (p Passthrough) ReleaseDir(ctx context.Context, gfid GFID, fh Handle) syscall.Errno {
	return p.Child.ReleaseDir(ctx, gfid, fh)
}
func (p Passthrough) FsyncDir(ctx context.Context, gfid GFID, fh Handle, datasync bool) syscall.Errno {
	return p.Child.FsyncDir(ctx, gfid, fh, datasync)
}
func (p Passthrough) StatFS(ctx context.Context, gfid GFID) (StatFS, syscall.Errno) {
	return p.Child.StatFS(ctx, gfid)
}
func (p Passthrough) GetXattr(ctx context.Context, gfid GFID, name string) ([]byte, syscall.Errno) {
	return p.Child.GetXattr(ctx, gfid, name)
}
func (p Passthrough) SetXattr(ctx context.Context, gfid GFID, name string, value []byte, flags uint32) syscall.Errno {
	return p.Child.SetXattr(ctx, gfid, name, value, flags)
}
func (p Passthrough) ListXattr(ctx context.Context, gfid GFID) ([]string, syscall.Errno) {
	return p.Child.ListXattr(ctx, gfid)
}
func (p Passthrough) RemoveXattr(ctx context.Context, gfid GFID, name string) syscall.Errno {
	return p.Child.RemoveXattr(ctx, gfid, name)
}
func (p Passthrough) XattrOp(ctx context.Context, gfid GFID, op XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	return p.Child.XattrOp(ctx, gfid, op, operands)
}
func (p Passthrough) GetLk(ctx context.Context, gfid GFID, fh Handle, kind LockKind, lk Lock) (Lock, syscall.Errno) {
	return p.Child.GetLk(ctx, gfid, fh, kind, lk)
}
func (p Passthrough) SetLk(ctx context.Context, gfid GFID, fh Handle, kind LockKind, lk Lock, wait bool) syscall.Errno {
	return p.Child.SetLk(ctx, gfid, fh, kind, lk, wait)
}
func (p Passthrough) InodeLk(ctx context.Context, domain string, gfid GFID, lk Lock, wait bool) syscall.Errno {
	return p.Child.InodeLk(ctx, domain, gfid, lk, wait)
}
func (p Passthrough) EntryLk(ctx context.Context, domain string, parent GFID, name string, typ LockType, owner uint64, wait bool) syscall.Errno {
	return p.Child.EntryLk(ctx, domain, parent, name, typ, owner, wait)
}

package iothreads

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

func (t *IOThreads) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return vfs.Attr{}, e
	}
	defer t.leave()
	return t.Child.Lookup(ctx, parent, name)
}

func (t *IOThreads) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return vfs.Attr{}, e
	}
	defer t.leave()
	return t.Child.GetAttr(ctx, gfid, fh)
}

func (t *IOThreads) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return vfs.Attr{}, e
	}
	defer t.leave()
	return t.Child.SetAttr(ctx, gfid, fh, in)
}

func (t *IOThreads) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return vfs.Attr{}, 0, e
	}
	defer t.leave()
	return t.Child.Create(ctx, parent, name, in)
}

func (t *IOThreads) Mknod(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return vfs.Attr{}, e
	}
	defer t.leave()
	return t.Child.Mknod(ctx, parent, name, in)
}

func (t *IOThreads) Mkdir(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return vfs.Attr{}, e
	}
	defer t.leave()
	return t.Child.Mkdir(ctx, parent, name, in)
}

func (t *IOThreads) Symlink(ctx context.Context, parent vfs.GFID, name, target string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return vfs.Attr{}, e
	}
	defer t.leave()
	return t.Child.Symlink(ctx, parent, name, target, in)
}

func (t *IOThreads) Readlink(ctx context.Context, gfid vfs.GFID) (string, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return "", e
	}
	defer t.leave()
	return t.Child.Readlink(ctx, gfid)
}

func (t *IOThreads) Link(ctx context.Context, gfid vfs.GFID, newParent vfs.GFID, newName string) (vfs.Attr, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return vfs.Attr{}, e
	}
	defer t.leave()
	return t.Child.Link(ctx, gfid, newParent, newName)
}

func (t *IOThreads) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	if e := t.enter(ctx); e != 0 {
		return e
	}
	defer t.leave()
	return t.Child.Unlink(ctx, parent, name)
}

func (t *IOThreads) Rmdir(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	if e := t.enter(ctx); e != 0 {
		return e
	}
	defer t.leave()
	return t.Child.Rmdir(ctx, parent, name)
}

func (t *IOThreads) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	if e := t.enter(ctx); e != 0 {
		return e
	}
	defer t.leave()
	return t.Child.Rename(ctx, oldParent, oldName, newParent, newName, flags)
}

func (t *IOThreads) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return 0, e
	}
	defer t.leave()
	return t.Child.Open(ctx, gfid, flags)
}

func (t *IOThreads) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return 0, e
	}
	defer t.leave()
	return t.Child.Read(ctx, gfid, fh, dest, off)
}

func (t *IOThreads) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return 0, e
	}
	defer t.leave()
	return t.Child.Write(ctx, gfid, fh, data, off)
}

func (t *IOThreads) Flush(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	if e := t.enter(ctx); e != 0 {
		return e
	}
	defer t.leave()
	return t.Child.Flush(ctx, gfid, fh)
}

func (t *IOThreads) Fsync(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	if e := t.enter(ctx); e != 0 {
		return e
	}
	defer t.leave()
	return t.Child.Fsync(ctx, gfid, fh, datasync)
}

// Release is never refused: a lost release leaks the child's handle.
func (t *IOThreads) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	t.enterAlways()
	defer t.leave()
	return t.Child.Release(ctx, gfid, fh)
}

func (t *IOThreads) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	if e := t.enter(ctx); e != 0 {
		return e
	}
	defer t.leave()
	return t.Child.Fallocate(ctx, gfid, fh, mode, off, length)
}

func (t *IOThreads) Lseek(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, off int64, whence int) (int64, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return 0, e
	}
	defer t.leave()
	return t.Child.Lseek(ctx, gfid, fh, off, whence)
}

func (t *IOThreads) OpenDir(ctx context.Context, gfid vfs.GFID) (vfs.Handle, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return 0, e
	}
	defer t.leave()
	return t.Child.OpenDir(ctx, gfid)
}

func (t *IOThreads) ReadDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return nil, false, e
	}
	defer t.leave()
	return t.Child.ReadDir(ctx, gfid, fh, cookie, max, plus)
}

// ReleaseDir is never refused, like Release.
func (t *IOThreads) ReleaseDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	t.enterAlways()
	defer t.leave()
	return t.Child.ReleaseDir(ctx, gfid, fh)
}

func (t *IOThreads) FsyncDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	if e := t.enter(ctx); e != 0 {
		return e
	}
	defer t.leave()
	return t.Child.FsyncDir(ctx, gfid, fh, datasync)
}

func (t *IOThreads) StatFS(ctx context.Context, gfid vfs.GFID) (vfs.StatFS, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return vfs.StatFS{}, e
	}
	defer t.leave()
	return t.Child.StatFS(ctx, gfid)
}

func (t *IOThreads) GetXattr(ctx context.Context, gfid vfs.GFID, name string) ([]byte, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return nil, e
	}
	defer t.leave()
	return t.Child.GetXattr(ctx, gfid, name)
}

func (t *IOThreads) SetXattr(ctx context.Context, gfid vfs.GFID, name string, value []byte, flags uint32) syscall.Errno {
	if e := t.enter(ctx); e != 0 {
		return e
	}
	defer t.leave()
	return t.Child.SetXattr(ctx, gfid, name, value, flags)
}

func (t *IOThreads) ListXattr(ctx context.Context, gfid vfs.GFID) ([]string, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return nil, e
	}
	defer t.leave()
	return t.Child.ListXattr(ctx, gfid)
}

func (t *IOThreads) RemoveXattr(ctx context.Context, gfid vfs.GFID, name string) syscall.Errno {
	if e := t.enter(ctx); e != 0 {
		return e
	}
	defer t.leave()
	return t.Child.RemoveXattr(ctx, gfid, name)
}

func (t *IOThreads) XattrOp(ctx context.Context, gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return nil, e
	}
	defer t.leave()
	return t.Child.XattrOp(ctx, gfid, op, operands)
}

func (t *IOThreads) GetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock) (vfs.Lock, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return vfs.Lock{}, e
	}
	defer t.leave()
	return t.Child.GetLk(ctx, gfid, fh, kind, lk)
}

// lockBypasses reports whether a lock request skips the bound: blocking
// requests (which could hold every slot while waiting for an unlock) and
// unlocks (which must not be lost).
func lockBypasses(typ vfs.LockType, wait bool) bool {
	return wait || typ == vfs.Unlock
}

func (t *IOThreads) SetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock, wait bool) syscall.Errno {
	if lockBypasses(lk.Type, wait) {
		return t.Child.SetLk(ctx, gfid, fh, kind, lk, wait)
	}
	if e := t.enter(ctx); e != 0 {
		return e
	}
	defer t.leave()
	return t.Child.SetLk(ctx, gfid, fh, kind, lk, wait)
}

func (t *IOThreads) InodeLk(ctx context.Context, domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) syscall.Errno {
	if lockBypasses(lk.Type, wait) {
		return t.Child.InodeLk(ctx, domain, gfid, lk, wait)
	}
	if e := t.enter(ctx); e != 0 {
		return e
	}
	defer t.leave()
	return t.Child.InodeLk(ctx, domain, gfid, lk, wait)
}

func (t *IOThreads) EntryLk(ctx context.Context, domain string, parent vfs.GFID, name string, typ vfs.LockType, owner uint64, wait bool) syscall.Errno {
	if lockBypasses(typ, wait) {
		return t.Child.EntryLk(ctx, domain, parent, name, typ, owner, wait)
	}
	if e := t.enter(ctx); e != 0 {
		return e
	}
	defer t.leave()
	return t.Child.EntryLk(ctx, domain, parent, name, typ, owner, wait)
}

// WriteSetAttr queues like Write; the child does both in one operation if
// it can.
func (t *IOThreads) WriteSetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64, in *vfs.SetAttrIn) (int, vfs.Attr, syscall.Errno) {
	if e := t.enter(ctx); e != 0 {
		return 0, vfs.Attr{}, e
	}
	defer t.leave()
	return vfs.WriteThenSetAttr(ctx, t.Child, gfid, fh, data, off, in)
}

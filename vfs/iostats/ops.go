package iostats

import (
	"context"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

func (s *IOStats) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.Lookup(ctx, parent, name)
	s.done(opLookup, start, errno != 0)
	return r0, errno
}

func (s *IOStats) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.GetAttr(ctx, gfid, fh)
	s.done(opGetAttr, start, errno != 0)
	return r0, errno
}

func (s *IOStats) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.SetAttr(ctx, gfid, fh, in)
	s.done(opSetAttr, start, errno != 0)
	return r0, errno
}

func (s *IOStats) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	start := time.Now()
	r0, r1, errno := s.Child.Create(ctx, parent, name, in)
	s.done(opCreate, start, errno != 0)
	return r0, r1, errno
}

func (s *IOStats) Mknod(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.Mknod(ctx, parent, name, in)
	s.done(opMknod, start, errno != 0)
	return r0, errno
}

func (s *IOStats) Mkdir(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.Mkdir(ctx, parent, name, in)
	s.done(opMkdir, start, errno != 0)
	return r0, errno
}

func (s *IOStats) Symlink(ctx context.Context, parent vfs.GFID, name, target string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.Symlink(ctx, parent, name, target, in)
	s.done(opSymlink, start, errno != 0)
	return r0, errno
}

func (s *IOStats) Readlink(ctx context.Context, gfid vfs.GFID) (string, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.Readlink(ctx, gfid)
	s.done(opReadlink, start, errno != 0)
	return r0, errno
}

func (s *IOStats) Link(ctx context.Context, gfid vfs.GFID, newParent vfs.GFID, newName string) (vfs.Attr, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.Link(ctx, gfid, newParent, newName)
	s.done(opLink, start, errno != 0)
	return r0, errno
}

func (s *IOStats) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	start := time.Now()
	errno := s.Child.Unlink(ctx, parent, name)
	s.done(opUnlink, start, errno != 0)
	return errno
}

func (s *IOStats) Rmdir(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	start := time.Now()
	errno := s.Child.Rmdir(ctx, parent, name)
	s.done(opRmdir, start, errno != 0)
	return errno
}

func (s *IOStats) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	start := time.Now()
	errno := s.Child.Rename(ctx, oldParent, oldName, newParent, newName, flags)
	s.done(opRename, start, errno != 0)
	return errno
}

func (s *IOStats) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.Open(ctx, gfid, flags)
	s.done(opOpen, start, errno != 0)
	return r0, errno
}

func (s *IOStats) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.Read(ctx, gfid, fh, dest, off)
	s.done(opRead, start, errno != 0)
	s.addRead(r0)
	return r0, errno
}

func (s *IOStats) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.Write(ctx, gfid, fh, data, off)
	s.done(opWrite, start, errno != 0)
	s.addWritten(r0)
	return r0, errno
}

func (s *IOStats) Flush(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	start := time.Now()
	errno := s.Child.Flush(ctx, gfid, fh)
	s.done(opFlush, start, errno != 0)
	return errno
}

func (s *IOStats) Fsync(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	start := time.Now()
	errno := s.Child.Fsync(ctx, gfid, fh, datasync)
	s.done(opFsync, start, errno != 0)
	return errno
}

func (s *IOStats) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	start := time.Now()
	errno := s.Child.Release(ctx, gfid, fh)
	s.done(opRelease, start, errno != 0)
	return errno
}

func (s *IOStats) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	start := time.Now()
	errno := s.Child.Fallocate(ctx, gfid, fh, mode, off, length)
	s.done(opFallocate, start, errno != 0)
	return errno
}

func (s *IOStats) Lseek(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, off int64, whence int) (int64, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.Lseek(ctx, gfid, fh, off, whence)
	s.done(opLseek, start, errno != 0)
	return r0, errno
}

func (s *IOStats) OpenDir(ctx context.Context, gfid vfs.GFID) (vfs.Handle, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.OpenDir(ctx, gfid)
	s.done(opOpenDir, start, errno != 0)
	return r0, errno
}

func (s *IOStats) ReadDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	start := time.Now()
	r0, r1, errno := s.Child.ReadDir(ctx, gfid, fh, cookie, max, plus)
	s.done(opReadDir, start, errno != 0)
	return r0, r1, errno
}

func (s *IOStats) ReleaseDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	start := time.Now()
	errno := s.Child.ReleaseDir(ctx, gfid, fh)
	s.done(opReleaseDir, start, errno != 0)
	return errno
}

func (s *IOStats) FsyncDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	start := time.Now()
	errno := s.Child.FsyncDir(ctx, gfid, fh, datasync)
	s.done(opFsyncDir, start, errno != 0)
	return errno
}

func (s *IOStats) StatFS(ctx context.Context, gfid vfs.GFID) (vfs.StatFS, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.StatFS(ctx, gfid)
	s.done(opStatFS, start, errno != 0)
	return r0, errno
}

func (s *IOStats) GetXattr(ctx context.Context, gfid vfs.GFID, name string) ([]byte, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.GetXattr(ctx, gfid, name)
	s.done(opGetXattr, start, errno != 0)
	return r0, errno
}

func (s *IOStats) SetXattr(ctx context.Context, gfid vfs.GFID, name string, value []byte, flags uint32) syscall.Errno {
	start := time.Now()
	errno := s.Child.SetXattr(ctx, gfid, name, value, flags)
	s.done(opSetXattr, start, errno != 0)
	return errno
}

func (s *IOStats) ListXattr(ctx context.Context, gfid vfs.GFID) ([]string, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.ListXattr(ctx, gfid)
	s.done(opListXattr, start, errno != 0)
	return r0, errno
}

func (s *IOStats) RemoveXattr(ctx context.Context, gfid vfs.GFID, name string) syscall.Errno {
	start := time.Now()
	errno := s.Child.RemoveXattr(ctx, gfid, name)
	s.done(opRemoveXattr, start, errno != 0)
	return errno
}

func (s *IOStats) XattrOp(ctx context.Context, gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.XattrOp(ctx, gfid, op, operands)
	s.done(opXattrOp, start, errno != 0)
	return r0, errno
}

func (s *IOStats) GetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock) (vfs.Lock, syscall.Errno) {
	start := time.Now()
	r0, errno := s.Child.GetLk(ctx, gfid, fh, kind, lk)
	s.done(opGetLk, start, errno != 0)
	return r0, errno
}

func (s *IOStats) SetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock, wait bool) syscall.Errno {
	start := time.Now()
	errno := s.Child.SetLk(ctx, gfid, fh, kind, lk, wait)
	s.done(opSetLk, start, errno != 0)
	return errno
}

func (s *IOStats) InodeLk(ctx context.Context, domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) syscall.Errno {
	start := time.Now()
	errno := s.Child.InodeLk(ctx, domain, gfid, lk, wait)
	s.done(opInodeLk, start, errno != 0)
	return errno
}

func (s *IOStats) EntryLk(ctx context.Context, domain string, parent vfs.GFID, name string, typ vfs.LockType, owner uint64, wait bool) syscall.Errno {
	start := time.Now()
	errno := s.Child.EntryLk(ctx, domain, parent, name, typ, owner, wait)
	s.done(opEntryLk, start, errno != 0)
	return errno
}

package ninep

import (
	"context"
	"hash/fnv"
	"io"
	"sync"
	"syscall"

	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"

	"github.com/cairnfs/cairn/vfs"
)

// file is a p9.File: one fid's view of a volume file, acting as the
// caller that attached. It holds the file's GFID and, once opened, the
// volume handle.
type file struct {
	c      *conn
	ex     *export
	caller *vfs.Caller
	gfid   vfs.GFID
	mode   uint32 // S_IFMT type bits

	mu     sync.Mutex
	opened bool
	h      vfs.Handle
}

var _ p9.File = (*file)(nil)

func newRoot(c *conn, ex *export, caller *vfs.Caller) (*file, error) {
	a, e := ex.fs.GetAttr(vfs.WithCaller(c.srv.ctx, caller), vfs.RootGFID, 0)
	if e != 0 {
		return nil, errno(e)
	}
	return &file{c: c, ex: ex, caller: caller, gfid: vfs.RootGFID, mode: a.Mode & syscall.S_IFMT}, nil
}

func (f *file) ctx() context.Context { return vfs.WithCaller(f.c.srv.ctx, f.caller) }

// ctxAs is the context of a create: the attaching user with the group the
// request names (root squash applies to it too).
func (f *file) ctxAs(gid p9.GID) context.Context {
	c := *f.caller
	if gid != p9.NoGID {
		g := uint32(gid)
		if f.c.srv.squash.Root && g == 0 {
			g = f.c.srv.squash.AnonGID
		}
		if g != c.GID {
			c.Groups = append(append([]uint32(nil), c.Groups...), c.GID)
			c.GID = g
		}
	}
	return vfs.WithCaller(f.c.srv.ctx, &c)
}

func (f *file) child(a *vfs.Attr) *file {
	return &file{c: f.c, ex: f.ex, caller: f.caller, gfid: a.GFID, mode: a.Mode & syscall.S_IFMT}
}

func (f *file) handle() vfs.Handle {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.h
}

func (f *file) writable() error {
	if f.ex.ro {
		return linux.EROFS
	}
	return nil
}

// errno converts a volume errno for p9 (the numbers are Linux's).
func errno(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return linux.Errno(e)
}

// qidOf derives a QID from attributes: Path comes from the GFID's 64-bit
// inode number (stable across restarts and gateways, so ls -i is stable),
// and Version changes with mtime and size.
func qidOf(a *vfs.Attr) p9.QID {
	v := uint32(a.Mtime.Sec) ^ uint32(a.Mtime.Nsec) ^ uint32(a.Size) ^ uint32(a.Size>>32)
	return p9.QID{Type: p9.FileMode(a.Mode).QIDType(), Version: v, Path: qidPath(a.GFID)}
}

// qidPath is the GFID's inode number minus 2, because Linux's v9fs
// reports path+2 as st_ino (v9fs_qid2ino): a file then has the same inode
// number over 9P as over NFS and FUSE.
func qidPath(g vfs.GFID) uint64 { return g.Ino() - 2 }

var attrMask = p9.AttrMask{Mode: true, NLink: true, UID: true, GID: true, RDev: true,
	ATime: true, MTime: true, CTime: true, INo: true, Size: true, Blocks: true}

func attrOf(a *vfs.Attr) p9.Attr {
	bs := uint64(a.Blksize)
	if bs == 0 {
		bs = 4096
	}
	return p9.Attr{
		Mode: p9.FileMode(a.Mode), UID: p9.UID(a.UID), GID: p9.GID(a.GID), NLink: p9.NLink(a.Nlink),
		RDev: p9.Dev(a.Rdev), Size: a.Size, BlockSize: bs, Blocks: a.Blocks,
		ATimeSeconds: uint64(a.Atime.Sec), ATimeNanoSeconds: uint64(a.Atime.Nsec),
		MTimeSeconds: uint64(a.Mtime.Sec), MTimeNanoSeconds: uint64(a.Mtime.Nsec),
		CTimeSeconds: uint64(a.Ctime.Sec), CTimeNanoSeconds: uint64(a.Ctime.Nsec),
	}
}

// checkName refuses names a client must not send (p9 checks too).
func checkName(name string) error {
	return errno(vfs.CheckName(name))
}

// Walk implements p9.File. The server walks one component at a time;
// longer walks (clients calling the method directly) are handled too.
func (f *file) Walk(names []string) ([]p9.QID, p9.File, error) {
	qids, nf, _, err := f.walk(names)
	if err != nil {
		return nil, nil, err
	}
	return qids, nf, nil
}

func (f *file) walk(names []string) ([]p9.QID, *file, *vfs.Attr, error) {
	ctx := f.ctx()
	if len(names) == 0 {
		a, e := f.ex.fs.GetAttr(ctx, f.gfid, 0)
		if e != 0 {
			return nil, nil, nil, errno(e)
		}
		return nil, f.child(&a), &a, nil
	}
	qids := make([]p9.QID, 0, len(names))
	cur := f.gfid
	var a vfs.Attr
	for _, name := range names {
		if err := checkName(name); err != nil {
			return nil, nil, nil, err
		}
		var e syscall.Errno
		a, e = f.ex.fs.Lookup(ctx, cur, name)
		if e != 0 {
			return nil, nil, nil, errno(e)
		}
		qids = append(qids, qidOf(&a))
		cur = a.GFID
	}
	return qids, f.child(&a), &a, nil
}

// WalkGetAttr implements p9.File, saving the separate GETATTR that p9
// would otherwise send after each walk step.
func (f *file) WalkGetAttr(names []string) ([]p9.QID, p9.File, p9.AttrMask, p9.Attr, error) {
	qids, nf, a, err := f.walk(names)
	if err != nil {
		return nil, nil, p9.AttrMask{}, p9.Attr{}, err
	}
	return qids, nf, attrMask, attrOf(a), nil
}

// StatFS implements p9.File.
func (f *file) StatFS() (p9.FSStat, error) {
	sf, e := f.ex.fs.StatFS(f.ctx(), f.gfid)
	if e != 0 {
		return p9.FSStat{}, errno(e)
	}
	bs := sf.Frsize
	if bs == 0 {
		bs = sf.Bsize
	}
	h := fnv.New64a()
	h.Write([]byte(f.ex.name))
	return p9.FSStat{Type: 0x01021997, BlockSize: bs, Blocks: sf.Blocks, BlocksFree: sf.Bfree,
		BlocksAvailable: sf.Bavail, Files: sf.Files, FilesFree: sf.Ffree, FSID: h.Sum64(),
		NameLength: sf.NameLen}, nil
}

// GetAttr implements p9.File.
func (f *file) GetAttr(req p9.AttrMask) (p9.QID, p9.AttrMask, p9.Attr, error) {
	a, e := f.ex.fs.GetAttr(f.ctx(), f.gfid, f.handle())
	if e != 0 {
		return p9.QID{}, p9.AttrMask{}, p9.Attr{}, errno(e)
	}
	return qidOf(&a), attrMask, attrOf(&a), nil
}

// SetAttr implements p9.File. The time fields follow 9P2000.L: a time is
// set to the given value when its *NotSystemTime bit is set, to "now"
// otherwise. (p9 has already cut Permissions to 01777, so setuid and
// setgid cannot be set over 9P; see the package doc.)
func (f *file) SetAttr(valid p9.SetAttrMask, attr p9.SetAttr) error {
	if err := f.writable(); err != nil {
		return err
	}
	var in vfs.SetAttrIn
	if valid.Permissions {
		in.Valid |= vfs.SetMode
		in.Mode = uint32(attr.Permissions) & 0o7777
	}
	if valid.UID {
		in.Valid |= vfs.SetUID
		in.UID = uint32(attr.UID)
	}
	if valid.GID {
		in.Valid |= vfs.SetGID
		in.GID = uint32(attr.GID)
	}
	if valid.Size {
		in.Valid |= vfs.SetSize
		in.Size = attr.Size
	}
	if valid.ATime {
		if valid.ATimeNotSystemTime {
			in.Valid |= vfs.SetAtime
			in.Atime = vfs.Timespec{Sec: int64(attr.ATimeSeconds), Nsec: int64(attr.ATimeNanoSeconds)}
		} else {
			in.Valid |= vfs.SetAtimeNow
		}
	}
	if valid.MTime {
		if valid.MTimeNotSystemTime {
			in.Valid |= vfs.SetMtime
			in.Mtime = vfs.Timespec{Sec: int64(attr.MTimeSeconds), Nsec: int64(attr.MTimeNanoSeconds)}
		} else {
			in.Valid |= vfs.SetMtimeNow
		}
	}
	if in.Atime.Nsec > 999999999 || in.Mtime.Nsec > 999999999 || in.Atime.Nsec < 0 || in.Mtime.Nsec < 0 {
		return linux.EINVAL
	}
	if in.Valid == 0 {
		return nil // ctime only: the volume updates it itself
	}
	_, e := f.ex.fs.SetAttr(f.ctx(), f.gfid, f.handle(), &in)
	return errno(e)
}

// openFlags keeps the open(2) flags a volume Open understands.
func openFlags(fl p9.OpenFlags) uint32 {
	return uint32(fl) & (syscall.O_ACCMODE | syscall.O_TRUNC | syscall.O_APPEND | syscall.O_SYNC | syscall.O_DSYNC | syscall.O_NOATIME)
}

// Open implements p9.File.
func (f *file) Open(mode p9.OpenFlags) (p9.QID, uint32, error) {
	ctx := f.ctx()
	fl := openFlags(mode)
	if fl&syscall.O_ACCMODE != syscall.O_RDONLY || fl&syscall.O_TRUNC != 0 {
		if err := f.writable(); err != nil {
			return p9.QID{}, 0, err
		}
	}
	var h vfs.Handle
	var e syscall.Errno
	if f.mode == syscall.S_IFDIR {
		h, e = f.ex.fs.OpenDir(ctx, f.gfid)
	} else {
		h, e = f.ex.fs.Open(ctx, f.gfid, fl)
	}
	if e != 0 {
		return p9.QID{}, 0, errno(e)
	}
	a, e := f.ex.fs.GetAttr(ctx, f.gfid, h)
	if e != 0 {
		f.release(ctx, h)
		return p9.QID{}, 0, errno(e)
	}
	f.mu.Lock()
	f.opened, f.h = true, h
	f.mu.Unlock()
	return qidOf(&a), 0, nil
}

func (f *file) release(ctx context.Context, h vfs.Handle) {
	if f.mode == syscall.S_IFDIR {
		_ = f.ex.fs.ReleaseDir(ctx, f.gfid, h)
	} else {
		_ = f.ex.fs.Release(ctx, f.gfid, h)
	}
}

// ReadAt implements p9.File.
func (f *file) ReadAt(p []byte, offset int64) (int, error) {
	if offset < 0 {
		return 0, linux.EINVAL
	}
	n, e := f.ex.fs.Read(f.ctx(), f.gfid, f.handle(), p, offset)
	if e != 0 {
		return n, errno(e)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt implements p9.File.
func (f *file) WriteAt(p []byte, offset int64) (int, error) {
	if offset < 0 {
		return 0, linux.EINVAL
	}
	if err := f.writable(); err != nil {
		return 0, err
	}
	n, e := f.ex.fs.Write(f.ctx(), f.gfid, f.handle(), p, offset)
	return n, errno(e)
}

// FSync implements p9.File: the data reaches the bricks' disks.
func (f *file) FSync() error {
	if f.mode == syscall.S_IFDIR {
		return errno(f.ex.fs.FsyncDir(f.ctx(), f.gfid, f.handle(), false))
	}
	return errno(f.ex.fs.Fsync(f.ctx(), f.gfid, f.handle(), false))
}

// Close implements p9.File.
func (f *file) Close() error {
	f.mu.Lock()
	h, opened := f.h, f.opened
	f.opened, f.h = false, 0
	f.mu.Unlock()
	if opened {
		ctx := f.ctx()
		if f.mode != syscall.S_IFDIR {
			_ = f.ex.fs.Flush(ctx, f.gfid, h)
		}
		f.release(ctx, h)
	}
	return nil
}

// SetXattr implements p9.File.
func (f *file) SetXattr(attr string, data []byte, flags p9.XattrFlags) error {
	if err := f.writable(); err != nil {
		return err
	}
	return errno(f.ex.fs.SetXattr(f.ctx(), f.gfid, attr, data, uint32(flags)&(vfs.XattrCreate|vfs.XattrReplace)))
}

// GetXattr implements p9.File.
func (f *file) GetXattr(attr string) ([]byte, error) {
	v, e := f.ex.fs.GetXattr(f.ctx(), f.gfid, attr)
	return v, errno(e)
}

// ListXattrs implements p9.File.
func (f *file) ListXattrs() ([]string, error) {
	v, e := f.ex.fs.ListXattr(f.ctx(), f.gfid)
	return v, errno(e)
}

// RemoveXattr implements p9.File.
func (f *file) RemoveXattr(attr string) error {
	if err := f.writable(); err != nil {
		return err
	}
	return errno(f.ex.fs.RemoveXattr(f.ctx(), f.gfid, attr))
}

// Lock implements p9.File with the volume's POSIX locks. The owner is
// derived from the connection, the client name and the pid the request
// carries (v9fs's lock owner), so owners of different 9P clients never
// collide, also once several gateways share the bricks. A blocking
// request waits up to Config.LockWait on the server before answering
// "blocked" (the Linux client then sleeps 30 s before asking again).
func (f *file) Lock(pid int, lt p9.LockType, flags p9.LockFlags, start, length uint64, client string) (p9.LockStatus, error) {
	lk := vfs.Lock{Start: start, End: vfs.LockEOF, Pid: uint32(pid)}
	switch lt {
	case p9.ReadLock:
		lk.Type = vfs.ReadLock
	case p9.WriteLock:
		lk.Type = vfs.WriteLock
	case p9.Unlock:
		lk.Type = vfs.Unlock
	default:
		return p9.LockStatusError, linux.EINVAL
	}
	if length != 0 {
		if start+length-1 < start {
			return p9.LockStatusError, linux.EINVAL
		}
		lk.End = start + length - 1
	}
	h := fnv.New64a()
	h.Write([]byte(f.c.client))
	h.Write([]byte{0})
	h.Write([]byte(client))
	h.Write([]byte{0, byte(pid), byte(pid >> 8), byte(pid >> 16), byte(pid >> 24)})
	lk.Owner = h.Sum64()
	ctx := f.ctx()
	wait := flags&p9.LockFlagsBlock != 0 && lk.Type != vfs.Unlock
	if wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.c.srv.cfg.LockWait)
		defer cancel()
	}
	e := f.ex.fs.SetLk(ctx, f.gfid, f.handle(), vfs.PosixLock, lk, wait)
	switch e {
	case 0:
		if lk.Type != vfs.Unlock {
			f.c.noteLock(lockKey{ex: f.ex, gfid: f.gfid, owner: lk.Owner, cl: f.caller.Client}, true)
		}
		return p9.LockStatusOK, nil
	case syscall.EAGAIN, syscall.EINTR, syscall.EDEADLK:
		return p9.LockStatusBlocked, nil
	}
	return p9.LockStatusError, errno(e)
}

// Create implements p9.File: the new file belongs to the attaching user
// and the group the request names.
func (f *file) Create(name string, flags p9.OpenFlags, perm p9.FileMode, _ p9.UID, gid p9.GID) (p9.File, p9.QID, uint32, error) {
	if err := checkName(name); err != nil {
		return nil, p9.QID{}, 0, err
	}
	if err := f.writable(); err != nil {
		return nil, p9.QID{}, 0, err
	}
	fl := openFlags(flags) | syscall.O_CREAT | uint32(flags)&syscall.O_EXCL
	a, h, e := f.ex.fs.Create(f.ctxAs(gid), f.gfid, name, &vfs.CreateIn{Mode: uint32(perm) & 0o7777, Flags: fl})
	if e != 0 {
		return nil, p9.QID{}, 0, errno(e)
	}
	nf := f.child(&a)
	nf.opened, nf.h = true, h
	return nf, qidOf(&a), 0, nil
}

// Mkdir implements p9.File.
func (f *file) Mkdir(name string, perm p9.FileMode, _ p9.UID, gid p9.GID) (p9.QID, error) {
	if err := checkName(name); err != nil {
		return p9.QID{}, err
	}
	if err := f.writable(); err != nil {
		return p9.QID{}, err
	}
	a, e := f.ex.fs.Mkdir(f.ctxAs(gid), f.gfid, name, &vfs.CreateIn{Mode: uint32(perm) & 0o7777})
	if e != 0 {
		return p9.QID{}, errno(e)
	}
	return qidOf(&a), nil
}

// Symlink implements p9.File.
func (f *file) Symlink(target, name string, _ p9.UID, gid p9.GID) (p9.QID, error) {
	if err := checkName(name); err != nil {
		return p9.QID{}, err
	}
	if err := f.writable(); err != nil {
		return p9.QID{}, err
	}
	a, e := f.ex.fs.Symlink(f.ctxAs(gid), f.gfid, name, target, &vfs.CreateIn{Mode: 0o777})
	if e != 0 {
		return p9.QID{}, errno(e)
	}
	return qidOf(&a), nil
}

// Link implements p9.File.
func (f *file) Link(target p9.File, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := f.writable(); err != nil {
		return err
	}
	t, ok := target.(*file)
	if !ok || t.ex != f.ex {
		return linux.EXDEV
	}
	_, e := f.ex.fs.Link(f.ctx(), t.gfid, f.gfid, name)
	return errno(e)
}

// Mknod implements p9.File.
func (f *file) Mknod(name string, mode p9.FileMode, major, minor uint32, _ p9.UID, gid p9.GID) (p9.QID, error) {
	if err := checkName(name); err != nil {
		return p9.QID{}, err
	}
	if err := f.writable(); err != nil {
		return p9.QID{}, err
	}
	rdev := uint64(minor&0xff) | uint64(major&0xfff)<<8 | uint64(minor&^0xff)<<12 | uint64(major&^0xfff)<<32
	a, e := f.ex.fs.Mknod(f.ctxAs(gid), f.gfid, name, &vfs.CreateIn{Mode: uint32(mode), Rdev: rdev})
	if e != 0 {
		return p9.QID{}, errno(e)
	}
	return qidOf(&a), nil
}

// Rename implements p9.File; the server always uses RenameAt.
func (f *file) Rename(p9.File, string) error { return linux.ENOSYS }

// RenameAt implements p9.File.
func (f *file) RenameAt(oldName string, newDir p9.File, newName string) error {
	if err := checkName(oldName); err != nil {
		return err
	}
	if err := checkName(newName); err != nil {
		return err
	}
	if err := f.writable(); err != nil {
		return err
	}
	nd, ok := newDir.(*file)
	if !ok || nd.ex != f.ex {
		return linux.EXDEV
	}
	return errno(f.ex.fs.Rename(f.ctx(), f.gfid, oldName, nd.gfid, newName, 0))
}

// atRemoveDir is unlinkat's AT_REMOVEDIR flag.
const atRemoveDir = 0x200

// UnlinkAt implements p9.File.
func (f *file) UnlinkAt(name string, flags uint32) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := f.writable(); err != nil {
		return err
	}
	if flags&atRemoveDir != 0 {
		return errno(f.ex.fs.Rmdir(f.ctx(), f.gfid, name))
	}
	return errno(f.ex.fs.Unlink(f.ctx(), f.gfid, name))
}

// Directory offsets: "." and ".." come first (offsets 1 and 2 are "after
// them"), then the volume's own stable readdir cookies shifted by 2, so a
// listing resumes correctly from any offset the client kept, however the
// directory changed in between.
const offsetBias = 2

// Readdir implements p9.File. count is in bytes; p9 trims the entries
// to fit, so only about as many as can fit are fetched.
func (f *file) Readdir(offset uint64, count uint32) (p9.Dirents, error) {
	ctx := f.ctx()
	// A dirent is at least 24 bytes plus its name.
	max := int(count/25) + 1
	var out p9.Dirents
	vc := uint64(0)
	switch {
	case offset == 0:
		a, e := f.ex.fs.GetAttr(ctx, f.gfid, 0)
		if e != 0 {
			return nil, errno(e)
		}
		out = append(out, p9.Dirent{QID: qidOf(&a), Offset: 1, Type: dtDir, Name: "."})
		fallthrough
	case offset == 1:
		q := p9.QID{Type: p9.TypeDir, Path: qidPath(f.gfid)}
		out = append(out, p9.Dirent{QID: q, Offset: 2, Type: dtDir, Name: ".."})
	default:
		vc = offset - offsetBias
	}
	ents, _, e := f.ex.fs.ReadDir(ctx, f.gfid, f.handle(), vc, max, false)
	if e != 0 {
		return nil, errno(e)
	}
	for _, d := range ents {
		if d.Cookie > ^uint64(0)-offsetBias {
			return nil, linux.EOVERFLOW
		}
		q := p9.QID{Type: p9.FileMode(d.Type).QIDType(), Path: qidPath(d.GFID)}
		out = append(out, p9.Dirent{QID: q, Offset: d.Cookie + offsetBias, Type: direntType(d.Type), Name: d.Name})
	}
	return out, nil
}

// Readlink implements p9.File.
func (f *file) Readlink() (string, error) {
	t, e := f.ex.fs.Readlink(f.ctx(), f.gfid)
	return t, errno(e)
}

// Renamed implements p9.File: files are addressed by GFID, so a rename
// changes nothing here.
func (f *file) Renamed(p9.File, string) {}

// The type byte of a 9P2000.L dirent is the d_type of getdents (DT_*),
// which Linux passes to user space as is; p9's own file systems put the
// QID type there (0x80 for a directory), which find and fts would take
// for "not a directory".
const dtDir = p9.QIDType(4)

func direntType(mode uint32) p9.QIDType {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		return 4
	case syscall.S_IFREG:
		return 8
	case syscall.S_IFLNK:
		return 10
	case syscall.S_IFCHR:
		return 2
	case syscall.S_IFBLK:
		return 6
	case syscall.S_IFIFO:
		return 1
	case syscall.S_IFSOCK:
		return 12
	}
	return 0
}

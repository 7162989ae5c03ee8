package nfs

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	billy "github.com/go-git/go-billy/v5"
	gonfs "github.com/willscott/go-nfs"
	"github.com/willscott/go-nfs/file"

	"github.com/cairnfs/cairn/vfs"
)

// gfidDir is the first component of the synthetic paths that go-nfs's
// FromHandle gets: "/.gfid/<uuid>" names a file by its GFID, and
// "/.gfid/<uuid>/name/..." is resolved by Lookup from that GFID. go-nfs
// only ever appends names to the path it got from FromHandle, so every
// path the adapter sees is anchored at a GFID (or at the root) and is
// resolved without any path ↔ GFID table: a renamed parent changes
// nothing, and handles need no memory on the gateway.
const gfidDir = ".gfid"

// gfidPath is the go-nfs path of a GFID.
func gfidPath(g vfs.GFID) []string {
	if g == vfs.RootGFID {
		return []string{}
	}
	return []string{gfidDir, g.String()}
}

// billyFS adapts a volume to go-billy for go-nfs. go-nfs passes no
// credentials to the file system, so the adapter acts as the export's
// anonymous user when root squash is on (least privilege) and as root
// otherwise; cairn's own procedures, which do see each call's AUTH_UNIX
// credentials, serve every NFS procedure unless Config.GoNFSProcs says
// otherwise.
type billyFS struct {
	ex *export
}

var (
	_ billy.Filesystem = (*billyFS)(nil)
	_ billy.Change     = (*billyFS)(nil)
	_ billy.Capable    = (*billyFS)(nil)
	_ gonfs.UnixChange = (*billyFS)(nil)
)

func newBillyFS(ex *export) *billyFS { return &billyFS{ex: ex} }

func (b *billyFS) ctx() context.Context {
	s := b.ex.srv
	c := &vfs.Caller{Client: "nfs:go-nfs"}
	if s.squash.Root {
		c = s.squash.Anonymous("nfs:go-nfs")
	}
	return vfs.WithCaller(s.ctx, c)
}

func perr(op, p string, e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return &fs.PathError{Op: op, Path: p, Err: e}
}

// split cleans p into components.
func split(p string) []string {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// maxSymlinks bounds symlink resolution (Linux's MAXSYMLINKS).
const maxSymlinks = 40

// resolve walks p. Intermediate symlinks are followed, the last one only
// when follow is set; ".." in a symlink target climbs the directories this
// walk came through (or stays at the top it started from). It returns the
// attributes of the file and the GFID of its directory.
func (b *billyFS) resolve(ctx context.Context, p string, follow bool) (vfs.Attr, vfs.GFID, syscall.Errno) {
	comps := split(p)
	cur := vfs.RootGFID
	if len(comps) >= 2 && comps[0] == gfidDir {
		g, err := vfs.ParseGFID(comps[1])
		if err != nil {
			return vfs.Attr{}, cur, syscall.ENOENT
		}
		cur = g
		comps = comps[2:]
	} else if len(comps) == 1 && comps[0] == gfidDir {
		return vfs.Attr{}, cur, syscall.ENOENT
	}
	a, e := b.ex.fs.GetAttr(ctx, cur, 0)
	if e != 0 {
		if e == syscall.ESTALE {
			e = syscall.ENOENT
		}
		return vfs.Attr{}, cur, e
	}
	var stack []vfs.Attr // directories above a
	links := 0
	for len(comps) > 0 {
		name := comps[0]
		comps = comps[1:]
		if !a.IsDir() {
			return vfs.Attr{}, vfs.GFID{}, syscall.ENOTDIR
		}
		switch name {
		case "", ".":
			continue
		case "..":
			if len(stack) > 0 {
				a = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
			}
			continue
		}
		na, e := b.ex.fs.Lookup(ctx, a.GFID, name)
		if e != 0 {
			return vfs.Attr{}, a.GFID, e
		}
		if na.IsSymlink() && (len(comps) > 0 || follow) {
			links++
			if links > maxSymlinks {
				return vfs.Attr{}, a.GFID, syscall.ELOOP
			}
			target, e := b.ex.fs.Readlink(ctx, na.GFID)
			if e != 0 {
				return vfs.Attr{}, a.GFID, e
			}
			if strings.HasPrefix(target, "/") {
				if a, e = b.ex.fs.GetAttr(ctx, vfs.RootGFID, 0); e != 0 {
					return vfs.Attr{}, vfs.GFID{}, e
				}
				stack = stack[:0]
			}
			comps = append(strings.Split(target, "/"), comps...)
			continue
		}
		stack = append(stack, a)
		a = na
	}
	parent := a.GFID
	if len(stack) > 0 {
		parent = stack[len(stack)-1].GFID
	}
	return a, parent, 0
}

// parentOf resolves the directory of p and returns its GFID and p's base
// name.
func (b *billyFS) parentOf(ctx context.Context, p string) (vfs.GFID, string, syscall.Errno) {
	comps := split(p)
	if len(comps) == 0 || (len(comps) <= 2 && comps[0] == gfidDir) {
		return vfs.GFID{}, "", syscall.EINVAL
	}
	name := comps[len(comps)-1]
	d, _, e := b.resolve(ctx, strings.Join(comps[:len(comps)-1], "/"), true)
	if e != 0 {
		return vfs.GFID{}, "", e
	}
	if !d.IsDir() {
		return vfs.GFID{}, "", syscall.ENOTDIR
	}
	return d.GFID, name, 0
}

func (b *billyFS) writable() syscall.Errno {
	if b.ex.ro {
		return syscall.EROFS
	}
	return 0
}

// Create implements billy.Basic.
func (b *billyFS) Create(filename string) (billy.File, error) {
	return b.OpenFile(filename, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// Open implements billy.Basic.
func (b *billyFS) Open(filename string) (billy.File, error) {
	return b.OpenFile(filename, os.O_RDONLY, 0)
}

// OpenFile implements billy.Basic. No volume handle is opened: the file
// reads and writes by GFID with the anonymous handle 0, so go-nfs's
// open/close around every READ and WRITE costs one resolution, not an open
// and a release on every brick. go-nfs's truncate opens with
// O_WRONLY|O_EXCL and no O_CREATE, which is accepted.
func (b *billyFS) OpenFile(filename string, flag int, perm os.FileMode) (billy.File, error) {
	ctx := b.ctx()
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC) != 0 {
		if e := b.writable(); e != 0 {
			return nil, perr("open", filename, e)
		}
	}
	var a vfs.Attr
	var e syscall.Errno
	if flag&os.O_CREATE != 0 {
		dir, name, pe := b.parentOf(ctx, filename)
		if pe != 0 {
			return nil, perr("open", filename, pe)
		}
		ci := &vfs.CreateIn{Mode: modeBits(perm), Flags: uint32(flag) | syscall.O_CREAT}
		var h vfs.Handle
		a, h, e = b.ex.fs.Create(ctx, dir, name, ci)
		if e != 0 {
			return nil, perr("open", filename, e)
		}
		if h != 0 {
			_ = b.ex.fs.Release(ctx, a.GFID, h)
		}
	} else {
		a, _, e = b.resolve(ctx, filename, true)
		if e != 0 {
			return nil, perr("open", filename, e)
		}
		if flag&os.O_TRUNC != 0 && a.IsRegular() {
			if a, e = b.ex.fs.SetAttr(ctx, a.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetSize}); e != 0 {
				return nil, perr("truncate", filename, e)
			}
		}
	}
	if a.IsDir() && flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		return nil, perr("open", filename, syscall.EISDIR)
	}
	return &billyFile{fs: b, name: filename, gfid: a.GFID, flag: flag}, nil
}

// Stat implements billy.Basic (follows symlinks).
func (b *billyFS) Stat(filename string) (os.FileInfo, error) {
	a, _, e := b.resolve(b.ctx(), filename, true)
	if e != 0 {
		return nil, perr("stat", filename, e)
	}
	return newFileInfo(path.Base(filename), &a), nil
}

// Lstat implements billy.Symlink.
func (b *billyFS) Lstat(filename string) (os.FileInfo, error) {
	a, _, e := b.resolve(b.ctx(), filename, false)
	if e != 0 {
		return nil, perr("lstat", filename, e)
	}
	return newFileInfo(path.Base(filename), &a), nil
}

// Rename implements billy.Basic.
func (b *billyFS) Rename(oldpath, newpath string) error {
	ctx := b.ctx()
	if e := b.writable(); e != 0 {
		return perr("rename", oldpath, e)
	}
	od, on, e := b.parentOf(ctx, oldpath)
	if e != 0 {
		return perr("rename", oldpath, e)
	}
	nd, nn, e := b.parentOf(ctx, newpath)
	if e != 0 {
		return perr("rename", newpath, e)
	}
	return perr("rename", oldpath, b.ex.fs.Rename(ctx, od, on, nd, nn, 0))
}

// Remove implements billy.Basic (files and empty directories).
func (b *billyFS) Remove(filename string) error {
	ctx := b.ctx()
	if e := b.writable(); e != 0 {
		return perr("remove", filename, e)
	}
	dir, name, e := b.parentOf(ctx, filename)
	if e != 0 {
		return perr("remove", filename, e)
	}
	a, e := b.ex.fs.Lookup(ctx, dir, name)
	if e != 0 {
		return perr("remove", filename, e)
	}
	if a.IsDir() {
		return perr("remove", filename, b.ex.fs.Rmdir(ctx, dir, name))
	}
	return perr("remove", filename, b.ex.fs.Unlink(ctx, dir, name))
}

// Join implements billy.Basic.
func (b *billyFS) Join(elem ...string) string { return path.Join(elem...) }

// TempFile implements billy.TempFile; go-nfs never uses it.
func (b *billyFS) TempFile(dir, prefix string) (billy.File, error) {
	return nil, billy.ErrNotSupported
}

// ReadDir implements billy.Dir, listing the whole directory with
// attributes in one pass over the volume's cookies.
func (b *billyFS) ReadDir(p string) ([]os.FileInfo, error) {
	ctx := b.ctx()
	d, _, e := b.resolve(ctx, p, true)
	if e != 0 {
		return nil, perr("readdir", p, e)
	}
	if !d.IsDir() {
		return nil, perr("readdir", p, syscall.ENOTDIR)
	}
	var out []os.FileInfo
	cookie := uint64(0)
	for {
		ents, eof, e := b.ex.fs.ReadDir(ctx, d.GFID, 0, cookie, 1024, true)
		if e != 0 {
			return nil, perr("readdir", p, e)
		}
		for _, de := range ents {
			a := de.Attr
			if a == nil {
				at, e := b.ex.fs.GetAttr(ctx, de.GFID, 0)
				if e != 0 {
					continue
				}
				a = &at
			}
			out = append(out, newFileInfo(de.Name, a))
			cookie = de.Cookie
		}
		if eof || len(ents) == 0 {
			return out, nil
		}
	}
}

// MkdirAll implements billy.Dir.
func (b *billyFS) MkdirAll(filename string, perm os.FileMode) error {
	ctx := b.ctx()
	if e := b.writable(); e != 0 {
		return perr("mkdir", filename, e)
	}
	comps := split(filename)
	cur := vfs.RootGFID
	if len(comps) >= 2 && comps[0] == gfidDir {
		g, err := vfs.ParseGFID(comps[1])
		if err != nil {
			return perr("mkdir", filename, syscall.ENOENT)
		}
		cur, comps = g, comps[2:]
	}
	for _, name := range comps {
		a, e := b.ex.fs.Lookup(ctx, cur, name)
		if e == syscall.ENOENT {
			a, e = b.ex.fs.Mkdir(ctx, cur, name, &vfs.CreateIn{Mode: modeBits(perm)})
			if e == syscall.EEXIST {
				a, e = b.ex.fs.Lookup(ctx, cur, name)
			}
		}
		if e != 0 {
			return perr("mkdir", filename, e)
		}
		if !a.IsDir() {
			return perr("mkdir", filename, syscall.ENOTDIR)
		}
		cur = a.GFID
	}
	return nil
}

// Symlink implements billy.Symlink.
func (b *billyFS) Symlink(target, link string) error {
	ctx := b.ctx()
	if e := b.writable(); e != 0 {
		return perr("symlink", link, e)
	}
	dir, name, e := b.parentOf(ctx, link)
	if e != 0 {
		return perr("symlink", link, e)
	}
	_, e = b.ex.fs.Symlink(ctx, dir, name, target, &vfs.CreateIn{Mode: 0o777})
	return perr("symlink", link, e)
}

// Readlink implements billy.Symlink.
func (b *billyFS) Readlink(link string) (string, error) {
	ctx := b.ctx()
	a, _, e := b.resolve(ctx, link, false)
	if e != 0 {
		return "", perr("readlink", link, e)
	}
	t, e := b.ex.fs.Readlink(ctx, a.GFID)
	return t, perr("readlink", link, e)
}

// Chroot implements billy.Chroot; go-nfs never uses it.
func (b *billyFS) Chroot(p string) (billy.Filesystem, error) { return nil, billy.ErrNotSupported }

// Root implements billy.Chroot.
func (b *billyFS) Root() string { return "/" }

// Capabilities implements billy.Capable; go-nfs refuses every change with
// NFS3ERR_ROFS when WriteCapability is missing.
func (b *billyFS) Capabilities() billy.Capability {
	if b.ex.ro {
		return billy.ReadCapability | billy.SeekCapability
	}
	return billy.WriteCapability | billy.ReadCapability | billy.ReadAndWriteCapability |
		billy.SeekCapability | billy.TruncateCapability
}

func (b *billyFS) setattr(op, name string, follow bool, in *vfs.SetAttrIn) error {
	ctx := b.ctx()
	if e := b.writable(); e != 0 {
		return perr(op, name, e)
	}
	a, _, e := b.resolve(ctx, name, follow)
	if e != 0 {
		return perr(op, name, e)
	}
	_, e = b.ex.fs.SetAttr(ctx, a.GFID, 0, in)
	return perr(op, name, e)
}

// Chmod implements billy.Change. go-nfs has already cut the mode to 0777
// (see the package doc); the special bits in mode are kept if present.
func (b *billyFS) Chmod(name string, mode os.FileMode) error {
	return b.setattr("chmod", name, true, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: modeBits(mode)})
}

// Lchown implements billy.Change.
func (b *billyFS) Lchown(name string, uid, gid int) error {
	return b.setattr("lchown", name, false, &vfs.SetAttrIn{Valid: vfs.SetUID | vfs.SetGID, UID: uint32(uid), GID: uint32(gid)})
}

// Chown implements billy.Change.
func (b *billyFS) Chown(name string, uid, gid int) error {
	return b.setattr("chown", name, true, &vfs.SetAttrIn{Valid: vfs.SetUID | vfs.SetGID, UID: uint32(uid), GID: uint32(gid)})
}

// Chtimes implements billy.Change.
func (b *billyFS) Chtimes(name string, atime, mtime time.Time) error {
	return b.setattr("chtimes", name, true, &vfs.SetAttrIn{Valid: vfs.SetAtime | vfs.SetMtime,
		Atime: vfs.TimespecOf(atime), Mtime: vfs.TimespecOf(mtime)})
}

func (b *billyFS) mknod(op, p string, mode uint32, rdev uint64) error {
	ctx := b.ctx()
	if e := b.writable(); e != 0 {
		return perr(op, p, e)
	}
	dir, name, e := b.parentOf(ctx, p)
	if e != 0 {
		return perr(op, p, e)
	}
	_, e = b.ex.fs.Mknod(ctx, dir, name, &vfs.CreateIn{Mode: mode, Rdev: rdev})
	return perr(op, p, e)
}

// Mknod implements go-nfs's UnixChange.
func (b *billyFS) Mknod(p string, mode uint32, major, minor uint32) error {
	return b.mknod("mknod", p, mode, mkdev(major, minor))
}

// Mkfifo implements go-nfs's UnixChange.
func (b *billyFS) Mkfifo(p string, mode uint32) error {
	return b.mknod("mkfifo", p, syscall.S_IFIFO|mode&0o7777, 0)
}

// Socket implements go-nfs's UnixChange.
func (b *billyFS) Socket(p string) error {
	return b.mknod("socket", p, syscall.S_IFSOCK|0o644, 0)
}

// Link implements go-nfs's UnixChange: link becomes a hard link to
// target. (go-nfs's LINK procedure never calls it correctly; cairn's
// LINK does not use it.)
func (b *billyFS) Link(target, link string) error {
	ctx := b.ctx()
	if e := b.writable(); e != 0 {
		return perr("link", link, e)
	}
	a, _, e := b.resolve(ctx, target, false)
	if e != 0 {
		return perr("link", target, e)
	}
	dir, name, e := b.parentOf(ctx, link)
	if e != 0 {
		return perr("link", link, e)
	}
	_, e = b.ex.fs.Link(ctx, a.GFID, dir, name)
	return perr("link", link, e)
}

// modeBits converts an os.FileMode's permission and special bits to
// 07777 form.
func modeBits(m os.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		v |= syscall.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		v |= syscall.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		v |= syscall.S_ISVTX
	}
	return v
}

// fileMode converts a stat mode to os.FileMode.
func fileMode(mode uint32) os.FileMode {
	m := os.FileMode(mode & 0o777)
	switch mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		m |= os.ModeDir
	case syscall.S_IFLNK:
		m |= os.ModeSymlink
	case syscall.S_IFCHR:
		m |= os.ModeDevice | os.ModeCharDevice
	case syscall.S_IFBLK:
		m |= os.ModeDevice
	case syscall.S_IFIFO:
		m |= os.ModeNamedPipe
	case syscall.S_IFSOCK:
		m |= os.ModeSocket
	}
	if mode&syscall.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if mode&syscall.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if mode&syscall.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}

// fileInfo is an os.FileInfo of a volume file. Sys gives go-nfs the owner,
// link count, device and a fileid derived from the GFID (without it go-nfs
// hashes the path, which changes on rename).
type fileInfo struct {
	name string
	attr vfs.Attr
}

func newFileInfo(name string, a *vfs.Attr) *fileInfo {
	if name == "/" || name == "." {
		name = ""
	}
	return &fileInfo{name: name, attr: *a}
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return int64(fi.attr.Size) }
func (fi *fileInfo) Mode() os.FileMode  { return fileMode(fi.attr.Mode) }
func (fi *fileInfo) ModTime() time.Time { return fi.attr.Mtime.Time() }
func (fi *fileInfo) IsDir() bool        { return fi.attr.IsDir() }
func (fi *fileInfo) Sys() any {
	return file.FileInfo{Nlink: fi.attr.Nlink, UID: fi.attr.UID, GID: fi.attr.GID,
		Major: devMajor(fi.attr.Rdev), Minor: devMinor(fi.attr.Rdev), Fileid: fi.attr.GFID.Ino()}
}

// billyFile reads and writes by GFID with the anonymous handle 0.
type billyFile struct {
	fs    *billyFS
	name  string
	gfid  vfs.GFID
	flag  int
	pos   int64
	dirty bool
}

var _ billy.File = (*billyFile)(nil)

func (f *billyFile) Name() string { return f.name }

func (f *billyFile) Write(p []byte) (int, error) {
	if f.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return 0, perr("write", f.name, syscall.EBADF)
	}
	n, e := f.fs.ex.fs.Write(f.fs.ctx(), f.gfid, 0, p, f.pos)
	f.pos += int64(n)
	if n > 0 {
		f.dirty = true
	}
	return n, perr("write", f.name, e)
}

func (f *billyFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	return n, err
}

func (f *billyFile) ReadAt(p []byte, off int64) (int, error) {
	if f.flag&os.O_WRONLY != 0 {
		return 0, perr("read", f.name, syscall.EBADF)
	}
	n, e := f.fs.ex.fs.Read(f.fs.ctx(), f.gfid, 0, p, off)
	if e != 0 {
		return n, perr("read", f.name, e)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *billyFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		a, e := f.fs.ex.fs.GetAttr(f.fs.ctx(), f.gfid, 0)
		if e != 0 {
			return f.pos, perr("seek", f.name, e)
		}
		offset += int64(a.Size)
	default:
		return f.pos, perr("seek", f.name, syscall.EINVAL)
	}
	if offset < 0 {
		return f.pos, perr("seek", f.name, syscall.EINVAL)
	}
	f.pos = offset
	return offset, nil
}

// Close syncs written data: go-nfs answers every WRITE with FILE_SYNC, so
// the data must be on the bricks' disks before the reply.
func (f *billyFile) Close() error {
	if !f.dirty {
		return nil
	}
	f.dirty = false
	return perr("close", f.name, f.fs.ex.fs.Fsync(f.fs.ctx(), f.gfid, 0, false))
}

func (f *billyFile) Lock() error   { return nil }
func (f *billyFile) Unlock() error { return nil }

func (f *billyFile) Truncate(size int64) error {
	if size < 0 {
		return perr("truncate", f.name, syscall.EINVAL)
	}
	_, e := f.fs.ex.fs.SetAttr(f.fs.ctx(), f.gfid, 0, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: uint64(size)})
	return perr("truncate", f.name, e)
}

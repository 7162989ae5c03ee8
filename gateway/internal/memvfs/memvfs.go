// Package memvfs is a small in-memory vfs.Translator used by the gateway's
// unit tests, so that the NFS and 9P front ends can be exercised without
// bricks. It keeps the properties the gateway relies on: GFID addressing,
// anonymous handles (Handle 0), readdir cookies that stay valid while the
// directory changes (each entry keeps the sequence number it was inserted
// with), owners taken from the caller in the context, and simple POSIX
// permission checks so that root squash and per-call credentials can be
// tested.
//
// It is not a reference implementation of the brick; only what the gateway
// tests need is modelled faithfully.
package memvfs

import (
	"context"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

type inode struct {
	attr    vfs.Attr
	data    []byte
	target  string
	entries map[string]*dirent // directories only
	nextSeq uint64
	xattrs  map[string][]byte
	opens   int
	// order caches the entries sorted by cookie for ReadDir.
	order    []orderEnt
	orderSeq uint64
}

type orderEnt struct {
	name string
	de   *dirent
}

type dirent struct {
	gfid vfs.GFID
	seq  uint64
}

// FS is the in-memory translator. The zero value is not usable; call New.
type FS struct {
	mu     sync.Mutex
	inodes map[vfs.GFID]*inode
	// handles maps open handles to GFIDs.
	handles    map[vfs.Handle]vfs.GFID
	nextHandle vfs.Handle
	// Fsyncs counts Fsync calls per GFID (tests check that FILE_SYNC writes
	// reach Fsync).
	fsyncs map[vfs.GFID]int
	locks  map[vfs.GFID][]heldLock
	now    func() time.Time
}

type heldLock struct {
	lk     vfs.Lock
	client string
}

var _ vfs.Translator = (*FS)(nil)

// New returns an empty volume whose root is owned by root with mode 0777
// (so unprivileged callers can create files in tests).
func New() *FS {
	f := &FS{
		inodes:     map[vfs.GFID]*inode{},
		handles:    map[vfs.Handle]vfs.GFID{},
		nextHandle: 1,
		fsyncs:     map[vfs.GFID]int{},
		locks:      map[vfs.GFID][]heldLock{},
		now:        time.Now,
	}
	ts := vfs.TimespecOf(f.now())
	f.inodes[vfs.RootGFID] = &inode{
		attr: vfs.Attr{GFID: vfs.RootGFID, Mode: syscall.S_IFDIR | 0o777, Nlink: 2,
			Blksize: 4096, Atime: ts, Mtime: ts, Ctime: ts},
		entries: map[string]*dirent{},
		nextSeq: 1,
	}
	return f
}

// Fsyncs reports how many times Fsync was called for gfid.
func (f *FS) Fsyncs(gfid vfs.GFID) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fsyncs[gfid]
}

// OpenCount reports how many handles are open on gfid.
func (f *FS) OpenCount(gfid vfs.GFID) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in := f.inodes[gfid]; in != nil {
		return in.opens
	}
	return 0
}

// OpenHandles reports the number of open handles in the whole volume.
func (f *FS) OpenHandles() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.handles)
}

func (f *FS) get(g vfs.GFID) (*inode, syscall.Errno) {
	in := f.inodes[g]
	if in == nil {
		return nil, syscall.ESTALE
	}
	return in, 0
}

func (f *FS) dir(g vfs.GFID) (*inode, syscall.Errno) {
	in, e := f.get(g)
	if e != 0 {
		return nil, e
	}
	if !in.attr.IsDir() {
		return nil, syscall.ENOTDIR
	}
	return in, 0
}

// access checks mode bits (r=4, w=2, x=1) for the caller.
func access(c *vfs.Caller, a *vfs.Attr, want uint32) bool {
	if c.IsRoot() {
		if want&1 != 0 && a.Mode&syscall.S_IFMT != syscall.S_IFDIR && a.Mode&0o111 == 0 {
			return false
		}
		return true
	}
	var bits uint32
	switch {
	case c.UID == a.UID:
		bits = (a.Mode >> 6) & 7
	case c.InGroup(a.GID):
		bits = (a.Mode >> 3) & 7
	default:
		bits = a.Mode & 7
	}
	return bits&want == want
}

func (f *FS) touch(a *vfs.Attr, m, c bool) {
	ts := vfs.TimespecOf(f.now())
	if m {
		a.Mtime = ts
	}
	if c {
		a.Ctime = ts
	}
}

// Lookup implements vfs.Translator.
func (f *FS) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	if e := vfs.CheckName(name); e != 0 {
		return vfs.Attr{}, e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, e := f.dir(parent)
	if e != 0 {
		return vfs.Attr{}, e
	}
	if !access(vfs.CallerFrom(ctx), &d.attr, 1) {
		return vfs.Attr{}, syscall.EACCES
	}
	de := d.entries[name]
	if de == nil {
		return vfs.Attr{}, syscall.ENOENT
	}
	return f.inodes[de.gfid].attr, 0
}

// GetAttr implements vfs.Translator.
func (f *FS) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, e := f.get(gfid)
	if e != 0 {
		return vfs.Attr{}, e
	}
	return in.attr, 0
}

// SetAttr implements vfs.Translator.
func (f *FS) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, s *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, e := f.get(gfid)
	if e != 0 {
		return vfs.Attr{}, e
	}
	c := vfs.CallerFrom(ctx)
	owner := c.IsRoot() || c.UID == in.attr.UID
	if s.Valid&vfs.SetMode != 0 {
		if !owner {
			return vfs.Attr{}, syscall.EPERM
		}
		in.attr.Mode = in.attr.Mode&syscall.S_IFMT | s.Mode&0o7777
	}
	if s.Valid&(vfs.SetUID|vfs.SetGID) != 0 {
		if s.Valid&vfs.SetUID != 0 && s.UID != in.attr.UID && !c.IsRoot() {
			return vfs.Attr{}, syscall.EPERM
		}
		if s.Valid&vfs.SetGID != 0 && s.GID != in.attr.GID && !(c.IsRoot() || (owner && c.InGroup(s.GID))) {
			return vfs.Attr{}, syscall.EPERM
		}
		if s.Valid&vfs.SetUID != 0 {
			in.attr.UID = s.UID
		}
		if s.Valid&vfs.SetGID != 0 {
			in.attr.GID = s.GID
		}
	}
	if s.Valid&vfs.SetSize != 0 {
		if in.attr.IsDir() {
			return vfs.Attr{}, syscall.EISDIR
		}
		if !in.attr.IsRegular() {
			return vfs.Attr{}, syscall.EINVAL
		}
		if !owner && !access(c, &in.attr, 2) {
			return vfs.Attr{}, syscall.EACCES
		}
		if s.Size > maxFileSize {
			return vfs.Attr{}, syscall.EFBIG
		}
		n := int(s.Size)
		if n <= len(in.data) {
			in.data = in.data[:n]
		} else {
			in.data = append(in.data, make([]byte, n-len(in.data))...)
		}
		in.attr.Size = s.Size
		in.attr.Blocks = (s.Size + 511) / 512
		f.touch(&in.attr, true, true)
	}
	if s.Valid&(vfs.SetAtime|vfs.SetMtime|vfs.SetAtimeNow|vfs.SetMtimeNow) != 0 {
		explicit := s.Valid&(vfs.SetAtime|vfs.SetMtime) != 0 &&
			s.Valid&(vfs.SetAtimeNow|vfs.SetMtimeNow) == 0
		if !owner && (explicit || !access(c, &in.attr, 2)) {
			return vfs.Attr{}, syscall.EPERM
		}
		now := vfs.TimespecOf(f.now())
		switch {
		case s.Valid&vfs.SetAtimeNow != 0:
			in.attr.Atime = now
		case s.Valid&vfs.SetAtime != 0:
			in.attr.Atime = s.Atime
		}
		switch {
		case s.Valid&vfs.SetMtimeNow != 0:
			in.attr.Mtime = now
		case s.Valid&vfs.SetMtime != 0:
			in.attr.Mtime = s.Mtime
		}
	}
	f.touch(&in.attr, false, true)
	return in.attr, 0
}

func (f *FS) newNode(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn, mode uint32) (*inode, syscall.Errno) {
	if e := vfs.CheckName(name); e != 0 {
		return nil, e
	}
	d, e := f.dir(parent)
	if e != 0 {
		return nil, e
	}
	c := vfs.CallerFrom(ctx)
	if !access(c, &d.attr, 3) {
		return nil, syscall.EACCES
	}
	if d.entries[name] != nil {
		return nil, syscall.EEXIST
	}
	g := in.GFID
	if g.IsZero() {
		g = vfs.NewGFID()
	}
	ts := vfs.TimespecOf(f.now())
	gid := c.GID
	if d.attr.Mode&syscall.S_ISGID != 0 {
		gid = d.attr.GID
		if mode&syscall.S_IFMT == syscall.S_IFDIR {
			mode |= syscall.S_ISGID
		}
	}
	n := &inode{attr: vfs.Attr{GFID: g, Mode: mode, Nlink: 1, UID: c.UID, GID: gid,
		Rdev: in.Rdev, Blksize: 4096, Atime: ts, Mtime: ts, Ctime: ts}}
	f.inodes[g] = n
	d.entries[name] = &dirent{gfid: g, seq: d.nextSeq}
	d.nextSeq++
	f.touch(&d.attr, true, true)
	return n, 0
}

// Create implements vfs.Translator.
func (f *FS) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, e := f.dir(parent); e == 0 && in.Flags&syscall.O_EXCL == 0 {
		if de := d.entries[name]; de != nil {
			n := f.inodes[de.gfid]
			if n.attr.IsDir() {
				return vfs.Attr{}, 0, syscall.EISDIR
			}
			h := f.openLocked(de.gfid, n)
			if in.Flags&syscall.O_TRUNC != 0 {
				n.data = nil
				n.attr.Size = 0
				f.touch(&n.attr, true, true)
			}
			return n.attr, h, 0
		}
	}
	n, e := f.newNode(ctx, parent, name, in, syscall.S_IFREG|in.Mode&0o7777)
	if e != 0 {
		return vfs.Attr{}, 0, e
	}
	return n.attr, f.openLocked(n.attr.GFID, n), 0
}

func (f *FS) openLocked(g vfs.GFID, n *inode) vfs.Handle {
	h := f.nextHandle
	f.nextHandle++
	f.handles[h] = g
	n.opens++
	return h
}

// Mknod implements vfs.Translator.
func (f *FS) Mknod(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch in.Mode & syscall.S_IFMT {
	case syscall.S_IFREG, syscall.S_IFCHR, syscall.S_IFBLK, syscall.S_IFIFO, syscall.S_IFSOCK:
	case 0:
		in.Mode |= syscall.S_IFREG
	default:
		return vfs.Attr{}, syscall.EINVAL
	}
	if in.Mode&syscall.S_IFMT == syscall.S_IFCHR || in.Mode&syscall.S_IFMT == syscall.S_IFBLK {
		if !vfs.CallerFrom(ctx).IsRoot() {
			return vfs.Attr{}, syscall.EPERM
		}
	}
	n, e := f.newNode(ctx, parent, name, in, in.Mode)
	if e != 0 {
		return vfs.Attr{}, e
	}
	return n.attr, 0
}

// Mkdir implements vfs.Translator.
func (f *FS) Mkdir(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, e := f.newNode(ctx, parent, name, in, syscall.S_IFDIR|in.Mode&0o7777)
	if e != 0 {
		return vfs.Attr{}, e
	}
	n.entries = map[string]*dirent{}
	n.nextSeq = 1
	n.attr.Nlink = 2
	f.inodes[parent].attr.Nlink++
	return n.attr, 0
}

// Symlink implements vfs.Translator.
func (f *FS) Symlink(ctx context.Context, parent vfs.GFID, name, target string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if target == "" || len(target) > 4095 {
		return vfs.Attr{}, syscall.EINVAL
	}
	n, e := f.newNode(ctx, parent, name, in, syscall.S_IFLNK|0o777)
	if e != 0 {
		return vfs.Attr{}, e
	}
	n.target = target
	n.attr.Size = uint64(len(target))
	return n.attr, 0
}

// Readlink implements vfs.Translator.
func (f *FS) Readlink(ctx context.Context, gfid vfs.GFID) (string, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, e := f.get(gfid)
	if e != 0 {
		return "", e
	}
	if !in.attr.IsSymlink() {
		return "", syscall.EINVAL
	}
	return in.target, 0
}

// Link implements vfs.Translator.
func (f *FS) Link(ctx context.Context, gfid, newParent vfs.GFID, newName string) (vfs.Attr, syscall.Errno) {
	if e := vfs.CheckName(newName); e != 0 {
		return vfs.Attr{}, e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	in, e := f.get(gfid)
	if e != 0 {
		return vfs.Attr{}, e
	}
	if in.attr.IsDir() {
		return vfs.Attr{}, syscall.EPERM
	}
	d, e := f.dir(newParent)
	if e != 0 {
		return vfs.Attr{}, e
	}
	if !access(vfs.CallerFrom(ctx), &d.attr, 3) {
		return vfs.Attr{}, syscall.EACCES
	}
	if d.entries[newName] != nil {
		return vfs.Attr{}, syscall.EEXIST
	}
	d.entries[newName] = &dirent{gfid: gfid, seq: d.nextSeq}
	d.nextSeq++
	in.attr.Nlink++
	f.touch(&in.attr, false, true)
	f.touch(&d.attr, true, true)
	return in.attr, 0
}

func (f *FS) canDelete(c *vfs.Caller, d *inode, victim *inode) bool {
	if !access(c, &d.attr, 3) {
		return false
	}
	if d.attr.Mode&syscall.S_ISVTX != 0 && !c.IsRoot() && c.UID != d.attr.UID && c.UID != victim.attr.UID {
		return false
	}
	return true
}

func (f *FS) dropLink(g vfs.GFID) {
	n := f.inodes[g]
	n.attr.Nlink--
	f.touch(&n.attr, false, true)
	if n.attr.Nlink == 0 || (n.attr.IsDir() && n.attr.Nlink <= 1) {
		if n.opens == 0 {
			delete(f.inodes, g)
		}
		n.attr.Nlink = 0
	}
}

// Unlink implements vfs.Translator.
func (f *FS) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	if e := vfs.CheckName(name); e != 0 {
		return e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, e := f.dir(parent)
	if e != 0 {
		return e
	}
	de := d.entries[name]
	if de == nil {
		return syscall.ENOENT
	}
	n := f.inodes[de.gfid]
	if n.attr.IsDir() {
		return syscall.EISDIR
	}
	if !f.canDelete(vfs.CallerFrom(ctx), d, n) {
		return syscall.EACCES
	}
	delete(d.entries, name)
	f.touch(&d.attr, true, true)
	f.dropLink(de.gfid)
	return 0
}

// Rmdir implements vfs.Translator.
func (f *FS) Rmdir(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	if e := vfs.CheckName(name); e != 0 {
		return e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, e := f.dir(parent)
	if e != 0 {
		return e
	}
	de := d.entries[name]
	if de == nil {
		return syscall.ENOENT
	}
	n := f.inodes[de.gfid]
	if !n.attr.IsDir() {
		return syscall.ENOTDIR
	}
	if len(n.entries) > 0 {
		return syscall.ENOTEMPTY
	}
	if !f.canDelete(vfs.CallerFrom(ctx), d, n) {
		return syscall.EACCES
	}
	delete(d.entries, name)
	d.attr.Nlink--
	f.touch(&d.attr, true, true)
	n.attr.Nlink = 1
	f.dropLink(de.gfid)
	return 0
}

// isAncestor reports whether a is b or an ancestor of b.
func (f *FS) isAncestor(a, b vfs.GFID) bool {
	// Directories have a single parent; search from a downwards (tests
	// use small trees).
	if a == b {
		return true
	}
	n := f.inodes[a]
	if n == nil || n.entries == nil {
		return false
	}
	for _, de := range n.entries {
		if c := f.inodes[de.gfid]; c != nil && c.attr.IsDir() && f.isAncestor(de.gfid, b) {
			return true
		}
	}
	return false
}

// Rename implements vfs.Translator.
func (f *FS) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	if e := vfs.CheckName(oldName); e != 0 {
		return e
	}
	if e := vfs.CheckName(newName); e != 0 {
		return e
	}
	if flags&^vfs.RenameNoReplace != 0 {
		return syscall.EINVAL
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	od, e := f.dir(oldParent)
	if e != 0 {
		return e
	}
	nd, e := f.dir(newParent)
	if e != 0 {
		return e
	}
	de := od.entries[oldName]
	if de == nil {
		return syscall.ENOENT
	}
	c := vfs.CallerFrom(ctx)
	src := f.inodes[de.gfid]
	if !f.canDelete(c, od, src) || !access(c, &nd.attr, 3) {
		return syscall.EACCES
	}
	if src.attr.IsDir() && f.isAncestor(de.gfid, newParent) {
		return syscall.EINVAL
	}
	if old := nd.entries[newName]; old != nil {
		if old.gfid == de.gfid {
			return 0
		}
		if flags&vfs.RenameNoReplace != 0 {
			return syscall.EEXIST
		}
		dst := f.inodes[old.gfid]
		switch {
		case src.attr.IsDir() && !dst.attr.IsDir():
			return syscall.ENOTDIR
		case !src.attr.IsDir() && dst.attr.IsDir():
			return syscall.EISDIR
		case dst.attr.IsDir() && len(dst.entries) > 0:
			return syscall.ENOTEMPTY
		}
		if !f.canDelete(c, nd, dst) {
			return syscall.EACCES
		}
		delete(nd.entries, newName)
		if dst.attr.IsDir() {
			nd.attr.Nlink--
			dst.attr.Nlink = 1
		}
		f.dropLink(old.gfid)
	}
	delete(od.entries, oldName)
	nd.entries[newName] = &dirent{gfid: de.gfid, seq: nd.nextSeq}
	nd.nextSeq++
	if src.attr.IsDir() && oldParent != newParent {
		od.attr.Nlink--
		nd.attr.Nlink++
	}
	f.touch(&od.attr, true, true)
	f.touch(&nd.attr, true, true)
	f.touch(&src.attr, false, true)
	return 0
}

// Open implements vfs.Translator.
func (f *FS) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, e := f.get(gfid)
	if e != 0 {
		return 0, e
	}
	if flags&syscall.O_CREAT != 0 {
		return 0, syscall.EINVAL
	}
	var want uint32
	switch flags & syscall.O_ACCMODE {
	case syscall.O_RDONLY:
		want = 4
	case syscall.O_WRONLY:
		want = 2
	default:
		want = 6
	}
	if in.attr.IsDir() && want&2 != 0 {
		return 0, syscall.EISDIR
	}
	if !access(vfs.CallerFrom(ctx), &in.attr, want) {
		return 0, syscall.EACCES
	}
	if flags&syscall.O_TRUNC != 0 && want&2 != 0 && in.attr.IsRegular() {
		in.data = nil
		in.attr.Size = 0
		f.touch(&in.attr, true, true)
	}
	return f.openLocked(gfid, in), 0
}

func (f *FS) file(gfid vfs.GFID, fh vfs.Handle) (*inode, syscall.Errno) {
	if fh != 0 {
		g, ok := f.handles[fh]
		if !ok || g != gfid {
			return nil, syscall.EBADF
		}
	}
	in := f.inodes[gfid]
	if in == nil {
		return nil, syscall.ESTALE
	}
	if in.attr.IsDir() {
		return nil, syscall.EISDIR
	}
	return in, 0
}

// Read implements vfs.Translator.
func (f *FS) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, e := f.file(gfid, fh)
	if e != 0 {
		return 0, e
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if off >= int64(len(in.data)) {
		return 0, 0
	}
	return copy(dest, in.data[off:]), 0
}

// Write implements vfs.Translator.
func (f *FS) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, e := f.file(gfid, fh)
	if e != 0 {
		return 0, e
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	end := off + int64(len(data))
	if end > maxFileSize {
		return 0, syscall.EFBIG
	}
	if end > int64(len(in.data)) {
		if end <= int64(cap(in.data)) {
			in.data = in.data[:end]
		} else {
			nd := make([]byte, end, end+end/4)
			copy(nd, in.data)
			in.data = nd
		}
	}
	copy(in.data[off:], data)
	in.attr.Size = uint64(len(in.data))
	in.attr.Blocks = (in.attr.Size + 511) / 512
	in.attr.Mode &^= syscall.S_ISUID
	f.touch(&in.attr, true, true)
	return len(data), 0
}

// Flush implements vfs.Translator.
func (f *FS) Flush(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno { return 0 }

// Fsync implements vfs.Translator.
func (f *FS) Fsync(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inodes[gfid] == nil {
		return syscall.ESTALE
	}
	f.fsyncs[gfid]++
	return 0
}

// Release implements vfs.Translator.
func (f *FS) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.handles[fh]
	if !ok {
		return syscall.EBADF
	}
	delete(f.handles, fh)
	if in := f.inodes[g]; in != nil {
		in.opens--
		if in.opens == 0 && in.attr.Nlink == 0 {
			delete(f.inodes, g)
		}
	}
	return 0
}

// Fallocate implements vfs.Translator.
func (f *FS) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	return syscall.EOPNOTSUPP
}

// Lseek implements vfs.Translator.
func (f *FS) Lseek(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, off int64, whence int) (int64, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, e := f.file(gfid, fh)
	if e != 0 {
		return 0, e
	}
	if off >= int64(len(in.data)) {
		return 0, syscall.ENXIO
	}
	if whence == 4 {
		return int64(len(in.data)), 0
	}
	return off, 0
}

// OpenDir implements vfs.Translator.
func (f *FS) OpenDir(ctx context.Context, gfid vfs.GFID) (vfs.Handle, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, e := f.dir(gfid)
	if e != 0 {
		return 0, e
	}
	if !access(vfs.CallerFrom(ctx), &d.attr, 4) {
		return 0, syscall.EACCES
	}
	return f.openLocked(gfid, d), 0
}

// ReadDir implements vfs.Translator. The cookie of an entry is the sequence
// number it was inserted with, so a listing resumes correctly however the
// directory changes in between.
func (f *FS) ReadDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, e := f.dir(gfid)
	if e != 0 {
		return nil, false, e
	}
	if fh == 0 && !access(vfs.CallerFrom(ctx), &d.attr, 4) {
		return nil, false, syscall.EACCES
	}
	type ent struct {
		name string
		de   *dirent
	}
	// Entries in insertion (cookie) order; the order is rebuilt only when
	// the directory changed since the last listing.
	if d.order == nil || d.orderSeq != d.nextSeq || len(d.order) != len(d.entries) {
		d.order = d.order[:0]
		for n, de := range d.entries {
			d.order = append(d.order, orderEnt{n, de})
		}
		sort.Slice(d.order, func(i, j int) bool { return d.order[i].de.seq < d.order[j].de.seq })
		d.orderSeq = d.nextSeq
	}
	i := sort.Search(len(d.order), func(i int) bool { return d.order[i].de.seq > cookie })
	var all []ent
	for _, o := range d.order[i:] {
		if d.entries[o.name] == o.de {
			all = append(all, ent{o.name, o.de})
		}
		if max > 0 && len(all) > max {
			break
		}
	}
	if max <= 0 {
		max = 1024
	}
	eof := true
	if len(all) > max {
		all = all[:max]
		eof = false
	}
	out := make([]vfs.DirEntry, 0, len(all))
	for _, x := range all {
		n := f.inodes[x.de.gfid]
		de := vfs.DirEntry{Name: x.name, GFID: x.de.gfid, Type: n.attr.Mode & syscall.S_IFMT, Cookie: x.de.seq}
		if plus {
			a := n.attr
			de.Attr = &a
		}
		out = append(out, de)
	}
	return out, eof, 0
}

// ReleaseDir implements vfs.Translator.
func (f *FS) ReleaseDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	return f.Release(ctx, gfid, fh)
}

// FsyncDir implements vfs.Translator.
func (f *FS) FsyncDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	return 0
}

// StatFS implements vfs.Translator.
func (f *FS) StatFS(ctx context.Context, gfid vfs.GFID) (vfs.StatFS, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var used uint64
	for _, in := range f.inodes {
		used += (uint64(len(in.data)) + 4095) / 4096
	}
	const blocks = 1 << 20 // 4 GiB
	return vfs.StatFS{Bsize: 4096, Frsize: 4096, Blocks: blocks, Bfree: blocks - used, Bavail: blocks - used,
		Files: 1 << 20, Ffree: 1<<20 - uint64(len(f.inodes)), NameLen: vfs.NameMax}, 0
}

// GetXattr implements vfs.Translator.
func (f *FS) GetXattr(ctx context.Context, gfid vfs.GFID, name string) ([]byte, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, e := f.get(gfid)
	if e != 0 {
		return nil, e
	}
	v, ok := in.xattrs[name]
	if !ok {
		return nil, syscall.ENODATA
	}
	return append([]byte(nil), v...), 0
}

// SetXattr implements vfs.Translator.
func (f *FS) SetXattr(ctx context.Context, gfid vfs.GFID, name string, value []byte, flags uint32) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, e := f.get(gfid)
	if e != 0 {
		return e
	}
	_, ok := in.xattrs[name]
	if flags&vfs.XattrCreate != 0 && ok {
		return syscall.EEXIST
	}
	if flags&vfs.XattrReplace != 0 && !ok {
		return syscall.ENODATA
	}
	if in.xattrs == nil {
		in.xattrs = map[string][]byte{}
	}
	in.xattrs[name] = append([]byte(nil), value...)
	f.touch(&in.attr, false, true)
	return 0
}

// ListXattr implements vfs.Translator.
func (f *FS) ListXattr(ctx context.Context, gfid vfs.GFID) ([]string, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, e := f.get(gfid)
	if e != 0 {
		return nil, e
	}
	var names []string
	for n := range in.xattrs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, 0
}

// RemoveXattr implements vfs.Translator.
func (f *FS) RemoveXattr(ctx context.Context, gfid vfs.GFID, name string) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, e := f.get(gfid)
	if e != 0 {
		return e
	}
	if _, ok := in.xattrs[name]; !ok {
		return syscall.ENODATA
	}
	delete(in.xattrs, name)
	return 0
}

// XattrOp implements vfs.Translator.
func (f *FS) XattrOp(ctx context.Context, gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	return nil, syscall.EOPNOTSUPP
}

// GetLk implements vfs.Translator.
func (f *FS) GetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock) (vfs.Lock, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	client := vfs.CallerFrom(ctx).Client
	for _, h := range f.locks[gfid] {
		if (h.client != client || h.lk.Owner != lk.Owner) && h.lk.Conflicts(lk) {
			return h.lk, 0
		}
	}
	lk.Type = vfs.Unlock
	return lk, 0
}

// SetLk implements vfs.Translator with simple whole-lock semantics (an
// unlock removes the owner's locks that overlap the range), enough for the
// gateway's lock mapping tests.
func (f *FS) SetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock, wait bool) syscall.Errno {
	for {
		f.mu.Lock()
		client := vfs.CallerFrom(ctx).Client
		held := f.locks[gfid]
		if lk.Type == vfs.Unlock {
			kept := held[:0]
			for _, h := range held {
				mine := h.client == client && h.lk.Owner == lk.Owner
				if !(mine && h.lk.Start <= lk.End && lk.Start <= h.lk.End) {
					kept = append(kept, h)
				}
			}
			f.locks[gfid] = kept
			f.mu.Unlock()
			return 0
		}
		conflict := false
		for _, h := range held {
			if (h.client != client || h.lk.Owner != lk.Owner) && h.lk.Conflicts(lk) {
				conflict = true
				break
			}
		}
		if !conflict {
			f.locks[gfid] = append(held, heldLock{lk: lk, client: client})
			f.mu.Unlock()
			return 0
		}
		f.mu.Unlock()
		if !wait {
			return syscall.EAGAIN
		}
		select {
		case <-ctx.Done():
			return syscall.EINTR
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// InodeLk implements vfs.Translator (no-op: single process).
func (f *FS) InodeLk(ctx context.Context, domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) syscall.Errno {
	return 0
}

// EntryLk implements vfs.Translator (no-op: single process).
func (f *FS) EntryLk(ctx context.Context, domain string, parent vfs.GFID, name string, typ vfs.LockType, owner uint64, wait bool) syscall.Errno {
	return 0
}

// maxFileSize bounds file sizes (EFBIG beyond) so that hostile offsets in
// fuzz tests cannot make the memory volume allocate without limit.
const maxFileSize = 64 << 20

// Package memfs is an in-memory vfs.Translator: a whole volume (or one
// brick's worth of it) held in maps, addressed by GFID like storage/posix.
// It is the fast fake brick for unit tests of the translators above a brick
// (replicate, io-cache, the front ends), and needs no disk or root. It
// passes the whole vfs/vfstest conformance suite.
//
// It keeps what a brick does: GFIDs chosen by the caller (or random when
// zero), hard links, symlinks, device nodes (never opened), open handles
// and anonymous fds (handle 0), unlinked-but-open files, O_APPEND and
// O_TRUNC, POSIX rename rules including RENAME_NOREPLACE and
// RENAME_EXCHANGE, directory cookies that stay valid across
// OpenDir/ReleaseDir, Linux permission checks for the caller in the context
// (owner/group/other bits, sticky directories, setgid directories,
// chmod/chown/utimens rules, setuid dropped on write), xattr namespaces as
// Linux (user.* by permission and only on files and directories, trusted.*
// for root only and hidden from others, unknown namespaces EOPNOTSUPP),
// XattrOp's atomic array additions, sparse files (an allocation map at 4 KiB
// blocks drives st_blocks, SEEK_DATA/SEEK_HOLE and hole punching), and the
// brick's reserved names: ".cairn" in the root and the trusted.cairn.gfid
// xattr are neither visible nor changeable.
//
// It leaves out ACLs, atime updates, and locks: GetLk, SetLk, InodeLk and
// EntryLk return ENOSYS, as storage/posix does; stack brick/locks on top,
// locks.New(memfs.New(...)), for a brick that locks.
//
// One mutex guards everything, so every operation is atomic.
package memfs

import (
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// Config configures an FS.
type Config struct {
	// Capacity bounds the bytes of file data held; writes past it fail
	// with ENOSPC. 0 means unlimited.
	Capacity int64
	// Clock returns the time stamped on changes; nil means time.Now.
	// Tests inject one to control mtimes.
	Clock func() time.Time
}

// FS is the in-memory translator.
type FS struct {
	cfg Config

	mu      sync.Mutex
	nodes   map[vfs.GFID]*node
	handles map[vfs.Handle]*handle
	lastFh  vfs.Handle
	used    int64 // bytes of file data
}

var _ vfs.Translator = (*FS)(nil)

type node struct {
	attr   vfs.Attr
	data   []byte // regular files
	alloc  allocMap
	target string // symlinks
	xattrs map[string][]byte
	opens  int // open handles, which keep an unlinked file alive

	// Directories only.
	entries    map[string]*dent
	lastCookie uint64
	parent     vfs.GFID
}

// dent is a directory entry. Its cookie is its position in the directory:
// entries are listed in cookie order and a new entry gets a larger cookie
// than any before, so a listing resumed from a cookie never repeats or
// skips an entry that stayed in place.
type dent struct {
	gfid   vfs.GFID
	cookie uint64
}

type handle struct {
	gfid  vfs.GFID
	flags uint32
	dir   bool
}

// New returns an FS holding an empty root directory (mode 0755, owned by
// root).
func New(cfg Config) *FS {
	fs := &FS{
		cfg:     cfg,
		nodes:   make(map[vfs.GFID]*node),
		handles: make(map[vfs.Handle]*handle),
	}
	root := fs.newNode(vfs.RootGFID, syscall.S_IFDIR|0o755, &vfs.Caller{})
	root.parent = vfs.RootGFID
	root.attr.Nlink = 2
	return fs
}

func (fs *FS) now() vfs.Timespec {
	if fs.cfg.Clock != nil {
		return vfs.TimespecOf(fs.cfg.Clock())
	}
	return vfs.TimespecOf(time.Now())
}

// newNode adds a node of the given mode, stamped now.
func (fs *FS) newNode(gfid vfs.GFID, mode uint32, c *vfs.Caller) *node {
	now := fs.now()
	n := &node{attr: vfs.Attr{
		GFID: gfid, Mode: mode, Nlink: 1, UID: c.UID, GID: c.GID, Blksize: 4096,
		Atime: now, Mtime: now, Ctime: now,
	}}
	if mode&syscall.S_IFMT == syscall.S_IFDIR {
		n.entries = make(map[string]*dent)
	}
	fs.nodes[gfid] = n
	return n
}

// getAttr returns n's attributes with the derived fields filled in.
func (n *node) getAttr() vfs.Attr {
	a := n.attr
	switch a.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		a.Size = uint64(len(n.data))
		a.Blocks = n.alloc.blocks()
		return a
	case syscall.S_IFLNK:
		a.Size = uint64(len(n.target))
	case syscall.S_IFDIR:
		a.Size = 4096
	}
	a.Blocks = (a.Size + 511) / 512
	return a
}

func (n *node) isDir() bool { return n.attr.Mode&syscall.S_IFMT == syscall.S_IFDIR }

// dir returns the directory gfid, or ENOENT/ENOTDIR.
func (fs *FS) dir(gfid vfs.GFID) (*node, syscall.Errno) {
	n := fs.nodes[gfid]
	if n == nil {
		return nil, syscall.ENOENT
	}
	if !n.isDir() {
		return nil, syscall.ENOTDIR
	}
	return n, 0
}

// child resolves name in directory parent for caller c, who needs search
// permission on parent. d is returned whenever parent is a searchable
// directory, so that callers can create the missing name.
func (fs *FS) child(c *vfs.Caller, parent vfs.GFID, name string) (*node, *node, syscall.Errno) {
	if e := vfs.CheckName(name); e != 0 {
		return nil, nil, e
	}
	d, e := fs.dir(parent)
	if e != 0 {
		return nil, nil, e
	}
	if e := may(d, c, mayExec); e != 0 {
		return nil, nil, e
	}
	de := d.entries[name]
	if de == nil {
		return d, nil, syscall.ENOENT
	}
	return d, fs.nodes[de.gfid], 0
}

// addEntry links gfid into d as name and stamps d.
func (fs *FS) addEntry(d *node, name string, gfid vfs.GFID) {
	d.lastCookie++
	d.entries[name] = &dent{gfid: gfid, cookie: d.lastCookie}
	fs.touch(d)
}

func (fs *FS) touch(n *node) {
	now := fs.now()
	n.attr.Mtime, n.attr.Ctime = now, now
}

// dropLink removes one link of n (a file whose entry was removed) and
// forgets n once nothing reaches it.
func (fs *FS) dropLink(n *node) {
	if n.attr.Nlink > 0 {
		n.attr.Nlink--
	}
	n.attr.Ctime = fs.now()
	fs.maybeForget(n)
}

func (fs *FS) maybeForget(n *node) {
	if n.attr.Nlink == 0 && n.opens == 0 {
		fs.used -= int64(len(n.data))
		delete(fs.nodes, n.attr.GFID)
	}
}

// openHandle returns a new handle for n.
func (fs *FS) openHandle(n *node, flags uint32, dir bool) vfs.Handle {
	fs.lastFh++
	fs.handles[fs.lastFh] = &handle{gfid: n.attr.GFID, flags: flags, dir: dir}
	n.opens++
	return fs.lastFh
}

// handleFor checks fh (0 is the anonymous fd) against gfid.
func (fs *FS) handleFor(gfid vfs.GFID, fh vfs.Handle, dir bool) (*node, *handle, syscall.Errno) {
	n := fs.nodes[gfid]
	if n == nil {
		return nil, nil, syscall.ENOENT
	}
	if fh == 0 {
		return n, nil, 0
	}
	h := fs.handles[fh]
	if h == nil || h.gfid != gfid || h.dir != dir {
		return nil, nil, syscall.EBADF
	}
	return n, h, 0
}

// setSize truncates or extends n's data, accounting capacity.
func (fs *FS) setSize(n *node, size uint64) syscall.Errno {
	old := int64(len(n.data))
	grow := int64(size) - old
	if grow > 0 && fs.cfg.Capacity > 0 && fs.used+grow > fs.cfg.Capacity {
		return syscall.ENOSPC
	}
	if grow < 0 {
		n.alloc.truncate(int64(size))
	}
	if int64(size) <= int64(cap(n.data)) {
		clear(n.data[min(int64(size), old):size])
		n.data = n.data[:size]
	} else {
		nd := make([]byte, size)
		copy(nd, n.data)
		n.data = nd
	}
	fs.used += grow
	return 0
}

// Usage returns the bytes of file data held, for tests of capacity.
func (fs *FS) Usage() int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.used
}

func (fs *FS) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.nodes[gfid]
	if n == nil {
		return vfs.Attr{}, syscall.ENOENT
	}
	return n.getAttr(), 0
}

func (fs *FS) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	c := vfs.CallerFrom(ctx)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.nodes[gfid]
	if n == nil {
		return vfs.Attr{}, syscall.ENOENT
	}
	if e := fs.setAttrAllowed(n, c, fh, in); e != 0 {
		return vfs.Attr{}, e
	}
	if in.Valid&vfs.SetSize != 0 {
		if e := fs.setSize(n, in.Size); e != 0 {
			return vfs.Attr{}, e
		}
		n.attr.Mtime = fs.now()
	}
	// Owner first, then mode, as storage/posix: a change of owner clears
	// setuid (and setgid when group-executable) of a regular file, for
	// root too, and a mode given with it is applied after.
	if in.Valid&vfs.SetUID != 0 {
		n.attr.UID = in.UID
	}
	if in.Valid&vfs.SetGID != 0 {
		n.attr.GID = in.GID
	}
	if in.Valid&(vfs.SetUID|vfs.SetGID) != 0 && n.attr.Mode&syscall.S_IFMT == syscall.S_IFREG {
		n.attr.Mode &^= vfs.KillPrivBits(n.attr.Mode)
	}
	if in.Valid&vfs.SetMode != 0 {
		mode := in.Mode & 0o7777
		// A non-root owner outside the file's group cannot keep it setgid.
		if !c.IsRoot() && !c.InGroup(n.attr.GID) {
			mode &^= syscall.S_ISGID
		}
		n.attr.Mode = n.attr.Mode&syscall.S_IFMT | mode
	}
	now := fs.now()
	switch {
	case in.Valid&vfs.SetAtimeNow != 0:
		n.attr.Atime = now
	case in.Valid&vfs.SetAtime != 0:
		n.attr.Atime = in.Atime
	}
	switch {
	case in.Valid&vfs.SetMtimeNow != 0:
		n.attr.Mtime = now
	case in.Valid&vfs.SetMtime != 0:
		n.attr.Mtime = in.Mtime
	}
	n.attr.Ctime = now
	if in.Valid&vfs.SetCtime != 0 {
		n.attr.Ctime = in.Ctime
	}
	return n.getAttr(), 0
}

// setAttrAllowed applies the rules of chmod, chown, truncate and utimens:
// mode and explicit times need ownership, the owner only to the caller's
// own uid and to groups the caller holds, "now" times ownership or write
// permission, and truncation write permission (or a writable handle).
func (fs *FS) setAttrAllowed(n *node, c *vfs.Caller, fh vfs.Handle, in *vfs.SetAttrIn) syscall.Errno {
	owner := c.IsRoot() || c.UID == n.attr.UID
	if in.Valid&vfs.SetSize != 0 {
		switch n.attr.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
		case syscall.S_IFDIR:
			return syscall.EISDIR
		default:
			return syscall.EINVAL
		}
		if fh != 0 {
			if h := fs.handles[fh]; h == nil || h.gfid != n.attr.GFID || h.flags&syscall.O_ACCMODE == syscall.O_RDONLY {
				return syscall.EBADF
			}
		} else if e := may(n, c, mayWrite); e != 0 {
			return e
		}
	}
	if in.Valid&vfs.SetMode != 0 && !owner {
		return syscall.EPERM
	}
	if in.Valid&vfs.SetUID != 0 && !c.IsRoot() && in.UID != n.attr.UID {
		return syscall.EPERM
	}
	if in.Valid&vfs.SetGID != 0 && !c.IsRoot() && (!owner || !c.InGroup(in.GID)) && in.GID != n.attr.GID {
		return syscall.EPERM
	}
	explicit := in.Valid&vfs.SetAtime != 0 && in.Valid&vfs.SetAtimeNow == 0 ||
		in.Valid&vfs.SetMtime != 0 && in.Valid&vfs.SetMtimeNow == 0 ||
		in.Valid&vfs.SetCtime != 0
	if explicit && !owner {
		return syscall.EPERM
	}
	if in.Valid&(vfs.SetAtimeNow|vfs.SetMtimeNow) != 0 && !owner {
		if e := may(n, c, mayWrite); e != 0 {
			return e
		}
	}
	return 0
}

func (fs *FS) StatFS(ctx context.Context, gfid vfs.GFID) (vfs.StatFS, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.nodes[gfid] == nil {
		return vfs.StatFS{}, syscall.ENOENT
	}
	const bsize = 4096
	total := uint64(1 << 40)
	if fs.cfg.Capacity > 0 {
		total = uint64(fs.cfg.Capacity)
	}
	free := (total - min(total, uint64(fs.used))) / bsize
	return vfs.StatFS{
		Bsize: bsize, Frsize: bsize, Blocks: total / bsize, Bfree: free, Bavail: free,
		Files: 1 << 32, Ffree: 1<<32 - uint64(len(fs.nodes)), NameLen: vfs.NameMax,
	}, 0
}

// Locks are not kept here; see the package doc.

func (fs *FS) GetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock) (vfs.Lock, syscall.Errno) {
	return vfs.Lock{}, syscall.ENOSYS
}

func (fs *FS) SetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock, wait bool) syscall.Errno {
	return syscall.ENOSYS
}

func (fs *FS) InodeLk(ctx context.Context, domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) syscall.Errno {
	return syscall.ENOSYS
}

func (fs *FS) EntryLk(ctx context.Context, domain string, parent vfs.GFID, name string, typ vfs.LockType, owner uint64, wait bool) syscall.Errno {
	return syscall.ENOSYS
}

package memfs

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

func (fs *FS) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, n, e := fs.child(vfs.CallerFrom(ctx), parent, name)
	if e != 0 {
		return vfs.Attr{}, e
	}
	return n.getAttr(), 0
}

// creatable returns the directory in which c may create name: it must not
// exist, and c needs write and search permission on parent.
func (fs *FS) creatable(c *vfs.Caller, parent vfs.GFID, name string) (*node, syscall.Errno) {
	d, _, e := fs.child(c, parent, name)
	switch {
	case e == 0:
		return nil, syscall.EEXIST
	case e != syscall.ENOENT || d == nil:
		return nil, e
	case reserved(parent, name):
		return nil, syscall.EPERM
	}
	if e := may(d, c, mayWrite|mayExec); e != 0 {
		return nil, e
	}
	return d, 0
}

// mknode creates name in parent with the given full mode. The owner is the
// caller; the group is the parent's when the parent is setgid (and a new
// directory inherits the bit), the caller's otherwise. A caller outside the
// group cannot make a setgid file.
func (fs *FS) mknode(c *vfs.Caller, parent vfs.GFID, name string, gfid vfs.GFID, mode uint32) (*node, syscall.Errno) {
	d, e := fs.creatable(c, parent, name)
	if e != 0 {
		return nil, e
	}
	if gfid.IsZero() {
		gfid = vfs.NewGFID()
	} else if fs.nodes[gfid] != nil {
		return nil, syscall.EEXIST
	}
	owner := *c
	isDir := mode&syscall.S_IFMT == syscall.S_IFDIR
	if d.attr.Mode&syscall.S_ISGID != 0 {
		owner.GID = d.attr.GID
		if isDir {
			mode |= syscall.S_ISGID
		}
	}
	if !isDir && mode&syscall.S_ISGID != 0 && !c.IsRoot() && !c.InGroup(owner.GID) {
		mode &^= syscall.S_ISGID
	}
	n := fs.newNode(gfid, mode, &owner)
	if isDir {
		n.parent = parent
		n.attr.Nlink = 2
		d.attr.Nlink++
	}
	fs.addEntry(d, name, gfid)
	return n, 0
}

func (fs *FS) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	c := vfs.CallerFrom(ctx)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, n, e := fs.child(c, parent, name)
	switch {
	case e == 0:
		if in.Flags&syscall.O_EXCL != 0 {
			return vfs.Attr{}, 0, syscall.EEXIST
		}
		if e := fs.openable(n, c, in.Flags); e != 0 {
			return vfs.Attr{}, 0, e
		}
		fs.truncOnOpen(n, in.Flags)
	case e == syscall.ENOENT:
		if n, e = fs.mknode(c, parent, name, in.GFID, syscall.S_IFREG|in.Mode&0o7777); e != 0 {
			return vfs.Attr{}, 0, e
		}
	default:
		return vfs.Attr{}, 0, e
	}
	fh := fs.openHandle(n, in.Flags, false)
	return n.getAttr(), fh, 0
}

func (fs *FS) Mknod(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	c := vfs.CallerFrom(ctx)
	mode := in.Mode
	switch mode & syscall.S_IFMT {
	case 0:
		mode |= syscall.S_IFREG
	case syscall.S_IFREG, syscall.S_IFIFO, syscall.S_IFSOCK:
	case syscall.S_IFCHR, syscall.S_IFBLK:
		if !c.IsRoot() {
			return vfs.Attr{}, syscall.EPERM // CAP_MKNOD
		}
	default:
		return vfs.Attr{}, syscall.EINVAL
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, e := fs.mknode(c, parent, name, in.GFID, mode)
	if e != 0 {
		return vfs.Attr{}, e
	}
	n.attr.Rdev = in.Rdev
	return n.getAttr(), 0
}

func (fs *FS) Mkdir(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, e := fs.mknode(vfs.CallerFrom(ctx), parent, name, in.GFID, syscall.S_IFDIR|in.Mode&0o7777)
	if e != 0 {
		return vfs.Attr{}, e
	}
	return n.getAttr(), 0
}

func (fs *FS) Symlink(ctx context.Context, parent vfs.GFID, name, target string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	if target == "" {
		return vfs.Attr{}, syscall.ENOENT
	}
	if len(target) > 4095 {
		return vfs.Attr{}, syscall.ENAMETOOLONG
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n, e := fs.mknode(vfs.CallerFrom(ctx), parent, name, in.GFID, syscall.S_IFLNK|0o777)
	if e != 0 {
		return vfs.Attr{}, e
	}
	n.target = target
	return n.getAttr(), 0
}

func (fs *FS) Readlink(ctx context.Context, gfid vfs.GFID) (string, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.nodes[gfid]
	if n == nil {
		return "", syscall.ENOENT
	}
	if n.attr.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		return "", syscall.EINVAL
	}
	return n.target, 0
}

func (fs *FS) Link(ctx context.Context, gfid vfs.GFID, newParent vfs.GFID, newName string) (vfs.Attr, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.nodes[gfid]
	if n == nil || n.attr.Nlink == 0 {
		return vfs.Attr{}, syscall.ENOENT
	}
	if n.isDir() {
		return vfs.Attr{}, syscall.EPERM
	}
	d, e := fs.creatable(vfs.CallerFrom(ctx), newParent, newName)
	if e != 0 {
		return vfs.Attr{}, e
	}
	n.attr.Nlink++
	n.attr.Ctime = fs.now()
	fs.addEntry(d, newName, gfid)
	return n.getAttr(), 0
}

// removable resolves name in parent for removal by c: write and search
// permission on parent, and the sticky bit's consent.
func (fs *FS) removable(c *vfs.Caller, parent vfs.GFID, name string) (*node, *node, syscall.Errno) {
	d, n, e := fs.child(c, parent, name)
	if e != 0 {
		return nil, nil, e
	}
	if e := may(d, c, mayWrite|mayExec); e != 0 {
		return nil, nil, e
	}
	if stickyDenies(d, n, c) {
		return nil, nil, syscall.EPERM
	}
	return d, n, 0
}

func (fs *FS) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, n, e := fs.removable(vfs.CallerFrom(ctx), parent, name)
	if e != 0 {
		return e
	}
	if n.isDir() {
		return syscall.EISDIR
	}
	delete(d.entries, name)
	fs.touch(d)
	fs.dropLink(n)
	return 0
}

func (fs *FS) Rmdir(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, n, e := fs.removable(vfs.CallerFrom(ctx), parent, name)
	if e != 0 {
		return e
	}
	if !n.isDir() {
		return syscall.ENOTDIR
	}
	if len(n.entries) > 0 {
		return syscall.ENOTEMPTY
	}
	delete(d.entries, name)
	d.attr.Nlink--
	fs.touch(d)
	fs.removeDir(n)
	return 0
}

// removeDir forgets an empty directory whose entry is gone.
func (fs *FS) removeDir(n *node) {
	n.attr.Nlink = 0
	fs.maybeForget(n)
}

// isAncestor reports whether directory a is d or one of d's ancestors.
func (fs *FS) isAncestor(a, d vfs.GFID) bool {
	for {
		if a == d {
			return true
		}
		if d == vfs.RootGFID {
			return false
		}
		n := fs.nodes[d]
		if n == nil {
			return false
		}
		d = n.parent
	}
}

func (fs *FS) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	if flags&^(vfs.RenameNoReplace|vfs.RenameExchange) != 0 || flags == vfs.RenameNoReplace|vfs.RenameExchange {
		return syscall.EINVAL
	}
	c := vfs.CallerFrom(ctx)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	od, src, e := fs.removable(c, oldParent, oldName)
	if e != 0 {
		return e
	}
	nd, dst, e := fs.child(c, newParent, newName)
	if e != 0 && (e != syscall.ENOENT || nd == nil) {
		return e
	}
	if reserved(newParent, newName) {
		return syscall.EPERM
	}
	if e := may(nd, c, mayWrite|mayExec); e != 0 {
		return e
	}
	if dst != nil && dst != src && stickyDenies(nd, dst, c) {
		return syscall.EPERM
	}
	// A directory moving to another parent has its ".." rewritten.
	if od != nd && src.isDir() {
		if e := may(src, c, mayWrite); e != 0 {
			return e
		}
	}
	if flags&vfs.RenameExchange != 0 {
		if dst == nil {
			return syscall.ENOENT
		}
		if od != nd && dst.isDir() {
			if e := may(dst, c, mayWrite); e != 0 {
				return e
			}
		}
		return fs.exchange(od, oldName, src, nd, newName, dst)
	}
	if dst != nil {
		if flags&vfs.RenameNoReplace != 0 {
			return syscall.EEXIST
		}
		if dst == src {
			return 0 // two links to one file: POSIX says do nothing
		}
	}
	if src.isDir() && fs.isAncestor(src.attr.GFID, newParent) {
		return syscall.EINVAL
	}
	if dst != nil {
		switch {
		case src.isDir() && !dst.isDir():
			return syscall.ENOTDIR
		case !src.isDir() && dst.isDir():
			return syscall.EISDIR
		case dst.isDir() && len(dst.entries) > 0:
			return syscall.ENOTEMPTY
		}
		delete(nd.entries, newName)
		if dst.isDir() {
			nd.attr.Nlink--
			fs.removeDir(dst)
		} else {
			fs.dropLink(dst)
		}
	}
	delete(od.entries, oldName)
	fs.touch(od)
	fs.addEntry(nd, newName, src.attr.GFID)
	if src.isDir() && od != nd {
		od.attr.Nlink--
		nd.attr.Nlink++
		src.parent = nd.attr.GFID
	}
	src.attr.Ctime = fs.now()
	return 0
}

// exchange swaps two entries (RENAME_EXCHANGE).
func (fs *FS) exchange(od *node, oldName string, src *node, nd *node, newName string, dst *node) syscall.Errno {
	if src == dst {
		return 0
	}
	if (src.isDir() && fs.isAncestor(src.attr.GFID, nd.attr.GFID)) ||
		(dst.isDir() && fs.isAncestor(dst.attr.GFID, od.attr.GFID)) {
		return syscall.EINVAL
	}
	od.entries[oldName].gfid, nd.entries[newName].gfid = dst.attr.GFID, src.attr.GFID
	if od != nd {
		if src.isDir() {
			src.parent = nd.attr.GFID
			od.attr.Nlink--
			nd.attr.Nlink++
		}
		if dst.isDir() {
			dst.parent = od.attr.GFID
			nd.attr.Nlink--
			od.attr.Nlink++
		}
	}
	fs.touch(od)
	fs.touch(nd)
	now := fs.now()
	src.attr.Ctime, dst.attr.Ctime = now, now
	return 0
}

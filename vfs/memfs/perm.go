package memfs

import (
	"strings"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Access bits, as in access(2).
const (
	mayExec  = 1
	mayWrite = 2
	mayRead  = 4
)

// may checks the caller's permission bits on n (owner, else group, else
// other, as Linux does: a denying owner class is not rescued by the group
// bits). Root passes, except that executing needs some x bit on a
// non-directory.
func may(n *node, c *vfs.Caller, mask uint32) syscall.Errno {
	mode := n.attr.Mode
	if c.IsRoot() {
		if mask&mayExec == 0 || n.isDir() || mode&0o111 != 0 {
			return 0
		}
		return syscall.EACCES
	}
	var bits uint32
	switch {
	case c.UID == n.attr.UID:
		bits = mode >> 6 & 7
	case c.InGroup(n.attr.GID):
		bits = mode >> 3 & 7
	default:
		bits = mode & 7
	}
	if bits&mask != mask {
		return syscall.EACCES
	}
	return 0
}

// openMask is the permission an open with flags needs.
func openMask(flags uint32) uint32 {
	var m uint32
	switch flags & syscall.O_ACCMODE {
	case syscall.O_RDONLY:
		m = mayRead
	case syscall.O_WRONLY:
		m = mayWrite
	default:
		m = mayRead | mayWrite
	}
	if flags&syscall.O_TRUNC != 0 {
		m |= mayWrite
	}
	return m
}

// stickyDenies reports whether the sticky bit of directory d keeps the
// caller from removing or renaming n: only n's owner, d's owner and root
// may.
func stickyDenies(d, n *node, c *vfs.Caller) bool {
	return d.attr.Mode&syscall.S_ISVTX != 0 && !c.IsRoot() && c.UID != n.attr.UID && c.UID != d.attr.UID
}

// reserved reports whether name in parent is the brick's private
// directory, which clients can neither see nor create.
func reserved(parent vfs.GFID, name string) bool {
	return parent == vfs.RootGFID && name == vfs.ReservedName
}

// gfidXattr is where a brick keeps a file's GFID; it is not the clients'
// to see or change.
const gfidXattr = "trusted.cairn.gfid"

// xattrAccess checks an xattr operation by namespace, as Linux's
// xattr_permission does, for the caller c on n. write is set for set,
// remove and xattrop.
func xattrAccess(n *node, c *vfs.Caller, name string, write bool) syscall.Errno {
	switch {
	case name == "" || len(name) > xattrNameMax:
		return syscall.ERANGE
	case name == gfidXattr:
		if write {
			return syscall.EPERM
		}
		return syscall.ENODATA
	case strings.HasPrefix(name, "trusted."):
		if c.IsRoot() {
			return 0
		}
		if write {
			return syscall.EPERM
		}
		return syscall.ENODATA
	case strings.HasPrefix(name, "security."):
		if write && !c.IsRoot() {
			return syscall.EPERM
		}
		return 0
	case strings.HasPrefix(name, "user."):
		t := n.attr.Mode & syscall.S_IFMT
		if t != syscall.S_IFREG && t != syscall.S_IFDIR {
			if write {
				return syscall.EPERM
			}
			return syscall.ENODATA
		}
		if write {
			return may(n, c, mayWrite)
		}
		return may(n, c, mayRead)
	}
	// system.* (POSIX ACLs) and unknown namespaces.
	return syscall.EOPNOTSUPP
}

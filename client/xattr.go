package client

import (
	"context"
	"strings"
	"sync"
	"syscall"
	"time"
)

// internalXattrPrefix names cairn's own bookkeeping (GFID, replicate
// changelogs). It is not user data: it is hidden from listings and cannot
// be changed through a mount, whatever a brick would allow.
const internalXattrPrefix = "trusted.cairn."

func internalXattr(name string) bool { return strings.HasPrefix(name, internalXattrPrefix) }

// unsupportedXattr reports the xattrs a mount without the acl or selinux
// option does not support, answering EOPNOTSUPP without asking the bricks,
// as GlusterFS's FUSE bridge does. ls -l asks for all three of every file
// it lists; passed through, they would cost two brick round trips per file.
func (m *mountState) unsupportedXattr(name string) bool {
	switch name {
	case "system.posix_acl_access", "system.posix_acl_default":
		return !m.opts.ACL
	case "security.selinux":
		return !m.opts.SELinux
	}
	return false
}

// noXattrs remembers, for up to the attribute timeout, which xattrs a
// file was found not to have. The kernel caches no xattrs, and asks for
// absent ones constantly: security.capability before every write(2)
// (file_remove_privs; FUSE inodes never get S_NOSEC), and
// system.posix_acl_access plus security.selinux for every file `ls -l`
// shows. Each would otherwise be a round trip to the bricks, as in
// GlusterFS before md-cache cached xattrs. A set or remove through this
// mount forgets the name at once; another client's set shows within the
// attribute timeout, like its other attribute changes.
type noXattrs struct {
	mu sync.Mutex
	m  map[string]time.Time // name → expiry
}

func (c *noXattrs) has(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.m[name]
	if ok && time.Now().After(exp) {
		delete(c.m, name)
		ok = false
	}
	return ok
}

func (c *noXattrs) add(name string, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]time.Time)
	}
	c.m[name] = time.Now().Add(ttl)
	c.mu.Unlock()
}

func (c *noXattrs) forget(name string) {
	c.mu.Lock()
	delete(c.m, name)
	c.mu.Unlock()
}

// Getxattr follows getxattr(2): a zero-length dest asks for the size.
func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if n.m.unsupportedXattr(attr) {
		return 0, syscall.EOPNOTSUPP
	}
	if internalXattr(attr) || n.noXattrs.has(attr) {
		return 0, syscall.ENODATA
	}
	v, e := n.m.stack.GetXattr(n.m.opCtx(ctx), n.gfid, attr)
	if e == syscall.ENODATA {
		n.noXattrs.add(attr, n.m.opts.AttrTimeout)
	}
	if e != 0 {
		return 0, errno(e)
	}
	if len(dest) == 0 {
		return uint32(len(v)), 0
	}
	if len(dest) < len(v) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if n.m.unsupportedXattr(attr) {
		return syscall.EOPNOTSUPP
	}
	if internalXattr(attr) {
		return syscall.EPERM
	}
	n.noXattrs.forget(attr)
	return errno(n.m.stack.SetXattr(n.m.opCtx(ctx), n.gfid, attr, data, flags))
}

func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if n.m.unsupportedXattr(attr) {
		return syscall.EOPNOTSUPP
	}
	if internalXattr(attr) {
		return syscall.EPERM
	}
	n.noXattrs.forget(attr)
	return errno(n.m.stack.RemoveXattr(n.m.opCtx(ctx), n.gfid, attr))
}

// Listxattr returns NUL-terminated names, as listxattr(2).
func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	names, e := n.m.stack.ListXattr(n.m.opCtx(ctx), n.gfid)
	if e != 0 {
		return 0, errno(e)
	}
	hidden := func(name string) bool { return internalXattr(name) || n.m.unsupportedXattr(name) }
	size := 0
	for _, name := range names {
		if !hidden(name) {
			size += len(name) + 1
		}
	}
	if len(dest) == 0 {
		return uint32(size), 0
	}
	if len(dest) < size {
		return uint32(size), syscall.ERANGE
	}
	off := 0
	for _, name := range names {
		if !hidden(name) {
			off += copy(dest[off:], name)
			dest[off] = 0
			off++
		}
	}
	return uint32(off), 0
}

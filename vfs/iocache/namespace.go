package iocache

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Unlink drops the cached pages of the file it removes. Pages are keyed by
// GFID, and an unlinked file's GFID must turn stale for anonymous I/O (an
// NFS client holding its handle must get ESTALE, not cached data). The
// victim is found by the name its pages were cached under (see
// IOCache.names); only while a file whose name is unknown is cached does
// the name have to be looked up first.
func (c *IOCache) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	victim, known := c.cachedTarget(ctx, parent, name)
	errno := c.Child.Unlink(ctx, parent, name)
	if errno == 0 && known {
		c.Invalidate(victim)
	}
	return errno
}

// Rename drops the cached pages of a file it replaces, for the same reason.
func (c *IOCache) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	victim, known := c.cachedTarget(ctx, newParent, newName)
	errno := c.Child.Rename(ctx, oldParent, oldName, newParent, newName, flags)
	if errno == 0 {
		if known {
			c.Invalidate(victim)
		}
		c.renamed(dentry{oldParent, oldName}, dentry{newParent, newName})
	}
	return errno
}

// cachedTarget returns the GFID of parent/name if the cache holds pages of
// that file. The child is asked only when the name is not among those of
// cached files and some cached file's name is unknown.
func (c *IOCache) cachedTarget(ctx context.Context, parent vfs.GFID, name string) (vfs.GFID, bool) {
	c.mu.Lock()
	g, named := c.names[dentry{parent, name}]
	ask := !named && c.unnamed > 0
	c.mu.Unlock()
	if named || !ask {
		return g, named
	}
	a, errno := c.Child.Lookup(ctx, parent, name)
	if errno != 0 {
		return vfs.GFID{}, false
	}
	c.mu.Lock()
	_, cached := c.files[a.GFID]
	c.mu.Unlock()
	return a.GFID, cached
}

// renamed moves the name of a cached file along with a rename. Called
// after the rename's victim was dropped.
func (c *IOCache) renamed(from, to dentry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g, ok := c.names[from]; ok {
		c.setName(c.files[g], to)
	}
}

package iocache

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Unlink drops the cached pages of the file it removes. Pages are keyed by
// GFID, and an unlinked file's GFID must turn stale for anonymous I/O (an
// NFS client holding its handle must get ESTALE, not cached data), so the
// name is looked up first — only when the cache holds any file at all,
// which keeps unlink-heavy workloads on an empty cache at one call.
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
	if errno == 0 && known {
		c.Invalidate(victim)
	}
	return errno
}

// cachedTarget returns the GFID of parent/name if the cache holds pages of
// that file.
func (c *IOCache) cachedTarget(ctx context.Context, parent vfs.GFID, name string) (vfs.GFID, bool) {
	c.mu.Lock()
	empty := len(c.files) == 0
	c.mu.Unlock()
	if empty {
		return vfs.GFID{}, false
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

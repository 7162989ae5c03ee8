package writebehind

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Unlink forgets the anonymous writers of the file it removes: an
// unlinked file's GFID must turn stale for anonymous I/O at once (an NFS
// client holding its handle must get ESTALE, not an acknowledged write
// that is later dropped). The name is looked up first only while some
// anonymous writer is remembered, which FUSE mounts never cause.
func (t *WriteBehind) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	victim, known := t.anonTarget(ctx, parent, name)
	defer t.lose(vfs.GFID{}) // a link count may have changed
	errno := t.Child.Unlink(ctx, parent, name)
	if errno == 0 && known {
		t.unprove(victim)
	}
	return errno
}

// Rename forgets the anonymous writers of a file it replaces, for the same
// reason.
func (t *WriteBehind) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	victim, known := t.anonTarget(ctx, newParent, newName)
	defer t.lose(vfs.GFID{}) // a link count may have changed
	errno := t.Child.Rename(ctx, oldParent, oldName, newParent, newName, flags)
	if errno == 0 && known {
		t.unprove(victim)
	}
	return errno
}

// anonTarget returns the GFID of parent/name if it has remembered
// anonymous writers.
func (t *WriteBehind) anonTarget(ctx context.Context, parent vfs.GFID, name string) (vfs.GFID, bool) {
	t.mu.Lock()
	none := t.nwriter == 0
	t.mu.Unlock()
	if none {
		return vfs.GFID{}, false
	}
	a, errno := t.Child.Lookup(ctx, parent, name)
	if errno != 0 {
		return vfs.GFID{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return a.GFID, len(t.writers[a.GFID]) > 0
}

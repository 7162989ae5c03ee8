package readahead

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Unlink drops the anonymous streams of the file it removes: an unlinked
// file's GFID must turn stale for anonymous I/O (an NFS client holding its
// handle gets ESTALE, not pages read ahead). Streams of open handles stay:
// reading an unlinked open file is legitimate. The name is looked up first
// only when some anonymous stream holds pages.
func (t *ReadAhead) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	victim, known := t.anonTarget(ctx, parent, name)
	errno := t.Child.Unlink(ctx, parent, name)
	if errno == 0 && known {
		t.dropAnonymous(victim)
	}
	return errno
}

// Rename drops the anonymous streams of a file it replaces, for the same
// reason.
func (t *ReadAhead) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	victim, known := t.anonTarget(ctx, newParent, newName)
	errno := t.Child.Rename(ctx, oldParent, oldName, newParent, newName, flags)
	if errno == 0 && known {
		t.dropAnonymous(victim)
	}
	return errno
}

// anonTarget returns the GFID of parent/name if an anonymous stream holds
// pages of it.
func (t *ReadAhead) anonTarget(ctx context.Context, parent vfs.GFID, name string) (vfs.GFID, bool) {
	t.mu.Lock()
	held := false
	for _, s := range t.streams {
		if s.fh == 0 && len(s.pages) > 0 {
			held = true
			break
		}
	}
	t.mu.Unlock()
	if !held {
		return vfs.GFID{}, false
	}
	a, errno := t.Child.Lookup(ctx, parent, name)
	if errno != 0 {
		return vfs.GFID{}, false
	}
	return a.GFID, true
}

// dropAnonymous forgets the anonymous streams of gfid.
func (t *ReadAhead) dropAnonymous(gfid vfs.GFID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.streams {
		if s.gfid == gfid && s.fh == 0 {
			t.drop(s)
		}
	}
}

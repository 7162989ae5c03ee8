package locks

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// recordKey returns the table key of a POSIX or flock lock on gfid.
func recordKey(gfid vfs.GFID, kind vfs.LockKind) (key, bool) {
	switch kind {
	case vfs.PosixLock:
		return key{space: spacePosix, gfid: gfid}, true
	case vfs.FlockLock:
		return key{space: spaceFlock, gfid: gfid}, true
	}
	return key{}, false
}

// GetLk returns the first granted lock of another owner that conflicts with
// lk (F_GETLK), or lk with Type Unlock when none does. Queued requests are
// not reported: they hold nothing yet.
func (l *Locks) GetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock) (vfs.Lock, syscall.Errno) {
	k, ok := recordKey(gfid, kind)
	if !ok || !validLock(lk) || lk.Type == vfs.Unlock {
		return vfs.Lock{}, syscall.EINVAL
	}
	req := lockOf(ctx, k, lk)
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.tables[k]; t != nil {
		if h := t.blocker(&req, false, 0); h != nil {
			return vfs.Lock{Type: h.typ, Start: h.start, End: h.end, Pid: h.pid, Owner: h.owner.id}, 0
		}
	}
	lk.Type = vfs.Unlock
	return lk, 0
}

// SetLk sets or clears a POSIX or flock lock (F_SETLK/F_SETLKW, flock(2)).
// fh plays no part: ownership is the caller's client and lk.Owner.
func (l *Locks) SetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock, wait bool) syscall.Errno {
	k, ok := recordKey(gfid, kind)
	if !ok || !validLock(lk) {
		return syscall.EINVAL
	}
	return l.acquire(ctx, k, lockOf(ctx, k, lk), wait)
}

// lockOf converts a request; flock locks always cover the whole file.
func lockOf(ctx context.Context, k key, lk vfs.Lock) lock {
	req := lock{owner: ownerOf(ctx, lk.Owner), typ: lk.Type, start: lk.Start, end: lk.End, pid: lk.Pid}
	if k.space == spaceFlock {
		req.start, req.end = 0, vfs.LockEOF
	}
	return req
}

// InodeLk takes or drops an inode lock on a range of gfid in domain
// (GlusterFS inodelk). Grants are counted: each Unlock drops one lock of the
// owner with the same range (or, failing that, one overlapping it).
func (l *Locks) InodeLk(ctx context.Context, domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) syscall.Errno {
	if !validLock(lk) {
		return syscall.EINVAL
	}
	k := key{space: spaceInode, domain: domain, gfid: gfid}
	return l.acquire(ctx, k, lock{owner: ownerOf(ctx, lk.Owner), typ: lk.Type, start: lk.Start, end: lk.End, pid: lk.Pid}, wait)
}

// EntryLk takes or drops an entry lock on name in directory parent within
// domain (GlusterFS entrylk); name "" locks the whole directory. Grants are
// counted like inode locks.
func (l *Locks) EntryLk(ctx context.Context, domain string, parent vfs.GFID, name string, typ vfs.LockType, ownerID uint64, wait bool) syscall.Errno {
	if !validLock(vfs.Lock{Type: typ}) {
		return syscall.EINVAL
	}
	if name != "" && vfs.CheckName(name) != 0 {
		return syscall.EINVAL
	}
	k := key{space: spaceEntry, domain: domain, gfid: parent}
	return l.acquire(ctx, k, lock{owner: ownerOf(ctx, ownerID), typ: typ, name: name, end: vfs.LockEOF}, wait)
}

package writebehind

import (
	"context"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// Held setattrs (setattr-behind).
//
// tar, cp -p and rsync end every file they write with utimensat, fchown
// and fchmod on the open file. Each is a setattr on the bricks, a round
// trip the application waits for. When this client created the file and
// still has it open, those setattrs are held in the file's queue like
// writes and answered at once with the attributes the file will have;
// consecutive ones join into one request, which goes when something needs
// it: the file's Flush (close(2) waits for it and reports its error, as
// for writes), Fsync, Release, GetAttr, any operation that waits for the
// file's writes, and those whose answer a mode or owner can change (Open,
// Read, GetXattr, ListXattr, and a Create that may open the file again).
//
// Only setattrs that cannot fail on a brick that does the file's writes
// are held: mode, owner and times (not size), by root, or by the owner
// for mode (without setgid) and times. Anything else, or any change this
// translator cannot follow (fallocate, link, truncate by another handle,
// an unlink or rename anywhere), sends what is held and passes through.
// The attributes answered are marked as guessed (vfs.MarkAttrsGuessed):
// ctime and blocks are only close to what the bricks will have, so
// md-cache does not keep them and FUSE does not cache a setattr's answer.

// heldSetMask is what a held setattr may change.
const heldSetMask = vfs.SetMode | vfs.SetUID | vfs.SetGID |
	vfs.SetAtime | vfs.SetMtime | vfs.SetAtimeNow | vfs.SetMtimeNow

func (t *WriteBehind) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	if in.Valid&(vfs.SetMode|vfs.SetUID|vfs.SetGID) != 0 {
		t.unprove(gfid)
	}
	t.mu.Lock()
	if a, ok := t.holdSet(ctx, gfid, in); ok {
		t.mu.Unlock()
		vfs.MarkAttrsGuessed(ctx)
		return a, 0
	}
	t.mu.Unlock()
	before := t.changes(gfid) // all of them are sent by the flush
	if errno := t.flushFile(ctx, gfid); errno != 0 {
		return vfs.Attr{}, errno
	}
	a, errno := t.Child.SetAttr(ctx, gfid, fh, in)
	if errno == 0 {
		t.learn(&a, before)
	}
	return a, errno
}

// holdSet queues in for gfid when it may be held, and returns the
// attributes to answer with. Called with mu held.
func (t *WriteBehind) holdSet(ctx context.Context, gfid vfs.GFID, in *vfs.SetAttrIn) (vfs.Attr, bool) {
	h := t.fresh[gfid]
	if h == nil || h.attr == nil || h.err != 0 || t.closed ||
		in.Valid == 0 || in.Valid&^heldSetMask != 0 || !validTimes(in) {
		return vfs.Attr{}, false
	}
	if c := vfs.CallerFrom(ctx); !c.IsRoot() {
		// What the brick checks for an owner that is not root, and
		// what it could change behind the caller's back (setgid
		// dropped for a group the caller is not in).
		if c.UID != h.attr.UID || in.Valid&(vfs.SetUID|vfs.SetGID) != 0 ||
			(in.Valid&vfs.SetMode != 0 && in.Mode&syscall.S_ISGID != 0) {
			return vfs.Attr{}, false
		}
	}
	f := t.fileFor(gfid)
	w := whoOf(ctx)
	if tail := lastOf(f.queue); tail != nil && tail.set != nil && tail.who == w && tail.h == h {
		joinSet(tail.set, in)
	} else {
		set := *in
		f.seq++
		f.queue = append(f.queue, &request{seq: f.seq, fh: h.fh, h: h, who: w, ctx: context.WithoutCancel(ctx), set: &set})
		f.sets++
		t.sets++
		h.active++
		t.pump(f)
	}
	t.stats.SetsHeld++
	h.changes++
	applySet(h.attr, in, time.Now())
	return *h.attr, true
}

// validTimes reports whether the brick would take the times of in (it
// fails others with EINVAL, which must not be acknowledged first).
func validTimes(in *vfs.SetAttrIn) bool {
	ok := func(ts vfs.Timespec) bool { return ts.Nsec >= 0 && ts.Nsec <= 999999999 }
	return (in.Valid&vfs.SetAtime == 0 || ok(in.Atime)) && (in.Valid&vfs.SetMtime == 0 || ok(in.Mtime))
}

// joinSet folds next into held, so that one setattr does what the two did
// one after the other. storage/posix applies owner, then mode, then
// times; a mode held before an owner change loses what the change would
// clear.
func joinSet(held, next *vfs.SetAttrIn) {
	if next.Valid&(vfs.SetUID|vfs.SetGID) != 0 && held.Valid&vfs.SetMode != 0 {
		held.Mode &^= vfs.KillPrivBits(held.Mode)
	}
	if next.Valid&vfs.SetMode != 0 {
		held.Mode = next.Mode
	}
	if next.Valid&vfs.SetUID != 0 {
		held.UID = next.UID
	}
	if next.Valid&vfs.SetGID != 0 {
		held.GID = next.GID
	}
	if next.Valid&(vfs.SetAtime|vfs.SetAtimeNow) != 0 {
		held.Valid &^= vfs.SetAtime | vfs.SetAtimeNow
		held.Atime = next.Atime
	}
	if next.Valid&(vfs.SetMtime|vfs.SetMtimeNow) != 0 {
		held.Valid &^= vfs.SetMtime | vfs.SetMtimeNow
		held.Mtime = next.Mtime
	}
	held.Valid |= next.Valid
}

// applySet changes a as in will change the file at now.
func applySet(a *vfs.Attr, in *vfs.SetAttrIn, now time.Time) {
	ts := vfs.Timespec{Sec: now.Unix(), Nsec: int64(now.Nanosecond())}
	if in.Valid&vfs.SetUID != 0 {
		a.UID = in.UID
	}
	if in.Valid&vfs.SetGID != 0 {
		a.GID = in.GID
	}
	if in.Valid&(vfs.SetUID|vfs.SetGID) != 0 && a.IsRegular() {
		a.Mode &^= vfs.KillPrivBits(a.Mode)
	}
	if in.Valid&vfs.SetMode != 0 {
		a.Mode = a.Mode&syscall.S_IFMT | in.Mode&07777
	}
	switch {
	case in.Valid&vfs.SetAtimeNow != 0:
		a.Atime = ts
	case in.Valid&vfs.SetAtime != 0:
		a.Atime = in.Atime
	}
	switch {
	case in.Valid&vfs.SetMtimeNow != 0:
		a.Mtime = ts
	case in.Valid&vfs.SetMtime != 0:
		a.Mtime = in.Mtime
	}
	a.Ctime = ts
}

// follow starts following the attributes of a regular file this client
// created through handle fh. A second handle on the same file stops it.
func (t *WriteBehind) follow(a *vfs.Attr, fh vfs.Handle) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if o := t.fresh[a.GFID]; o != nil {
		o.attr = nil
		return
	}
	h := t.handles[fh]
	if h == nil || fh == 0 || !a.IsRegular() || h.flags&syscall.O_APPEND != 0 {
		return
	}
	c := *a
	h.attr = &c
	t.fresh[a.GFID] = h
}

// grew records an acknowledged write of n bytes at off (appended, when
// appending). Called with mu held.
func (t *WriteBehind) grew(gfid vfs.GFID, off, n int64, appending bool) {
	h := t.fresh[gfid]
	if h == nil || h.attr == nil {
		return
	}
	if appending || off < 0 {
		h.attr = nil // the size is only known on the brick
		return
	}
	h.changes++
	a := h.attr
	if end := uint64(off + n); end > a.Size {
		a.Size = end
	}
	if b := (a.Size + 511) / 512; b > a.Blocks {
		a.Blocks = b
	}
	now := time.Now()
	a.Mtime = vfs.Timespec{Sec: now.Unix(), Nsec: int64(now.Nanosecond())}
	a.Ctime = a.Mtime
}

// changes returns how many changes were acknowledged so far on gfid's
// followed attributes, for learn.
func (t *WriteBehind) changes(gfid vfs.GFID) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.fresh[gfid]; h != nil {
		return h.changes
	}
	return 0
}

// learn takes attributes the child answered with as the followed ones,
// unless a write or setattr was acknowledged since they were asked for
// (before is changes then): the answer may lack it.
func (t *WriteBehind) learn(a *vfs.Attr, before uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.fresh[a.GFID]
	if h == nil || h.attr == nil {
		return
	}
	if h.changes != before {
		h.attr = nil
		return
	}
	c := *a
	h.attr = &c
}

// lose stops following gfid's attributes (all files' when gfid is zero),
// after a change this translator cannot compute.
func (t *WriteBehind) lose(gfid vfs.GFID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if gfid != (vfs.GFID{}) {
		if h := t.fresh[gfid]; h != nil {
			h.attr = nil
		}
		return
	}
	for _, h := range t.fresh {
		h.attr = nil
	}
}

// unfollow forgets h when it was the handle a file's attributes were
// followed through. Called with mu held.
func (t *WriteBehind) unfollow(h *handle) {
	if t.fresh[h.gfid] == h {
		delete(t.fresh, h.gfid)
	}
}

// flushSets sends gfid's held setattrs, with the writes before them, and
// waits for them: for operations whose answer the mode or owner changes.
func (t *WriteBehind) flushSets(ctx context.Context, gfid vfs.GFID) syscall.Errno {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.files[gfid]
	if f == nil || f.sets == 0 {
		return 0
	}
	errno := t.syncLocked(ctx, f)
	t.forget(f)
	return errno
}

func (t *WriteBehind) GetXattr(ctx context.Context, gfid vfs.GFID, name string) ([]byte, syscall.Errno) {
	if errno := t.flushSets(ctx, gfid); errno != 0 {
		return nil, errno
	}
	return t.Child.GetXattr(ctx, gfid, name)
}

func (t *WriteBehind) ListXattr(ctx context.Context, gfid vfs.GFID) ([]string, syscall.Errno) {
	if errno := t.flushSets(ctx, gfid); errno != 0 {
		return nil, errno
	}
	return t.Child.ListXattr(ctx, gfid)
}

package client

import (
	"context"
	"math"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cairnfs/cairn/vfs"
)

// Constants of the FUSE protocol that go-fuse does not name.
const (
	fuseFsyncFdatasync     = 1 << 0 // FUSE_FSYNC_FDATASYNC
	fuseLkFlock            = 1 << 0 // FUSE_LK_FLOCK
	fuseReleaseFlockUnlock = 1 << 1 // FUSE_RELEASE_FLOCK_UNLOCK
	// offsetMax is the kernel's OFFSET_MAX: "to end of file" in lock
	// ranges. A reply with a larger end is rejected with EIO.
	offsetMax = math.MaxInt64
)

func lockKind(flags uint32) vfs.LockKind {
	if flags&fuseLkFlock != 0 {
		return vfs.FlockLock
	}
	return vfs.PosixLock
}

// toVFSLock converts a FUSE lock request. flock(2) locks always cover the
// whole file.
func toVFSLock(owner uint64, lk *fuse.FileLock, flags uint32) vfs.Lock {
	l := vfs.Lock{
		Type:  vfs.LockType(lk.Typ),
		Start: lk.Start,
		End:   lk.End,
		Pid:   lk.Pid,
		Owner: owner,
	}
	if flags&fuseLkFlock != 0 {
		l.Start = 0
		l.End = vfs.LockEOF
	}
	if l.End >= offsetMax {
		l.End = vfs.LockEOF
	}
	return l
}

// fromVFSLock converts the stack's answer to F_GETLK into what the kernel
// accepts (ends at most OFFSET_MAX, start ≤ end).
func fromVFSLock(l vfs.Lock, out *fuse.FileLock) {
	out.Typ = uint32(l.Type)
	if l.Type == vfs.Unlock {
		out.Start, out.End, out.Pid = 0, 0, 0
		return
	}
	out.Start = min(l.Start, offsetMax)
	out.End = min(l.End, offsetMax)
	if out.End < out.Start {
		out.End = out.Start
	}
	out.Pid = l.Pid
}

func (f *fileHandle) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	r, e := f.m.stack.GetLk(f.m.opCtx(ctx), f.gfid, f.fh, lockKind(flags), toVFSLock(owner, lk, flags))
	if e != 0 {
		return errno(e)
	}
	fromVFSLock(r, out)
	return 0
}

func (f *fileHandle) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return errno(f.m.stack.SetLk(f.m.opCtx(ctx), f.gfid, f.fh, lockKind(flags), toVFSLock(owner, lk, flags), false))
}

// Setlkw may wait for ever, so unlike other operations it keeps the FUSE
// interrupt: a signal to the waiting process cancels ctx and the stack
// answers EINTR.
func (f *fileHandle) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return errno(f.m.stack.SetLk(f.m.waitCtx(ctx), f.gfid, f.fh, lockKind(flags), toVFSLock(owner, lk, flags), true))
}

// lockReleaser wraps go-fuse's bridge to release locks when files are
// closed, which the kernel leaves to remote-lock file systems:
//
//   - close(2) of any descriptor must drop the closing process's POSIX
//     locks on the file; the kernel only sends FLUSH with the lock owner
//     ("Unlock on close is handled by the flush method", fs/fuse/file.c);
//   - the last close of an open file description must drop its flock(2)
//     lock and its OFD locks; the kernel sends RELEASE, flagged
//     FUSE_RELEASE_FLOCK_UNLOCK for flock.
//
// go-fuse's fs API passes neither the lock owner of FLUSH nor the release
// flags to the node, so this is done at the raw level, by sending an unlock
// through the bridge (which lands in fileHandle.Setlk). Only owners that
// took a POSIX lock on the node are unlocked, so a plain close costs nothing.
type lockReleaser struct {
	fuse.RawFileSystem

	mu   sync.Mutex
	held map[heldLock]struct{}
}

// heldLock records that owner set a POSIX lock on node through handle fh.
type heldLock struct {
	node, fh, owner uint64
}

func newLockReleaser(raw fuse.RawFileSystem) *lockReleaser {
	return &lockReleaser{RawFileSystem: raw, held: make(map[heldLock]struct{})}
}

func (w *lockReleaser) note(in *fuse.LkIn, st fuse.Status) {
	if st != fuse.OK || in.LkFlags&fuseLkFlock != 0 || in.Lk.Typ == syscall.F_UNLCK {
		return
	}
	w.mu.Lock()
	w.held[heldLock{node: in.NodeId, fh: in.Fh, owner: in.Owner}] = struct{}{}
	w.mu.Unlock()
}

func (w *lockReleaser) SetLk(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	st := w.RawFileSystem.SetLk(cancel, in)
	w.note(in, st)
	return st
}

func (w *lockReleaser) SetLkw(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	st := w.RawFileSystem.SetLkw(cancel, in)
	w.note(in, st)
	return st
}

// take removes and reports the owners that match: by owner (FLUSH) or by
// handle (RELEASE).
func (w *lockReleaser) take(match func(heldLock) bool) []uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.held) == 0 {
		return nil
	}
	var owners []uint64
	for h := range w.held {
		if match(h) {
			delete(w.held, h)
			owners = append(owners, h.owner)
		}
	}
	return owners
}

func (w *lockReleaser) unlock(hdr fuse.InHeader, fh, owner uint64, flags uint32) {
	in := fuse.LkIn{
		InHeader: hdr,
		Fh:       fh,
		Owner:    owner,
		Lk:       fuse.FileLock{Start: 0, End: offsetMax, Typ: syscall.F_UNLCK},
		LkFlags:  flags,
	}
	// The result does not matter: the close proceeds either way, and a
	// brick that is down has dropped the lock with the connection.
	w.RawFileSystem.SetLk(nil, &in)
}

func (w *lockReleaser) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	owners := w.take(func(h heldLock) bool { return h.node == in.NodeId && h.owner == in.LockOwner })
	if len(owners) > 0 {
		w.unlock(in.InHeader, in.Fh, in.LockOwner, 0)
	}
	return w.RawFileSystem.Flush(cancel, in)
}

func (w *lockReleaser) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	if in.ReleaseFlags&fuseReleaseFlockUnlock != 0 {
		w.unlock(in.InHeader, in.Fh, in.LockOwner, fuseLkFlock)
	}
	// Owners still recorded for this handle were never flushed: OFD locks,
	// whose owner is the open file description itself.
	seen := map[uint64]bool{}
	for _, o := range w.take(func(h heldLock) bool { return h.node == in.NodeId && h.fh == in.Fh }) {
		if !seen[o] {
			seen[o] = true
			w.unlock(in.InHeader, in.Fh, o, 0)
		}
	}
	w.RawFileSystem.Release(cancel, in)
}

package vfstest

import (
	"context"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// LockCases returns the cases of RunLocks. Owners are told apart by the
// lock owner number (the caller's Client is the same for all of them).
func LockCases() []Case {
	return []Case{
		{Name: "PosixLockConflicts", Fn: testPosixLockConflicts},
		{Name: "PosixLockWait", Fn: testPosixLockWait},
		{Name: "PosixLockCancel", Fn: testPosixLockCancel},
		{Name: "FlockIndependent", Fn: testFlockIndependent},
		{Name: "InodeLk", Fn: testInodeLk},
		{Name: "InodeLkWaitCancel", Fn: testInodeLkWaitCancel},
		{Name: "EntryLk", Fn: testEntryLk},
		{Name: "EntryLkWait", Fn: testEntryLkWait},
	}
}

func lk(t vfs.LockType, start, end, owner uint64) vfs.Lock {
	return vfs.Lock{Type: t, Start: start, End: end, Owner: owner, Pid: uint32(owner)}
}

func testPosixLockConflicts(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	fh, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_RDWR)
	e.OK("open", errno)
	defer e.FS.Release(e.Ctx, f.GFID, fh)
	g := f.GFID
	e.OK("owner 1 write lock", e.FS.SetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.WriteLock, 0, 99, 1), false))
	e.OK("owner 1 relocks its own range", e.FS.SetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.WriteLock, 10, 20, 1), false))
	e.Want("owner 2 conflicting write", e.FS.SetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.WriteLock, 50, 60, 2), false), syscall.EAGAIN)
	e.Want("owner 2 conflicting read", e.FS.SetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.ReadLock, 99, 99, 2), false), syscall.EAGAIN)
	got, errno := e.FS.GetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.WriteLock, 50, 60, 2))
	e.OK("getlk", errno)
	if got.Type != vfs.WriteLock || got.Owner != 1 || got.Start > 50 || got.End < 60 {
		e.Errorf("getlk reports %+v, want owner 1's write lock", got)
	}
	got, errno = e.FS.GetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.WriteLock, 100, 200, 2))
	e.OK("getlk", errno)
	if got.Type != vfs.Unlock {
		e.Errorf("getlk of a free range reports %+v", got)
	}
	e.OK("owner 2 read beyond", e.FS.SetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.ReadLock, 100, vfs.LockEOF, 2), false))
	e.OK("owner 3 shares the read", e.FS.SetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.ReadLock, 150, 160, 3), false))
	e.Want("owner 1 write over readers", e.FS.SetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.WriteLock, 100, 100, 1), false), syscall.EAGAIN)
	e.OK("owner 1 unlocks", e.FS.SetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.Unlock, 0, vfs.LockEOF, 1), false))
	e.OK("owner 2 now writes", e.FS.SetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.WriteLock, 50, 60, 2), false))
	// Unlocking part of a range splits it.
	e.OK("owner 2 unlocks 55", e.FS.SetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.Unlock, 55, 55, 2), false))
	e.OK("owner 1 takes 55", e.FS.SetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.WriteLock, 55, 55, 1), false))
	e.Want("owner 1 takes 56", e.FS.SetLk(e.Ctx, g, fh, vfs.PosixLock, lk(vfs.WriteLock, 56, 56, 1), false), syscall.EAGAIN)
	// Locks of another file are independent.
	h := e.File(Root, "h", 0o644, nil)
	e.OK("other file", e.FS.SetLk(e.Ctx, h.GFID, 0, vfs.PosixLock, lk(vfs.WriteLock, 0, vfs.LockEOF, 9), false))
}

// granted runs f in a goroutine and returns a channel of its result.
func granted(f func() syscall.Errno) <-chan syscall.Errno {
	ch := make(chan syscall.Errno, 1)
	go func() { ch <- f() }()
	return ch
}

func (e *Env) notYet(ch <-chan syscall.Errno, what string) {
	e.Helper()
	select {
	case errno := <-ch:
		e.Fatalf("%s returned %v while the lock is held", what, errno)
	case <-time.After(50 * time.Millisecond):
	}
}

func (e *Env) within(ch <-chan syscall.Errno, what string, want syscall.Errno) {
	e.Helper()
	select {
	case errno := <-ch:
		e.Want(what, errno, want)
	case <-time.After(10 * time.Second):
		e.Fatalf("%s still waiting", what)
	}
}

func testPosixLockWait(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	g := f.GFID
	e.OK("owner 1 write", e.FS.SetLk(e.Ctx, g, 0, vfs.PosixLock, lk(vfs.WriteLock, 0, vfs.LockEOF, 1), false))
	ch := granted(func() syscall.Errno {
		return e.FS.SetLk(e.Ctx, g, 0, vfs.PosixLock, lk(vfs.WriteLock, 10, 20, 2), true)
	})
	e.notYet(ch, "blocking setlk")
	e.OK("owner 1 unlock", e.FS.SetLk(e.Ctx, g, 0, vfs.PosixLock, lk(vfs.Unlock, 0, vfs.LockEOF, 1), false))
	e.within(ch, "blocking setlk after unlock", 0)
	got, errno := e.FS.GetLk(e.Ctx, g, 0, vfs.PosixLock, lk(vfs.ReadLock, 0, vfs.LockEOF, 1))
	e.OK("getlk", errno)
	if got.Owner != 2 || got.Type != vfs.WriteLock {
		e.Errorf("getlk after the waiter was granted: %+v", got)
	}
}

func testPosixLockCancel(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	g := f.GFID
	e.OK("owner 1 write", e.FS.SetLk(e.Ctx, g, 0, vfs.PosixLock, lk(vfs.WriteLock, 0, vfs.LockEOF, 1), false))
	ctx, cancel := context.WithCancel(e.Ctx)
	ch := granted(func() syscall.Errno {
		return e.FS.SetLk(ctx, g, 0, vfs.PosixLock, lk(vfs.WriteLock, 0, 0, 2), true)
	})
	e.notYet(ch, "blocking setlk")
	cancel()
	e.within(ch, "cancelled wait", syscall.EINTR)
	// The cancelled request left nothing behind.
	e.OK("owner 1 unlock", e.FS.SetLk(e.Ctx, g, 0, vfs.PosixLock, lk(vfs.Unlock, 0, vfs.LockEOF, 1), false))
	e.OK("owner 3 write", e.FS.SetLk(e.Ctx, g, 0, vfs.PosixLock, lk(vfs.WriteLock, 0, vfs.LockEOF, 3), false))
	// A deadline ends a wait the same way.
	dctx, dcancel := context.WithTimeout(e.Ctx, 100*time.Millisecond)
	defer dcancel()
	e.Want("wait past a deadline", e.FS.SetLk(dctx, g, 0, vfs.PosixLock, lk(vfs.ReadLock, 0, 0, 4), true), syscall.EINTR)
}

func testFlockIndependent(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	g := f.GFID
	e.OK("posix write", e.FS.SetLk(e.Ctx, g, 0, vfs.PosixLock, lk(vfs.WriteLock, 0, vfs.LockEOF, 1), false))
	e.OK("flock write by another owner", e.FS.SetLk(e.Ctx, g, 0, vfs.FlockLock, lk(vfs.WriteLock, 0, vfs.LockEOF, 2), false))
	e.Want("flock conflict", e.FS.SetLk(e.Ctx, g, 0, vfs.FlockLock, lk(vfs.ReadLock, 0, vfs.LockEOF, 3), false), syscall.EAGAIN)
	e.OK("flock unlock", e.FS.SetLk(e.Ctx, g, 0, vfs.FlockLock, lk(vfs.Unlock, 0, vfs.LockEOF, 2), false))
	e.OK("flock shared", e.FS.SetLk(e.Ctx, g, 0, vfs.FlockLock, lk(vfs.ReadLock, 0, vfs.LockEOF, 3), false))
	e.OK("flock shared 2", e.FS.SetLk(e.Ctx, g, 0, vfs.FlockLock, lk(vfs.ReadLock, 0, vfs.LockEOF, 4), false))
}

func testInodeLk(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	g := f.GFID
	e.OK("d1 owner 1", e.FS.InodeLk(e.Ctx, "d1", g, lk(vfs.WriteLock, 0, vfs.LockEOF, 1), false))
	e.Want("d1 owner 2", e.FS.InodeLk(e.Ctx, "d1", g, lk(vfs.WriteLock, 0, 10, 2), false), syscall.EAGAIN)
	e.OK("d2 owner 2", e.FS.InodeLk(e.Ctx, "d2", g, lk(vfs.WriteLock, 0, vfs.LockEOF, 2), false))
	e.OK("d1 owner 1 unlock", e.FS.InodeLk(e.Ctx, "d1", g, lk(vfs.Unlock, 0, vfs.LockEOF, 1), false))
	e.OK("d1 owner 2", e.FS.InodeLk(e.Ctx, "d1", g, lk(vfs.WriteLock, 0, 10, 2), false))
	e.OK("d1 owner 3 after the range", e.FS.InodeLk(e.Ctx, "d1", g, lk(vfs.WriteLock, 11, 20, 3), false))
	e.OK("d1 readers share", e.FS.InodeLk(e.Ctx, "d1", g, lk(vfs.ReadLock, 100, 200, 4), false))
	e.OK("d1 readers share", e.FS.InodeLk(e.Ctx, "d1", g, lk(vfs.ReadLock, 100, 200, 5), false))
	// Inode locks and POSIX locks are separate namespaces.
	e.OK("posix lock under inodelks", e.FS.SetLk(e.Ctx, g, 0, vfs.PosixLock, lk(vfs.WriteLock, 0, vfs.LockEOF, 6), false))
	d := e.Mkdir(Root, "d", 0o755)
	e.OK("inodelk on a directory", e.FS.InodeLk(e.Ctx, "d1", d.GFID, lk(vfs.WriteLock, 0, vfs.LockEOF, 1), false))
}

func testInodeLkWaitCancel(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	g := f.GFID
	e.OK("owner 1", e.FS.InodeLk(e.Ctx, "dom", g, lk(vfs.WriteLock, 0, vfs.LockEOF, 1), false))
	ch := granted(func() syscall.Errno {
		return e.FS.InodeLk(e.Ctx, "dom", g, lk(vfs.WriteLock, 0, vfs.LockEOF, 2), true)
	})
	e.notYet(ch, "blocking inodelk")
	ctx, cancel := context.WithCancel(e.Ctx)
	ch3 := granted(func() syscall.Errno {
		return e.FS.InodeLk(ctx, "dom", g, lk(vfs.WriteLock, 0, vfs.LockEOF, 3), true)
	})
	e.notYet(ch3, "second blocking inodelk")
	cancel()
	e.within(ch3, "cancelled inodelk", syscall.EINTR)
	e.OK("owner 1 unlock", e.FS.InodeLk(e.Ctx, "dom", g, lk(vfs.Unlock, 0, vfs.LockEOF, 1), false))
	e.within(ch, "inodelk after unlock", 0)
}

func testEntryLk(e *Env) {
	d := e.Mkdir(Root, "d", 0o755)
	g := d.GFID
	e.OK("owner 1 a", e.FS.EntryLk(e.Ctx, "dom", g, "a", vfs.WriteLock, 1, false))
	e.Want("owner 2 a", e.FS.EntryLk(e.Ctx, "dom", g, "a", vfs.WriteLock, 2, false), syscall.EAGAIN)
	e.OK("owner 2 b", e.FS.EntryLk(e.Ctx, "dom", g, "b", vfs.WriteLock, 2, false))
	e.Want("owner 3 whole directory", e.FS.EntryLk(e.Ctx, "dom", g, "", vfs.WriteLock, 3, false), syscall.EAGAIN)
	e.OK("owner 3 a in another domain", e.FS.EntryLk(e.Ctx, "other", g, "a", vfs.WriteLock, 3, false))
	e.OK("owner 1 unlock a", e.FS.EntryLk(e.Ctx, "dom", g, "a", vfs.Unlock, 1, false))
	e.OK("owner 2 unlock b", e.FS.EntryLk(e.Ctx, "dom", g, "b", vfs.Unlock, 2, false))
	e.OK("owner 3 whole directory", e.FS.EntryLk(e.Ctx, "dom", g, "", vfs.WriteLock, 3, false))
	e.Want("owner 1 c under a whole-directory lock", e.FS.EntryLk(e.Ctx, "dom", g, "c", vfs.WriteLock, 1, false), syscall.EAGAIN)
}

func testEntryLkWait(e *Env) {
	d := e.Mkdir(Root, "d", 0o755)
	g := d.GFID
	e.OK("owner 1 a", e.FS.EntryLk(e.Ctx, "dom", g, "a", vfs.WriteLock, 1, false))
	ch := granted(func() syscall.Errno { return e.FS.EntryLk(e.Ctx, "dom", g, "a", vfs.WriteLock, 2, true) })
	e.notYet(ch, "blocking entrylk")
	e.OK("owner 1 unlock", e.FS.EntryLk(e.Ctx, "dom", g, "a", vfs.Unlock, 1, false))
	e.within(ch, "entrylk after unlock", 0)
	ctx, cancel := context.WithTimeout(e.Ctx, 100*time.Millisecond)
	defer cancel()
	e.Want("entrylk wait past a deadline", e.FS.EntryLk(ctx, "dom", g, "a", vfs.WriteLock, 3, true), syscall.EINTR)
}

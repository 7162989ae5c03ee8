// Package openbehind is cairn's performance/open-behind translator: an
// open(2) for reading only is answered at once, without a round trip to the
// bricks, and reads and fstat on it go down as anonymous-handle calls
// (handle 0). The file is opened for real the first time something needs a
// real handle (a lock, fsync, ftruncate, lseek, a write attempt) and before
// this client unlinks or renames over a name of it, so that it stays
// readable after the unlink as POSIX wants. This is what GlusterFS's
// open-behind with lazy-open does, and why: the open and the release of a
// small file read whole are two of its few round trips.
//
// What differs from a real open, as with GlusterFS: a file that another
// client deletes while it is open here (lazily) cannot be read further
// (ESTALE), where a real open would keep it alive on the bricks.
//
// Only opens for reading are lazy: O_RDONLY without O_TRUNC, O_DIRECT,
// O_SYNC or O_DSYNC, on a regular file the caller may read (checked with
// the mode bits of the attributes the child returns, which md-cache below
// usually has; anything else is opened for real and judged by the bricks).
package openbehind

import (
	"context"
	"sync"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// lazyBit marks the handles this translator gives out for lazy opens; the
// child's handles (counters) never reach it.
const lazyBit vfs.Handle = 1 << 63

// OpenBehind is the translator. It is safe for concurrent use.
type OpenBehind struct {
	vfs.Passthrough

	mu     sync.Mutex
	next   vfs.Handle
	files  map[vfs.Handle]*file
	byGFID map[vfs.GFID]map[*file]struct{}
}

// file is a lazily opened file.
type file struct {
	gfid   vfs.GFID
	flags  uint32
	caller vfs.Caller // the opener, whose identity a later real open uses

	mu   sync.Mutex
	real vfs.Handle // the child's handle once opened for real, else 0
}

// New returns an open-behind translator over child.
func New(child vfs.Translator) *OpenBehind {
	return &OpenBehind{
		Passthrough: vfs.Passthrough{Child: child},
		files:       map[vfs.Handle]*file{},
		byGFID:      map[vfs.GFID]map[*file]struct{}{},
	}
}

const notLazy = syscall.O_ACCMODE | syscall.O_TRUNC | syscall.O_DIRECT | syscall.O_SYNC | syscall.O_DSYNC | syscall.O_CREAT

// Open answers a read-only open of a readable regular file at once.
func (t *OpenBehind) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	if flags&notLazy != syscall.O_RDONLY {
		return t.Child.Open(ctx, gfid, flags)
	}
	a, e := t.Child.GetAttr(ctx, gfid, 0)
	c := vfs.CallerFrom(ctx)
	if e != 0 || a.Mode&syscall.S_IFMT != syscall.S_IFREG || !c.ModeAllows(&a, 4) {
		return t.Child.Open(ctx, gfid, flags) // the bricks judge
	}
	f := &file{gfid: gfid, flags: flags, caller: *c}
	t.mu.Lock()
	t.next++
	fh := t.next | lazyBit
	t.files[fh] = f
	set := t.byGFID[gfid]
	if set == nil {
		set = map[*file]struct{}{}
		t.byGFID[gfid] = set
	}
	set[f] = struct{}{}
	t.mu.Unlock()
	return fh, 0
}

func (t *OpenBehind) lookupFile(fh vfs.Handle) (*file, syscall.Errno) {
	t.mu.Lock()
	f := t.files[fh]
	t.mu.Unlock()
	if f == nil {
		return nil, syscall.EBADF
	}
	return f, 0
}

// anon returns the handle to read with: the real one if the file was
// opened for real, else the anonymous handle 0.
func (t *OpenBehind) anon(fh vfs.Handle) (vfs.Handle, syscall.Errno) {
	if fh&lazyBit == 0 {
		return fh, 0
	}
	f, e := t.lookupFile(fh)
	if e != 0 {
		return 0, e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.real, 0
}

// realHandle opens the file for real if it was not, and returns the
// child's handle.
func (t *OpenBehind) realHandle(ctx context.Context, fh vfs.Handle) (vfs.Handle, syscall.Errno) {
	if fh&lazyBit == 0 {
		return fh, 0
	}
	f, e := t.lookupFile(fh)
	if e != 0 {
		return 0, e
	}
	return t.openReal(ctx, f)
}

func (t *OpenBehind) openReal(ctx context.Context, f *file) (vfs.Handle, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.real != 0 {
		return f.real, 0
	}
	caller := f.caller
	h, e := t.Child.Open(vfs.WithCaller(ctx, &caller), f.gfid, f.flags)
	if e != 0 {
		return 0, e
	}
	f.real = h
	return h, 0
}

// openVictim opens for real, before this client removes a name, the lazy
// opens of the file it names.
func (t *OpenBehind) openVictim(ctx context.Context, parent vfs.GFID, name string) {
	t.mu.Lock()
	some := len(t.byGFID) > 0
	t.mu.Unlock()
	if !some {
		return
	}
	a, e := t.Child.Lookup(ctx, parent, name)
	if e != 0 {
		return
	}
	t.mu.Lock()
	var fs []*file
	for f := range t.byGFID[a.GFID] {
		fs = append(fs, f)
	}
	t.mu.Unlock()
	for _, f := range fs {
		// A failure leaves the file lazy: it becomes unreadable once
		// unlinked, as after an unlink by another client.
		t.openReal(ctx, f)
	}
}

func (t *OpenBehind) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	h, e := t.anon(fh)
	if e != 0 {
		return 0, e
	}
	return t.Child.Read(ctx, gfid, h, dest, off)
}

func (t *OpenBehind) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	h, e := t.anon(fh)
	if e != 0 {
		return vfs.Attr{}, e
	}
	return t.Child.GetAttr(ctx, gfid, h)
}

func (t *OpenBehind) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	h, e := t.realHandle(ctx, fh)
	if e != 0 {
		return vfs.Attr{}, e
	}
	return t.Child.SetAttr(ctx, gfid, h, in)
}

func (t *OpenBehind) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	h, e := t.realHandle(ctx, fh)
	if e != 0 {
		return 0, e
	}
	return t.Child.Write(ctx, gfid, h, data, off)
}

// Flush of a file never opened for real has nothing to flush and holds no
// POSIX locks (taking one opens the file for real).
func (t *OpenBehind) Flush(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	h, e := t.anon(fh)
	if e != 0 || h == 0 {
		return e
	}
	return t.Child.Flush(ctx, gfid, h)
}

func (t *OpenBehind) Fsync(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	h, e := t.realHandle(ctx, fh)
	if e != 0 {
		return e
	}
	return t.Child.Fsync(ctx, gfid, h, datasync)
}

func (t *OpenBehind) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	if fh&lazyBit == 0 {
		return t.Child.Release(ctx, gfid, fh)
	}
	t.mu.Lock()
	f := t.files[fh]
	delete(t.files, fh)
	if f != nil {
		if set := t.byGFID[f.gfid]; set != nil {
			delete(set, f)
			if len(set) == 0 {
				delete(t.byGFID, f.gfid)
			}
		}
	}
	t.mu.Unlock()
	if f == nil {
		return syscall.EBADF
	}
	f.mu.Lock()
	h := f.real
	f.mu.Unlock()
	if h == 0 {
		return 0
	}
	return t.Child.Release(ctx, gfid, h)
}

func (t *OpenBehind) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	h, e := t.realHandle(ctx, fh)
	if e != 0 {
		return e
	}
	return t.Child.Fallocate(ctx, gfid, h, mode, off, length)
}

func (t *OpenBehind) Lseek(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, off int64, whence int) (int64, syscall.Errno) {
	h, e := t.realHandle(ctx, fh)
	if e != 0 {
		return 0, e
	}
	return t.Child.Lseek(ctx, gfid, h, off, whence)
}

func (t *OpenBehind) GetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock) (vfs.Lock, syscall.Errno) {
	h, e := t.realHandle(ctx, fh)
	if e != 0 {
		return vfs.Lock{}, e
	}
	return t.Child.GetLk(ctx, gfid, h, kind, lk)
}

func (t *OpenBehind) SetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock, wait bool) syscall.Errno {
	h, e := t.realHandle(ctx, fh)
	if e != 0 {
		return e
	}
	return t.Child.SetLk(ctx, gfid, h, kind, lk, wait)
}

func (t *OpenBehind) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	t.openVictim(ctx, parent, name)
	return t.Child.Unlink(ctx, parent, name)
}

func (t *OpenBehind) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	if flags&vfs.RenameExchange == 0 {
		t.openVictim(ctx, newParent, newName)
	}
	return t.Child.Rename(ctx, oldParent, oldName, newParent, newName, flags)
}

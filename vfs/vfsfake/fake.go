// Package vfsfake provides Fake, a vfs.Translator for the unit tests of
// other translators. A Fake records every call it receives, can fail chosen
// operations with an errno (always, or for the next n calls), can run a
// hook before an operation (to block it, count concurrency or fail it
// conditionally), and otherwise forwards to an optional child — typically
// vfs/memfs, which makes the fake a working in-memory brick. Without a
// child, operations that reach it return ENOSYS.
//
// A Fake is safe for concurrent use. Recorded calls keep growing until
// Reset; tests that make millions of calls should Reset now and then.
package vfsfake

import (
	"context"
	"slices"
	"sync"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Op names an operation of vfs.Translator; the values are the method names.
type Op string

// The operations of vfs.Translator.
const (
	Lookup      Op = "Lookup"
	GetAttr     Op = "GetAttr"
	SetAttr     Op = "SetAttr"
	Create      Op = "Create"
	Mknod       Op = "Mknod"
	Mkdir       Op = "Mkdir"
	Symlink     Op = "Symlink"
	Readlink    Op = "Readlink"
	Link        Op = "Link"
	Unlink      Op = "Unlink"
	Rmdir       Op = "Rmdir"
	Rename      Op = "Rename"
	Open        Op = "Open"
	Read        Op = "Read"
	Write       Op = "Write"
	Flush       Op = "Flush"
	Fsync       Op = "Fsync"
	Release     Op = "Release"
	Fallocate   Op = "Fallocate"
	Lseek       Op = "Lseek"
	OpenDir     Op = "OpenDir"
	ReadDir     Op = "ReadDir"
	ReleaseDir  Op = "ReleaseDir"
	FsyncDir    Op = "FsyncDir"
	StatFS      Op = "StatFS"
	GetXattr    Op = "GetXattr"
	SetXattr    Op = "SetXattr"
	ListXattr   Op = "ListXattr"
	RemoveXattr Op = "RemoveXattr"
	XattrOp     Op = "XattrOp"
	GetLk       Op = "GetLk"
	SetLk       Op = "SetLk"
	InodeLk     Op = "InodeLk"
	EntryLk     Op = "EntryLk"
)

// AllOps lists every operation, in interface order.
var AllOps = []Op{Lookup, GetAttr, SetAttr, Create, Mknod, Mkdir, Symlink, Readlink,
	Link, Unlink, Rmdir, Rename, Open, Read, Write, Flush, Fsync, Release, Fallocate,
	Lseek, OpenDir, ReadDir, ReleaseDir, FsyncDir, StatFS, GetXattr, SetXattr,
	ListXattr, RemoveXattr, XattrOp, GetLk, SetLk, InodeLk, EntryLk}

// Call records one operation with its arguments. Fields an operation does
// not have are zero.
type Call struct {
	Op Op
	// GFID is the file operated on, or the parent directory of a
	// namespace operation (Lookup, Create, Unlink, Rename's old parent,
	// EntryLk's directory ...). Link records the linked file here.
	GFID vfs.GFID
	// Name is the entry name of a namespace operation, the xattr name,
	// the symlink target's name (Symlink: Name is the new entry, Target
	// the target) or the EntryLk name.
	Name      string
	Target    string
	NewParent vfs.GFID // Rename, Link
	NewName   string   // Rename, Link
	Handle    vfs.Handle
	Off       int64  // Read, Write, Fallocate, Lseek
	Size      int    // Read: len(dest); Write: len(data); ReadDir: max
	Data      []byte // a copy of Write data or SetXattr value
	Flags     uint32 // open, rename, setxattr, fallocate mode, whence
	Cookie    uint64 // ReadDir
	Plus      bool   // ReadDir
	Sync      bool   // Fsync/FsyncDir datasync
	SetAttr   *vfs.SetAttrIn
	CreateIn  *vfs.CreateIn
	XattrOp   vfs.XattrOpKind
	Operands  map[string][]byte
	Kind      vfs.LockKind
	Lock      vfs.Lock
	Domain    string
	Wait      bool
	// Caller is the identity the context carried.
	Caller vfs.Caller
}

// Hook runs before an operation is forwarded, with the recorded call. A
// non-zero result fails the operation with that errno. A hook may block,
// and should honour ctx when it does.
type Hook func(ctx context.Context, c *Call) syscall.Errno

// Fake is the recording, failing, forwarding translator.
type Fake struct {
	child vfs.Translator

	mu     sync.Mutex
	calls  []Call
	counts map[Op]int
	faults map[Op]*fault
	hooks  map[Op]Hook
}

type fault struct {
	errno syscall.Errno
	left  int // remaining failures; <0 for forever
}

var _ vfs.Translator = (*Fake)(nil)

// New returns a Fake forwarding to child, which may be nil.
func New(child vfs.Translator) *Fake {
	return &Fake{
		child:  child,
		counts: make(map[Op]int),
		faults: make(map[Op]*fault),
		hooks:  make(map[Op]Hook),
	}
}

// Fail makes every later call of op fail with errno (0 stops failing).
func (f *Fake) Fail(op Op, errno syscall.Errno) {
	f.FailN(op, errno, -1)
}

// FailN makes the next n calls of op fail with errno; n < 0 means all.
func (f *Fake) FailN(op Op, errno syscall.Errno, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errno == 0 || n == 0 {
		delete(f.faults, op)
		return
	}
	f.faults[op] = &fault{errno: errno, left: n}
}

// SetHook installs h before op, replacing any earlier hook; op "" installs
// it before every operation (after the operation's own hook). A nil h
// removes the hook.
func (f *Fake) SetHook(op Op, h Hook) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h == nil {
		delete(f.hooks, op)
		return
	}
	f.hooks[op] = h
}

// Calls returns a copy of the calls recorded so far, in order of arrival.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// CallsOf returns the recorded calls of op.
func (f *Fake) CallsOf(op Op) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Count returns how many times op was called.
func (f *Fake) Count(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[op]
}

// Total returns the number of calls of every operation.
func (f *Fake) Total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// Reset forgets the recorded calls (faults and hooks stay).
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
	clear(f.counts)
}

// begin records c and decides its fate: a non-zero errno fails the call;
// otherwise it goes to the child (ENOSYS without one).
func (f *Fake) begin(ctx context.Context, c Call) syscall.Errno {
	c.Caller = *vfs.CallerFrom(ctx)
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.counts[c.Op]++
	var errno syscall.Errno
	if ft := f.faults[c.Op]; ft != nil {
		errno = ft.errno
		if ft.left > 0 {
			if ft.left--; ft.left == 0 {
				delete(f.faults, c.Op)
			}
		}
	}
	own, all := f.hooks[c.Op], f.hooks[""]
	f.mu.Unlock()
	if errno != 0 {
		return errno
	}
	for _, h := range []Hook{own, all} {
		if h != nil {
			if e := h(ctx, &c); e != 0 {
				return e
			}
		}
	}
	if f.child == nil {
		return syscall.ENOSYS
	}
	return 0
}

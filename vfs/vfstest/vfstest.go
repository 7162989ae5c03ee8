// Package vfstest is the conformance suite that every cairn translator
// stack must pass (rclone's vfstest, go-fuse's posixtest): bare
// storage/posix, client→server→posix, replicate over two bricks, the full
// default stack.
//
//	func TestConformance(t *testing.T) {
//		vfstest.Run(t, func(t *testing.T) vfs.Translator { return newStack(t) })
//	}
//
// newStack must return a fresh, empty volume whose root is vfs.RootGFID,
// and register its own teardown with t.Cleanup; it is called once per
// case, and cases run in parallel with each other. Operations run as root
// (no caller in the context), or as Options.Caller: then the root directory
// is first made world-writable (sticky) and every case acts as that user,
// with the root-only parts (device nodes, chown, trusted.* xattrs) done or
// skipped accordingly. Permission cases always set up as root and act as
// uids 1000 and 1001 through vfs.WithCaller.
//
// RunLocks is a separate suite for stacks with a features/locks layer.
//
// Stacks with a known, documented gap pass Options.Skip to RunWith, naming
// the case and citing the limitation, rather than failing silently.
//
// Errno expectations follow Linux. Where Linux itself allows two answers
// (a vanished GFID is ENOENT or ESTALE; sticky-bit refusals are EPERM or
// EACCES on some filesystems) the suite accepts both.
package vfstest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// Options adjusts the suite for a stack.
type Options struct {
	// Skip maps case names to the reason they are skipped for this stack.
	Skip map[string]string
	// Serial runs the cases one after the other (for stacks that share
	// state between newStack calls).
	Serial bool
	// Caller, when set, is the identity the cases act as instead of root.
	Caller *vfs.Caller
}

// Case is one conformance case.
type Case struct {
	Name string
	Fn   func(e *Env)
	// AsRoot cases choose their own callers; Options.Caller does not apply.
	AsRoot bool
}

// Run runs every case of the conformance suite.
func Run(t *testing.T, newStack func(t *testing.T) vfs.Translator) {
	RunWith(t, newStack, Options{})
}

// RunWith runs the suite with options.
func RunWith(t *testing.T, newStack func(t *testing.T) vfs.Translator, opt Options) {
	runCases(t, Cases(), newStack, opt)
}

// RunLocks runs the lock cases (SetLk, GetLk, InodeLk, EntryLk, waits and
// cancellation) for stacks that include features/locks.
func RunLocks(t *testing.T, newStack func(t *testing.T) vfs.Translator) {
	runCases(t, LockCases(), newStack, Options{})
}

func runCases(t *testing.T, cases []Case, newStack func(t *testing.T) vfs.Translator, opt Options) {
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if why, ok := opt.Skip[c.Name]; ok {
				t.Skipf("skipped for this stack: %s", why)
			}
			if !opt.Serial {
				t.Parallel()
			}
			e := &Env{T: t, FS: newStack(t), Ctx: context.Background(), Admin: context.Background()}
			if opt.Caller != nil && !c.AsRoot {
				e.Caller = opt.Caller
				e.Ctx = vfs.WithCaller(e.Admin, opt.Caller)
				_, errno := e.FS.SetAttr(e.Admin, Root, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o1777})
				e.OK("chmod 1777 of the root", errno)
			}
			c.Fn(e)
		})
	}
}

// Env is what a case works with.
type Env struct {
	*testing.T
	FS vfs.Translator
	// Ctx carries the caller the case acts as (root by default).
	Ctx context.Context
	// Admin is always root, for setup and for root-only operations.
	Admin context.Context
	// Caller is the identity of Ctx, nil for root.
	Caller *vfs.Caller
}

// IsRoot reports whether the case acts as root.
func (e *Env) IsRoot() bool { return e.Caller == nil || e.Caller.IsRoot() }

// UID is the uid the case acts as.
func (e *Env) UID() uint32 {
	if e.Caller == nil {
		return 0
	}
	return e.Caller.UID
}

// GID is the primary gid the case acts as.
func (e *Env) GID() uint32 {
	if e.Caller == nil {
		return 0
	}
	return e.Caller.GID
}

// NeedRoot skips the rest of a case that only root can do.
func (e *Env) NeedRoot() {
	e.Helper()
	if !e.IsRoot() {
		e.Skip("needs a root caller")
	}
}

// Root is the volume root.
var Root = vfs.RootGFID

// As returns a context whose caller is uid/gid with supplementary groups.
func (e *Env) As(uid, gid uint32, groups ...uint32) context.Context {
	return vfs.WithCaller(e.Ctx, &vfs.Caller{UID: uid, GID: gid, Groups: groups, Pid: 4242, Client: "vfstest"})
}

// Want fails unless got is one of want.
func (e *Env) Want(what string, got syscall.Errno, want ...syscall.Errno) {
	e.Helper()
	if !slices.Contains(want, got) {
		e.Errorf("%s: errno %d (%v), want %v", what, int(got), got, errnoList(want))
	}
}

// OK fails the case now if got is not 0.
func (e *Env) OK(what string, got syscall.Errno) {
	e.Helper()
	if got != 0 {
		e.Fatalf("%s: %v (errno %d)", what, got, int(got))
	}
}

func errnoList(es []syscall.Errno) string {
	var b bytes.Buffer
	for i, x := range es {
		if i > 0 {
			b.WriteString(" or ")
		}
		if x == 0 {
			b.WriteString("success")
		} else {
			fmt.Fprintf(&b, "%v", x)
		}
	}
	return b.String()
}

// Mkdir makes a directory as root.
func (e *Env) Mkdir(parent vfs.GFID, name string, mode uint32) vfs.Attr {
	e.Helper()
	a, errno := e.FS.Mkdir(e.Ctx, parent, name, &vfs.CreateIn{Mode: mode})
	e.OK("mkdir "+name, errno)
	return a
}

// File creates a file as root with the given content.
func (e *Env) File(parent vfs.GFID, name string, mode uint32, content []byte) vfs.Attr {
	e.Helper()
	return e.FileAs(e.Ctx, parent, name, mode, content)
}

// FileAs creates a file with the caller of ctx.
func (e *Env) FileAs(ctx context.Context, parent vfs.GFID, name string, mode uint32, content []byte) vfs.Attr {
	e.Helper()
	a, fh, errno := e.FS.Create(ctx, parent, name, &vfs.CreateIn{Mode: mode, Flags: syscall.O_RDWR | syscall.O_EXCL})
	e.OK("create "+name, errno)
	if len(content) > 0 {
		n, errno := e.FS.Write(ctx, a.GFID, fh, content, 0)
		e.OK("write "+name, errno)
		if n != len(content) {
			e.Fatalf("write %s: %d of %d bytes", name, n, len(content))
		}
		a.Size = uint64(n)
	}
	e.OK("release "+name, e.FS.Release(ctx, a.GFID, fh))
	return a
}

// Lookup looks name up as root and fails the case if it is missing.
func (e *Env) Lookup(parent vfs.GFID, name string) vfs.Attr {
	e.Helper()
	a, errno := e.FS.Lookup(e.Ctx, parent, name)
	e.OK("lookup "+name, errno)
	return a
}

// Gone fails unless name is absent from parent.
func (e *Env) Gone(parent vfs.GFID, name string) {
	e.Helper()
	_, errno := e.FS.Lookup(e.Ctx, parent, name)
	e.Want("lookup of removed "+name, errno, syscall.ENOENT)
}

// Stale fails unless g no longer resolves.
func (e *Env) Stale(g vfs.GFID) {
	e.Helper()
	_, errno := e.FS.GetAttr(e.Ctx, g, 0)
	e.Want("getattr of a removed gfid", errno, syscall.ESTALE, syscall.ENOENT)
}

// GetAttr stats g as root.
func (e *Env) GetAttr(g vfs.GFID) vfs.Attr {
	e.Helper()
	a, errno := e.FS.GetAttr(e.Ctx, g, 0)
	e.OK("getattr", errno)
	return a
}

// ReadAll reads a whole file through an anonymous handle.
func (e *Env) ReadAll(g vfs.GFID) []byte {
	e.Helper()
	var out []byte
	buf := make([]byte, 256<<10)
	for {
		n, errno := e.FS.Read(e.Ctx, g, 0, buf, int64(len(out)))
		e.OK("read", errno)
		if n == 0 {
			return out
		}
		out = append(out, buf[:n]...)
	}
}

// List reads a whole directory as root, in pages of max entries.
func (e *Env) List(dir vfs.GFID, max int, plus bool) []vfs.DirEntry {
	e.Helper()
	fh, errno := e.FS.OpenDir(e.Ctx, dir)
	e.OK("opendir", errno)
	defer e.FS.ReleaseDir(e.Ctx, dir, fh)
	var out []vfs.DirEntry
	var cookie uint64
	for i := 0; ; i++ {
		ents, eof, errno := e.FS.ReadDir(e.Ctx, dir, fh, cookie, max, plus)
		e.OK("readdir", errno)
		out = append(out, ents...)
		if len(ents) > 0 {
			cookie = ents[len(ents)-1].Cookie
		}
		if eof {
			return out
		}
		if len(ents) == 0 || i > 1<<20 {
			e.Fatalf("readdir: no progress and no eof after %d entries", len(out))
		}
	}
}

// Names returns the sorted names of entries.
func Names(ents []vfs.DirEntry) []string {
	var out []string
	for _, d := range ents {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return out
}

func isDir(a vfs.Attr) bool { return a.IsDir() }

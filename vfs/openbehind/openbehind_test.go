package openbehind

import (
	"context"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfsfake"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// TestConformance: a single client sees no difference with open-behind in
// the stack, as root and as an ordinary user.
func TestConformance(t *testing.T) {
	newStack := func(t *testing.T) vfs.Translator { return New(locks.New(memfs.New(memfs.Config{}))) }
	t.Run("root", func(t *testing.T) { vfstest.Run(t, newStack) })
	t.Run("user", func(t *testing.T) {
		vfstest.RunWith(t, newStack, vfstest.Options{
			Caller: &vfs.Caller{UID: 1000, GID: 1000, Client: "user"},
			Skip: map[string]string{
				"XattrOp":           "memfs refuses trusted.* XattrOp to non-root callers (fails without open-behind too)",
				"XattrOpConcurrent": "memfs refuses trusted.* XattrOp to non-root callers (fails without open-behind too)",
			},
		})
	})
}

func setup(t *testing.T) (*OpenBehind, *vfsfake.Fake, vfs.GFID) {
	t.Helper()
	fake := vfsfake.New(locks.New(memfs.New(memfs.Config{})))
	ob := New(fake)
	ctx := context.Background()
	a, fh, e := ob.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	if _, e := ob.Write(ctx, a.GFID, fh, []byte("hello"), 0); e != 0 {
		t.Fatal(e)
	}
	ob.Release(ctx, a.GFID, fh)
	return ob, fake, a.GFID
}

// TestLazyRead: a read-only open, its reads, fstat, flush and release cost
// no open or release below; reads use the anonymous handle.
func TestLazyRead(t *testing.T) {
	ob, fake, g := setup(t)
	ctx := context.Background()
	opens, releases := fake.Count(vfsfake.Open), fake.Count(vfsfake.Release)
	fh, e := ob.Open(ctx, g, syscall.O_RDONLY)
	if e != 0 {
		t.Fatal(e)
	}
	buf := make([]byte, 16)
	if n, e := ob.Read(ctx, g, fh, buf, 0); e != 0 || string(buf[:n]) != "hello" {
		t.Fatalf("read %q %v", buf[:n], e)
	}
	if a, e := ob.GetAttr(ctx, g, fh); e != 0 || a.Size != 5 {
		t.Fatalf("fstat %+v %v", a, e)
	}
	if e := ob.Flush(ctx, g, fh); e != 0 {
		t.Fatal(e)
	}
	if e := ob.Release(ctx, g, fh); e != 0 {
		t.Fatal(e)
	}
	if n := fake.Count(vfsfake.Open) - opens; n != 0 {
		t.Errorf("%d opens reached the child", n)
	}
	if n := fake.Count(vfsfake.Release) - releases; n != 0 {
		t.Errorf("%d releases reached the child", n)
	}
	for _, c := range fake.CallsOf(vfsfake.Read) {
		if c.Handle != 0 {
			t.Errorf("read with handle %d, want the anonymous handle", c.Handle)
		}
	}
	if e := ob.Release(ctx, g, fh); e != syscall.EBADF {
		t.Errorf("second release: %v, want EBADF", e)
	}
}

// TestRealOpenWhenNeeded: a lock opens the file for real (once), and the
// release then reaches the child; writes and truncation through a
// read-only handle fail as without open-behind.
func TestRealOpenWhenNeeded(t *testing.T) {
	ob, fake, g := setup(t)
	ctx := context.Background()
	opens := fake.Count(vfsfake.Open)
	fh, e := ob.Open(ctx, g, syscall.O_RDONLY)
	if e != 0 {
		t.Fatal(e)
	}
	lk := vfs.Lock{Type: vfs.ReadLock, End: vfs.LockEOF, Owner: 7, Pid: 1}
	if e := ob.SetLk(ctx, g, fh, vfs.PosixLock, lk, false); e != 0 {
		t.Fatal(e)
	}
	if _, e := ob.GetLk(ctx, g, fh, vfs.PosixLock, lk); e != 0 {
		t.Fatal(e)
	}
	if n := fake.Count(vfsfake.Open) - opens; n != 1 {
		t.Errorf("%d real opens, want 1", n)
	}
	if _, e := ob.Write(ctx, g, fh, []byte("x"), 0); e != syscall.EBADF {
		t.Errorf("write through a read-only handle: %v, want EBADF", e)
	}
	releases := fake.Count(vfsfake.Release)
	if e := ob.Release(ctx, g, fh); e != 0 {
		t.Fatal(e)
	}
	if n := fake.Count(vfsfake.Release) - releases; n != 1 {
		t.Errorf("%d releases reached the child, want 1", n)
	}
}

// TestUnlinkWhileLazilyOpen: unlinking (or renaming over) the last name of
// a lazily opened file opens it for real first, so it stays readable until
// released, as POSIX wants.
func TestUnlinkWhileLazilyOpen(t *testing.T) {
	for _, how := range []string{"unlink", "rename-over"} {
		t.Run(how, func(t *testing.T) {
			ob, _, g := setup(t)
			ctx := context.Background()
			fh, e := ob.Open(ctx, g, syscall.O_RDONLY)
			if e != 0 {
				t.Fatal(e)
			}
			switch how {
			case "unlink":
				e = ob.Unlink(ctx, vfs.RootGFID, "f")
			default:
				a, ofh, e2 := ob.Create(ctx, vfs.RootGFID, "g", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
				if e2 != 0 {
					t.Fatal(e2)
				}
				ob.Release(ctx, a.GFID, ofh)
				e = ob.Rename(ctx, vfs.RootGFID, "g", vfs.RootGFID, "f", 0)
			}
			if e != 0 {
				t.Fatal(e)
			}
			buf := make([]byte, 16)
			if n, e := ob.Read(ctx, g, fh, buf, 0); e != 0 || string(buf[:n]) != "hello" {
				t.Fatalf("read after %s: %q %v", how, buf[:n], e)
			}
			if e := ob.Release(ctx, g, fh); e != 0 {
				t.Fatal(e)
			}
		})
	}
}

// TestNotLazy: writable, truncating and O_DIRECT opens, opens of
// directories and of files the caller may not read go to the child.
func TestNotLazy(t *testing.T) {
	ob, fake, g := setup(t)
	ctx := context.Background()
	if e := ob.Child.(*vfsfake.Fake); e == nil {
		t.Fatal("child is not the fake")
	}
	for _, fl := range []uint32{syscall.O_RDWR, syscall.O_WRONLY, syscall.O_RDONLY | syscall.O_DIRECT, syscall.O_RDONLY | syscall.O_SYNC} {
		opens := fake.Count(vfsfake.Open)
		fh, e := ob.Open(ctx, g, fl)
		if e != 0 {
			t.Fatalf("open %#x: %v", fl, e)
		}
		if fh&lazyBit != 0 || fake.Count(vfsfake.Open) != opens+1 {
			t.Errorf("open %#x was lazy", fl)
		}
		ob.Release(ctx, g, fh)
	}
	if _, e := ob.SetAttr(ctx, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600}); e != 0 {
		t.Fatal(e)
	}
	user := vfs.WithCaller(ctx, &vfs.Caller{UID: 1000, GID: 1000, Client: "u"})
	if fh, e := ob.Open(user, g, syscall.O_RDONLY); e != syscall.EACCES {
		t.Errorf("open of a 0600 root file by a user: %v (handle %#x), want EACCES", e, fh)
	}
}

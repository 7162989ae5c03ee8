package vfsfake

import (
	"context"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// everyOp calls every method of t once and returns the errnos in AllOps
// order.
func everyOp(ctx context.Context, t vfs.Translator) []syscall.Errno {
	g := vfs.GFID{9}
	var out []syscall.Errno
	add := func(e syscall.Errno) { out = append(out, e) }
	_, e := t.Lookup(ctx, g, "n")
	add(e)
	_, e = t.GetAttr(ctx, g, 1)
	add(e)
	_, e = t.SetAttr(ctx, g, 1, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 3})
	add(e)
	_, _, e = t.Create(ctx, g, "n", &vfs.CreateIn{Mode: 0o644})
	add(e)
	_, e = t.Mknod(ctx, g, "n", &vfs.CreateIn{})
	add(e)
	_, e = t.Mkdir(ctx, g, "n", &vfs.CreateIn{})
	add(e)
	_, e = t.Symlink(ctx, g, "n", "target", &vfs.CreateIn{})
	add(e)
	_, e = t.Readlink(ctx, g)
	add(e)
	_, e = t.Link(ctx, g, g, "n2")
	add(e)
	add(t.Unlink(ctx, g, "n"))
	add(t.Rmdir(ctx, g, "n"))
	add(t.Rename(ctx, g, "a", g, "b", vfs.RenameNoReplace))
	_, e = t.Open(ctx, g, 0)
	add(e)
	_, e = t.Read(ctx, g, 1, make([]byte, 10), 5)
	add(e)
	_, e = t.Write(ctx, g, 1, []byte("abc"), 7)
	add(e)
	add(t.Flush(ctx, g, 1))
	add(t.Fsync(ctx, g, 1, true))
	add(t.Release(ctx, g, 1))
	add(t.Fallocate(ctx, g, 1, 0, 0, 10))
	_, e = t.Lseek(ctx, g, 1, 0, 3)
	add(e)
	_, e = t.OpenDir(ctx, g)
	add(e)
	_, _, e = t.ReadDir(ctx, g, 1, 0, 10, true)
	add(e)
	add(t.ReleaseDir(ctx, g, 1))
	add(t.FsyncDir(ctx, g, 1, false))
	_, e = t.StatFS(ctx, g)
	add(e)
	_, e = t.GetXattr(ctx, g, "user.x")
	add(e)
	add(t.SetXattr(ctx, g, "user.x", []byte("v"), 0))
	_, e = t.ListXattr(ctx, g)
	add(e)
	add(t.RemoveXattr(ctx, g, "user.x"))
	_, e = t.XattrOp(ctx, g, vfs.XattrAddArray32, map[string][]byte{"x": {0, 0, 0, 1}})
	add(e)
	_, e = t.GetLk(ctx, g, 1, vfs.PosixLock, vfs.Lock{Type: vfs.ReadLock})
	add(e)
	add(t.SetLk(ctx, g, 1, vfs.PosixLock, vfs.Lock{Type: vfs.ReadLock}, true))
	add(t.InodeLk(ctx, "d", g, vfs.Lock{Type: vfs.WriteLock}, false))
	add(t.EntryLk(ctx, "d", g, "n", vfs.WriteLock, 5, false))
	return out
}

func TestRecordsEveryOp(t *testing.T) {
	f := New(nil)
	ctx := vfs.WithCaller(context.Background(), &vfs.Caller{UID: 7, Client: "c"})
	errs := everyOp(ctx, f)
	calls := f.Calls()
	if len(calls) != len(AllOps) || len(errs) != len(AllOps) {
		t.Fatalf("%d calls, %d results, want %d", len(calls), len(errs), len(AllOps))
	}
	for i, op := range AllOps {
		if calls[i].Op != op {
			t.Errorf("call %d is %s, want %s", i, calls[i].Op, op)
		}
		if errs[i] != syscall.ENOSYS {
			t.Errorf("%s without child: %v, want ENOSYS", op, errs[i])
		}
		if calls[i].Caller.UID != 7 || calls[i].Caller.Client != "c" {
			t.Errorf("%s: caller %+v", op, calls[i].Caller)
		}
		if f.Count(op) != 1 {
			t.Errorf("Count(%s) = %d", op, f.Count(op))
		}
	}
	w := f.CallsOf(Write)[0]
	if string(w.Data) != "abc" || w.Off != 7 || w.Size != 3 {
		t.Errorf("write recorded as %+v", w)
	}
	f.Reset()
	if f.Total() != 0 {
		t.Errorf("Total after Reset = %d", f.Total())
	}
}

// TestForwards: through a Fake, calls reach the child (another Fake here).
func TestForwards(t *testing.T) {
	child := New(nil)
	f := New(child)
	everyOp(context.Background(), f)
	for _, op := range AllOps {
		if child.Count(op) != 1 {
			t.Errorf("%s reached the child %d times", op, child.Count(op))
		}
	}
}

func TestFaultsAndHooks(t *testing.T) {
	child := New(nil)
	child.SetHook("", func(context.Context, *Call) syscall.Errno { return 0 })
	f := New(child)
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func()
		want  []syscall.Errno // results of successive Unlink calls
	}{
		{"child answers", func() {}, []syscall.Errno{syscall.ENOSYS}},
		{"fail always", func() { f.Fail(Unlink, syscall.EACCES) }, []syscall.Errno{syscall.EACCES, syscall.EACCES}},
		{"fail twice", func() { f.FailN(Unlink, syscall.EIO, 2) }, []syscall.Errno{syscall.EIO, syscall.EIO, syscall.ENOSYS}},
		{"fail cleared", func() { f.Fail(Unlink, syscall.EIO); f.Fail(Unlink, 0) }, []syscall.Errno{syscall.ENOSYS}},
		{"hook", func() {
			f.SetHook(Unlink, func(_ context.Context, c *Call) syscall.Errno {
				if c.Name == "x" {
					return syscall.EBUSY
				}
				return 0
			})
		}, []syscall.Errno{syscall.EBUSY}},
		{"all-ops hook", func() {
			f.SetHook(Unlink, nil)
			f.SetHook("", func(context.Context, *Call) syscall.Errno { return syscall.EROFS })
		}, []syscall.Errno{syscall.EROFS}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			for i, want := range tc.want {
				if got := f.Unlink(ctx, vfs.RootGFID, "x"); got != want {
					t.Errorf("call %d: %v, want %v", i, got, want)
				}
			}
			f.Fail(Unlink, 0)
			f.SetHook(Unlink, nil)
			f.SetHook("", nil)
		})
	}
}

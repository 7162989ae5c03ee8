package vfsfake

import (
	"context"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

func TestRecordsEveryOp(t *testing.T) {
	f := New(nil)
	ctx := vfs.WithCaller(context.Background(), &vfs.Caller{UID: 7, Client: "c"})
	errs := Exercise(ctx, f)
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
	Exercise(context.Background(), f)
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

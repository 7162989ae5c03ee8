package locks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

const eof = vfs.LockEOF

var (
	fileA = vfs.GFID{1}
	fileB = vfs.GFID{2}
	dirA  = vfs.GFID{3}
)

func ctxOf(client string) context.Context {
	return vfs.WithCaller(context.Background(), &vfs.Caller{Client: client})
}

// dump renders the held locks of a table, sorted, as "client/owner:T[start-end]".
func dump(l *Locks, k key) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tables[k]
	if t == nil {
		return ""
	}
	var s []string
	for _, h := range t.held {
		end := fmt.Sprint(h.end)
		if h.end == eof {
			end = "EOF"
		}
		what := fmt.Sprintf("%d-%s", h.start, end)
		if k.space == spaceEntry {
			what = h.name
		}
		s = append(s, fmt.Sprintf("%s/%d:%s[%s]", h.owner.client, h.owner.id, strings.ToUpper(h.typ.String()[:1]), what))
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

type step struct {
	client string
	owner  uint64
	typ    vfs.LockType
	start  uint64
	end    uint64
	want   syscall.Errno
}

func TestPosixSetLk(t *testing.T) {
	R, W, U := vfs.ReadLock, vfs.WriteLock, vfs.Unlock
	tests := []struct {
		name  string
		steps []step
		held  string
	}{
		{"read read", []step{{"a", 1, R, 0, 9, 0}, {"b", 1, R, 5, 15, 0}}, "a/1:R[0-9] b/1:R[5-15]"},
		{"read blocks write", []step{{"a", 1, R, 0, 9, 0}, {"b", 1, W, 9, 15, syscall.EAGAIN}}, "a/1:R[0-9]"},
		{"write blocks read", []step{{"a", 1, W, 0, 9, 0}, {"a", 2, R, 0, 0, syscall.EAGAIN}}, "a/1:W[0-9]"},
		{"disjoint writes", []step{{"a", 1, W, 0, 9, 0}, {"b", 2, W, 10, eof, 0}}, "a/1:W[0-9] b/2:W[10-EOF]"},
		{"same owner id, other client", []step{{"a", 1, W, 0, 9, 0}, {"b", 1, W, 0, 9, syscall.EAGAIN}}, "a/1:W[0-9]"},
		{"downgrade", []step{{"a", 1, W, 0, 9, 0}, {"a", 1, R, 0, 9, 0}, {"b", 1, R, 0, 9, 0}}, "a/1:R[0-9] b/1:R[0-9]"},
		{"upgrade blocked", []step{{"a", 1, R, 0, 9, 0}, {"b", 1, R, 5, 5, 0}, {"a", 1, W, 0, 9, syscall.EAGAIN}}, "a/1:R[0-9] b/1:R[5-5]"},
		{"partial upgrade", []step{{"a", 1, R, 0, 9, 0}, {"b", 1, R, 5, 5, 0}, {"a", 1, W, 0, 4, 0}}, "a/1:R[5-9] a/1:W[0-4] b/1:R[5-5]"},
		{"unlock splits", []step{{"a", 1, W, 0, 99, 0}, {"a", 1, U, 40, 59, 0}, {"b", 1, W, 40, 59, 0}},
			"a/1:W[0-39] a/1:W[60-99] b/1:W[40-59]"},
		{"type change splits", []step{{"a", 1, W, 0, 99, 0}, {"a", 1, R, 40, 59, 0}}, "a/1:R[40-59] a/1:W[0-39] a/1:W[60-99]"},
		{"merge adjacent", []step{{"a", 1, R, 0, 9, 0}, {"a", 1, R, 10, 19, 0}}, "a/1:R[0-19]"},
		{"merge overlapping", []step{{"a", 1, R, 0, 9, 0}, {"a", 1, R, 5, 19, 0}}, "a/1:R[0-19]"},
		{"merge both sides", []step{{"a", 1, R, 0, 9, 0}, {"a", 1, R, 20, 29, 0}, {"a", 1, R, 10, 19, 0}}, "a/1:R[0-29]"},
		{"no merge of other type", []step{{"a", 1, R, 0, 9, 0}, {"a", 1, W, 10, 19, 0}}, "a/1:R[0-9] a/1:W[10-19]"},
		{"no merge of other owner", []step{{"a", 1, R, 0, 9, 0}, {"a", 2, R, 10, 19, 0}}, "a/1:R[0-9] a/2:R[10-19]"},
		{"cover swallows", []step{{"a", 1, R, 3, 4, 0}, {"a", 1, W, 6, 7, 0}, {"a", 1, R, 0, eof, 0}}, "a/1:R[0-EOF]"},
		{"unlock tail at EOF", []step{{"a", 1, W, 100, eof, 0}, {"a", 1, U, 200, eof, 0}}, "a/1:W[100-199]"},
		{"unlock all", []step{{"a", 1, W, 0, 9, 0}, {"a", 1, R, 20, 29, 0}, {"a", 1, U, 0, eof, 0}}, ""},
		{"unlock nothing", []step{{"a", 1, U, 0, eof, 0}}, ""},
		{"unlock other owner's", []step{{"a", 1, W, 0, 9, 0}, {"b", 1, U, 0, eof, 0}}, "a/1:W[0-9]"},
		{"last byte", []step{{"a", 1, W, eof, eof, 0}, {"b", 1, R, 0, eof - 1, 0}}, "a/1:W[18446744073709551615-EOF] b/1:R[0-18446744073709551614]"},
		{"start after end", []step{{"a", 1, W, 9, 0, syscall.EINVAL}}, ""},
		{"bad type", []step{{"a", 1, 7, 0, 0, syscall.EINVAL}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := New(nil)
			for i, s := range tc.steps {
				lk := vfs.Lock{Type: s.typ, Start: s.start, End: s.end, Owner: s.owner, Pid: 100}
				if got := l.SetLk(ctxOf(s.client), fileA, 0, vfs.PosixLock, lk, false); got != s.want {
					t.Fatalf("step %d %+v: got %v", i, s, got)
				}
			}
			if got := dump(l, key{space: spacePosix, gfid: fileA}); got != tc.held {
				t.Errorf("held %q, want %q", got, tc.held)
			}
			if tc.held == "" && l.Stats() != (Stats{}) {
				t.Errorf("stats %+v, want empty", l.Stats())
			}
		})
	}
}

func TestGetLk(t *testing.T) {
	l := New(nil)
	a, b := ctxOf("a"), ctxOf("b")
	if e := l.SetLk(a, fileA, 0, vfs.PosixLock, vfs.Lock{Type: vfs.WriteLock, Start: 10, End: 19, Owner: 7, Pid: 42}, false); e != 0 {
		t.Fatal(e)
	}
	tests := []struct {
		name string
		ctx  context.Context
		kind vfs.LockKind
		lk   vfs.Lock
		want vfs.Lock
		err  syscall.Errno
	}{
		{"conflict", b, vfs.PosixLock, vfs.Lock{Type: vfs.ReadLock, Start: 0, End: 10, Owner: 7},
			vfs.Lock{Type: vfs.WriteLock, Start: 10, End: 19, Owner: 7, Pid: 42}, 0},
		{"free range", b, vfs.PosixLock, vfs.Lock{Type: vfs.WriteLock, Start: 20, End: eof, Owner: 7},
			vfs.Lock{Type: vfs.Unlock, Start: 20, End: eof, Owner: 7}, 0},
		{"own lock", a, vfs.PosixLock, vfs.Lock{Type: vfs.WriteLock, Start: 0, End: eof, Owner: 7},
			vfs.Lock{Type: vfs.Unlock, Start: 0, End: eof, Owner: 7}, 0},
		{"flock namespace", b, vfs.FlockLock, vfs.Lock{Type: vfs.WriteLock, Owner: 7},
			vfs.Lock{Type: vfs.Unlock, Owner: 7}, 0},
		{"other file", b, vfs.PosixLock, vfs.Lock{Type: vfs.WriteLock, End: eof}, vfs.Lock{Type: vfs.Unlock, End: eof}, 0},
		{"unlock type", b, vfs.PosixLock, vfs.Lock{Type: vfs.Unlock}, vfs.Lock{}, syscall.EINVAL},
		{"bad kind", b, 9, vfs.Lock{Type: vfs.ReadLock}, vfs.Lock{}, syscall.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gfid := fileA
			if tc.name == "other file" {
				gfid = fileB
			}
			got, err := l.GetLk(tc.ctx, gfid, 0, tc.kind, tc.lk)
			if err != tc.err || got != tc.want {
				t.Errorf("got %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestFlock(t *testing.T) {
	R, W, U := vfs.ReadLock, vfs.WriteLock, vfs.Unlock
	tests := []struct {
		name  string
		steps []step
		held  string
	}{
		{"shared shared", []step{{"a", 1, R, 0, 0, 0}, {"b", 1, R, 0, 0, 0}}, "a/1:R[0-EOF] b/1:R[0-EOF]"},
		{"exclusive blocks", []step{{"a", 1, W, 0, 0, 0}, {"b", 1, R, 0, 0, syscall.EAGAIN}}, "a/1:W[0-EOF]"},
		{"ranges ignored", []step{{"a", 1, W, 0, 9, 0}, {"b", 1, W, 100, 200, syscall.EAGAIN}}, "a/1:W[0-EOF]"},
		{"relock same type", []step{{"a", 1, R, 0, 0, 0}, {"a", 1, R, 0, 0, 0}}, "a/1:R[0-EOF]"},
		{"convert", []step{{"a", 1, R, 0, 0, 0}, {"a", 1, W, 0, 0, 0}, {"a", 1, R, 0, 0, 0}}, "a/1:R[0-EOF]"},
		// Linux drops the old lock before failing a conversion.
		{"failed convert drops", []step{{"a", 1, R, 0, 0, 0}, {"b", 1, R, 0, 0, 0}, {"a", 1, W, 0, 0, syscall.EAGAIN}}, "b/1:R[0-EOF]"},
		{"unlock", []step{{"a", 1, W, 0, 0, 0}, {"a", 1, U, 0, 0, 0}, {"b", 1, W, 0, 0, 0}}, "b/1:W[0-EOF]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := New(nil)
			// A POSIX lock on the same file must not interfere.
			if e := l.SetLk(ctxOf("z"), fileA, 0, vfs.PosixLock, vfs.Lock{Type: W, End: eof}, false); e != 0 {
				t.Fatal(e)
			}
			for i, s := range tc.steps {
				lk := vfs.Lock{Type: s.typ, Start: s.start, End: s.end, Owner: s.owner}
				if got := l.SetLk(ctxOf(s.client), fileA, 0, vfs.FlockLock, lk, false); got != s.want {
					t.Fatalf("step %d %+v: got %v", i, s, got)
				}
			}
			if got := dump(l, key{space: spaceFlock, gfid: fileA}); got != tc.held {
				t.Errorf("held %q, want %q", got, tc.held)
			}
		})
	}
}

func TestInodeLk(t *testing.T) {
	R, W, U := vfs.ReadLock, vfs.WriteLock, vfs.Unlock
	type ilk struct {
		client string
		owner  uint64
		domain string
		typ    vfs.LockType
		start  uint64
		end    uint64
		want   syscall.Errno
	}
	tests := []struct {
		name  string
		steps []ilk
		held  string // of domain "d"
	}{
		{"write conflict", []ilk{{"a", 1, "d", W, 0, eof, 0}, {"b", 1, "d", W, 5, 5, syscall.EAGAIN}}, "a/1:W[0-EOF]"},
		{"domains independent", []ilk{{"a", 1, "d", W, 0, eof, 0}, {"b", 1, "e", W, 0, eof, 0}}, "a/1:W[0-EOF]"},
		{"readers share", []ilk{{"a", 1, "d", R, 0, eof, 0}, {"b", 1, "d", R, 0, eof, 0}}, "a/1:R[0-EOF] b/1:R[0-EOF]"},
		{"disjoint", []ilk{{"a", 1, "d", W, 0, 9, 0}, {"b", 1, "d", W, 10, 19, 0}}, "a/1:W[0-9] b/1:W[10-19]"},
		{"counted", []ilk{{"a", 1, "d", W, 0, eof, 0}, {"a", 1, "d", W, 0, eof, 0}, {"a", 1, "d", U, 0, eof, 0},
			{"b", 1, "d", W, 0, 0, syscall.EAGAIN}}, "a/1:W[0-EOF]"},
		{"counted released", []ilk{{"a", 1, "d", W, 0, eof, 0}, {"a", 1, "d", W, 0, eof, 0}, {"a", 1, "d", U, 0, eof, 0},
			{"a", 1, "d", U, 0, eof, 0}, {"b", 1, "d", W, 0, 0, 0}}, "b/1:W[0-0]"},
		{"unlock exact first", []ilk{{"a", 1, "d", W, 0, 9, 0}, {"a", 1, "d", R, 0, eof, 0}, {"a", 1, "d", U, 0, eof, 0}}, "a/1:W[0-9]"},
		{"unlock overlapping", []ilk{{"a", 1, "d", W, 0, 9, 0}, {"a", 1, "d", U, 5, 5, 0}}, ""},
		{"unlock not held", []ilk{{"a", 1, "d", U, 0, eof, syscall.EINVAL}}, ""},
		{"unlock other owner", []ilk{{"a", 1, "d", W, 0, eof, 0}, {"a", 2, "d", U, 0, eof, syscall.EINVAL}}, "a/1:W[0-EOF]"},
		{"bad range", []ilk{{"a", 1, "d", W, 1, 0, syscall.EINVAL}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := New(nil)
			for i, s := range tc.steps {
				lk := vfs.Lock{Type: s.typ, Start: s.start, End: s.end, Owner: s.owner}
				if got := l.InodeLk(ctxOf(s.client), s.domain, fileA, lk, false); got != s.want {
					t.Fatalf("step %d %+v: got %v", i, s, got)
				}
			}
			if got := dump(l, key{space: spaceInode, domain: "d", gfid: fileA}); got != tc.held {
				t.Errorf("held %q, want %q", got, tc.held)
			}
		})
	}
}

func TestEntryLk(t *testing.T) {
	R, W, U := vfs.ReadLock, vfs.WriteLock, vfs.Unlock
	type elk struct {
		client string
		owner  uint64
		domain string
		name   string
		typ    vfs.LockType
		want   syscall.Errno
	}
	tests := []struct {
		name  string
		steps []elk
		held  string
	}{
		{"same name", []elk{{"a", 1, "d", "x", W, 0}, {"b", 1, "d", "x", W, syscall.EAGAIN}}, "a/1:W[x]"},
		{"other name", []elk{{"a", 1, "d", "x", W, 0}, {"b", 1, "d", "y", W, 0}}, "a/1:W[x] b/1:W[y]"},
		{"whole dir blocks name", []elk{{"a", 1, "d", "", W, 0}, {"b", 1, "d", "y", W, syscall.EAGAIN}}, "a/1:W[]"},
		{"name blocks whole dir", []elk{{"a", 1, "d", "y", W, 0}, {"b", 1, "d", "", R, syscall.EAGAIN}}, "a/1:W[y]"},
		{"readers", []elk{{"a", 1, "d", "", R, 0}, {"b", 1, "d", "y", R, 0}}, "a/1:R[] b/1:R[y]"},
		{"same owner", []elk{{"a", 1, "d", "", W, 0}, {"a", 1, "d", "y", W, 0}}, "a/1:W[] a/1:W[y]"},
		{"domains", []elk{{"a", 1, "d", "x", W, 0}, {"b", 1, "e", "x", W, 0}}, "a/1:W[x]"},
		{"unlock", []elk{{"a", 1, "d", "x", W, 0}, {"a", 1, "d", "x", U, 0}, {"b", 1, "d", "x", W, 0}}, "b/1:W[x]"},
		{"unlock not held", []elk{{"a", 1, "d", "x", U, syscall.EINVAL}}, ""},
		{"bad name", []elk{{"a", 1, "d", "a/b", W, syscall.EINVAL}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := New(nil)
			for i, s := range tc.steps {
				if got := l.EntryLk(ctxOf(s.client), s.domain, dirA, s.name, s.typ, s.owner, false); got != s.want {
					t.Fatalf("step %d %+v: got %v", i, s, got)
				}
			}
			if got := dump(l, key{space: spaceEntry, domain: "d", gfid: dirA}); got != tc.held {
				t.Errorf("held %q, want %q", got, tc.held)
			}
		})
	}
}

// TestPosixModel checks range splitting and merging against a byte map of
// a small file under random operations of a few owners.
func TestPosixModel(t *testing.T) {
	const size = 48
	owners := []owner{{"a", 1}, {"a", 2}, {"b", 1}}
	types := []vfs.LockType{vfs.ReadLock, vfs.WriteLock, vfs.Unlock}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20; round++ {
		l := New(nil)
		var model [size]map[owner]vfs.LockType
		for i := range model {
			model[i] = make(map[owner]vfs.LockType)
		}
		for op := 0; op < 200; op++ {
			o := owners[rng.IntN(len(owners))]
			typ := types[rng.IntN(len(types))]
			start := uint64(rng.IntN(size))
			end := start + uint64(rng.IntN(size-int(start)))
			var want syscall.Errno
			if typ != vfs.Unlock {
				for b := start; b <= end; b++ {
					for o2, t2 := range model[b] {
						if o2 != o && (typ == vfs.WriteLock || t2 == vfs.WriteLock) {
							want = syscall.EAGAIN
						}
					}
				}
			}
			got := l.SetLk(ctxOf(o.client), fileA, 0, vfs.PosixLock, vfs.Lock{Type: typ, Start: start, End: end, Owner: o.id}, false)
			if got != want {
				t.Fatalf("round %d op %d: %v %v [%d,%d]: got %v want %v", round, op, o, typ, start, end, got, want)
			}
			if got == 0 {
				for b := start; b <= end; b++ {
					if typ == vfs.Unlock {
						delete(model[b], o)
					} else {
						model[b][o] = typ
					}
				}
			}
			checkModel(t, l, model[:])
		}
	}
}

func checkModel(t *testing.T, l *Locks, model []map[owner]vfs.LockType) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var held []*lock
	if tb := l.tables[key{space: spacePosix, gfid: fileA}]; tb != nil {
		held = tb.held
	}
	got := make([]map[owner]vfs.LockType, len(model))
	for i := range got {
		got[i] = make(map[owner]vfs.LockType)
	}
	for i, h := range held {
		for b := h.start; b <= h.end && b < uint64(len(model)); b++ {
			if _, dup := got[b][h.owner]; dup {
				t.Fatalf("owner %v has overlapping locks at byte %d", h.owner, b)
			}
			got[b][h.owner] = h.typ
		}
		for _, h2 := range held[i+1:] {
			if h.owner == h2.owner && h.typ == h2.typ && (h.end+1 == h2.start || h2.end+1 == h.start) {
				t.Fatalf("unmerged adjacent locks %+v %+v", *h, *h2)
			}
		}
	}
	for b := range model {
		if !mapsEqual(got[b], model[b]) {
			t.Fatalf("byte %d: held %v, model %v", b, got[b], model[b])
		}
	}
}

func mapsEqual(a, b map[owner]vfs.LockType) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// waitResult runs a blocking request in a goroutine and returns a channel
// with its result.
func waitResult(f func() syscall.Errno) <-chan syscall.Errno {
	ch := make(chan syscall.Errno, 1)
	go func() { ch <- f() }()
	return ch
}

// waitQueued waits until n requests are queued.
func waitQueued(t *testing.T, l *Locks, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Waiting != n {
		if time.Now().After(deadline) {
			t.Fatalf("waiting = %d, want %d", l.Stats().Waiting, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func expectPending(t *testing.T, ch <-chan syscall.Errno) {
	t.Helper()
	select {
	case e := <-ch:
		t.Fatalf("request finished early with %v", e)
	case <-time.After(20 * time.Millisecond):
	}
}

func expect(t *testing.T, ch <-chan syscall.Errno, want syscall.Errno) {
	t.Helper()
	select {
	case e := <-ch:
		if e != want {
			t.Fatalf("got %v, want %v", e, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("request still blocked, want %v", want)
	}
}

func setlk(l *Locks, ctx context.Context, typ vfs.LockType, start, end, ownerID uint64, wait bool) syscall.Errno {
	return l.SetLk(ctx, fileA, 0, vfs.PosixLock, vfs.Lock{Type: typ, Start: start, End: end, Owner: ownerID}, wait)
}

func TestWaitWokenByUnlock(t *testing.T) {
	l := New(nil)
	a, b := ctxOf("a"), ctxOf("b")
	if e := setlk(l, a, vfs.WriteLock, 0, 99, 1, false); e != 0 {
		t.Fatal(e)
	}
	ch := waitResult(func() syscall.Errno { return setlk(l, b, vfs.WriteLock, 50, 50, 1, true) })
	waitQueued(t, l, 1)
	// Unlocking elsewhere does not help.
	if e := setlk(l, a, vfs.Unlock, 0, 9, 1, false); e != 0 {
		t.Fatal(e)
	}
	expectPending(t, ch)
	if e := setlk(l, a, vfs.Unlock, 40, 59, 1, false); e != 0 {
		t.Fatal(e)
	}
	expect(t, ch, 0)
	if got := dump(l, key{space: spacePosix, gfid: fileA}); got != "a/1:W[10-39] a/1:W[60-99] b/1:W[50-50]" {
		t.Errorf("held %q", got)
	}
}

func TestWaitWokenByDowngrade(t *testing.T) {
	l := New(nil)
	a, b := ctxOf("a"), ctxOf("b")
	setlk(l, a, vfs.WriteLock, 0, eof, 1, false)
	ch := waitResult(func() syscall.Errno { return setlk(l, b, vfs.ReadLock, 0, 9, 1, true) })
	waitQueued(t, l, 1)
	setlk(l, a, vfs.ReadLock, 0, 4, 1, false)
	expectPending(t, ch)
	setlk(l, a, vfs.ReadLock, 0, 9, 1, false)
	expect(t, ch, 0)
}

func TestWaitCancelled(t *testing.T) {
	l := New(nil)
	setlk(l, ctxOf("a"), vfs.WriteLock, 0, eof, 1, false)
	ctx, cancel := context.WithCancel(ctxOf("b"))
	ch := waitResult(func() syscall.Errno { return setlk(l, ctx, vfs.WriteLock, 0, 0, 1, true) })
	waitQueued(t, l, 1)
	cancel()
	expect(t, ch, syscall.EINTR)
	if s := l.Stats(); s != (Stats{Held: 1, Objects: 1}) {
		t.Errorf("stats %+v", s)
	}
	setlk(l, ctxOf("a"), vfs.Unlock, 0, eof, 1, false)
	if s := l.Stats(); s != (Stats{}) {
		t.Errorf("stats after unlock %+v", s)
	}
}

// TestCancelUnblocksQueue: a request queued behind a cancelled one (for
// fairness) must be reconsidered when the one before it leaves.
func TestCancelUnblocksQueue(t *testing.T) {
	l := New(nil)
	setlk(l, ctxOf("a"), vfs.ReadLock, 0, eof, 1, false)
	ctx, cancel := context.WithCancel(ctxOf("b"))
	writer := waitResult(func() syscall.Errno { return setlk(l, ctx, vfs.WriteLock, 0, eof, 1, true) })
	waitQueued(t, l, 1)
	reader := waitResult(func() syscall.Errno { return setlk(l, ctxOf("c"), vfs.ReadLock, 0, eof, 1, true) })
	waitQueued(t, l, 2)
	expectPending(t, reader)
	cancel()
	expect(t, writer, syscall.EINTR)
	expect(t, reader, 0)
}

func TestFairness(t *testing.T) {
	l := New(nil)
	a, b, c := ctxOf("a"), ctxOf("b"), ctxOf("c")
	setlk(l, a, vfs.ReadLock, 0, eof, 1, false)
	writer := waitResult(func() syscall.Errno { return setlk(l, b, vfs.WriteLock, 0, eof, 1, true) })
	waitQueued(t, l, 1)
	// A non-blocking POSIX read is judged against held locks only, like
	// F_GETLK...
	if e := setlk(l, c, vfs.ReadLock, 0, 9, 2, false); e != 0 {
		t.Fatalf("non-blocking read: %v", e)
	}
	setlk(l, c, vfs.Unlock, 0, eof, 2, false)
	// ...but a blocking reader queues behind the writer.
	reader := waitResult(func() syscall.Errno { return setlk(l, c, vfs.ReadLock, 0, eof, 1, true) })
	waitQueued(t, l, 2)
	// The holder may still upgrade its own lock past the queue; otherwise
	// it would wait for the writer, which waits for it.
	upgrade := waitResult(func() syscall.Errno { return setlk(l, a, vfs.WriteLock, 0, eof, 1, true) })
	expect(t, upgrade, 0)
	setlk(l, a, vfs.Unlock, 0, eof, 1, false)
	expect(t, writer, 0)
	expectPending(t, reader)
	setlk(l, b, vfs.Unlock, 0, eof, 1, false)
	expect(t, reader, 0)
}

// TestInodeLkFairTry: non-blocking inode locks respect queued requests, as
// GlusterFS's inodelk does.
func TestInodeLkFairTry(t *testing.T) {
	l := New(nil)
	lk := func(typ vfs.LockType, o uint64) vfs.Lock { return vfs.Lock{Type: typ, End: eof, Owner: o} }
	l.InodeLk(ctxOf("a"), "d", fileA, lk(vfs.ReadLock, 1), false)
	w := waitResult(func() syscall.Errno { return l.InodeLk(ctxOf("b"), "d", fileA, lk(vfs.WriteLock, 1), true) })
	waitQueued(t, l, 1)
	if e := l.InodeLk(ctxOf("c"), "d", fileA, lk(vfs.ReadLock, 1), false); e != syscall.EAGAIN {
		t.Fatalf("reader past queued writer: %v", e)
	}
	if e := l.InodeLk(ctxOf("a"), "d", fileA, lk(vfs.ReadLock, 1), false); e != 0 {
		t.Fatalf("holder's second read lock: %v", e)
	}
	l.InodeLk(ctxOf("a"), "d", fileA, lk(vfs.Unlock, 1), false)
	expectPending(t, w)
	l.InodeLk(ctxOf("a"), "d", fileA, lk(vfs.Unlock, 1), false)
	expect(t, w, 0)
}

func TestEntryLkWait(t *testing.T) {
	l := New(nil)
	l.EntryLk(ctxOf("a"), "d", dirA, "", vfs.WriteLock, 1, false)
	x := waitResult(func() syscall.Errno { return l.EntryLk(ctxOf("b"), "d", dirA, "x", vfs.WriteLock, 1, true) })
	y := waitResult(func() syscall.Errno { return l.EntryLk(ctxOf("c"), "d", dirA, "y", vfs.WriteLock, 1, true) })
	waitQueued(t, l, 2)
	l.EntryLk(ctxOf("a"), "d", dirA, "", vfs.Unlock, 1, false)
	expect(t, x, 0)
	expect(t, y, 0)
}

func TestFlockConvertNoDeadlock(t *testing.T) {
	l := New(nil)
	fl := func(ctx context.Context, typ vfs.LockType, wait bool) syscall.Errno {
		return l.SetLk(ctx, fileA, 0, vfs.FlockLock, vfs.Lock{Type: typ, Owner: 1}, wait)
	}
	fl(ctxOf("a"), vfs.ReadLock, false)
	fl(ctxOf("b"), vfs.ReadLock, false)
	ua := waitResult(func() syscall.Errno { return fl(ctxOf("a"), vfs.WriteLock, true) })
	waitQueued(t, l, 1)
	ub := waitResult(func() syscall.Errno { return fl(ctxOf("b"), vfs.WriteLock, true) })
	expect(t, ua, 0) // b dropped its shared lock to convert
	expectPending(t, ub)
	fl(ctxOf("a"), vfs.Unlock, false)
	expect(t, ub, 0)
}

func TestDeadlock(t *testing.T) {
	l := New(nil)
	a, b, c := ctxOf("a"), ctxOf("b"), ctxOf("c")
	onFile := func(ctx context.Context, gfid vfs.GFID, typ vfs.LockType, wait bool) syscall.Errno {
		return l.SetLk(ctx, gfid, 0, vfs.PosixLock, vfs.Lock{Type: typ, End: eof, Owner: 1}, wait)
	}
	onFile(a, fileA, vfs.WriteLock, false)
	onFile(b, fileB, vfs.WriteLock, false)
	onFile(c, dirA, vfs.WriteLock, false)
	aw := waitResult(func() syscall.Errno { return onFile(a, fileB, vfs.WriteLock, true) }) // a waits for b
	waitQueued(t, l, 1)
	bw := waitResult(func() syscall.Errno { return onFile(b, dirA, vfs.WriteLock, true) }) // b waits for c
	waitQueued(t, l, 2)
	if e := onFile(c, fileA, vfs.WriteLock, true); e != syscall.EDEADLK { // c would wait for a
		t.Fatalf("cycle a→b→c→a: got %v, want EDEADLK", e)
	}
	// Breaking the cycle lets everyone through.
	onFile(c, dirA, vfs.Unlock, false)
	expect(t, bw, 0)
	onFile(b, fileB, vfs.Unlock, false)
	expect(t, aw, 0)
}

func TestReleaseOwner(t *testing.T) {
	l := New(nil)
	a, b := ctxOf("a"), ctxOf("b")
	setlk(l, a, vfs.WriteLock, 0, 9, 1, false)
	setlk(l, a, vfs.WriteLock, 20, 29, 2, false)
	l.SetLk(a, fileB, 0, vfs.FlockLock, vfs.Lock{Type: vfs.WriteLock, Owner: 1}, false)
	l.InodeLk(a, "d", fileA, vfs.Lock{Type: vfs.WriteLock, End: eof, Owner: 1}, false)
	ch := waitResult(func() syscall.Errno { return setlk(l, b, vfs.WriteLock, 0, eof, 1, true) })
	waitQueued(t, l, 1)
	l.ReleaseOwner("a", 1)
	expectPending(t, ch) // owner 2 still holds 20-29
	if got := dump(l, key{space: spaceFlock, gfid: fileB}); got != "" {
		t.Errorf("flock survived ReleaseOwner: %q", got)
	}
	if got := dump(l, key{space: spaceInode, domain: "d", gfid: fileA}); got != "a/1:W[0-EOF]" {
		t.Errorf("inode lock must survive ReleaseOwner: %q", got)
	}
	l.ReleaseOwner("a", 2)
	expect(t, ch, 0)
}

func TestReleaseClient(t *testing.T) {
	l := New(nil)
	a, b := ctxOf("a"), ctxOf("b")
	setlk(l, a, vfs.WriteLock, 0, eof, 1, false)
	l.InodeLk(b, "d", fileA, vfs.Lock{Type: vfs.WriteLock, End: eof, Owner: 1}, false)
	l.EntryLk(a, "d", dirA, "x", vfs.WriteLock, 1, false)
	// b waits for a's POSIX lock; a waits for b's inode lock.
	bw := waitResult(func() syscall.Errno { return setlk(l, b, vfs.ReadLock, 0, 0, 1, true) })
	aw := waitResult(func() syscall.Errno {
		return l.InodeLk(a, "d", fileA, vfs.Lock{Type: vfs.ReadLock, End: eof, Owner: 1}, true)
	})
	waitQueued(t, l, 2)
	l.ReleaseClient("a")
	expect(t, aw, syscall.ENOTCONN)
	expect(t, bw, 0)
	if e := l.EntryLk(b, "d", dirA, "x", vfs.WriteLock, 1, false); e != 0 {
		t.Errorf("entry lock of released client still held: %v", e)
	}
	l.ReleaseClient("b")
	if s := l.Stats(); s != (Stats{}) {
		t.Errorf("stats %+v after releasing every client", s)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.byClient) != 0 || len(l.waiting) != 0 {
		t.Errorf("leaked index entries: byClient %v waiting %v", l.byClient, l.waiting)
	}
}

// TestStress runs many goroutines taking write locks as a mutex around an
// unsynchronised counter (the race detector is the referee), mixed with
// readers, partial ranges, cancellations and inode locks.
func TestStress(t *testing.T) {
	l := New(nil)
	const workers, iters = 16, 200
	var counter, inodeCounter int
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := ctxOf(fmt.Sprintf("c%d", w%4))
			id := uint64(w)
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < iters; i++ {
				switch rng.IntN(5) {
				case 0, 1: // exclusive section
					if e := setlk(l, ctx, vfs.WriteLock, 0, eof, id, true); e != 0 {
						t.Errorf("write lock: %v", e)
						return
					}
					counter++
					setlk(l, ctx, vfs.Unlock, 0, eof, id, false)
				case 2: // shared section reads the counter
					if e := setlk(l, ctx, vfs.ReadLock, 0, eof, id, true); e != 0 {
						t.Errorf("read lock: %v", e)
						return
					}
					_ = counter
					setlk(l, ctx, vfs.Unlock, 0, eof, id, false)
				case 3: // a wait that is cancelled
					cctx, cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(200))*time.Microsecond)
					e := setlk(l, cctx, vfs.WriteLock, uint64(rng.IntN(100)), eof, id, true)
					cancel()
					if e == 0 {
						counter++
						setlk(l, ctx, vfs.Unlock, 0, eof, id, false)
					} else if e != syscall.EINTR {
						t.Errorf("cancelled wait: %v", e)
					}
				case 4:
					lk := vfs.Lock{Type: vfs.WriteLock, End: eof, Owner: id}
					if e := l.InodeLk(ctx, "data", fileB, lk, true); e != 0 {
						t.Errorf("inodelk: %v", e)
						return
					}
					inodeCounter++
					lk.Type = vfs.Unlock
					if e := l.InodeLk(ctx, "data", fileB, lk, false); e != 0 {
						t.Errorf("inode unlock: %v", e)
					}
				}
			}
		}()
	}
	wg.Wait()
	if s := l.Stats(); s != (Stats{}) {
		t.Errorf("stats %+v after all unlocked", s)
	}
	t.Logf("counter %d, inode counter %d", counter, inodeCounter)
}

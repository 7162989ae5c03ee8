package replicate

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

func TestBasicReplication(t *testing.T) {
	e := newEnv(t, 2, testConfig())
	d, errno := e.r.Mkdir(e.ctx, vfs.RootGFID, "dir", &vfs.CreateIn{Mode: 0o755})
	e.must("mkdir", errno)
	g := e.writeFile(e.r, d.GFID, "f", []byte("hello world"))
	got, errno := e.readAll(e.r, g)
	e.must("read", errno)
	if string(got) != "hello world" {
		t.Fatalf("read %q", got)
	}
	_, errno = e.r.Symlink(e.ctx, d.GFID, "s", "f", &vfs.CreateIn{})
	e.must("symlink", errno)
	_, errno = e.r.Link(e.ctx, g, vfs.RootGFID, "hard")
	e.must("link", errno)
	e.must("setxattr", e.r.SetXattr(e.ctx, g, "user.k", []byte("v"), 0))
	_, errno = e.r.SetAttr(e.ctx, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600})
	e.must("chmod", errno)
	e.must("rename", e.r.Rename(e.ctx, d.GFID, "f", vfs.RootGFID, "g", 0))
	e.compareBricks()
	if _, errno := e.r.GetXattr(e.ctx, g, PendingPrefix+"client-0"); errno != syscall.ENODATA {
		t.Errorf("changelog visible through replicate: %v", errno)
	}
	names, errno := e.r.ListXattr(e.ctx, g)
	e.must("listxattr", errno)
	for _, n := range names {
		if strings.HasPrefix(n, "trusted.cairn.") {
			t.Errorf("listxattr shows %s", n)
		}
	}
}

func TestWriteWithBrickDownThenHeal(t *testing.T) {
	cfg := testConfig()
	cfg.BackgroundSelfHealCount = -1 // heal explicitly below
	e := newEnv(t, 2, cfg)
	g := e.writeFile(e.r, vfs.RootGFID, "f", bytes.Repeat([]byte("a"), 300<<10))
	e.down(1)
	e.must("write with b1 down", e.writeAt(e.r, g, []byte("NEW"), 1000))
	e.r.FlushTransactions(e.ctx)
	e.bricks[1].setDown(false)
	// b1 is blamed: reads must come from b0, whatever the hash says.
	for range 4 {
		got, errno := e.readAll(e.r, g)
		e.must("read", errno)
		if string(got[1000:1003]) != "NEW" {
			t.Fatalf("read a stale copy")
		}
	}
	if p := e.pending(0, "f"); p["client-1"][dataKind] == 0 {
		t.Fatalf("b0 does not blame b1: %v", p)
	}
	e.healIndexClean()
}

func TestLookupTriggersBackgroundHeal(t *testing.T) {
	e := newEnv(t, 2, testConfig())
	g := e.writeFile(e.r, vfs.RootGFID, "f", []byte("old"))
	e.down(0)
	e.must("write", e.writeAt(e.r, g, []byte("new data"), 0))
	e.must("chmod", func() syscall.Errno {
		_, errno := e.r.SetAttr(e.ctx, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o640})
		return errno
	}())
	e.r.FlushTransactions(e.ctx)
	e.bricks[0].setDown(false)
	e.r.forgetState(g)
	_, errno := e.r.Lookup(e.ctx, vfs.RootGFID, "f")
	e.must("lookup", errno)
	waitFor(t, func() bool { return !snapshot(t, e.bricks[1].dir)["f"].dirty })
	e.compareBricks()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		sleep()
	}
	t.Fatal("condition not reached")
}

// TestHealIndexLocalLister heals through the DirtyLister interface
// (storage/posix in the same process) instead of the virtual xattr.
func TestHealIndexLocalLister(t *testing.T) {
	e := newEnv(t, 2, noBackgroundHeal())
	for i, b := range e.bricks {
		e.kids[i] = lister{b}
	}
	r := e.client(noBackgroundHeal())
	e.r = r
	g := e.writeFile(r, vfs.RootGFID, "f", []byte("one"))
	e.down(1)
	e.must("write", e.writeAt(r, g, []byte("two"), 0))
	e.bricks[1].setDown(false)
	r.FlushTransactions(e.ctx)
	if _, ok := r.children[0].t.(DirtyLister); !ok {
		t.Fatal("children do not list their index locally")
	}
	st, err := r.HealIndex(e.ctx)
	if err != nil || st.Healed == 0 {
		t.Fatalf("heal %+v %v", st, err)
	}
	e.compareBricks()
}

// TestDataHealAlgorithms: diff rewrites only the block that changed while
// the sink was away; full rewrites the file (zero blocks stay holes); a
// sink that is shorter than the source gets the blocks past its end
// without their being compared (read) first.
func TestDataHealAlgorithms(t *testing.T) {
	for _, c := range []struct {
		algo string
		want int64
	}{{HealDiffAlgorithm, 128 << 10}, {HealFullAlgorithm, 1 << 20}} {

		t.Run(c.algo, func(t *testing.T) {
			cfg := noBackgroundHeal()
			cfg.DataSelfHealAlgorithm = c.algo
			cfg.HealBlockSize = 128 << 10
			e := newEnv(t, 2, cfg)
			g := e.writeFile(e.r, vfs.RootGFID, "f", bytes.Repeat([]byte("x"), 1<<20))
			e.down(1)
			e.must("write", e.writeAt(e.r, g, []byte("changed"), 300<<10))
			e.bricks[1].setDown(false)
			e.r.FlushTransactions(e.ctx)
			st, err := e.r.HealIndex(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Bytes != c.want {
				t.Errorf("%s heal wrote %d bytes, want %d", c.algo, st.Bytes, c.want)
			}
			e.compareBricks()
		})
	}
}

// TestDiffHealPastSinkEnd: the sink missed an append; diff heal writes the
// appended blocks and reads nothing of the sink past its old end.
func TestDiffHealPastSinkEnd(t *testing.T) {
	cfg := noBackgroundHeal()
	cfg.DataSelfHealAlgorithm = HealDiffAlgorithm
	cfg.HealBlockSize = 128 << 10
	e := newEnv(t, 2, cfg)
	g := e.writeFile(e.r, vfs.RootGFID, "f", bytes.Repeat([]byte("x"), 256<<10))
	e.down(1)
	e.must("append", e.writeAt(e.r, g, bytes.Repeat([]byte("y"), 512<<10), 256<<10))
	e.bricks[1].setDown(false)
	e.r.FlushTransactions(e.ctx)
	var reads atomic.Int64
	e.bricks[1].mu.Lock()
	e.bricks[1].hook = func(_ context.Context, op string) syscall.Errno {
		if op == "Read" {
			reads.Add(1)
		}
		return 0
	}
	e.bricks[1].mu.Unlock()
	st, err := e.r.HealIndex(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes != 512<<10 {
		t.Errorf("heal wrote %d bytes, want %d", st.Bytes, 512<<10)
	}
	if n := reads.Load(); n > 2 {
		t.Errorf("%d reads of the sink, want at most the 2 blocks within its old end", n)
	}
	e.compareBricks()
}

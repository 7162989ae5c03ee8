package replicate

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairnfs/cairn/vfs"
	"golang.org/x/sys/unix"
)

// TestChangelogStoredForm: transactions where every child succeeds touch
// only the dirty counters (no per-child key is ever written), a failed
// child is blamed through its key on the others (and read back as the
// matrix judge expects), and heal leaves every counter at zero.
func TestChangelogStoredForm(t *testing.T) {
	cfg := testConfig()
	cfg.BackgroundSelfHealCount = -1 // heal explicitly below
	e := newEnv(t, 2, cfg)
	d, errno := e.r.Mkdir(e.ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	e.must("mkdir", errno)
	g := e.writeFile(e.r, d.GFID, "f", bytes.Repeat([]byte("x"), 64<<10))
	_, errno = e.r.SetAttr(e.ctx, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600})
	e.must("chmod", errno)
	e.must("write", e.writeAt(e.r, g, []byte("more"), 100))
	e.r.FlushTransactions(e.ctx)
	for i := range e.bricks {
		for _, rel := range []string{"d", "d/f", "."} {
			for key, c := range e.rawChangelog(i, rel) {
				if key != DirtyKey {
					t.Errorf("brick %d: %s has %s = %v after transactions that all succeeded; only %s should be written", i, rel, key, c, DirtyKey)
				} else if !c.zero() {
					t.Errorf("brick %d: %s: dirty counters %v after every transaction ended", i, rel, c)
				}
			}
		}
	}

	e.down(1)
	e.must("write with b1 down", e.writeAt(e.r, g, []byte("NEW"), 1000))
	e.r.FlushTransactions(e.ctx)
	e.bricks[1].setDown(false)
	raw := e.rawChangelog(0, "d/f")
	// 2: the window's pre-op blamed the child that was down at once.
	if c := raw[PendingPrefix+"client-1"]; c[dataKind] != 2 {
		t.Errorf("b0 stores %v for client-1, want data 2 (blame)", raw)
	}
	if c := raw[DirtyKey]; !c.zero() {
		t.Errorf("b0 dirty counters %v after the write ended", c)
	}
	if m := e.pending(0, "d/f"); m["client-1"][dataKind] != 2 || m["client-0"][dataKind] != 0 {
		t.Errorf("b0's row reads %v, want client-1 data 2 and client-0 0", m)
	}
	e.healIndexClean()
}

// TestChangelogOldForm: a brick written by an older cairn keeps every
// counter, its own included, in the per-child keys; such a row still
// reads as the same matrix, so its blame stands and heal clears it.
func TestChangelogOldForm(t *testing.T) {
	cfg := testConfig()
	cfg.BackgroundSelfHealCount = -1
	e := newEnv(t, 2, cfg)
	g := e.writeFile(e.r, vfs.RootGFID, "f", []byte("good copy"))
	e.r.FlushTransactions(e.ctx)
	// Old form on b0: an interrupted transaction (1 about itself) plus one
	// that failed on b1 (2 about b1): b0 blames b1. b1's copy is stale.
	set := func(i int, key string, c counters) {
		t.Helper()
		if err := unix.Lsetxattr(filepath.Join(e.bricks[i].dir, "f"), key, c.encode(), 0); err != nil {
			t.Fatal(err)
		}
	}
	set(0, PendingPrefix+"client-0", counters{1, 0, 0})
	set(0, PendingPrefix+"client-1", counters{2, 0, 0})
	if err := os.WriteFile(filepath.Join(e.bricks[1].dir, "f"), []byte("stale!!!!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m := e.pending(0, "f"); m["client-0"][dataKind] != 1 || m["client-1"][dataKind] != 2 {
		t.Fatalf("old-form row reads %v", m)
	}
	for range 4 {
		got, errno := e.readAll(e.r, g)
		e.must("read", errno)
		if string(got) != "good copy" {
			t.Fatalf("read %q from the blamed copy", got)
		}
	}
	if _, err := e.r.HealFull(e.ctx, nil); err != nil {
		t.Fatal(err)
	}
	if m := e.pending(0, "f"); len(m) != 0 {
		t.Errorf("after heal b0's row is %v, want zero", m)
	}
	for key, c := range e.rawChangelog(0, "f") {
		if !c.zero() {
			t.Errorf("after heal b0 stores %s = %v", key, c)
		}
	}
	e.compareBricks()
}

package replicate

import (
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// TestReadsLocally: replicate answers for the child it would read from,
// from the changelog state it already has: not while that state is
// unknown or stale, not for a blamed copy, never with split reads.
func TestReadsLocally(t *testing.T) {
	cfg := testConfig()
	// No heal may make brick 0 good again behind the test's back.
	cfg.DataSelfHeal, cfg.MetadataSelfHeal, cfg.EntrySelfHeal, cfg.SelfHealDaemon = false, false, false, false
	cfg.StateTTL = 500 * time.Millisecond // long enough for -race between a read and the question
	cfg.ReadSubvolume = 0                 // brick 0 reads while its copy is good
	e := newEnv(t, 2, cfg)
	g := e.writeFile(e.r, vfs.RootGFID, "f", []byte("data"))
	e.r.FlushTransactions(e.ctx)
	local := func(b0, b1 bool) bool {
		e.bricks[0].local.Store(b0)
		e.bricks[1].local.Store(b1)
		return e.r.ReadsLocally(e.ctx, g)
	}
	// readUntilLocal reads until the state a read leaves makes the answer
	// yes (a read's state may be dropped by a transaction ending).
	readUntilLocal := func(what string) {
		t.Helper()
		for range 20 {
			if _, errno := e.readAll(e.r, g); errno != 0 {
				t.Fatal(errno)
			}
			if e.r.ReadsLocally(e.ctx, g) {
				return
			}
		}
		t.Fatalf("never local: %s", what)
	}

	time.Sleep(cfg.StateTTL + 10*time.Millisecond)
	if local(true, true) {
		t.Fatal("local with no fresh changelog state")
	}
	local(true, false)
	readUntilLocal("brick 0 is the read child and serves locally")
	if local(false, true) {
		t.Fatal("local although the read child (brick 0) is not")
	}
	if !local(true, false) {
		t.Fatal("not local again with brick 0 local")
	}

	// Brick 0 misses a write: brick 1 holds the only good copy.
	e.down(0)
	e.must("write with brick 0 down", e.writeAt(e.r, g, []byte("DATA"), 0))
	e.r.FlushTransactions(e.ctx)
	e.bricks[0].setDown(false)
	local(true, true)
	readUntilLocal("brick 1 holds the good copy and serves locally")
	if local(true, false) {
		t.Fatal("local through the blamed copy of brick 0")
	}
	if !local(true, true) {
		t.Fatal("not local again with brick 1 local")
	}
	if got, errno := e.readAll(e.r, g); errno != 0 || string(got) != "DATA" {
		t.Fatalf("read: %q %v", got, errno)
	}

	cfg.SplitReads = true
	r2 := e.client(cfg)
	if _, errno := e.readAll(r2, g); errno != 0 {
		t.Fatal(errno)
	}
	if r2.ReadsLocally(e.ctx, g) {
		t.Fatal("local with split reads on")
	}
}

package posix

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/internal/procs"
	"github.com/cairnfs/cairn/vfs"
)

// newHoldPosix is newTestPosix with a short HoldUnlinked.
func newHoldPosix(t *testing.T, hold time.Duration) (*Posix, string) {
	t.Helper()
	return newTestPosixConfig(t, Config{HoldUnlinked: hold})
}

// createAndHold creates name in the root, closes it and removes it with a
// held unlink; it returns the file's attributes from the create.
func createAndHold(t *testing.T, p *Posix, name string) vfs.Attr {
	t.Helper()
	ctx := context.Background()
	f, fh, e := p.Create(ctx, vfs.RootGFID, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	p.Release(ctx, f.GFID, fh)
	if e := p.Unlink(vfs.WithUnlinkFlags(ctx, vfs.UnlinkHold), vfs.RootGFID, name); e != 0 {
		t.Fatal(e)
	}
	return f
}

func parked(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, vfs.ReservedName, metaUnlink))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestUnlinkHoldUndo: an unlink with vfs.UnlinkHold removes the name and
// makes the GFID unusable like any unlink, yet an undo (vfs.UnlinkUndo)
// brings the object back whole under its name (as a replicated unlink
// that lost a lock race needs), after which it is an ordinary indexed
// file again.
func TestUnlinkHoldUndo(t *testing.T) {
	p, dir := newHoldPosix(t, time.Hour)
	ctx := context.Background()
	hold := vfs.WithUnlinkFlags(ctx, vfs.UnlinkHold)
	f, fh, e := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o640, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	p.Write(ctx, f.GFID, fh, []byte("precious"), 0)
	p.Release(ctx, f.GFID, fh)
	const key = XattrPendingPrefix + "c1"
	one := []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	p.XattrOp(ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{key: one})

	if e := p.Unlink(hold, vfs.RootGFID, "f"); e != 0 {
		t.Fatalf("held unlink: %v", e)
	}
	if _, e := p.Lookup(ctx, vfs.RootGFID, "f"); e != syscall.ENOENT {
		t.Fatalf("lookup after the unlink: %v", e)
	}
	if _, e := p.GetAttr(ctx, f.GFID, 0); e != syscall.ESTALE {
		t.Fatalf("getattr by GFID of a held object: %v, want ESTALE", e)
	}
	if _, e := p.Open(ctx, f.GFID, syscall.O_RDONLY); e != syscall.ESTALE {
		t.Fatalf("open by GFID of a held object: %v, want ESTALE", e)
	}
	if got := parked(t, dir); len(got) != 1 || got[0] != f.GFID.String() {
		t.Fatalf("parked: %v", got)
	}
	if gs, _ := p.DirtyGFIDs(); len(gs) != 0 {
		t.Fatalf("a held object stays in the dirty index: %v", gs)
	}

	undo := vfs.WithUnlinkFlags(ctx, vfs.UnlinkUndo)
	if e := p.Unlink(undo, vfs.RootGFID, "g"); e != syscall.ESTALE {
		t.Fatalf("undo of a name never unlinked: %v, want ESTALE", e)
	}
	if e := p.Unlink(undo, vfs.RootGFID, "f"); e != 0 {
		t.Fatalf("undo: %v", e)
	}
	a, e := p.Lookup(ctx, vfs.RootGFID, "f")
	if e != 0 || a.GFID != f.GFID || a.Size != 8 || a.Mode&0o777 != 0o640 {
		t.Fatalf("after the undo: %+v %v", a, e)
	}
	if e := p.Unlink(undo, vfs.RootGFID, "f"); e != syscall.ESTALE {
		t.Fatalf("a second undo: %v, want ESTALE", e)
	}
	buf := make([]byte, 16)
	if n, e := p.Read(ctx, f.GFID, 0, buf, 0); e != 0 || string(buf[:n]) != "precious" {
		t.Fatalf("content after the undo: %q %v", buf[:n], e)
	}
	if v, e := p.GetXattr(ctx, f.GFID, key); e != 0 || string(v) != string(one) {
		t.Fatalf("changelog after the undo: %x %v", v, e)
	}
	if gs, _ := p.DirtyGFIDs(); len(gs) != 1 || gs[0] != f.GFID {
		t.Fatalf("dirty index after the undo: %v", gs)
	}
	if got := parked(t, dir); len(got) != 0 {
		t.Fatalf("still parked after the undo: %v", got)
	}
	// A name of an object with other names: undone as well.
	if _, e := p.Link(ctx, f.GFID, vfs.RootGFID, "second"); e != 0 {
		t.Fatal(e)
	}
	if e := p.Unlink(hold, vfs.RootGFID, "second"); e != 0 {
		t.Fatal(e)
	}
	if got := parked(t, dir); len(got) != 0 {
		t.Fatalf("an object with a name left was parked: %v", got)
	}
	if e := p.Unlink(undo, vfs.RootGFID, "second"); e != 0 {
		t.Fatalf("undo of a hard link: %v", e)
	}
	if a, e := p.Lookup(ctx, vfs.RootGFID, "second"); e != 0 || a.GFID != f.GFID || a.Nlink != 2 {
		t.Fatalf("hard link after its undo: %+v %v", a, e)
	}
	if e := p.Unlink(ctx, vfs.RootGFID, "second"); e != 0 {
		t.Fatal(e)
	}
	// Indexed again: a plain unlink now frees it at once.
	if e := p.Unlink(ctx, vfs.RootGFID, "f"); e != 0 {
		t.Fatal(e)
	}
	if _, e := p.GetAttr(ctx, f.GFID, 0); e != syscall.ESTALE {
		t.Fatalf("after the plain unlink: %v", e)
	}
	if got := parked(t, dir); len(got) != 0 {
		t.Fatalf("parked after a plain unlink: %v", got)
	}
	if gs, _ := p.DirtyGFIDs(); len(gs) != 0 {
		t.Fatalf("dirty index after the plain unlink: %v", gs)
	}
}

// TestUnlinkHoldCommit: a commit frees a held object (and only that
// name's) without waiting for the removal, after which there is nothing to
// undo.
func TestUnlinkHoldCommit(t *testing.T) {
	p, dir := newHoldPosix(t, time.Hour)
	ctx := context.Background()
	hold := vfs.WithUnlinkFlags(ctx, vfs.UnlinkHold)
	var gs []vfs.GFID
	for _, n := range []string{"a", "b"} {
		f, fh, e := p.Create(ctx, vfs.RootGFID, n, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		if e != 0 {
			t.Fatal(e)
		}
		p.Release(ctx, f.GFID, fh)
		if e := p.Unlink(hold, vfs.RootGFID, n); e != 0 {
			t.Fatal(e)
		}
		gs = append(gs, f.GFID)
	}
	commit := vfs.WithUnlinkFlags(ctx, vfs.UnlinkCommit)
	// The removal takes a's stripe (as every end of a hold does); with
	// the stripe taken here the commit must still return.
	unlock := p.lockG(gs[0])
	committed := make(chan syscall.Errno)
	go func() { committed <- p.Unlink(commit, vfs.RootGFID, "a") }()
	select {
	case e := <-committed:
		if e != 0 {
			t.Fatalf("commit: %v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the commit waited for the held object's removal")
	}
	if got := parked(t, dir); len(got) != 2 {
		t.Fatalf("parked while the removal waits: %v, want a and b", got)
	}
	unlock()
	if e := p.Unlink(commit, vfs.RootGFID, "never"); e != 0 {
		t.Fatalf("commit of a name never held: %v", e)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		got := parked(t, dir)
		if len(got) == 1 && got[0] == gs[1].String() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("parked after committing a: %v, want only b", got)
		}
	}
	undo := vfs.WithUnlinkFlags(ctx, vfs.UnlinkUndo)
	if e := p.Unlink(undo, vfs.RootGFID, "a"); e != syscall.ESTALE {
		t.Fatalf("undo after the commit: %v, want ESTALE", e)
	}
	if e := p.Unlink(undo, vfs.RootGFID, "b"); e != 0 {
		t.Fatalf("undo of the other name: %v", e)
	}
}

// TestUnlinkCommitAtClose: a removal still queued when the translator
// closes is not carried out on closed descriptors; the object stays parked
// and the next start drops it.
func TestUnlinkCommitAtClose(t *testing.T) {
	p, dir := newHoldPosix(t, time.Hour)
	ctx := context.Background()
	f := createAndHold(t, p, "a")
	unlock := p.lockG(f.GFID)
	if e := p.Unlink(vfs.WithUnlinkFlags(ctx, vfs.UnlinkCommit), vfs.RootGFID, "a"); e != 0 {
		t.Fatal(e)
	}
	closed := make(chan error)
	go func() { closed <- p.Close() }()
	// Close waits for the removal under way, which waits for the stripe.
	time.Sleep(50 * time.Millisecond)
	unlock()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got := parked(t, dir); len(got) != 1 || got[0] != f.GFID.String() {
		t.Fatalf("parked after Close: %v, want a's object", got)
	}
	q, err := New(Config{Directory: dir, HoldUnlinked: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if got := parked(t, dir); len(got) != 0 {
		t.Fatalf("parked after the next start: %v", got)
	}
}

// TestUnlinkHoldExpires: a hold ends on its own, freeing the object (and
// its dirty mark); one still open stays until its last release; a link
// after the hold finds nothing. Hard links keep the object anyway.
func TestUnlinkHoldExpires(t *testing.T) {
	p, dir := newHoldPosix(t, 50*time.Millisecond)
	ctx := context.Background()
	hold := vfs.WithUnlinkFlags(ctx, vfs.UnlinkHold)
	mk := func(name string) vfs.GFID {
		f, fh, e := p.Create(ctx, vfs.RootGFID, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		if e != 0 {
			t.Fatal(e)
		}
		p.Write(ctx, f.GFID, fh, []byte(name), 0)
		p.Release(ctx, f.GFID, fh)
		return f.GFID
	}
	gone := mk("gone")
	p.XattrOp(ctx, gone, vfs.XattrAddArray32, map[string][]byte{XattrPendingPrefix + "c0": {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}})
	open := mk("open")
	fh, e := p.Open(ctx, open, syscall.O_RDONLY)
	if e != 0 {
		t.Fatal(e)
	}
	linked := mk("linked")
	if _, e := p.Link(ctx, linked, vfs.RootGFID, "other"); e != 0 {
		t.Fatal(e)
	}
	for _, n := range []string{"gone", "open", "linked"} {
		if e := p.Unlink(hold, vfs.RootGFID, n); e != 0 {
			t.Fatal(n, e)
		}
	}
	if got := parked(t, dir); len(got) != 2 {
		t.Fatalf("parked: %v, want gone and open", got)
	}
	// The open handle still reads, as after any unlink of an open file.
	buf := make([]byte, 8)
	if n, e := p.Read(ctx, open, fh, buf, 0); e != 0 || string(buf[:n]) != "open" {
		t.Fatalf("read through the open handle: %q %v", buf[:n], e)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(parked(t, dir)) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := parked(t, dir); len(got) != 1 || got[0] != open.String() {
		t.Fatalf("after the hold: parked %v, want only the open file", got)
	}
	if gs, _ := p.DirtyGFIDs(); len(gs) != 0 {
		t.Fatalf("dirty index keeps an expired hold: %v", gs)
	}
	if _, e := p.Link(ctx, gone, vfs.RootGFID, "gone"); e != syscall.ESTALE {
		t.Fatalf("link after the hold: %v, want ESTALE", e)
	}
	if e := p.Unlink(vfs.WithUnlinkFlags(ctx, vfs.UnlinkUndo), vfs.RootGFID, "gone"); e != syscall.ESTALE {
		t.Fatalf("undo after the hold: %v, want ESTALE", e)
	}
	// Name records end with the hold too, parked object or not.
	if e := p.Unlink(vfs.WithUnlinkFlags(ctx, vfs.UnlinkUndo), vfs.RootGFID, "linked"); e == 0 {
		t.Fatal("undo of a name whose hold ended succeeded")
	}
	p.Release(ctx, open, fh)
	if got := parked(t, dir); len(got) != 0 {
		t.Fatalf("after the last release: parked %v", got)
	}
	if a, e := p.GetAttr(ctx, linked, 0); e != 0 || a.Nlink != 1 {
		t.Fatalf("the hard-linked file: %+v %v", a, e)
	}
}

// TestUnlinkHoldRestart: objects held when the brick stops are gone at the
// next start, as files unlinked while open are.
func TestUnlinkHoldRestart(t *testing.T) {
	p, dir := newHoldPosix(t, time.Hour)
	ctx := context.Background()
	f, fh, _ := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	p.Release(ctx, f.GFID, fh)
	if e := p.Unlink(vfs.WithUnlinkFlags(ctx, vfs.UnlinkHold), vfs.RootGFID, "f"); e != 0 {
		t.Fatal(e)
	}
	p.Close()
	p2, err := New(Config{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if got := parked(t, dir); len(got) != 0 {
		t.Fatalf("parked after a restart: %v", got)
	}
	if _, e := p2.Link(ctx, f.GFID, vfs.RootGFID, "f"); e != syscall.ESTALE {
		t.Fatalf("link after a restart: %v", e)
	}
}

// TestUnlinkHoldSymlink: a held symlink is parked and brought back as the
// link itself, never followed (its target may point anywhere).
func TestUnlinkHoldSymlink(t *testing.T) {
	p, _ := newHoldPosix(t, time.Hour)
	ctx := context.Background()
	s, e := p.Symlink(ctx, vfs.RootGFID, "s", "/etc/passwd", &vfs.CreateIn{})
	if e != 0 {
		t.Fatal(e)
	}
	if e := p.Unlink(vfs.WithUnlinkFlags(ctx, vfs.UnlinkHold), vfs.RootGFID, "s"); e != 0 {
		t.Fatal(e)
	}
	if e := p.Unlink(vfs.WithUnlinkFlags(ctx, vfs.UnlinkUndo), vfs.RootGFID, "s"); e != 0 {
		t.Fatalf("undo: %v", e)
	}
	a, e := p.Lookup(ctx, vfs.RootGFID, "s")
	if e != 0 || a.GFID != s.GFID || a.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		t.Fatalf("symlink after the undo: %+v %v", a, e)
	}
	if target, e := p.Readlink(ctx, s.GFID); e != 0 || target != "/etc/passwd" {
		t.Fatalf("readlink after the undo: %q %v", target, e)
	}
}

// TestEndHoldsLendsAP: while the background worker ends committed holds,
// the Booster of Config.Procs lends the process one more P, and takes it
// back once the worker has been idle for the Booster's linger time.
func TestEndHoldsLendsAP(t *testing.T) {
	base := runtime.GOMAXPROCS(0)
	p, _ := newTestPosixConfig(t, Config{HoldUnlinked: time.Hour, Procs: procs.NewBooster(20 * time.Millisecond)})
	ctx := context.Background()
	f := createAndHold(t, p, "a")
	if n := runtime.GOMAXPROCS(0); n != base {
		t.Fatalf("GOMAXPROCS %d before any hold ended, want %d", n, base)
	}
	// The worker waits for a's stripe, held here: it is busy meanwhile.
	// (Released before the translator closes if the test fails.)
	unlock := sync.OnceFunc(p.lockG(f.GFID))
	t.Cleanup(unlock)
	if e := p.Unlink(vfs.WithUnlinkFlags(ctx, vfs.UnlinkCommit), vfs.RootGFID, "a"); e != 0 {
		t.Fatal(e)
	}
	waitGOMAXPROCS := func(want int, what string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); runtime.GOMAXPROCS(0) != want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOMAXPROCS %d, want %d", what, runtime.GOMAXPROCS(0), want)
			}
		}
	}
	waitGOMAXPROCS(base+1, "while the worker ends a hold")
	time.Sleep(50 * time.Millisecond) // past the linger time, still busy
	if n := runtime.GOMAXPROCS(0); n != base+1 {
		t.Fatalf("busy worker: GOMAXPROCS %d, want %d", n, base+1)
	}
	unlock()
	waitGOMAXPROCS(base, "after the worker went idle")
}

// commitUnlinks commits the held unlinks of names in the root.
func commitUnlinks(t *testing.T, p *Posix, names ...string) {
	t.Helper()
	ctx := vfs.WithUnlinkFlags(context.Background(), vfs.UnlinkCommit)
	for _, n := range names {
		if e := p.Unlink(ctx, vfs.RootGFID, n); e != 0 {
			t.Fatalf("commit %s: %v", n, e)
		}
	}
}

// waitParked waits until dir's parked objects number want.
func waitParked(t *testing.T, dir string, want int, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); len(parked(t, dir)) != want; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d objects parked, want %d", what, len(parked(t, dir)), want)
		}
	}
}

// TestHoldEndsWaitForAPause: committed unlinks leave their objects parked
// while commits keep coming (here: until HoldEndIdle, an hour), and
// StatFS removes them before it reports the space.
func TestHoldEndsWaitForAPause(t *testing.T) {
	p, dir := newTestPosixConfig(t, Config{HoldUnlinked: time.Hour, HoldEndIdle: time.Hour})
	names := []string{"a", "b", "c"}
	for _, n := range names {
		createAndHold(t, p, n)
	}
	commitUnlinks(t, p, names...)
	time.Sleep(100 * time.Millisecond)
	if got := parked(t, dir); len(got) != 3 {
		t.Fatalf("before a pause: %d objects parked, want 3 (%v)", len(got), got)
	}
	if _, e := p.StatFS(context.Background(), vfs.RootGFID); e != 0 {
		t.Fatal(e)
	}
	if got := parked(t, dir); len(got) != 0 {
		t.Fatalf("after StatFS: still parked %v", got)
	}
}

// TestHoldEndsAfterIdleOrBatch: the removals start once commits pause for
// HoldEndIdle, at once when HoldEndBatch objects wait, and at the next
// commit once the oldest waited holdEndMaxWait (commits that never pause).
func TestHoldEndsAfterIdleOrBatch(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		p, dir := newTestPosixConfig(t, Config{HoldUnlinked: time.Hour, HoldEndIdle: 20 * time.Millisecond})
		createAndHold(t, p, "a")
		createAndHold(t, p, "b")
		commitUnlinks(t, p, "a", "b")
		waitParked(t, dir, 0, "after the pause")
	})
	t.Run("batch", func(t *testing.T) {
		p, dir := newTestPosixConfig(t, Config{HoldUnlinked: time.Hour, HoldEndIdle: time.Hour, HoldEndBatch: 3})
		for _, n := range []string{"a", "b", "c"} {
			createAndHold(t, p, n)
		}
		commitUnlinks(t, p, "a", "b")
		time.Sleep(100 * time.Millisecond)
		if got := parked(t, dir); len(got) != 3 {
			t.Fatalf("2 of a batch of 3 committed: %d parked, want 3", len(got))
		}
		commitUnlinks(t, p, "c")
		waitParked(t, dir, 0, "a full batch")
	})
	t.Run("trickle", func(t *testing.T) {
		p, dir := newTestPosixConfig(t, Config{HoldUnlinked: time.Hour, HoldEndIdle: time.Hour})
		createAndHold(t, p, "a")
		createAndHold(t, p, "b")
		commitUnlinks(t, p, "a")
		time.Sleep(holdEndMaxWait + 50*time.Millisecond)
		if got := parked(t, dir); len(got) != 2 {
			t.Fatalf("one commit, no pause: %d parked, want 2", len(got))
		}
		commitUnlinks(t, p, "b")
		waitParked(t, dir, 0, "a commit after the oldest waited long enough")
	})
}

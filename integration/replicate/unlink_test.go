package replicate

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/vfs"
)

// TestUnlinkUndoOverNetwork runs the undo of a replicated unlink against
// brick processes: another client holds the name's entry lock on brick 2
// only, so the unlink that travelled with its lock to brick 1 is undone
// there (the brick held the object: the hold and undo flags cross the
// wire) and done again once the lock is free. While it waits, both
// bricks show the file with its content; afterwards neither does, and
// the exports are identical.
func TestUnlinkUndoOverNetwork(t *testing.T) {
	needBinary(t)
	b1 := harness.StartBrick(t, harness.BrickOptions{})
	b2 := harness.StartBrick(t, harness.BrickOptions{})
	m := mountText(t, benchVolfile([]*harness.Brick{b1, b2}))
	intruder := mountText(t, benchVolfile([]*harness.Brick{b2})).top
	ctx := vfs.WithCaller(context.Background(), &vfs.Caller{Client: "a"})
	octx := vfs.WithCaller(context.Background(), &vfs.Caller{Client: "intruder"})

	a, fh, e := m.top.Create(ctx, vfs.RootGFID, "victim", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
	must(t, "create", e)
	_, e = m.top.Write(ctx, a.GFID, fh, []byte("still here"), 0)
	must(t, "write", e)
	must(t, "flush", m.top.Flush(ctx, a.GFID, fh))
	m.top.Release(ctx, a.GFID, fh)
	m.r.FlushTransactions(ctx)

	// An uncontended unlink first: the bricks hold the object until the
	// commit that travels with the name unlock frees it, well before the
	// hold's 10 s (in the background: the commit does not wait for the
	// removal, so the check gives it 2 s).
	b, fh, e := m.top.Create(ctx, vfs.RootGFID, "plain", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
	must(t, "create", e)
	m.top.Release(ctx, b.GFID, fh)
	must(t, "unlink", m.top.Unlink(ctx, vfs.RootGFID, "plain"))
	m.r.FlushTransactions(ctx)
	for _, br := range []*harness.Brick{b1, b2} {
		parked := filepath.Join(br.Dir, vfs.ReservedName, "unlink", b.GFID.String())
		deadline := time.Now().Add(2 * time.Second)
		_, err := os.Lstat(parked)
		for ; !os.IsNotExist(err) && time.Now().Before(deadline); _, err = os.Lstat(parked) {
			time.Sleep(5 * time.Millisecond)
		}
		if !os.IsNotExist(err) {
			t.Errorf("%s: the unlinked object is still held 2 s after the commit: %v", br.Dir, err)
		}
	}

	must(t, "intruder lock", intruder.EntryLk(octx, "replicate", vfs.RootGFID, "victim", vfs.WriteLock, 99, false))
	seen := make(chan string, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		msg := ""
		for _, br := range []*harness.Brick{b1, b2} {
			data, err := os.ReadFile(filepath.Join(br.Dir, "victim"))
			if err != nil || string(data) != "still here" {
				msg += br.Dir + ": " + string(data) + " " + errString(err) + "; "
			}
		}
		seen <- msg
		intruder.EntryLk(octx, "replicate", vfs.RootGFID, "victim", vfs.Unlock, 99, false)
	}()
	start := time.Now()
	must(t, "unlink", m.top.Unlink(ctx, vfs.RootGFID, "victim"))
	if time.Since(start) < 250*time.Millisecond {
		t.Errorf("the unlink did not wait for the intruder's lock")
	}
	if msg := <-seen; msg != "" {
		t.Errorf("while the unlink waited, the file was not whole on both bricks: %s", msg)
	}
	for _, br := range []*harness.Brick{b1, b2} {
		if _, err := os.Lstat(filepath.Join(br.Dir, "victim")); !os.IsNotExist(err) {
			t.Errorf("%s after the unlink: %v", br.Dir, err)
		}
	}
	m.r.FlushTransactions(ctx)
	sameExports(t, b1, b2)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

package replicate

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/vfs"
)

// TestFrozenBrick stops a brick with SIGSTOP during writes: with
// ping-timeout 2 the volume must carry on within a few seconds (writes and
// reads), and after SIGCONT the brick is healed back.
func TestFrozenBrick(t *testing.T) {
	needBinary(t)
	bricks := []*harness.Brick{harness.StartBrick(t, harness.BrickOptions{}), harness.StartBrick(t, harness.BrickOptions{})}
	m := newMount(t, bricks, "2")
	ctx := context.Background()
	a, fh, errno := m.top.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	must(t, "create", errno)
	const bs = 256 << 10
	write := func(k int) time.Duration {
		start := time.Now()
		if n, errno := m.top.Write(ctx, a.GFID, fh, block(k, bs), int64(k)*bs); errno != 0 || n != bs {
			t.Fatalf("write %d: n=%d %v", k, n, errno)
		}
		return time.Since(start)
	}
	for k := range 20 {
		write(k)
	}
	bricks[1].Freeze()
	frozenAt := time.Now()
	var worst time.Duration
	for k := 20; k < 60; k++ {
		worst = max(worst, write(k))
	}
	t.Logf("40 writes with brick 2 frozen took %v, slowest %v", time.Since(frozenAt), worst)
	if worst > 8*time.Second {
		t.Errorf("a write stalled %v with ping-timeout 2", worst)
	}
	// Reads and new files work while it is frozen.
	start := time.Now()
	b, fh2, errno := m.top.Create(ctx, vfs.RootGFID, "g", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	must(t, "create while frozen", errno)
	m.top.Write(ctx, b.GFID, fh2, []byte("made while frozen"), 0)
	m.top.Release(ctx, b.GFID, fh2)
	buf := make([]byte, bs)
	n, errno := m.top.Read(ctx, a.GFID, fh, buf, 5*bs)
	if errno != 0 || n != bs || !bytes.Equal(buf, block(5, bs)) {
		t.Fatalf("read while frozen: n=%d %v", n, errno)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("create and read took %v while frozen", d)
	}
	must(t, "release", m.top.Release(ctx, a.GFID, fh))
	bricks[1].Thaw()
	st := m.heal(t)
	t.Logf("heal after SIGCONT: %+v", st)
	ents := sameExports(t, bricks...)
	if ents["f"].size != 60*bs {
		t.Errorf("f has %d bytes, want %d", ents["f"].size, 60*bs)
	}
}

// TestStaleRead cuts client A off brick 2 (through a TCP proxy) while it
// rewrites files; client B, connected to both bricks, must read A's new
// data after its cache timeouts, never brick 2's stale copy.
func TestStaleRead(t *testing.T) {
	needBinary(t)
	b1 := harness.StartBrick(t, harness.BrickOptions{})
	b2 := harness.StartBrick(t, harness.BrickOptions{})
	px := newProxy(t, b2.Addr())
	viaProxy := &harness.Brick{Name: b2.Name, Port: px.port()}
	// Neither client heals, so B must choose the good copy itself.
	noHeal := []string{"data-self-heal off", "metadata-self-heal off", "entry-self-heal off", "self-heal-daemon off"}
	clientA := newMount(t, []*harness.Brick{b1, viaProxy}, "2", noHeal...)
	clientB := newMount(t, []*harness.Brick{b1, b2}, "2", noHeal...)
	ctx := context.Background()
	const files = 8 // enough that B's per-file read child is brick 2 for some
	gfids := make([]vfs.GFID, files)
	for i := range files {
		a, fh, errno := clientA.top.Create(ctx, vfs.RootGFID, fmt.Sprintf("f%d", i), &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		must(t, "create", errno)
		clientA.top.Write(ctx, a.GFID, fh, []byte("version 1"), 0)
		must(t, "release", clientA.top.Release(ctx, a.GFID, fh))
		gfids[i] = a.GFID
	}
	clientA.r.FlushTransactions(ctx)
	for i, g := range gfids {
		got, errno := readAll(ctx, clientB.top, g)
		if errno != 0 || string(got) != "version 1" {
			t.Fatalf("B reads f%d: %q %v", i, got, errno)
		}
	}
	px.setCut(true)
	for i, g := range gfids {
		fh, errno := clientA.top.Open(ctx, g, syscall.O_RDWR|syscall.O_TRUNC)
		must(t, fmt.Sprintf("A opens f%d with brick 2 cut off", i), errno)
		if _, errno := clientA.top.Write(ctx, g, fh, []byte("version 2, written by A alone"), 0); errno != 0 {
			t.Fatalf("A writes f%d: %v", i, errno)
		}
		must(t, "release", clientA.top.Release(ctx, g, fh))
	}
	clientA.r.FlushTransactions(ctx)
	time.Sleep(1500 * time.Millisecond) // B's io-cache and changelog cache timeouts
	for round := range 3 {
		for i, g := range gfids {
			got, errno := readAll(ctx, clientB.top, g)
			if errno != 0 || string(got) != "version 2, written by A alone" {
				t.Fatalf("round %d: B reads f%d: %q %v (stale copy of brick 2?)", round, i, got, errno)
			}
		}
	}
	px.setCut(false)
}

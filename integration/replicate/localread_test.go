package replicate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/client"
)

// descriptorsInto counts this process's descriptors of g's file under the
// export directory dir.
func descriptorsInto(t *testing.T, dir string, g vfs.GFID) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil && strings.HasPrefix(target, dir+"/") && strings.Contains(target, g.String()) {
			n++
		}
	}
	return n
}

// TestLocalReadsAcrossBrickDeath: with brick processes on this host, a
// client reads a file through a descriptor the brick hands over (the
// default, local-read on both ends), and moves its bytes into pipes
// through it (vfs.PipeReader). When that brick is killed the
// descriptor closes and reads come from the other brick; once the brick is
// back with a stale copy, no read comes from that copy; after heal the
// bricks are equal.
func TestLocalReadsAcrossBrickDeath(t *testing.T) {
	needBinary(t)
	bricks := []*harness.Brick{harness.StartBrick(t, harness.BrickOptions{}), harness.StartBrick(t, harness.BrickOptions{})}
	m := newMount(t, bricks, "2")
	ctx := context.Background()
	v1, v2 := block(1, 4<<20), block(2, 3<<20+123)
	write := func(data []byte, flags uint32) vfs.GFID {
		a, e := m.top.Lookup(ctx, vfs.RootGFID, "f")
		var fh vfs.Handle
		if e == syscall.ENOENT {
			a, fh, e = m.top.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		} else if e == 0 {
			fh, e = m.top.Open(ctx, a.GFID, flags)
		}
		must(t, "open f", e)
		if n, e := m.top.Write(ctx, a.GFID, fh, data, 0); e != 0 || n != len(data) {
			t.Fatalf("write: %d %v", n, e)
		}
		must(t, "release", m.top.Release(ctx, a.GFID, fh))
		m.r.FlushTransactions(ctx)
		return a.GFID
	}
	// Reads go to replicate directly: io-cache above would serve them.
	// Each is followed by the file's bytes moved into pipes (as the NFS
	// gateway does for large READs), which must be the same whenever
	// they are moved at all; spliced says how many MiB were.
	var spliced int
	check := func(what string, g vfs.GFID, want []byte) {
		t.Helper()
		got, e := readAll(ctx, m.r, g)
		if e != 0 || !bytes.Equal(got, want) {
			t.Fatalf("%s: %v, %d bytes, want %d (equal %v)", what, e, len(got), len(want), bytes.Equal(got, want))
		}
		spliced = 0
		for off := 0; off <= len(want); off += 1 << 20 {
			got, e := harness.ReadToPipe(t, ctx, m.r, g, 0, 1<<20, int64(off))
			if e == syscall.EOPNOTSUPP {
				continue // not local now: the gateway would Read
			}
			if part := want[off:min(off+1<<20, len(want))]; e != 0 || !bytes.Equal(got, part) {
				t.Fatalf("%s: moved into a pipe at %d: %v, %d bytes, want %d (equal %v)", what, off, e, len(got), len(part), bytes.Equal(got, part))
			}
			spliced++
		}
	}
	g := write(v1, syscall.O_RDWR)
	for i := range 2 {
		check(fmt.Sprintf("read %d", i), g, v1)
	}
	holder := -1
	for i, b := range bricks {
		if descriptorsInto(t, b.Dir, g) > 0 {
			if holder >= 0 {
				t.Fatal("descriptors of both bricks' copies are open")
			}
			holder = i
		}
	}
	if holder < 0 {
		t.Fatal("no local descriptor of the file after two reads: local reads are not in use")
	}
	if spliced == 0 {
		t.Fatal("no range of the file was moved into a pipe through its local descriptor")
	}
	victim := bricks[holder]
	cl := m.g.Volume(fmt.Sprintf("brick%d", holder+1)).(*client.Client)
	victim.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for cl.Up() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	check("read with the brick killed", g, v1)
	if n := descriptorsInto(t, victim.Dir, g); n != 0 {
		t.Fatalf("%d descriptors of the killed brick's copy still open", n)
	}

	write(v2, syscall.O_RDWR|syscall.O_TRUNC)
	victim.Start()
	m.waitUp(t)
	for i := range 4 {
		check(fmt.Sprintf("read %d before heal (the restarted brick's copy is stale)", i), g, v2)
	}
	m.heal(t)
	sameExports(t, bricks...)
	for i := range 3 {
		check(fmt.Sprintf("read %d after heal", i), g, v2)
	}
	if spliced == 0 {
		t.Fatal("after heal no range of the file was moved into a pipe")
	}
}

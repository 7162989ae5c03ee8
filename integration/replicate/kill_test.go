package replicate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/vfs"
)

// streamMiB is the size of the streamed file (256 MiB as the issue asks;
// CAIRN_STREAM_MIB or -short make it smaller).
func streamMiB() int {
	if v, err := strconv.Atoi(os.Getenv("CAIRN_STREAM_MIB")); err == nil && v > 0 {
		return v
	}
	if testing.Short() {
		return 32
	}
	return 256
}

// TestKillDuringStreamingWrite streams a file while another client
// creates, renames and deletes files; one brick is SIGKILLed a quarter of
// the way and restarted half way; after heal both bricks are identical and
// the file holds every acknowledged block. Then again killing the other
// brick.
func TestKillDuringStreamingWrite(t *testing.T) {
	needBinary(t)
	for victim := range 2 {
		t.Run(fmt.Sprintf("kill-brick%d", victim+1), func(t *testing.T) { killDuringStream(t, victim) })
	}
}

func killDuringStream(t *testing.T, victim int) {
	bricks := []*harness.Brick{harness.StartBrick(t, harness.BrickOptions{}), harness.StartBrick(t, harness.BrickOptions{})}
	writer := newMount(t, bricks, "2")
	churner := newMount(t, bricks, "2")
	ctx := context.Background()
	const bs = 1 << 20
	total := streamMiB()

	a, fh, errno := writer.top.Create(ctx, vfs.RootGFID, "stream", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
	must(t, "create", errno)
	var acked atomic.Int64
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for k := range total {
			data := block(k, bs)
			if n, errno := writer.top.Write(ctx, a.GFID, fh, data, int64(k)*bs); errno != 0 || n != bs {
				t.Errorf("write of block %d: n=%d %v (quorum none: must succeed with one brick)", k, n, errno)
				return
			}
			acked.Store(int64(k + 1))
		}
		must(t, "flush", writer.top.Flush(ctx, a.GFID, fh))
		must(t, "release", writer.top.Release(ctx, a.GFID, fh))
	}()
	// The other client's namespace churn, until the stream ends.
	d, errno := churner.top.Mkdir(ctx, vfs.RootGFID, "churn", &vfs.CreateIn{Mode: 0o755})
	must(t, "mkdir", errno)
	var churnOps atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			name := fmt.Sprintf("f%d", i)
			fa, ffh, errno := churner.top.Create(ctx, d.GFID, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
			if errno != 0 {
				t.Errorf("churn create %s: %v", name, errno)
				return
			}
			churner.top.Write(ctx, fa.GFID, ffh, []byte(name), 0)
			churner.top.Release(ctx, fa.GFID, ffh)
			if errno := churner.top.Rename(ctx, d.GFID, name, d.GFID, "r"+name, 0); errno != 0 {
				t.Errorf("churn rename %s: %v", name, errno)
				return
			}
			if i%3 == 0 {
				if errno := churner.top.Unlink(ctx, d.GFID, "r"+name); errno != 0 {
					t.Errorf("churn unlink %s: %v", name, errno)
					return
				}
			}
			churnOps.Add(1)
		}
	}()
	waitAcked := func(k int) {
		for acked.Load() < int64(k) {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	waitAcked(total / 4)
	t.Logf("killing brick %d at block %d", victim+1, acked.Load())
	bricks[victim].Kill()
	waitAcked(total / 2)
	t.Logf("restarting brick %d at block %d", victim+1, acked.Load())
	bricks[victim].Start()
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("stream done, %d churn operations", churnOps.Load())
	churner.r.FlushTransactions(ctx)
	start := time.Now()
	st := writer.heal(t)
	t.Logf("heal: %+v in %v", st, time.Since(start))
	ents := sameExports(t, bricks...)

	// Every acknowledged block is on both bricks.
	want := sha256.New()
	for k := range int(acked.Load()) {
		want.Write(block(k, bs))
	}
	sum := fmt.Sprintf("%x", want.Sum(nil))
	if ents["stream"].sum != sum || ents["stream"].size != acked.Load()*bs {
		t.Fatalf("stream on the bricks: size %d sum %s; want %d bytes, sum %s", ents["stream"].size, ents["stream"].sum, acked.Load()*bs, sum)
	}
	// And the churner's names are what it made.
	for i := range int(churnOps.Load()) {
		_, ok := ents[filepath.Join("churn", fmt.Sprintf("rf%d", i))]
		if ok != (i%3 != 0) {
			t.Errorf("churn/rf%d present=%v", i, ok)
		}
	}
}

// TestKillDuringRenameAndRmdir kills bricks (each in turn) while a client
// renames directories and removes trees, restarts and heals them, and
// checks that both bricks end identical and match the client's view.
func TestKillDuringRenameAndRmdir(t *testing.T) {
	needBinary(t)
	bricks := []*harness.Brick{harness.StartBrick(t, harness.BrickOptions{}), harness.StartBrick(t, harness.BrickOptions{})}
	m := newMount(t, bricks, "2")
	ctx := context.Background()
	top := m.top
	mkTree := func(parent vfs.GFID, name string) {
		d, errno := top.Mkdir(ctx, parent, name, &vfs.CreateIn{Mode: 0o755})
		must(t, "mkdir "+name, errno)
		for j := range 5 {
			a, fh, errno := top.Create(ctx, d.GFID, fmt.Sprint(j), &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
			must(t, "create", errno)
			top.Write(ctx, a.GFID, fh, bytes.Repeat([]byte(name), 100), 0)
			top.Release(ctx, a.GFID, fh)
		}
		_, errno = top.Mkdir(ctx, d.GFID, "sub", &vfs.CreateIn{Mode: 0o700})
		must(t, "mkdir sub", errno)
	}
	rmTree := func(parent vfs.GFID, name string) syscall.Errno {
		d, errno := top.Lookup(ctx, parent, name)
		if errno != 0 {
			return errno
		}
		for j := range 5 {
			if errno := top.Unlink(ctx, d.GFID, fmt.Sprint(j)); errno != 0 {
				return errno
			}
		}
		if errno := top.Rmdir(ctx, d.GFID, "sub"); errno != 0 {
			return errno
		}
		return top.Rmdir(ctx, parent, name)
	}
	for i := range 20 {
		mkTree(vfs.RootGFID, fmt.Sprintf("t%d", i))
	}
	for round := range 4 {
		victim := bricks[round%2]
		var wg sync.WaitGroup
		wg.Add(1)
		stop := make(chan struct{})
		var ops atomic.Int64
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a, b := fmt.Sprintf("t%d", i%20), fmt.Sprintf("t%d", (i+7)%20)
				if i%2 == 0 {
					// Rename a tree onto another name (the target is
					// removed first so the rename always moves a tree).
					if errno := rmTree(vfs.RootGFID, b); errno != 0 && errno != syscall.ENOENT {
						t.Errorf("round %d rmtree %s: %v", round, b, errno)
						return
					}
					if errno := top.Rename(ctx, vfs.RootGFID, a, vfs.RootGFID, b, 0); errno != 0 && errno != syscall.ENOENT {
						t.Errorf("round %d rename %s %s: %v", round, a, b, errno)
						return
					}
				} else if _, errno := top.Lookup(ctx, vfs.RootGFID, a); errno == syscall.ENOENT {
					mkTree(vfs.RootGFID, a)
				}
				ops.Add(1)
			}
		}()
		time.Sleep(300 * time.Millisecond)
		victim.Kill()
		time.Sleep(700 * time.Millisecond)
		victim.Start()
		time.Sleep(300 * time.Millisecond)
		close(stop)
		wg.Wait()
		if t.Failed() {
			return
		}
		st := m.heal(t)
		t.Logf("round %d: %d ops, heal %+v", round, ops.Load(), st)
		sameExports(t, bricks...)
	}
	// The client's view is the bricks' view.
	ents := scanExport(t, bricks[0].Dir)
	for i := range 20 {
		name := fmt.Sprintf("t%d", i)
		_, errno := top.Lookup(ctx, vfs.RootGFID, name)
		_, onBrick := ents[name]
		if (errno == 0) != onBrick {
			t.Errorf("%s: client lookup %v, on brick %v", name, errno, onBrick)
		}
	}
}

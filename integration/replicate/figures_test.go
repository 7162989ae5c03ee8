package replicate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/internal/hugebuf"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/stack"
)

// TestFigures measures replicate over two loopback bricks against one
// brick, interleaved so both see the same machine load (and take turns
// at going first), and reports wall
// time and CPU time (this process plus the brick processes) per
// operation. CPU per operation does not depend on what else the machine
// runs; wall time does. Run with CAIRN_FIGURES=1.
func TestFigures(t *testing.T) {
	if os.Getenv("CAIRN_FIGURES") == "" {
		t.Skip("set CAIRN_FIGURES=1 to measure")
	}
	needBinary(t)
	b1 := harness.StartBrick(t, harness.BrickOptions{})
	b2 := harness.StartBrick(t, harness.BrickOptions{})
	b3 := harness.StartBrick(t, harness.BrickOptions{})
	type volume struct {
		name   string
		top    vfs.Translator // the bare stack: protocol/client, replicate
		graph  vfs.Translator // the same under a mount's performance layers
		bricks []*harness.Brick
	}
	newStack := func(name, top string, bricks []*harness.Brick) volume {
		bare := benchVolfile(bricks)
		return volume{name, mountText(t, bare).top, mountText(t, bare+stack.PerformanceLayers("vol", top)).top, bricks}
	}
	stacks := []volume{
		newStack("single", "brick1", []*harness.Brick{b1}),
		newStack("replicate", "mirror", []*harness.Brick{b2, b3}),
	}
	ctx := context.Background()
	const bs = 1 << 20
	data := block(1, bs)
	small := block(2, 4096)
	type result struct{ wall, cpu time.Duration }
	seqWrite := func(name string) func(tr vfs.Translator, dir vfs.GFID, n int) {
		return func(tr vfs.Translator, dir vfs.GFID, n int) {
			a, fh, errno := tr.Create(ctx, dir, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
			must(t, "create", errno)
			for k := range n {
				if _, errno := tr.Write(ctx, a.GFID, fh, data, int64(k)*bs); errno != 0 {
					t.Fatal(errno)
				}
			}
			must(t, "flush", tr.Flush(ctx, a.GFID, fh))
			tr.Release(ctx, a.GFID, fh)
		}
	}
	workloads := []struct {
		name  string
		unit  string
		n     int
		graph bool // run on the stack under the mount's performance layers
		run   func(t vfs.Translator, dir vfs.GFID, n int)
	}{
		// One write at a time, each waiting for the bricks' disk write:
		// where the bricks share one disk, a replicated write waits for
		// two disk writes sharing its bandwidth.
		{"seq write 1 MiB", "MiB", 64, false, seqWrite("w")},
		// What an application's sequential write through a mount gets:
		// write-behind keeps several writes in flight, so the disk and
		// the network work at the same time.
		{"seq write, mount layers", "MiB", 64, true, seqWrite("wg")},
		{"seq read 1 MiB", "MiB", 64, false, func(tr vfs.Translator, dir vfs.GFID, n int) {
			a, errno := tr.Lookup(ctx, dir, "w")
			must(t, "lookup", errno)
			fh, errno := tr.Open(ctx, a.GFID, syscall.O_RDONLY)
			must(t, "open", errno)
			buf := make([]byte, bs)
			for k := range n {
				if _, errno := tr.Read(ctx, a.GFID, fh, buf, int64(k)*bs); errno != 0 {
					t.Fatal(errno)
				}
			}
			tr.Release(ctx, a.GFID, fh)
		}},
		{"create+write 4K+close", "file", 300, false, func(tr vfs.Translator, dir vfs.GFID, n int) {
			for i := range n {
				a, fh, errno := tr.Create(ctx, dir, fmt.Sprint("f", i), &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
				must(t, "create", errno)
				tr.Write(ctx, a.GFID, fh, small, 0)
				tr.Flush(ctx, a.GFID, fh)
				tr.Release(ctx, a.GFID, fh)
			}
		}},
	}
	rounds := 4
	res := map[string]map[string]result{}
	// The disk's own share for two writers, measured in the same rounds:
	// replicate's bricks write every byte twice, at the same time, so
	// where they share one disk (as here) each of their writes takes what
	// a write takes while another runs.
	var diskOne, diskTwo time.Duration
	diskDir := filepath.Dir(b1.Dir)
	for round := range rounds {
		if round%2 == 0 {
			diskOne += directWriters(t, diskDir, 1, 64, bs)
			diskTwo += directWriters(t, diskDir, 2, 64, bs)
		} else {
			diskTwo += directWriters(t, diskDir, 2, 64, bs)
			diskOne += directWriters(t, diskDir, 1, 64, bs)
		}
		dirs := map[string]vfs.GFID{}
		for _, s := range stacks {
			d, errno := s.top.Mkdir(ctx, vfs.RootGFID, fmt.Sprint("round", round), &vfs.CreateIn{Mode: 0o755})
			must(t, "mkdir", errno)
			dirs[s.name] = d.GFID
		}
		for _, w := range workloads {
			if res[w.name] == nil {
				res[w.name] = map[string]result{}
			}
			// Whichever stack runs second in a workload finds the
			// memory and the disk as the first left them (a cold read
			// fills page cache with pages freed longer ago, which this VM
			// makes dearer): the order alternates by round (ABBA over
			// four rounds), so neither stack always comes second.
			order := stacks
			if round%2 == 1 {
				order = []volume{stacks[1], stacks[0]}
			}
			for _, s := range order {
				cpu0 := processCPU() + bricksCPU(s.bricks)
				start := time.Now()
				tr := s.top
				if w.graph {
					tr = s.graph
				}
				w.run(tr, dirs[s.name], w.n)
				wall := time.Since(start)
				cpu := processCPU() + bricksCPU(s.bricks) - cpu0
				r := res[w.name][s.name]
				r.wall += wall
				r.cpu += cpu
				res[w.name][s.name] = r
			}
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\n%-24s %-10s %14s %14s %12s\n", "workload", "stack", "wall/unit", "cpu/unit", "rate")
	for _, w := range workloads {
		var rates [2]float64
		for k, s := range stacks {
			r := res[w.name][s.name]
			n := float64(w.n * rounds)
			rate := n / r.wall.Seconds()
			rates[k] = rate
			fmt.Fprintf(&out, "%-24s %-10s %14v %14v %9.1f %s/s\n", w.name, s.name,
				(r.wall / time.Duration(n)).Round(time.Microsecond), (r.cpu / time.Duration(n)).Round(time.Microsecond), rate, w.unit)
		}
		fmt.Fprintf(&out, "%-24s replicate/single = %.0f%%\n", "", 100*rates[1]/rates[0])
	}
	one, two := float64(64*rounds)/diskOne.Seconds(), float64(64*rounds)/diskTwo.Seconds()
	fmt.Fprintf(&out, "%-24s one writer %.1f MiB/s (%v/MiB), each of two concurrent writers %.1f MiB/s (%v/MiB) = %.0f%%\n",
		"disk O_DIRECT 1 MiB", one, (diskOne / time.Duration(64*rounds)).Round(time.Microsecond),
		two, (diskTwo / time.Duration(64*rounds)).Round(time.Microsecond), 100*two/one)
	t.Log(out.String())
}

// directWriters runs n concurrent writers, each writing a new file of
// mib blocks of bs bytes with O_DIRECT in dir from a huge-page buffer (as
// a brick writes large aligned writes), and returns the wall time until
// all are done.
func directWriters(t *testing.T, dir string, n, mib, bs int) time.Duration {
	t.Helper()
	errs := make(chan error, n)
	pool := hugebuf.New(bs, n)
	start := time.Now()
	for w := range n {
		go func() {
			errs <- func() error {
				name := filepath.Join(dir, fmt.Sprint("direct", w))
				defer os.Remove(name)
				f, err := os.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|syscall.O_DIRECT, 0o644)
				if err != nil {
					return err
				}
				defer f.Close()
				buf := *pool.Get() // as the brick's write buffers
				defer pool.Put(&buf)
				copy(buf, block(w, bs))
				for k := range mib {
					if _, err := f.WriteAt(buf, int64(k*bs)); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("O_DIRECT writer: %v", err)
		}
	}
	return time.Since(start)
}

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bricksCPU sums the CPU time of the brick processes (found by their
// volfile on the command line).
func bricksCPU(bricks []*harness.Brick) time.Duration {
	var total time.Duration
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmd, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, b := range bricks {
			if !strings.Contains(string(cmd), b.Volfile) {
				continue
			}
			stat, err := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
			if err != nil {
				continue
			}
			// Fields after the command name in parentheses.
			f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
			ut, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			total += time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ 100
		}
	}
	return total
}

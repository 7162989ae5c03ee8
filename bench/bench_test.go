package main

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairnfs/cairn/bench/fsops"
)

func TestCellStats(t *testing.T) {
	c := &cell{samples: []float64{5, 1, 3}}
	if c.median() != 3 || c.min() != 1 || c.max() != 5 {
		t.Fatalf("median/min/max %v %v %v", c.median(), c.min(), c.max())
	}
	c.samples = append(c.samples, 4)
	if c.median() != 3.5 {
		t.Fatalf("even median %v", c.median())
	}
}

func TestSpeedupDirection(t *testing.T) {
	r := newResults()
	r.define(workload{"rate", "rate", "MiB/s", true, "seq"})
	r.define(workload{"time", "time", "s", false, "untar"})
	r.add("rate", sysCairnFUSE, 300)
	r.add("rate", sysGluster, 100)
	r.add("time", sysCairnFUSE, 10)
	r.add("time", sysGluster, 40)
	if f := r.speedup(*r.workload("rate"), sysCairnFUSE, sysGluster); f != 3 {
		t.Errorf("rate speedup %v, want 3", f)
	}
	if f := r.speedup(*r.workload("time"), sysCairnFUSE, sysGluster); f != 4 {
		t.Errorf("duration speedup %v, want 4 (durations inverted)", f)
	}
	if f := r.speedup(*r.workload("time"), sysCairnFUSE, sysLocal); !math.IsNaN(f) {
		t.Errorf("speedup against a missing system %v, want NaN", f)
	}
	r.fail("rate", sysGluster, os.ErrNotExist)
	if f := r.speedup(*r.workload("rate"), sysCairnFUSE, sysGluster); f != 3 {
		t.Errorf("speedup against a cell with a failed run %v, want 3 from the runs that worked", f)
	}
	r.fail("time", sysLocal, os.ErrNotExist)
	if f := r.speedup(*r.workload("time"), sysCairnFUSE, sysLocal); !math.IsNaN(f) {
		t.Errorf("speedup against a cell with no sample %v, want NaN", f)
	}
}

func TestDefineOnlySelectedParts(t *testing.T) {
	r := newResults()
	r.parts = map[string]bool{"seq": true}
	r.define(workload{"a", "a", "s", false, "seq"})
	r.define(workload{"b", "b", "s", false, "vm"})
	if len(r.workloads) != 1 || r.workloads[0].id != "a" {
		t.Fatalf("workloads %+v", r.workloads)
	}
}

func TestHealInfoPending(t *testing.T) {
	out := "Brick 127.0.0.2:/b1\nStatus: Connected\nNumber of entries: 2\n\nBrick 127.0.0.2:/b2\nStatus: Connected\nNumber of entries: 0\n"
	if n, err := healInfoPending(out, 2); err != nil || n != 2 {
		t.Fatalf("pending %d %v", n, err)
	}
	down := "Brick a\nStatus: Transport endpoint is not connected\nNumber of entries: -\n\nBrick b\nStatus: Connected\nNumber of entries: 0\n"
	if _, err := healInfoPending(down, 2); err == nil {
		t.Fatal("a brick that is down must be an error, not 0 entries")
	}
	if _, err := healInfoPending("Brick a\nNumber of entries: 0\n", 2); err == nil {
		t.Fatal("one brick listed of two must be an error")
	}
}

func TestSetParsing(t *testing.T) {
	m, err := set("local, vm", allSystems)
	if err != nil || !m["local"] || !m["vm"] || len(m) != 2 {
		t.Fatalf("%v %v", m, err)
	}
	if m, _ := set("all", allParts); len(m) != len(strings.Split(allParts, ",")) {
		t.Fatalf("all: %v", m)
	}
	if _, err := set("lokal", allSystems); err == nil {
		t.Fatal("unknown system accepted")
	}
}

func TestFsopsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	const n, size = 50, 4096
	for _, step := range []func() (fsops.Phase, error){
		func() (fsops.Phase, error) { return fsops.Create(dir, n, size) },
		func() (fsops.Phase, error) { return fsops.Stat(dir, n) },
		func() (fsops.Phase, error) { return fsops.Read(dir, n, size) },
		func() (fsops.Phase, error) { return fsops.Delete(dir, n) },
	} {
		p, err := step()
		if err != nil {
			t.Fatal(err)
		}
		if p.Files != n || p.Rate() <= 0 {
			t.Fatalf("%s: %+v", p.Name, p)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("%d entries left", len(ents))
	}
	if _, err := fsops.Create(dir, 1, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := fsops.Read(dir, 1, 11); err == nil {
		t.Fatal("a short file must fail the read phase")
	}
}

// TestReport renders the Markdown, CSV and chart of a synthetic run (set
// BENCH_TEST_OUT to keep them for a look).
func TestReport(t *testing.T) {
	out := os.Getenv("BENCH_TEST_OUT")
	if out == "" {
		out = t.TempDir()
	}
	cfg := &config{runs: 3, seqMiB: 1024, randMiB: 256, randRuntime: 12 * time.Second, nFiles: 10000, fileSize: 4096,
		healMiB: 2048, nfsMiB: 1024, vmMiB: 256, vmFiles: 1000, settle: 1100 * time.Millisecond, out: out, workdir: out,
		parts: map[string]bool{}}
	for _, p := range strings.Split(allParts, ",") {
		cfg.parts[p] = true
	}
	b := &bench{cfg: cfg, res: newResults(), start: time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC), logw: os.Stderr, quiet: true}
	b.defineHost()
	b.defineNFS()
	b.defineVM()
	for i, w := range b.res.workloads {
		base := float64(100 + 10*i)
		for _, s := range []string{sysLocal, sysCairnFUSE, sysGluster} {
			if w.part == "nfscp" || w.part == "vm" || (w.id == wHeal && s == sysLocal) {
				continue
			}
			f := map[string]float64{sysLocal: 10, sysCairnFUSE: 1, sysGluster: 0.5}[s]
			if !w.higher {
				f = 1 / f
			}
			for k := range 3 {
				b.res.add(w.id, s, base*f*(1+0.1*float64(k)))
			}
		}
		for _, s := range []string{sysCairnNFS, sysGanesha} {
			if w.part == "nfscp" {
				b.res.add(w.id, s, base)
			}
		}
		for _, s := range []string{sysVMCairnN, sysVMGanesha, sysVMCairn9} {
			if w.part == "vm" {
				b.res.add(w.id, s, base/10)
			}
		}
		if w.part == "vm" {
			b.res.skip(w.id, sysVMDiod, "not run: diod not installed\n(second line)")
		}
	}
	b.res.fail(wHeal, sysGluster, os.ErrDeadlineExceeded)
	if err := b.writeReport(true); err != nil {
		t.Fatal(err)
	}
	stem := filepath.Join(out, b.fileStem())
	md, err := os.ReadFile(stem + ".md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| seq write 1 GiB, bs=1M, end_fsync | cairn FUSE, replica 2 | 110 | 100 | 120 | MiB/s | 0.10× | 2.00× |",
		"not run: diod not installed …",
		"FAILED: ",
		"| sequential write ≥ 1.5× GlusterFS | seq write 1 GiB, bs=1M, end_fsync | 2.00× | yes |",
		"| small-file create and delete ≥ 4× GlusterFS | 10,000 × 4 KiB files: create | 2.00× | **no** (50% short) |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	f, err := os.Open(stem + ".csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 40 || rows[0][0] != "date" || rows[1][14] != "1000;1100;1200" {
		t.Fatalf("csv: %d rows, first %v", len(rows), rows[:2])
	}
	if st, err := os.Stat(stem + ".png"); err != nil || st.Size() < 10000 {
		t.Fatalf("chart: %v %v", st, err)
	}
}

package main

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// target is one goal of issue 7 (cairn FUSE against GlusterFS FUSE, the
// gateway against its baselines): sys must be at least min times as fast
// as ref on every listed workload.
type target struct {
	what      string
	workloads []string
	sys, ref  string
	min       float64
}

var targets = []target{
	{"sequential write ≥ 1.5× GlusterFS", []string{wSeqWrite}, sysCairnFUSE, sysGluster, 1.5},
	{"sequential read ≥ 1.2× GlusterFS", []string{wSeqRead}, sysCairnFUSE, sysGluster, 1.2},
	{"4 KiB random read and write ≥ 1.5× GlusterFS", []string{wRandRead1, wRandRead4, wRandWrt1, wRandWrt4}, sysCairnFUSE, sysGluster, 1.5},
	{"small-file create and delete ≥ 4× GlusterFS", []string{wCreate, wDelete}, sysCairnFUSE, sysGluster, 4},
	{"small-file stat and read ≥ 2× GlusterFS", []string{wStat, wRead}, sysCairnFUSE, sysGluster, 2},
	{"ls -l ≥ 2× GlusterFS", []string{wLsCold, wLsWarm}, sysCairnFUSE, sysGluster, 2},
	{"untar ≥ 4× GlusterFS", []string{wUntar}, sysCairnFUSE, sysGluster, 4},
	{"heal no slower than GlusterFS", []string{wHeal}, sysCairnFUSE, sysGluster, 1},
	{"NFS gateway (nfs-cp) ≥ nfs-ganesha", []string{wNFSWrite, wNFSRead}, sysCairnNFS, sysGanesha, 1},
	{"9P in the VM ≥ diod", []string{wVMWrite, wVMRead}, sysVMCairn9, sysVMDiod, 1},
	{"NFS in the VM (kernel client) vs nfs-ganesha (no target; for information)", []string{wVMWrite, wVMRead}, sysVMCairnN, sysVMGanesha, 0},
}

// rowSystems lists the systems that have a cell for workload w, in table
// order.
func (r *results) rowSystems(w string) []string {
	var out []string
	for _, s := range systems {
		if r.get(w, s.id) != nil {
			out = append(out, s.id)
		}
	}
	return out
}

// ratios returns the speed factors of sys on w against the local disk,
// GlusterFS and its own baseline (NaN where not comparable).
func (r *results) ratios(w workload, sys string) (local, gluster, base float64) {
	local, gluster, base = math.NaN(), math.NaN(), math.NaN()
	if sys == sysCairnFUSE || sys == sysGluster {
		local = r.speedup(w, sys, sysLocal)
	}
	if sys == sysCairnFUSE || sys == sysLocal {
		gluster = r.speedup(w, sys, sysGluster)
	}
	if b := systemByID(sys).baseline; b != "" {
		base = r.speedup(w, sys, b)
	}
	return
}

func status(c *cell) string {
	switch {
	case c.failed != "":
		return "FAILED: " + c.failed
	case c.notRun != "":
		return c.notRun
	}
	return c.note
}

// markdown renders the whole report.
func (b *bench) markdown() string {
	r := b.res
	var s strings.Builder
	fmt.Fprintf(&s, "# cairn benchmark, %s\n\n", b.start.UTC().Format("2006-01-02 15:04 UTC"))
	for _, l := range b.headerLines() {
		fmt.Fprintf(&s, "- %s\n", l)
	}
	s.WriteString("\nEach figure is the median of the runs, with min and max. **vs local** and **vs GlusterFS** are speed factors " +
		"(higher is faster: rates divided, durations inverted); **vs baseline** compares the NFS rows with nfs-ganesha " +
		"through the same client and the VM's 9P rows with diod. VM figures are bound by QEMU's software CPU emulation: " +
		"compare them only with each other.\n\n")
	s.WriteString("| workload | system | median | min | max | unit | vs local | vs GlusterFS | vs baseline | note |\n")
	s.WriteString("|---|---|---:|---:|---:|---|---:|---:|---:|---|\n")
	for _, w := range r.workloads {
		for _, sys := range r.rowSystems(w.id) {
			c := r.get(w.id, sys)
			med, lo, hi := "—", "—", "—"
			if len(c.samples) > 0 {
				med, lo, hi = formatValue(c.median()), formatValue(c.min()), formatValue(c.max())
			}
			l, g, bs := r.ratios(w, sys)
			fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w.title, systemByID(sys).title,
				med, lo, hi, w.unit, formatRatio(l), formatRatio(g), formatRatio(bs), mdEscape(status(c)))
		}
	}
	s.WriteString("\n## Against the targets of issue 7\n\n")
	s.WriteString("| target | workload | factor | met |\n|---|---|---:|---|\n")
	for _, t := range targets {
		for _, id := range t.workloads {
			w := r.workload(id)
			if w == nil || (r.get(id, t.sys) == nil && r.get(id, t.ref) == nil) {
				continue
			}
			f := r.speedup(*w, t.sys, t.ref)
			met := "not measured"
			a, b := r.get(id, t.sys), r.get(id, t.ref)
			switch {
			case math.IsNaN(f):
			case (a != nil && a.failed != "") || (b != nil && b.failed != ""):
				met = "**no**: a run failed (factor of the runs that worked)"
			case t.min == 0:
				met = "—"
			case f >= t.min:
				met = "yes"
			default:
				met = fmt.Sprintf("**no** (%.0f%% short)", 100*(1-f/t.min))
			}
			fmt.Fprintf(&s, "| %s | %s | %s | %s |\n", t.what, w.title, formatRatio(f), met)
		}
	}
	if len(b.notes) > 0 {
		s.WriteString("\n## Notes\n\n")
		for _, n := range b.notes {
			fmt.Fprintf(&s, "- %s\n", n)
		}
	}
	if b.goBenchOut != "" {
		s.WriteString("\n## Go benchmarks (`go test -bench` of vfs/client and vfs/replicate)\n\n```\n")
		s.WriteString(strings.TrimRight(b.goBenchOut, "\n"))
		s.WriteString("\n```\n")
	}
	return s.String()
}

func (r *results) workload(id string) *workload {
	for i := range r.workloads {
		if r.workloads[i].id == id {
			return &r.workloads[i]
		}
	}
	return nil
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// writeCSV writes one line per (workload, system).
func (b *bench) writeCSV(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"date", "machine", "mode", "part", "workload_id", "workload", "system_id", "system",
		"unit", "higher_is_better", "runs", "median", "min", "max", "samples", "vs_local", "vs_gluster", "vs_baseline", "status"})
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	for _, wl := range b.res.workloads {
		for _, sys := range b.res.rowSystems(wl.id) {
			c := b.res.get(wl.id, sys)
			med, lo, hi := math.NaN(), math.NaN(), math.NaN()
			var samples []string
			if len(c.samples) > 0 {
				med, lo, hi = c.median(), c.min(), c.max()
			}
			for _, v := range c.samples {
				samples = append(samples, num(v))
			}
			l, g, bs := b.res.ratios(wl, sys)
			_ = w.Write([]string{b.start.UTC().Format("2006-01-02T15:04:05Z"), b.machineShort(), b.mode(), wl.part, wl.id, wl.title,
				sys, systemByID(sys).title, wl.unit, strconv.FormatBool(wl.higher), strconv.Itoa(len(c.samples)),
				num(med), num(lo), num(hi), strings.Join(samples, ";"), num(l), num(g), num(bs), status(c)})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

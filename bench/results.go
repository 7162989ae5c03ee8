package main

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// System ids, in table order.
const (
	sysLocal     = "local"
	sysCairnFUSE = "cairn-fuse"
	sysGluster   = "gluster"
	sysCairnNFS  = "cairn-nfs"
	sysGanesha   = "ganesha"
	sysVMCairnN  = "vm-cairn-nfs"
	sysVMGanesha = "vm-ganesha-nfs"
	sysVMCairn9  = "vm-cairn-9p"
	sysVMDiod    = "vm-diod-9p"
)

type system struct {
	id, title string
	// baseline is the system this one is compared with when the local disk
	// and GlusterFS are not comparable (NFS through nfs-cp, the VM rows).
	baseline string
}

var systems = []system{
	{sysLocal, "local disk", ""},
	{sysCairnFUSE, "cairn FUSE, replica 2", ""},
	{sysGluster, "GlusterFS FUSE, replica 2", ""},
	{sysCairnNFS, "cairn gateway NFSv3 (nfs-cp)", sysGanesha},
	{sysGanesha, "nfs-ganesha VFS, local disk (nfs-cp)", ""},
	{sysVMCairnN, "VM: cairn gateway NFSv3 (kernel client)", sysVMGanesha},
	{sysVMGanesha, "VM: nfs-ganesha VFS (kernel client)", ""},
	{sysVMCairn9, "VM: cairn gateway 9P2000.L (kernel v9fs)", sysVMDiod},
	{sysVMDiod, "VM: diod (kernel v9fs)", ""},
}

func systemByID(id string) system {
	for _, s := range systems {
		if s.id == id {
			return s
		}
	}
	return system{id: id, title: id}
}

// workload is one measured figure (a table row group).
type workload struct {
	id     string
	title  string
	unit   string
	higher bool // higher is better (rates); false for durations
	part   string
}

// cell holds one (workload, system) figure: its samples, or why there
// are none.
type cell struct {
	samples []float64
	notRun  string // optional system missing: "not run: …"
	failed  string // the workload failed on this system
	note    string // e.g. "buffered: no O_DIRECT"
}

func (c *cell) median() float64 {
	s := slices.Clone(c.samples)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (c *cell) min() float64 { return slices.Min(c.samples) }
func (c *cell) max() float64 { return slices.Max(c.samples) }
func (c *cell) ok() bool     { return len(c.samples) > 0 && c.failed == "" }

// results is every figure of one bench run.
type results struct {
	parts     map[string]bool // parts selected; nil: all
	mu        sync.Mutex
	workloads []workload
	cells     map[string]map[string]*cell // workload id → system id
}

func newResults() *results { return &results{cells: map[string]map[string]*cell{}} }

func (r *results) define(w workload) {
	if r.parts != nil && !r.parts[w.part] {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.workloads {
		if x.id == w.id {
			return
		}
	}
	r.workloads = append(r.workloads, w)
}

func (r *results) cell(wl, sys string) *cell {
	m := r.cells[wl]
	if m == nil {
		m = map[string]*cell{}
		r.cells[wl] = m
	}
	c := m[sys]
	if c == nil {
		c = &cell{}
		m[sys] = c
	}
	return c
}

func (r *results) add(wl, sys string, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cell(wl, sys)
	c.samples = append(c.samples, v)
}

func (r *results) fail(wl, sys string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cell(wl, sys)
	if c.failed == "" {
		c.failed = oneLine(err.Error())
	}
}

func (r *results) skip(wl, sys, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cell(wl, sys)
	if c.notRun == "" && len(c.samples) == 0 {
		c.notRun = oneLine(reason)
	}
}

func (r *results) annotate(wl, sys, note string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cell(wl, sys).note = note
}

func (r *results) get(wl, sys string) *cell {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.cells[wl]; m != nil {
		return m[sys]
	}
	return nil
}

// speedup is how many times faster sys is than ref on workload w (>1:
// faster), or NaN when either has no figure.
func (r *results) speedup(w workload, sys, ref string) float64 {
	a, b := r.get(w.id, sys), r.get(w.id, ref)
	// The successful runs count even when another run failed: the report
	// shows the failure next to the figure, and a target is not met.
	if a == nil || b == nil || len(a.samples) == 0 || len(b.samples) == 0 {
		return math.NaN()
	}
	x, y := a.median(), b.median()
	if x <= 0 || y <= 0 {
		return math.NaN()
	}
	if w.higher {
		return x / y
	}
	return y / x
}

func oneLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			s = s[:i] + " …"
			break
		}
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// formatValue prints a figure with precision that suits its size.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func formatRatio(v float64) string {
	switch {
	case math.IsNaN(v):
		return ""
	case v >= 10:
		return fmt.Sprintf("%.0f×", v)
	case v >= 0.1:
		return fmt.Sprintf("%.2f×", v)
	default:
		return fmt.Sprintf("%.3f×", v)
	}
}

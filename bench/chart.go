package main

import (
	"fmt"
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// panel is one chart of speed factors: for each workload (a row) one bar
// per series, on a log scale, 1× in the middle.
type panel struct {
	title  string
	rows   []string // workload ids
	series []series
}

type series struct {
	name     string
	sys, ref string
}

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// panels chooses what to draw from what was measured.
func (b *bench) panels() []panel {
	var hostRows, nfsRows, vmRows []string
	for _, w := range b.res.workloads {
		switch w.part {
		case "nfscp":
			nfsRows = append(nfsRows, w.id)
		case "vm":
			vmRows = append(vmRows, w.id)
		default:
			hostRows = append(hostRows, w.id)
		}
	}
	ps := []panel{
		{"cairn FUSE ÷ GlusterFS FUSE (replica 2 both; > 1× = cairn faster)", hostRows,
			[]series{{"cairn ÷ GlusterFS", sysCairnFUSE, sysGluster}}},
		{"speed relative to the local disk (1× = local disk)", hostRows,
			[]series{{"cairn FUSE", sysCairnFUSE, sysLocal}, {"GlusterFS FUSE", sysGluster, sysLocal}}},
		{"cairn gateway ÷ baseline server (NFS: nfs-ganesha; 9P: diod; VM rows under TCG)", append(nfsRows, vmRows...),
			[]series{{"NFS (nfs-cp on the host)", sysCairnNFS, sysGanesha}, {"NFS, VM kernel client", sysVMCairnN, sysVMGanesha}, {"9P, VM kernel v9fs", sysVMCairn9, sysVMDiod}}},
	}
	var out []panel
	for _, p := range ps {
		var keepRows []string
		for _, id := range p.rows {
			w := b.res.workload(id)
			for _, s := range p.series {
				if !math.IsNaN(b.res.speedup(*w, s.sys, s.ref)) {
					keepRows = append(keepRows, id)
					break
				}
			}
		}
		var keepSeries []series
		for _, s := range p.series {
			for _, id := range keepRows {
				if !math.IsNaN(b.res.speedup(*b.res.workload(id), s.sys, s.ref)) {
					keepSeries = append(keepSeries, s)
					break
				}
			}
		}
		if len(keepRows) > 0 {
			p.rows, p.series = keepRows, keepSeries
			out = append(out, p)
		}
	}
	return out
}

// writeChart draws the panels into one PNG.
func (b *bench) writeChart(path string) error {
	ps := b.panels()
	if len(ps) == 0 {
		return fmt.Errorf("no comparable figures to chart")
	}
	const rowH = 22 // points per workload row
	heights := make([]vg.Length, len(ps))
	var total vg.Length
	for i, p := range ps {
		heights[i] = vg.Length(90 + rowH*len(p.rows)*max(1, len(p.series))/2 + 12*len(p.rows))
		total += heights[i]
	}
	width := vg.Length(900)
	img := vgimg.New(width, total)
	dc := draw.New(img)
	top := total
	for i, p := range ps {
		pl, err := b.plotPanel(p)
		if err != nil {
			return err
		}
		c := draw.Canvas{Canvas: dc, Rectangle: vg.Rectangle{Min: vg.Point{X: 0, Y: top - heights[i]}, Max: vg.Point{X: width, Y: top}}}
		c = draw.Crop(c, 6, -6, 6, -6)
		pl.Draw(c)
		top -= heights[i]
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// plotPanel draws horizontal grouped bars of log10(speed factor).
func (b *bench) plotPanel(p panel) (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = p.title
	pl.Title.TextStyle.Font.Size = vg.Points(11)
	pl.X.Label.Text = "speed factor (log scale)"
	names := make([]string, len(p.rows))
	// NominalY puts the first name at the bottom; reverse so the table's
	// order reads from the top.
	for i, id := range p.rows {
		names[len(p.rows)-1-i] = shortName(b.res.workload(id))
	}
	lo, hi := -0.5, 0.5
	barW := vg.Points(min(14, 36/float64(max(1, len(p.series)))))
	for si, s := range p.series {
		vals := make(plotter.Values, len(p.rows))
		for i, id := range p.rows {
			f := b.res.speedup(*b.res.workload(id), s.sys, s.ref)
			v := 0.0
			if !math.IsNaN(f) && f > 0 {
				v = math.Log10(f)
			}
			vals[len(p.rows)-1-i] = v
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		bars, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return nil, err
		}
		bars.Horizontal = true
		bars.Color = palette[si%len(palette)]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(si)-float64(len(p.series)-1)/2) * barW
		pl.Add(bars)
		if len(p.series) > 1 {
			pl.Legend.Add(s.name, bars)
		}
	}
	pl.Add(plotter.NewGrid())
	pl.NominalY(names...)
	pl.X.Min, pl.X.Max = math.Floor(lo*2)/2-0.1, math.Ceil(hi*2)/2+0.1
	if len(p.series) > 1 {
		pl.X.Max += 0.6 // room for the legend, right of the bars
	}
	var ticks []plot.Tick
	for e := math.Floor(pl.X.Min); e <= pl.X.Max; e++ {
		if e >= pl.X.Min {
			ticks = append(ticks, plot.Tick{Value: e, Label: ratioLabel(math.Pow(10, e))})
		}
		for _, m := range []float64{2, 5} {
			if v := e + math.Log10(m); v >= pl.X.Min && v <= pl.X.Max {
				ticks = append(ticks, plot.Tick{Value: v, Label: ratioLabel(math.Pow(10, v))})
			}
		}
	}
	pl.X.Tick.Marker = plot.ConstantTicks(ticks)
	pl.Legend.Top = true
	pl.Legend.Left = false
	pl.Legend.TextStyle.Font.Size = vg.Points(9)
	pl.Y.Tick.Label.Font.Size = vg.Points(9)
	// The 1× line.
	one, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.5}, {X: 0, Y: float64(len(p.rows)) - 0.5}})
	if err == nil {
		one.LineStyle.Width = vg.Points(1)
		one.LineStyle.Color = color.Black
		pl.Add(one)
	}
	return pl, nil
}

func ratioLabel(v float64) string {
	switch {
	case v >= 1:
		return fmt.Sprintf("%.0f×", v)
	case v >= 0.1:
		return fmt.Sprintf("%.1f×", v)
	case v >= 0.01:
		return fmt.Sprintf("%.2f×", v)
	default:
		return fmt.Sprintf("%.3f×", v)
	}
}

var shortNames = map[string]string{
	wSeqWrite: "seq write", wSeqRead: "seq read (cold)",
	wRandRead1: "4k rand read 1j", wRandRead4: "4k rand read 4j",
	wRandWrt1: "4k rand write 1j", wRandWrt4: "4k rand write 4j",
	wCreate: "small: create", wStat: "small: stat", wRead: "small: read", wDelete: "small: delete",
	wLsCold: "ls -l cold", wLsWarm: "ls -l warm", wUntar: "untar", wHeal: "heal",
	wNFSWrite: "nfs-cp write", wNFSRead: "nfs-cp read",
	wVMWrite: "VM write", wVMRead: "VM read", wVMCreate: "VM small: create", wVMStat: "VM small: stat",
	wVMRFiles: "VM small: read", wVMDelete: "VM small: delete",
}

func shortName(w *workload) string {
	if s, ok := shortNames[w.id]; ok {
		return s
	}
	return w.id
}

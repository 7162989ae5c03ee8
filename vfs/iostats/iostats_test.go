package iostats

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfsfake"
	"github.com/prometheus/client_golang/prometheus"
)

var bg = context.Background()

func TestEveryOpCounted(t *testing.T) {
	f := vfsfake.New(nil) // every op fails with ENOSYS
	s, err := New(Config{Name: "v"}, f)
	if err != nil {
		t.Fatal(err)
	}
	vfsfake.Exercise(bg, s)
	vfsfake.Exercise(bg, s)
	snap := s.Snapshot()
	if len(snap.Ops) != len(Ops) {
		t.Errorf("%d ops in snapshot, want %d", len(snap.Ops), len(Ops))
	}
	for i, name := range Ops {
		st := snap.Ops[name]
		if st.Calls != 2 || st.Errors != 2 {
			t.Errorf("%s: %+v, want 2 calls, 2 errors", name, st)
		}
		if f.Count(vfsfake.AllOps[i]) != 2 {
			t.Errorf("%s reached the child %d times", vfsfake.AllOps[i], f.Count(vfsfake.AllOps[i]))
		}
	}
}

func TestCountsMatchOperations(t *testing.T) {
	s, _ := New(Config{Name: "v"}, memfs.New(memfs.Config{}))
	root := vfs.RootGFID
	a, fh, errno := s.Create(bg, root, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if errno != 0 {
		t.Fatal(errno)
	}
	s.Write(bg, a.GFID, fh, make([]byte, 1000), 0)
	s.Write(bg, a.GFID, fh, make([]byte, 24), 1000)
	s.Read(bg, a.GFID, fh, make([]byte, 600), 0)
	s.Read(bg, a.GFID, fh, make([]byte, 600), 600) // short: 424
	s.Read(bg, a.GFID, fh, make([]byte, 600), 5000)
	s.Lookup(bg, root, "f")
	s.Lookup(bg, root, "missing")
	s.Lookup(bg, root, "missing")
	s.Release(bg, a.GFID, fh)
	s.Unlink(bg, root, "f")
	s.Unlink(bg, root, "f")

	snap := s.Snapshot()
	want := map[string][2]uint64{ // calls, errors
		"create": {1, 0}, "write": {2, 0}, "read": {3, 0}, "lookup": {3, 2},
		"release": {1, 0}, "unlink": {2, 1},
	}
	if len(snap.Ops) != len(want) {
		t.Errorf("snapshot has %d ops, want %d: %v", len(snap.Ops), len(want), snap.Ops)
	}
	for name, w := range want {
		st := snap.Ops[name]
		if st.Calls != w[0] || st.Errors != w[1] {
			t.Errorf("%s: %d calls %d errors, want %d %d", name, st.Calls, st.Errors, w[0], w[1])
		}
		if st.MinLatency <= 0 || st.MaxLatency < st.MinLatency || st.Latency < st.MaxLatency || st.AvgLatency() <= 0 {
			t.Errorf("%s: latencies %+v", name, st)
		}
	}
	if snap.BytesWritten != 1024 || snap.BytesRead != 1024 || snap.Volume != "v" {
		t.Errorf("bytes read %d written %d volume %q", snap.BytesRead, snap.BytesWritten, snap.Volume)
	}
}

func TestLatency(t *testing.T) {
	f := vfsfake.New(memfs.New(memfs.Config{}))
	f.SetHook(vfsfake.StatFS, func(context.Context, *vfsfake.Call) syscall.Errno {
		time.Sleep(20 * time.Millisecond)
		return 0
	})
	s, _ := New(Config{}, f)
	s.StatFS(bg, vfs.RootGFID)
	s.GetAttr(bg, vfs.RootGFID, 0)
	snap := s.Snapshot()
	if st := snap.Ops["statfs"]; st.MinLatency < 20*time.Millisecond {
		t.Errorf("statfs latency %v, want >= 20ms", st.MinLatency)
	}
	if st := snap.Ops["getattr"]; st.MaxLatency >= 20*time.Millisecond {
		t.Errorf("getattr latency %v", st.MaxLatency)
	}
}

// metric finds a sample in gathered metrics by name and labels.
type sample struct {
	counter float64
	count   uint64 // histogram sample count
	found   bool
}

func gather(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) sample {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return sample{counter: m.GetCounter().GetValue(), count: m.GetHistogram().GetSampleCount(), found: true}
		}
	}
	return sample{}
}

func TestPrometheus(t *testing.T) {
	reg := prometheus.NewRegistry()
	fsA, fsB := memfs.New(memfs.Config{}), memfs.New(memfs.Config{})
	a, err := New(Config{Name: "vola", Registerer: reg}, fsA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Name: "volb", Registerer: reg}, fsB)
	if err != nil {
		t.Fatalf("second volume on one registry: %v", err)
	}
	a2, err := New(Config{Name: "vola", Registerer: reg}, fsA)
	if err != nil {
		t.Fatalf("same volume twice: %v", err)
	}
	attr, fh, _ := a.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Flags: syscall.O_RDWR})
	a.Write(bg, attr.GFID, fh, []byte("hello"), 0)
	a2.Read(bg, attr.GFID, fh, make([]byte, 10), 0)
	a.Lookup(bg, vfs.RootGFID, "nope")
	b.Lookup(bg, vfs.RootGFID, "nope")
	b.Lookup(bg, vfs.RootGFID, "nope")

	tests := []struct {
		metric  string
		labels  map[string]string
		counter float64
		count   uint64
	}{
		{"cairn_fop_calls_total", map[string]string{"fop": "lookup", "volume": "vola"}, 1, 0},
		{"cairn_fop_calls_total", map[string]string{"fop": "lookup", "volume": "volb"}, 2, 0},
		{"cairn_fop_errors_total", map[string]string{"fop": "lookup", "volume": "volb"}, 2, 0},
		{"cairn_fop_errors_total", map[string]string{"fop": "create", "volume": "vola"}, 0, 0},
		{"cairn_fop_calls_total", map[string]string{"fop": "read", "volume": "vola"}, 1, 0},
		{"cairn_fop_latency_seconds", map[string]string{"fop": "write", "volume": "vola"}, 0, 1},
		{"cairn_fop_latency_seconds", map[string]string{"fop": "lookup", "volume": "volb"}, 0, 2},
		{"cairn_bytes_written_total", map[string]string{"volume": "vola"}, 5, 0},
		{"cairn_bytes_read_total", map[string]string{"volume": "vola"}, 5, 0},
		{"cairn_bytes_read_total", map[string]string{"volume": "volb"}, 0, 0},
	}
	for _, tc := range tests {
		got := gather(t, reg, tc.metric, tc.labels)
		if !got.found || got.counter != tc.counter || got.count != tc.count {
			t.Errorf("%s%v = %+v, want counter %v count %d", tc.metric, tc.labels, got, tc.counter, tc.count)
		}
	}
}

func TestRegistrationConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "cairn_fop_calls_total", Help: "x"}))
	if _, err := New(Config{Name: "v", Registerer: reg}, vfsfake.New(nil)); err == nil {
		t.Error("conflicting metric registered without error")
	}
}

func TestConcurrent(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, _ := New(Config{Name: "v", Registerer: reg}, memfs.New(memfs.Config{}))
	const workers, n = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				s.GetAttr(bg, vfs.RootGFID, 0)
				s.Lookup(bg, vfs.RootGFID, "x")
			}
		}()
	}
	wg.Wait()
	snap := s.Snapshot()
	if snap.Ops["getattr"].Calls != workers*n || snap.Ops["lookup"].Errors != workers*n {
		t.Errorf("snapshot %+v", snap.Ops)
	}
	if got := gather(t, reg, "cairn_fop_calls_total", map[string]string{"fop": "getattr"}); got.counter != workers*n {
		t.Errorf("prometheus getattr calls %v", got.counter)
	}
}

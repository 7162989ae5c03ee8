package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnfs/cairn/integration/harness"
)

// metricValue returns the value of the sample of name whose labels include
// every label given ("k=\"v\"").
func metricValue(t *testing.T, text, name string, labels ...string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\{([^}]*)\} (\S+)$`)
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(m[1], l)
		}
		if ok {
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

func scrapeMetrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestMetricsCountKnownOperations scrapes /metrics of `cairn up` after
// known operations through its FUSE mount and checks debug/io-stats's
// counters match them; then `cairn top` shows the rates.
func TestMetricsCountKnownOperations(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(t.TempDir(), "mnt")
	metrics := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	u := startUp(t, "--dir", dir, "--mount", mnt, "--port", fmt.Sprint(harness.FreePortPair(t)),
		"--nfs", "", "--9p", "", "--metrics", metrics)
	defer u.stop(t)

	before := scrapeMetrics(t, metrics)
	mkdirs0 := metricValue(t, before, "cairn_fop_calls_total", `fop="mkdir"`, `volume="cairn"`)
	written0 := metricValue(t, before, "cairn_bytes_written_total", `volume="cairn"`)
	const dirs, size = 7, 3 << 20
	for i := range dirs {
		if err := os.Mkdir(filepath.Join(mnt, fmt.Sprintf("d%d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(mnt, "d0", "blob"), make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	lookupErrs0 := metricValue(t, before, "cairn_fop_errors_total", `fop="lookup"`, `volume="cairn"`)
	if _, err := os.Stat(filepath.Join(mnt, "no-such-file")); !os.IsNotExist(err) {
		t.Fatalf("stat of a missing file: %v", err)
	}
	after := scrapeMetrics(t, metrics)
	if got := metricValue(t, after, "cairn_fop_calls_total", `fop="mkdir"`, `volume="cairn"`) - mkdirs0; got != dirs {
		t.Errorf("mkdir calls counted %v, want %d", got, dirs)
	}
	if got := metricValue(t, after, "cairn_fop_errors_total", `fop="lookup"`, `volume="cairn"`) - lookupErrs0; got != dirs+2 {
		// The kernel looks up every new name before creating it: the 7
		// directories, the blob and the stat of a missing file all fail
		// with ENOENT once each.
		t.Errorf("failed lookups counted %v, want %d", got, dirs+2)
	}
	if got := metricValue(t, after, "cairn_bytes_written_total", `volume="cairn"`) - written0; got != size {
		t.Errorf("bytes written counted %v, want %d", got, size)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	top := exec.CommandContext(ctx, harness.Binary(t), "top", "--metrics", metrics, "--interval", "1s", "--count", "1")
	done := make(chan []byte)
	go func() { out, _ := top.CombinedOutput(); done <- out }()
	time.Sleep(300 * time.Millisecond)
	for i := range 20 {
		os.Mkdir(filepath.Join(mnt, fmt.Sprintf("top%d", i)), 0o755)
	}
	out := <-done
	if !regexp.MustCompile(`cairn\s+mkdir\s+\d`).Match(out) {
		t.Errorf("cairn top shows no Mkdir rate:\n%s", out)
	}
}

// TestMountMetrics checks -o metrics=ADDR on a FUSE mount (cairn mount
// --volfile with the default client volfile, io-stats on top): the mount
// process serves /metrics, and its counters follow what is done on it.
func TestMountMetrics(t *testing.T) {
	requireFUSE(t)
	mnt, metrics := mountWithMetrics(t, twoBrickVolfile(t), "")
	defer exec.Command("umount", mnt).Run()
	before := metricValue(t, scrapeMetrics(t, metrics), "cairn_fop_calls_total", `fop="mkdir"`, `volume="vol"`)
	for i := range 4 {
		if err := os.Mkdir(filepath.Join(mnt, fmt.Sprintf("m%d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got := metricValue(t, scrapeMetrics(t, metrics), "cairn_fop_calls_total", `fop="mkdir"`, `volume="vol"`) - before; got != 4 {
		t.Errorf("mkdir calls counted %v, want 4", got)
	}
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
}

// TestMountKeepsListings: a listing repeated through the same mount is
// served by the kernel (no READDIR reaches the stack, as the mount's
// io-stats counts), until the mount changes the directory; with
// attribute-timeout=0 every listing reaches the stack.
func TestMountKeepsListings(t *testing.T) {
	requireFUSE(t)
	vol := twoBrickVolfile(t)
	for _, tc := range []struct {
		opts string
		kept bool
	}{{"", true}, {"attribute-timeout=0", false}} {
		mnt, metrics := mountWithMetrics(t, vol, tc.opts)
		opts := tc.opts // for messages
		if opts == "" {
			opts = "(defaults)"
		}
		dir := filepath.Join(mnt, fmt.Sprintf("d%v", tc.kept))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		readdirs := func() float64 {
			return metricValue(t, scrapeMetrics(t, metrics), "cairn_fop_calls_total", `fop="readdir"`, `volume="vol"`)
		}
		list := func(want int) float64 {
			t.Helper()
			before := readdirs()
			es, err := os.ReadDir(dir)
			if err != nil || len(es) != want {
				t.Fatalf("-o %s: %d entries (%v), want %d", opts, len(es), err, want)
			}
			return readdirs() - before
		}
		if n := list(50); n == 0 {
			t.Errorf("-o %s: the first listing made no READDIR", opts)
		}
		switch n := list(50); {
		case tc.kept && n != 0:
			t.Errorf("-o %s: a repeated listing made %v READDIRs, want none (kept by the kernel)", opts, n)
		case !tc.kept && n == 0:
			t.Errorf("-o %s: a repeated listing made no READDIR, want the stack asked", opts)
		}
		if err := os.WriteFile(filepath.Join(dir, "new"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if n := list(51); n == 0 {
			t.Errorf("-o %s: the listing after a create made no READDIR", opts)
		}
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Fatalf("umount: %v %s", err, out)
		}
	}
}

// twoBrickVolfile starts two brick processes and writes the default
// client volfile over them (io-stats on top, volume "vol").
func twoBrickVolfile(t *testing.T) string {
	t.Helper()
	b1 := harness.StartBrick(t, harness.BrickOptions{})
	b2 := harness.StartBrick(t, harness.BrickOptions{})
	vol := filepath.Join(t.TempDir(), "client.vol")
	if err := os.WriteFile(vol, []byte(defaultClientVolfile(b1, b2)), 0o644); err != nil {
		t.Fatal(err)
	}
	return vol
}

// mountWithMetrics runs `cairn mount --volfile VOL MNT -o metrics=ADDR[,OPTS]`
// on a new mount point and returns it with the metrics address; the caller
// unmounts.
func mountWithMetrics(t *testing.T, vol, opts string) (mnt, metrics string) {
	t.Helper()
	mnt = filepath.Join(t.TempDir(), "mnt")
	os.MkdirAll(mnt, 0o755)
	metrics = fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	o := "metrics=" + metrics
	if opts != "" {
		o += "," + opts
	}
	if out, err := exec.Command(harness.Binary(t), "mount", "--volfile", vol, mnt, "-o", o).CombinedOutput(); err != nil {
		t.Fatalf("cairn mount -o %s: %v\n%s", o, err, out)
	}
	return mnt, metrics
}

// TestMountProcs: a `cairn mount` process raises GOMAXPROCS by go-fuse's
// readers of /dev/fuse once mounted (cmd/cairn fuseProcs: 2 CPUs give 4),
// read from its Go runtime metrics, unless GOMAXPROCS is set (not empty)
// in its environment.
func TestMountProcs(t *testing.T) {
	requireFUSE(t)
	procs := runtime.GOMAXPROCS(0)
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		t.Setenv("GOMAXPROCS", "")
		os.Unsetenv("GOMAXPROCS")
		procs = runtime.NumCPU()
	}
	vol := twoBrickVolfile(t)
	raised := procs + min(max(procs, 2), 16)
	for _, c := range []struct {
		set  bool // GOMAXPROCS in the mount's environment
		env  string
		want int
	}{
		{false, "", raised},
		{true, "", raised}, // empty counts as unset, as for Go
		{true, "3", 3},
	} {
		if c.set {
			t.Setenv("GOMAXPROCS", c.env)
		}
		mnt, metrics := mountWithMetrics(t, vol, "")
		got := scrapeMetrics(t, metrics)
		exec.Command("umount", mnt).Run()
		re := regexp.MustCompile(`(?m)^go_sched_gomaxprocs_threads (\d+)$`)
		m := re.FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("GOMAXPROCS=%q: no go_sched_gomaxprocs_threads in the mount's metrics", c.env)
		}
		if n, _ := strconv.Atoi(m[1]); n != c.want {
			t.Errorf("GOMAXPROCS=%q: mount runs with %d Ps, want %d", c.env, n, c.want)
		}
	}
}

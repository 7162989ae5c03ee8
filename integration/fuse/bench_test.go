package fuse

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBench is `make bench`'s FUSE part: the same workloads on the local
// disk and on a cairn mount of a replica-2 volume (two brick processes on
// loopback, mounted by mount.cairn with the tutorial's options), printed as
// a table with ratios. It runs only with CAIRN_BENCH=1 (it writes several
// GiB and takes minutes); CAIRN_BENCH_OUT names a file for the table.
//
// The bricks' export directories are on the same disk as the local
// directory, so a replicated write puts twice the bytes on that disk.
func TestBench(t *testing.T) {
	if os.Getenv("CAIRN_BENCH") == "" {
		t.Skip("set CAIRN_BENCH=1 to run the FUSE benchmark")
	}
	needFUSE(t)
	if _, err := exec.LookPath("fio"); err != nil {
		t.Fatal("fio is not installed (apt-get install -y fio)")
	}
	size := os.Getenv("CAIRN_BENCH_SIZE") // fio size of the sequential jobs
	if size == "" {
		size = "1G"
	}
	local := filepath.Join(t.TempDir(), "local")
	if err := os.Mkdir(local, 0o755); err != nil {
		t.Fatal(err)
	}
	v := startVolume(t)
	m := mountHelper(t, v.spec(), v.fstabOptions())
	mnt := filepath.Join(m.dir, "bench")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}

	type row struct {
		name, unit string
		local, mnt float64
		higher     bool // higher is better
	}
	var rows []row
	both := func(name, unit string, higher bool, f func(dir string) float64) {
		r := row{name: name, unit: unit, higher: higher, local: f(local), mnt: f(mnt)}
		t.Logf("%-34s local %10.1f  cairn %10.1f %s", name, r.local, r.mnt, unit)
		rows = append(rows, r)
	}
	fioJob := func(dir string, args ...string) map[string]any {
		a := append([]string{"--name=job", "--directory=" + dir, "--ioengine=psync", "--output-format=json"}, args...)
		out, err := exec.Command("fio", a...).Output()
		if err != nil {
			t.Fatalf("fio %v: %v\n%s", a, err, out)
		}
		var res map[string]any
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("fio output: %v\n%s", err, out)
		}
		return res["jobs"].([]any)[0].(map[string]any)
	}
	mbps := func(job map[string]any, dir string) float64 {
		return job[dir].(map[string]any)["bw_bytes"].(float64) / 1e6
	}
	iops := func(job map[string]any, dir string) float64 {
		return job[dir].(map[string]any)["iops"].(float64)
	}

	both("seq write 1M (fio, end_fsync)", "MB/s", true, func(dir string) float64 {
		return mbps(fioJob(dir, "--rw=write", "--bs=1M", "--size="+size, "--end_fsync=1", "--filename=seq"), "write")
	})
	both("seq read 1M (first read)", "MB/s", true, func(dir string) float64 {
		return mbps(fioJob(dir, "--rw=read", "--bs=1M", "--size="+size, "--filename=seq"), "read")
	})
	// fio drops the file's cached pages before a job unless told not to.
	both("seq re-read 1M (cached)", "MB/s", true, func(dir string) float64 {
		return mbps(fioJob(dir, "--rw=read", "--bs=1M", "--size="+size, "--filename=seq", "--invalidate=0"), "read")
	})
	both("rand write 4k (256M, 15s)", "IOPS", true, func(dir string) float64 {
		return iops(fioJob(dir, "--rw=randwrite", "--bs=4k", "--size=256M", "--runtime=15", "--time_based", "--filename=rnd"), "write")
	})
	both("rand read 4k (256M, 15s)", "IOPS", true, func(dir string) float64 {
		return iops(fioJob(dir, "--rw=randread", "--bs=4k", "--size=256M", "--runtime=15", "--time_based", "--filename=rnd"), "read")
	})
	for _, dir := range []string{local, mnt} {
		_ = os.Remove(filepath.Join(dir, "seq"))
		_ = os.Remove(filepath.Join(dir, "rnd"))
	}

	const nFiles = 10000
	small := make([]byte, 1024)
	phase := func(dir string, fn func(p string) error) float64 {
		start := time.Now()
		for i := 0; i < nFiles; i++ {
			if err := fn(filepath.Join(dir, "small", fmt.Sprintf("f%05d", i))); err != nil {
				t.Fatal(err)
			}
		}
		return nFiles / time.Since(start).Seconds()
	}
	both("10k small files: create 1 KiB", "files/s", true, func(dir string) float64 {
		if err := os.Mkdir(filepath.Join(dir, "small"), 0o755); err != nil {
			t.Fatal(err)
		}
		return phase(dir, func(p string) error { return os.WriteFile(p, small, 0o644) })
	})
	// The next phases wait out the entry and attribute timeouts, so the
	// mount's kernel caches do not answer them.
	both("10k small files: stat", "files/s", true, func(dir string) float64 {
		time.Sleep(1100 * time.Millisecond)
		var st syscall.Stat_t
		return phase(dir, func(p string) error { return syscall.Stat(p, &st) })
	})
	both("10k small files: read", "files/s", true, func(dir string) float64 {
		time.Sleep(1100 * time.Millisecond)
		return phase(dir, func(p string) error { _, err := os.ReadFile(p); return err })
	})
	both("ls -l of 10k entries", "s", false, func(dir string) float64 {
		time.Sleep(1100 * time.Millisecond)
		start := time.Now()
		cmd := exec.Command("ls", "-l", filepath.Join(dir, "small"))
		cmd.Stdout = nil
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		return time.Since(start).Seconds()
	})
	both("10k small files: delete", "files/s", true, func(dir string) float64 {
		return phase(dir, os.Remove)
	})

	var b strings.Builder
	fmt.Fprintf(&b, "cairn FUSE mount (replica 2, two brick processes on loopback, direct-io-mode=disable) vs local disk\n")
	fmt.Fprintf(&b, "%-34s %12s %12s %8s  %s\n", "workload", "local", "cairn", "ratio", "unit")
	for _, r := range rows {
		ratio := r.mnt / r.local
		if !r.higher {
			ratio = r.local / r.mnt
		}
		fmt.Fprintf(&b, "%-34s %12.1f %12.1f %7.0f%%  %s\n", r.name, r.local, r.mnt, 100*ratio, r.unit)
	}
	fmt.Print(b.String())
	if out := os.Getenv("CAIRN_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

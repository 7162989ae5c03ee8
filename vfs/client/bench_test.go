package client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/posix"
	"github.com/cairnfs/cairn/brick/server"
	"github.com/cairnfs/cairn/vfs"
)

// The benchmarks run client → brick server → posix in one process, the
// client as one on another host would (sub-benchmark "tcp": gRPC and side
// connection over 127.0.0.1) and as one on the brick's host does by default
// ("local": side connection on the brick's Unix socket, reads through
// descriptors the brick hands over), and the same work on the local disk
// (os.File, syscalls) in the same run, reporting both and their ratio:
//
//	go test -run XXX -bench . -benchtime 2s ./vfs/client
//
// Goals: sequential 1 MiB reads and writes at least half the local rate;
// a getattr round trip of at most 100µs median.

const (
	benchChunk    = 1 << 20
	benchFileSize = 64 << 20
)

// benchBrick returns a connected client over posix and the export dir.
// local turns on what a brick on the client's host offers by default
// (local-channel and local-read on both ends); without it the client talks
// to the brick as one on another host would, over (loopback) TCP.
func benchBrick(b *testing.B, local bool) (*Client, string) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("storage/posix needs root")
	}
	dir := filepath.Join(b.TempDir(), "export")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	p, err := posix.New(posix.Config{Directory: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	br := startBrick(b, p, func(c *server.Config) { c.LocalChannels, c.LocalReadFDs = local, local })
	c := newClient(b, br.port, func(c *Config) { c.LocalChannel, c.LocalRead = local, local })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitConnect(ctx); err != nil {
		b.Fatal(err)
	}
	return c, dir
}

// benchTransports runs fn as the sub-benchmarks "tcp" and "local"
// (benchBrick).
func benchTransports(b *testing.B, fn func(b *testing.B, c *Client, dir string)) {
	for _, local := range []bool{false, true} {
		name := "tcp"
		if local {
			name = "local"
		}
		b.Run(name, func(b *testing.B) {
			c, dir := benchBrick(b, local)
			fn(b, c, dir)
		})
	}
}

// benchFile creates name (benchFileSize bytes) through the client and
// returns its GFID and an open handle.
func benchFile(b *testing.B, c *Client, name string, fill bool) (vfs.GFID, vfs.Handle) {
	b.Helper()
	ctx := context.Background()
	a, fh, e := c.Create(ctx, vfs.RootGFID, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		b.Fatal("create:", e)
	}
	if fill {
		buf := make([]byte, benchChunk)
		for i := range buf {
			buf[i] = byte(i)
		}
		for off := int64(0); off < benchFileSize; off += benchChunk {
			if _, e := c.Write(ctx, a.GFID, fh, buf, off); e != 0 {
				b.Fatal("fill:", e)
			}
		}
	}
	return a.GFID, fh
}

// localRate measures the local disk doing n chunk operations with op, in
// MB/s (10^6 bytes, as testing's MB/s).
func localRate(b *testing.B, n int, op func(i int)) float64 {
	b.Helper()
	n = max(n, benchFileSize/benchChunk)
	start := time.Now()
	for i := 0; i < n; i++ {
		op(i)
	}
	return float64(n) * benchChunk / 1e6 / time.Since(start).Seconds()
}

func reportRate(b *testing.B, elapsed time.Duration, local float64) {
	mbs := float64(b.N) * benchChunk / 1e6 / elapsed.Seconds()
	b.ReportMetric(local, "local-MB/s")
	b.ReportMetric(mbs/local, "ratio")
}

func BenchmarkRead1M(b *testing.B) {
	benchTransports(b, func(b *testing.B, c *Client, dir string) {
		g, fh := benchFile(b, c, "read", true)
		ctx := context.Background()
		buf := make([]byte, benchChunk)
		// Warm the page cache and the connection.
		for off := int64(0); off < benchFileSize; off += benchChunk {
			c.Read(ctx, g, fh, buf, off)
		}
		b.SetBytes(benchChunk)
		b.ResetTimer()
		start, cpu0 := time.Now(), cpuTime()
		for i := 0; i < b.N; i++ {
			off := int64(i%(benchFileSize/benchChunk)) * benchChunk
			if n, e := c.Read(ctx, g, fh, buf, off); e != 0 || n != benchChunk {
				b.Fatal("read:", n, e)
			}
		}
		elapsed := time.Since(start)
		reportCPU(b, cpuTime()-cpu0)
		b.StopTimer()

		f, err := os.Open(filepath.Join(dir, "read"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		local := localRate(b, b.N, func(i int) {
			off := int64(i%(benchFileSize/benchChunk)) * benchChunk
			if n, err := f.ReadAt(buf, off); err != nil || n != benchChunk {
				b.Fatal("local read:", n, err)
			}
		})
		reportRate(b, elapsed, local)
	})
}

func BenchmarkWrite1M(b *testing.B) {
	benchTransports(b, func(b *testing.B, c *Client, dir string) {
		g, fh := benchFile(b, c, "write", false)
		ctx := context.Background()
		buf := make([]byte, benchChunk)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		b.SetBytes(benchChunk)
		b.ResetTimer()
		start, cpu0 := time.Now(), cpuTime()
		for i := 0; i < b.N; i++ {
			off := int64(i%(benchFileSize/benchChunk)) * benchChunk
			if n, e := c.Write(ctx, g, fh, buf, off); e != 0 || n != benchChunk {
				b.Fatal("write:", n, e)
			}
		}
		elapsed := time.Since(start)
		reportCPU(b, cpuTime()-cpu0)
		b.StopTimer()

		f, err := os.OpenFile(filepath.Join(dir, "local-write"), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		local := localRate(b, b.N, func(i int) {
			off := int64(i%(benchFileSize/benchChunk)) * benchChunk
			if n, err := f.WriteAt(buf, off); err != nil || n != benchChunk {
				b.Fatal("local write:", n, err)
			}
		})
		reportRate(b, elapsed, local)
	})
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// says more about the cost of a code path than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(cpu)/float64(b.N)/float64(time.Microsecond), "cpu-µs/op")
}

// median of latencies, in microseconds.
func medianMicros(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2]) / float64(time.Microsecond)
}

func p99Micros(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)*99/100]) / float64(time.Microsecond)
}

func BenchmarkGetattr(b *testing.B) {
	benchTransports(b, func(b *testing.B, c *Client, dir string) {
		g, fh := benchFile(b, c, "stat", false)
		c.Release(context.Background(), g, fh)
		ctx := context.Background()
		lat := make([]time.Duration, b.N)
		b.ResetTimer()
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if _, e := c.GetAttr(ctx, g, 0); e != 0 {
				b.Fatal("getattr:", e)
			}
			lat[i] = time.Since(t0)
		}
		reportCPU(b, cpuTime()-cpu0)
		b.StopTimer()
		b.ReportMetric(medianMicros(lat), "median-µs")
		b.ReportMetric(p99Micros(lat), "p99-µs")

		path := filepath.Join(dir, "stat")
		n := max(b.N, 1000)
		local := make([]time.Duration, n)
		var st syscall.Stat_t
		for i := range local {
			t0 := time.Now()
			if err := syscall.Lstat(path, &st); err != nil {
				b.Fatal(err)
			}
			local[i] = time.Since(t0)
		}
		b.ReportMetric(medianMicros(local), "local-median-µs")
	})
}

func BenchmarkCreate(b *testing.B) {
	benchTransports(b, func(b *testing.B, c *Client, dir string) {
		ctx := context.Background()
		d, e := c.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
		if e != 0 {
			b.Fatal(e)
		}
		lat := make([]time.Duration, b.N)
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			a, fh, e := c.Create(ctx, d.GFID, fmt.Sprintf("f%d", i), &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY | syscall.O_EXCL})
			if e != 0 {
				b.Fatal("create:", e)
			}
			if e := c.Release(ctx, a.GFID, fh); e != 0 {
				b.Fatal("release:", e)
			}
			lat[i] = time.Since(t0)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		rate := float64(b.N) / elapsed.Seconds()
		b.ReportMetric(rate, "creates/s")
		b.ReportMetric(medianMicros(lat), "median-µs")

		ldir := filepath.Join(dir, "local")
		if err := os.Mkdir(ldir, 0o755); err != nil {
			b.Fatal(err)
		}
		n := max(b.N, 1000)
		t0 := time.Now()
		for i := 0; i < n; i++ {
			f, err := os.OpenFile(filepath.Join(ldir, fmt.Sprintf("f%d", i)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		local := float64(n) / time.Since(t0).Seconds()
		b.ReportMetric(local, "local-creates/s")
		b.ReportMetric(rate/local, "ratio")
	})
}

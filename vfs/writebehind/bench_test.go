package writebehind

import (
	"context"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// slow adds a fixed latency to every write and fsync, like a brick a
// network round trip away.
type slow struct {
	vfs.Passthrough
	d time.Duration
}

// wait passes d without sleeping: time.Sleep on a loaded machine rounds
// 100 µs up to a millisecond or more.
func wait(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
		runtime.Gosched()
	}
}

func (s slow) Write(ctx context.Context, g vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	wait(s.d)
	return s.Child.Write(ctx, g, fh, data, off)
}

func (s slow) Fsync(ctx context.Context, g vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	wait(s.d)
	return s.Child.Fsync(ctx, g, fh, datasync)
}

const benchLatency = 100 * time.Microsecond

// benchWrites writes b.N blocks of 4 KiB through x (sequentially or at
// random 4 KiB-aligned offsets of a 64 MiB file) and fsyncs at the end.
func benchWrites(b *testing.B, x vfs.Translator, random bool) {
	a, fh, errno := x.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
	if errno != 0 {
		b.Fatal(errno)
	}
	// Size the file first: memfs reallocates a file's data on every
	// extension, which would dominate a benchmark of appending writes.
	if _, errno := x.SetAttr(bg, a.GFID, fh, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 64 << 20}); errno != 0 {
		b.Fatal(errno)
	}
	buf := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 1))
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := int64(i%16384) * 4096
		if random {
			off = int64(r.IntN(16384)) * 4096
		}
		if _, errno := x.Write(bg, a.GFID, fh, buf, off); errno != 0 {
			b.Fatal(errno)
		}
	}
	if errno := x.Fsync(bg, a.GFID, fh, false); errno != 0 {
		b.Fatal(errno)
	}
	b.StopTimer()
	x.Release(bg, a.GFID, fh)
}

// BenchmarkWrite4K compares 4 KiB writes straight to a child with 100 µs
// latency per call against the same through write-behind.
func BenchmarkWrite4K(b *testing.B) {
	for _, pattern := range []string{"seq", "rand"} {
		b.Run(pattern+"/direct", func(b *testing.B) {
			benchWrites(b, slow{vfs.Passthrough{Child: memfs.New(memfs.Config{})}, benchLatency}, pattern == "rand")
		})
		b.Run(pattern+"/write-behind", func(b *testing.B) {
			wb, _ := New(DefaultConfig(), slow{vfs.Passthrough{Child: memfs.New(memfs.Config{})}, benchLatency})
			defer wb.Close()
			benchWrites(b, wb, pattern == "rand")
			s := wb.Stats()
			b.ReportMetric(float64(s.Sent)/float64(b.N), "childwrites/op")
		})
	}
}

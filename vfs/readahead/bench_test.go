package readahead

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// slow adds a fixed latency to every read, like a brick a network round
// trip away.
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

func (s slow) Read(ctx context.Context, g vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	wait(s.d)
	return s.Child.Read(ctx, g, fh, dest, off)
}

// BenchmarkSequentialRead reads a 16 MiB file in 128 KiB reads, over a
// child with 100 µs latency per call, directly and through read-ahead.
func BenchmarkSequentialRead(b *testing.B) {
	const size, bs = 16 << 20, 128 << 10
	fs := memfs.New(memfs.Config{})
	a, fh, _ := fs.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	fs.Write(bg, a.GFID, fh, make([]byte, size), 0)
	fs.Release(bg, a.GFID, fh)
	child := slow{vfs.Passthrough{Child: fs}, 100 * time.Microsecond}
	ra, _ := New(Config{}, child)
	for _, tc := range []struct {
		name string
		x    vfs.Translator
	}{{"direct", child}, {"read-ahead", ra}} {
		b.Run(tc.name, func(b *testing.B) {
			buf := make([]byte, bs)
			b.SetBytes(bs)
			fh, _ := tc.x.Open(bg, a.GFID, syscall.O_RDONLY)
			defer tc.x.Release(bg, a.GFID, fh)
			for i := 0; i < b.N; i++ {
				off := int64(i%(size/bs)) * bs
				if off == 0 && i > 0 { // start over: a new reader
					tc.x.Release(bg, a.GFID, fh)
					fh, _ = tc.x.Open(bg, a.GFID, syscall.O_RDONLY)
				}
				if _, errno := tc.x.Read(bg, a.GFID, fh, buf, off); errno != 0 {
					b.Fatal(errno)
				}
			}
		})
	}
}

package mdcache

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// slow adds a fixed latency to the metadata calls, like a brick a network
// round trip away.
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

func (s slow) Lookup(ctx context.Context, p vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	wait(s.d)
	return s.Child.Lookup(ctx, p, name)
}

func (s slow) GetAttr(ctx context.Context, g vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	wait(s.d)
	return s.Child.GetAttr(ctx, g, fh)
}

func (s slow) GetXattr(ctx context.Context, g vfs.GFID, name string) ([]byte, syscall.Errno) {
	wait(s.d)
	return s.Child.GetXattr(ctx, g, name)
}

func (s slow) ReadDir(ctx context.Context, g vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	wait(s.d)
	return s.Child.ReadDir(ctx, g, fh, cookie, max, plus)
}

// BenchmarkLsL is `ls -l` of a directory of 1,000 files as a FUSE mount
// does it: readdirplus, then a lookup, a getattr and a getxattr of
// security.capability per entry, over a child with 100 µs latency per
// call. One op is one whole listing; the md-cache timeout is longer than
// the benchmark, so this measures the warm case.
func BenchmarkLsL(b *testing.B) {
	fs := memfs.New(memfs.Config{})
	d, _ := fs.Mkdir(bg, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	for i := 0; i < 1000; i++ {
		a, fh, _ := fs.Create(bg, d.GFID, fmt.Sprint(i), &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		fs.Release(bg, a.GFID, fh)
	}
	child := slow{vfs.Passthrough{Child: fs}, 100 * time.Microsecond}
	cfg := DefaultConfig()
	cfg.Timeout = time.Hour / 10
	md, _ := New(cfg, child)
	for _, tc := range []struct {
		name string
		x    vfs.Translator
	}{{"direct", child}, {"md-cache", md}} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ents, _, errno := tc.x.ReadDir(bg, d.GFID, 0, 0, 0, true)
				if errno != 0 {
					b.Fatal(errno)
				}
				for _, e := range ents {
					tc.x.Lookup(bg, d.GFID, e.Name)
					tc.x.GetAttr(bg, e.GFID, 0)
					tc.x.GetXattr(bg, e.GFID, "security.capability")
				}
			}
		})
	}
}

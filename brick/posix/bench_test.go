package posix

import (
	"context"
	"fmt"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// deepDir makes a chain of depth directories and returns the last one.
func deepDir(b testing.TB, p *Posix, depth int) vfs.GFID {
	g := vfs.RootGFID
	for i := 0; i < depth; i++ {
		a, e := p.Mkdir(context.Background(), g, fmt.Sprintf("d%d", i), &vfs.CreateIn{Mode: 0o755})
		if e != 0 {
			b.Fatal(e)
		}
		g = a.GFID
	}
	return g
}

func BenchmarkCreate(b *testing.B) {
	for _, depth := range []int{1, 8} {
		b.Run(fmt.Sprintf("depth%d", depth), func(b *testing.B) {
			p, _ := newTestPosix(b)
			ctx := context.Background()
			d := deepDir(b, p, depth)
			data := make([]byte, 4096)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a, fh, e := p.Create(ctx, d, fmt.Sprintf("f%d", i), &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
				if e != 0 {
					b.Fatal(e)
				}
				p.Write(ctx, a.GFID, fh, data, 0)
				p.Release(ctx, a.GFID, fh)
			}
		})
	}
}

func BenchmarkLookup(b *testing.B) {
	for _, depth := range []int{1, 8} {
		b.Run(fmt.Sprintf("depth%d", depth), func(b *testing.B) {
			p, _ := newTestPosix(b)
			ctx := context.Background()
			d := deepDir(b, p, depth)
			a, fh, _ := p.Create(ctx, d, "f", &vfs.CreateIn{Mode: 0o644})
			p.Release(ctx, a.GFID, fh)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, e := p.Lookup(ctx, d, "f"); e != 0 {
					b.Fatal(e)
				}
			}
		})
	}
}

func BenchmarkAnonymousRead(b *testing.B) {
	p, _ := newTestPosix(b)
	ctx := context.Background()
	a, fh, _ := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	p.Write(ctx, a.GFID, fh, make([]byte, 128<<10), 0)
	p.Release(ctx, a.GFID, fh)
	buf := make([]byte, 4096)
	b.SetBytes(4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, e := p.Read(ctx, a.GFID, 0, buf, int64(i%32)*4096); e != 0 {
			b.Fatal(e)
		}
	}
}

func BenchmarkHandleRead(b *testing.B) {
	p, _ := newTestPosix(b)
	ctx := context.Background()
	a, fh, _ := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	p.Write(ctx, a.GFID, fh, make([]byte, 128<<10), 0)
	defer p.Release(ctx, a.GFID, fh)
	buf := make([]byte, 4096)
	b.SetBytes(4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, e := p.Read(ctx, a.GFID, fh, buf, int64(i%32)*4096); e != 0 {
			b.Fatal(e)
		}
	}
}

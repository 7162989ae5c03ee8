package replicate

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/vfs"
)

// Benchmarks of replicate over two loopback bricks against one brick, in
// the same run, without caches above (protocol/client alone, or two of
// them under cluster/replicate):
//
//	go test ./integration/replicate -run XXX -bench . -benchtime 3s
//
// The targets: sequential write >= 70% of one brick, reads >=
// 100%, create rate >= 50%.

func benchVolfile(bricks []*harness.Brick) string {
	var b strings.Builder
	var names []string
	for i, br := range bricks {
		name := fmt.Sprintf("brick%d", i+1)
		names = append(names, name)
		fmt.Fprintf(&b, "volume %s\ntype protocol/client\noption remote-host 127.0.0.1\noption remote-port %d\noption remote-subvolume %s\nend-volume\n", name, br.Port, br.Name)
	}
	if len(bricks) > 1 {
		fmt.Fprintf(&b, "volume mirror\ntype cluster/replicate\noption self-heal-daemon off\nsubvolumes %s\nend-volume\n", strings.Join(names, " "))
	}
	return b.String()
}

func benchStacks(b *testing.B) map[string]vfs.Translator {
	needBinary(b)
	b1 := harness.StartBrick(b, harness.BrickOptions{})
	b2 := harness.StartBrick(b, harness.BrickOptions{})
	b3 := harness.StartBrick(b, harness.BrickOptions{})
	return map[string]vfs.Translator{
		"single":    mountText(b, benchVolfile([]*harness.Brick{b1})).top,
		"replicate": mountText(b, benchVolfile([]*harness.Brick{b2, b3})).top,
	}
}

var benchOrder = []string{"single", "replicate"}

func BenchmarkSeqWrite(b *testing.B) {
	stacks := benchStacks(b)
	ctx := context.Background()
	const bs = 1 << 20
	data := block(1, bs)
	for _, name := range benchOrder {
		t := stacks[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(bs)
			var fh vfs.Handle
			var g vfs.GFID
			open := func(i int) {
				a, h, errno := t.Create(ctx, vfs.RootGFID, fmt.Sprintf("w%d", i), &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY | syscall.O_TRUNC})
				if errno != 0 {
					b.Fatal(errno)
				}
				g, fh = a.GFID, h
			}
			open(0)
			for i := 0; i < b.N; i++ {
				off := int64(i%256) * bs
				if i%256 == 0 && i > 0 {
					t.Release(ctx, g, fh)
					t.Unlink(ctx, vfs.RootGFID, fmt.Sprintf("w%d", i/256-1))
					open(i / 256)
				}
				if _, errno := t.Write(ctx, g, fh, data, off); errno != 0 {
					b.Fatal(errno)
				}
			}
			t.Release(ctx, g, fh)
		})
	}
}

func BenchmarkSeqRead(b *testing.B) {
	stacks := benchStacks(b)
	ctx := context.Background()
	const bs = 1 << 20
	const size = 64
	for _, name := range benchOrder {
		t := stacks[name]
		a, fh, errno := t.Create(ctx, vfs.RootGFID, "r", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
		if errno != 0 {
			b.Fatal(errno)
		}
		for k := range size {
			t.Write(ctx, a.GFID, fh, block(k, bs), int64(k)*bs)
		}
		t.Release(ctx, a.GFID, fh)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(bs)
			fh, errno := t.Open(ctx, a.GFID, syscall.O_RDONLY)
			if errno != 0 {
				b.Fatal(errno)
			}
			buf := make([]byte, bs)
			for i := 0; i < b.N; i++ {
				if n, errno := t.Read(ctx, a.GFID, fh, buf, int64(i%size)*bs); errno != 0 || n != bs {
					b.Fatal(n, errno)
				}
			}
			t.Release(ctx, a.GFID, fh)
		})
	}
}

// BenchmarkCreate measures create+write(4 KiB)+close of new files.
func BenchmarkCreate(b *testing.B) {
	stacks := benchStacks(b)
	ctx := context.Background()
	data := block(2, 4096)
	for _, name := range benchOrder {
		t := stacks[name]
		b.Run(name, func(b *testing.B) {
			d, errno := t.Mkdir(ctx, vfs.RootGFID, fmt.Sprintf("c%d", b.N), &vfs.CreateIn{Mode: 0o755})
			if errno != 0 {
				b.Fatal(errno)
			}
			for i := 0; i < b.N; i++ {
				a, fh, errno := t.Create(ctx, d.GFID, fmt.Sprint(i), &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY})
				if errno != 0 {
					b.Fatal(errno)
				}
				if _, errno := t.Write(ctx, a.GFID, fh, data, 0); errno != 0 {
					b.Fatal(errno)
				}
				t.Flush(ctx, a.GFID, fh)
				t.Release(ctx, a.GFID, fh)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}

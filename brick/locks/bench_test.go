package locks

import (
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// BenchmarkInodeLkUncontended is replicate's lock/unlock pair per
// transaction, on distinct files from parallel goroutines.
func BenchmarkInodeLkUncontended(b *testing.B) {
	l := New(nil)
	ctx := ctxOf("c")
	b.RunParallel(func(pb *testing.PB) {
		g := vfs.NewGFID()
		lk := vfs.Lock{Type: vfs.WriteLock, End: eof, Owner: 1}
		un := lk
		un.Type = vfs.Unlock
		for pb.Next() {
			if e := l.InodeLk(ctx, "data", g, lk, true); e != 0 {
				b.Fatal(e)
			}
			if e := l.InodeLk(ctx, "data", g, un, false); e != 0 {
				b.Fatal(e)
			}
		}
	})
}

// BenchmarkPosixManyRanges sets and clears one range among 1000 others of
// the same owner on one file.
func BenchmarkPosixManyRanges(b *testing.B) {
	l := New(nil)
	ctx := ctxOf("c")
	for i := uint64(0); i < 1000; i++ {
		setlk(l, ctx, vfs.WriteLock, i*10, i*10+4, 1, false)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		setlk(l, ctx, vfs.WriteLock, 5005, 5006, 2, false)
		setlk(l, ctx, vfs.Unlock, 5005, 5006, 2, false)
	}
}

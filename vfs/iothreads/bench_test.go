package iothreads

import (
	"context"
	"testing"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// BenchmarkGetAttr measures the cost of the slot on a cheap operation,
// from parallel goroutines.
func BenchmarkGetAttr(b *testing.B) {
	x, _ := New(Config{}, memfs.New(memfs.Config{}))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			x.GetAttr(context.Background(), vfs.RootGFID, 0)
		}
	})
}

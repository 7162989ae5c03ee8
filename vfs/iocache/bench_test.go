package iocache

import (
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// BenchmarkReadHit reads 128 KiB, one cached page, per operation.
func BenchmarkReadHit(b *testing.B) {
	fs := memfs.New(memfs.Config{})
	c, _ := New(Config{}, fs)
	a, fh, _ := fs.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Flags: syscall.O_RDWR})
	fs.Write(bg, a.GFID, fh, make([]byte, 1<<20), 0)
	buf := make([]byte, DefaultPageSize)
	b.SetBytes(int64(len(buf)))
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, DefaultPageSize)
		i := int64(0)
		for pb.Next() {
			if _, e := c.Read(bg, a.GFID, 0, buf, (i%8)*DefaultPageSize); e != 0 {
				b.Fatal(e)
			}
			i++
		}
	})
}

package iocache

import (
	"testing"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// TestConformance: a single client sees no difference with io-cache in the
// stack, however long pages are trusted. A small cache and page size make
// the suite's large files cross pages and evict.
func TestConformance(t *testing.T) {
	vfstest.Run(t, func(t *testing.T) vfs.Translator {
		c, err := New(Config{CacheSize: 256 << 10, PageSize: 4096, CacheTimeout: 1 << 62}, locks.New(memfs.New(memfs.Config{})))
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

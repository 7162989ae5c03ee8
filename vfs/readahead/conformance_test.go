package readahead

import (
	"testing"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// TestConformance: a single client sees no difference with read-ahead in
// the stack. Small pages make the suite's files span many of them.
func TestConformance(t *testing.T) {
	vfstest.Run(t, func(t *testing.T) vfs.Translator {
		r, err := New(Config{PageSize: 4096, PageCount: 16, MaxStreams: 4}, locks.New(memfs.New(memfs.Config{})))
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}

func TestConformanceDefaults(t *testing.T) {
	vfstest.Run(t, func(t *testing.T) vfs.Translator {
		r, err := New(Config{}, memfs.New(memfs.Config{}))
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}

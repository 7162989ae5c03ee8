package writebehind

import (
	"testing"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// stack returns write-behind over child, or over locks → memfs.
func stack(t *testing.T, cfg Config, child ...vfs.Translator) vfs.Translator {
	if len(child) == 0 {
		child = append(child, locks.New(memfs.New(memfs.Config{})))
	}
	w, err := New(cfg, child[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// TestConformance: a single client sees no difference with write-behind
// in the stack.
func TestConformance(t *testing.T) {
	vfstest.Run(t, func(t *testing.T) vfs.Translator { return stack(t, DefaultConfig()) })
}

// TestConformanceHolding runs the suite with the windows at their
// smallest and nothing sent before it must be: held writes, waits for room
// and joins happen all the time.
func TestConformanceHolding(t *testing.T) {
	cfg := Config{CacheSize: 8 << 10, AggregateSize: 4 << 10, TotalSize: 16 << 10}
	vfstest.Run(t, func(t *testing.T) vfs.Translator { return stack(t, cfg) })
}

func TestLockConformance(t *testing.T) {
	vfstest.RunLocks(t, func(t *testing.T) vfs.Translator { return stack(t, DefaultConfig()) })
}

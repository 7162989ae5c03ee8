package iothreads

import (
	"testing"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// newStack is the brick stack io-threads → locks → memfs, with a single
// slot so that any operation that wrongly holds one while waiting shows up
// as a hang.
func newStack(t *testing.T) vfs.Translator {
	x, err := New(Config{ThreadCount: 1}, locks.New(memfs.New(memfs.Config{})))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestConformance(t *testing.T)     { vfstest.Run(t, newStack) }
func TestLockConformance(t *testing.T) { vfstest.RunLocks(t, newStack) }

package memfs

import (
	"testing"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// TestConformance runs the whole shared suite: memfs is meant to be a
// faithful stand-in for a brick, with no skips.
func TestConformance(t *testing.T) {
	vfstest.Run(t, func(t *testing.T) vfs.Translator { return New(Config{}) })
}

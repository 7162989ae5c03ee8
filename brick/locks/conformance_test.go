package locks

import (
	"testing"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// TestLockConformance runs the shared lock suite over features/locks on an
// in-memory brick.
func TestLockConformance(t *testing.T) {
	vfstest.RunLocks(t, func(t *testing.T) vfs.Translator { return New(memfs.New(memfs.Config{})) })
}

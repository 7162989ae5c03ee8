package client

import (
	"testing"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// TestConformance runs the conformance suite on client → gRPC over
// 127.0.0.1 → server → posix.
func TestConformance(t *testing.T) {
	vfstest.Run(t, func(t *testing.T) vfs.Translator {
		c, _ := connected(t, newPosix(t), nil)
		return c
	})
}

// TestConformanceLocks runs the lock cases on client → server → locks →
// posix, the brick's own stack.
func TestConformanceLocks(t *testing.T) {
	vfstest.RunLocks(t, func(t *testing.T) vfs.Translator {
		c, _ := connected(t, locks.New(newPosix(t)), nil)
		return c
	})
}

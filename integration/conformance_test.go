package integration

import (
	"testing"

	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/stack"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// defaultClientVolfile is the client volfile `cairn up` generates
// (replicate, io-threads, write-behind, read-ahead, io-cache, md-cache,
// io-stats) over the given brick processes.
func defaultClientVolfile(bricks ...*harness.Brick) string {
	spec := stack.VolumeSpec{Name: "vol", Export: bricks[0].Name}
	for _, b := range bricks {
		spec.Bricks = append(spec.Bricks, stack.BrickSpec{Host: "127.0.0.1", Port: b.Port, Directory: b.Dir})
	}
	return spec.ClientVolfile()
}

// TestConformanceDefaultStack runs the vfs conformance suite, and the lock
// suite, against the full default client stack over two real brick
// processes (protocol/client → gRPC → protocol/server → io-threads → locks →
// posix on each), a fresh pair of bricks per case.
func TestConformanceDefaultStack(t *testing.T) {
	newStack := func(t *testing.T) vfs.Translator {
		b1 := harness.StartBrick(t, harness.BrickOptions{})
		b2 := harness.StartBrick(t, harness.BrickOptions{})
		return buildClient(t, defaultClientVolfile(b1, b2))
	}
	vfstest.RunWith(t, newStack, vfstest.Options{Serial: true})
	vfstest.RunLocks(t, newStack)
}

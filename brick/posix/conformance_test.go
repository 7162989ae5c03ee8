package posix

import (
	"testing"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

func TestConformance(t *testing.T) {
	vfstest.Run(t, func(t *testing.T) vfs.Translator {
		p, _ := newTestPosix(t)
		return p
	})
}

// TestConformanceLocks runs the whole suite and the lock cases over
// features/locks on storage/posix, the brick's own stack.
func TestConformanceLocks(t *testing.T) {
	stack := func(t *testing.T) vfs.Translator {
		p, _ := newTestPosix(t)
		return locks.New(p)
	}
	vfstest.RunLocks(t, stack)
}

// TestConformanceAsUser runs the suite acting as an ordinary user, through
// the caller in the context, so the brick's own permission checks (it runs
// as root) are exercised on every path.
func TestConformanceAsUser(t *testing.T) {
	vfstest.RunWith(t, func(t *testing.T) vfs.Translator {
		p, _ := newTestPosix(t)
		return p
	}, vfstest.Options{Caller: &vfs.Caller{UID: 1000, GID: 1000, Groups: []uint32{1000}, Pid: 1, Client: "user"}})
}

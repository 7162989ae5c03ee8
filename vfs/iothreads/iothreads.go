// Package iothreads is cairn's performance/io-threads translator: it bounds
// how many operations run at once in the translators below it, so that a
// burst of requests queues here instead of piling up goroutines, file
// descriptors and disk seeks in storage/posix (on a brick) or streams in
// protocol/client (on a client).
//
// GlusterFS's io-threads runs fops on a pool of thread-count threads. Go
// needs no thread pool, so the bound is a counting semaphore of ThreadCount
// slots: an operation takes a slot (waiting in FIFO order when all are
// busy), runs in the caller's goroutine, and gives the slot back. A caller
// whose context ends while it queues gets EINTR (ETIMEDOUT for a deadline)
// without reaching the child.
//
// Two kinds of operation never queue, because queueing them can deadlock or
// leak:
//
//   - blocking lock requests (SetLk, InodeLk, EntryLk with wait): they may
//     wait in features/locks for an unlock that itself needs a slot; with
//     every slot held by waiters nothing could ever be unlocked;
//   - unlocks, Release and ReleaseDir: they are quick, and failing them
//     because a context ended would leak a lock or a handle in the child.
package iothreads

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// DefaultThreadCount is GlusterFS's default thread-count.
const DefaultThreadCount = 16

// MaxThreadCount is the largest thread-count GlusterFS accepts.
const MaxThreadCount = 64

// Config configures an IOThreads translator.
type Config struct {
	// ThreadCount bounds the operations running at once below this
	// translator (GlusterFS option thread-count; 0 means the default, 16;
	// at most 64).
	ThreadCount int
}

// IOThreads bounds the concurrency of the operations passed to its child.
type IOThreads struct {
	vfs.Passthrough
	slots chan struct{}
}

var _ vfs.Translator = (*IOThreads)(nil)

// New returns an io-threads translator over child.
func New(cfg Config, child vfs.Translator) (*IOThreads, error) {
	n := cfg.ThreadCount
	if n == 0 {
		n = DefaultThreadCount
	}
	if n < 1 || n > MaxThreadCount {
		return nil, fmt.Errorf("io-threads: thread-count %d out of range 1..%d", cfg.ThreadCount, MaxThreadCount)
	}
	return &IOThreads{Passthrough: vfs.Passthrough{Child: child}, slots: make(chan struct{}, n)}, nil
}

// ThreadCount returns the bound in force.
func (t *IOThreads) ThreadCount() int { return cap(t.slots) }

// Running returns how many operations hold a slot now.
func (t *IOThreads) Running() int { return len(t.slots) }

// enter takes a slot, or returns the errno of ctx's end.
func (t *IOThreads) enter(ctx context.Context) syscall.Errno {
	select {
	case t.slots <- struct{}{}:
		return 0
	default:
	}
	select {
	case t.slots <- struct{}{}:
		return 0
	case <-ctx.Done():
		return ctxErrno(ctx)
	}
}

// enterAlways takes a slot whatever happens to the caller's context, for
// operations that must not be lost.
func (t *IOThreads) enterAlways() { t.slots <- struct{}{} }

func (t *IOThreads) leave() { <-t.slots }

// ctxErrno maps the end of a context to an errno.
func ctxErrno(ctx context.Context) syscall.Errno {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return syscall.ETIMEDOUT
	}
	return syscall.EINTR
}

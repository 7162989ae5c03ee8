// Package procs lends a process one more P (GOMAXPROCS) while work that
// waits in system calls is under way.
//
// A goroutine blocked in a system call keeps its P until Go's sysmon takes
// it back, 20 µs or more later. A process that runs with few Ps on
// purpose (a brick runs with one per two CPUs, which keeps the scheduler's
// spinning down) then has its other goroutines wait behind such a call.
// Work known to block for long, such as the final unlinks of deleted files
// on a file system that discards freed blocks synchronously, can hold a
// Booster for its duration so that the process has a P to spare meanwhile.
package procs

import (
	"runtime"
	"sync"
	"time"
)

// Booster raises GOMAXPROCS by one while any holder is busy and lowers it
// again once it has been idle for its linger time, so that work arriving
// in bursts does not change GOMAXPROCS (which stops the world) on every
// burst. A nil *Booster does nothing. It is safe for concurrent use.
type Booster struct {
	linger time.Duration
	// set is runtime.GOMAXPROCS (replaced in tests).
	set func(int) int

	mu     sync.Mutex
	busy   int
	raised bool
	idle   *time.Timer // lowers GOMAXPROCS after linger
}

// NewBooster returns a Booster that lowers GOMAXPROCS linger after its
// last holder finished.
func NewBooster(linger time.Duration) *Booster {
	return &Booster{linger: linger, set: runtime.GOMAXPROCS}
}

// Begin marks the start of blocking work; End must follow.
func (b *Booster) Begin() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.busy++
	if b.idle != nil {
		b.idle.Stop()
		b.idle = nil
	}
	if !b.raised {
		b.raised = true
		b.set(b.set(0) + 1)
	}
}

// End marks the end of blocking work begun with Begin.
func (b *Booster) End() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.busy--
	if b.busy > 0 || !b.raised {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(b.linger, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.idle != t || b.busy > 0 || !b.raised {
			return // a Begin came since
		}
		b.idle = nil
		b.raised = false
		b.set(max(1, b.set(0)-1))
	})
	b.idle = t
}

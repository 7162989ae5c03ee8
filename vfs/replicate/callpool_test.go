package replicate

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestCallPoolReuseAndBound: sequential calls reuse one pool goroutine;
// many concurrent calls all run, with at most maxPoolGoroutines kept;
// closing stop ends them.
func TestCallPoolReuseAndBound(t *testing.T) {
	stop := make(chan struct{})
	h := newCallPool(stop)

	for range 100 {
		done := make(chan struct{})
		h.run(func() { close(done) })
		<-done
		waitFor(t, func() bool { return h.n.Load() == 1 })
	}

	const calls = 3 * maxPoolGoroutines
	var ran atomic.Int32
	var wg sync.WaitGroup
	release := make(chan struct{})
	wg.Add(calls)
	for range calls {
		h.run(func() {
			defer wg.Done()
			ran.Add(1)
			<-release // all busy at once
		})
	}
	if n := h.n.Load(); n > maxPoolGoroutines {
		t.Fatalf("%d pool goroutines, want at most %d", n, maxPoolGoroutines)
	}
	close(release)
	wg.Wait()
	if ran.Load() != calls {
		t.Fatalf("%d calls ran, want %d", ran.Load(), calls)
	}

	close(stop)
	waitFor(t, func() bool { return h.n.Load() == 0 })
}

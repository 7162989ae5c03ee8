package gopool

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReuseAndBound: sequential calls reuse pool goroutines; many
// concurrent calls all run, with at most MaxGoroutines kept; closing stop
// ends them.
func TestReuseAndBound(t *testing.T) {
	stop := make(chan struct{})
	p := New(stop)

	for range 100 {
		done := make(chan struct{})
		p.Go(func() { close(done) })
		<-done
	}
	// A call that comes before the previous one's goroutine is back at its
	// receive starts another (which then stays), so a busy machine may
	// keep a few; without reuse there would be 100.
	if n := p.n.Load(); n < 1 || n > 8 {
		t.Fatalf("%d pool goroutines after 100 sequential calls, want 1 to 8", n)
	}

	const calls = 3 * MaxGoroutines
	var ran atomic.Int32
	var wg sync.WaitGroup
	release := make(chan struct{})
	wg.Add(calls)
	for range calls {
		p.Go(func() {
			defer wg.Done()
			ran.Add(1)
			<-release // all busy at once
		})
	}
	if n := p.n.Load(); n > MaxGoroutines {
		t.Fatalf("%d pool goroutines, want at most %d", n, MaxGoroutines)
	}
	close(release)
	wg.Wait()
	if ran.Load() != calls {
		t.Fatalf("%d calls ran, want %d", ran.Load(), calls)
	}

	close(stop)
	waitFor(t, func() bool { return p.n.Load() == 0 })
}

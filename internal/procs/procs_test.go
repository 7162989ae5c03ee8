package procs

import (
	"sync"
	"testing"
	"time"
)

// fakeProcs stands in for runtime.GOMAXPROCS.
type fakeProcs struct {
	mu   sync.Mutex
	n    int
	sets int
}

func (f *fakeProcs) set(n int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.n
	if n > 0 {
		f.n = n
		f.sets++
	}
	return old
}

func (f *fakeProcs) get() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.sets
}

func waitProcs(t *testing.T, f *fakeProcs, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		n, _ := f.get()
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOMAXPROCS %d, want %d", n, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBoosterRaisesWhileBusy(t *testing.T) {
	f := &fakeProcs{n: 1}
	b := &Booster{linger: 20 * time.Millisecond, set: f.set}
	b.Begin()
	b.Begin() // nested: still one more P
	if n, _ := f.get(); n != 2 {
		t.Fatalf("busy: GOMAXPROCS %d, want 2", n)
	}
	b.End()
	time.Sleep(50 * time.Millisecond)
	if n, _ := f.get(); n != 2 {
		t.Fatalf("one holder left: GOMAXPROCS %d, want 2", n)
	}
	b.End()
	if n, _ := f.get(); n != 2 {
		t.Fatalf("lowered before the linger time: GOMAXPROCS %d", n)
	}
	waitProcs(t, f, 1)
}

func TestBoosterBurstsKeepTheRaise(t *testing.T) {
	f := &fakeProcs{n: 1}
	b := &Booster{linger: 100 * time.Millisecond, set: f.set}
	for range 50 {
		b.Begin()
		b.End()
		time.Sleep(time.Millisecond)
	}
	if n, sets := f.get(); n != 2 || sets != 1 {
		t.Fatalf("during bursts: GOMAXPROCS %d after %d changes, want 2 after 1", n, sets)
	}
	waitProcs(t, f, 1)
	if _, sets := f.get(); sets != 2 {
		t.Fatalf("%d changes of GOMAXPROCS, want 2", sets)
	}
}

func TestBoosterNil(t *testing.T) {
	var b *Booster
	b.Begin()
	b.End()
}

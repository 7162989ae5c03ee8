package vfs

import (
	"testing"
	"time"
)

// TestNewGFIDLayout checks the version 8 layout NewGFID promises: GFIDs
// made within one epoch share their first two bytes (one brick index
// directory), those of the next epoch do not, and the rest is random with
// the version and variant bits set.
func TestNewGFIDLayout(t *testing.T) {
	t0 := time.Unix(1_800_000_000/64*64, 0) // start of an epoch
	a, b := newGFIDAt(t0), newGFIDAt(t0.Add(gfidEpoch-time.Second))
	c := newGFIDAt(t0.Add(gfidEpoch))
	if a[0] != b[0] || a[1] != b[1] {
		t.Errorf("same epoch, different index directory: %v %v", a, b)
	}
	if a[0] == c[0] && a[1] == c[1] {
		t.Errorf("next epoch, same index directory: %v %v", a, c)
	}
	if a == b {
		t.Error("two GFIDs are equal")
	}
	seen := map[GFID]bool{}
	for i := 0; i < 1000; i++ {
		g := newGFIDAt(t0)
		if g[6]>>4 != 8 || g[8]>>6 != 2 {
			t.Fatalf("%v: version %d variant %b", g, g[6]>>4, g[8]>>6)
		}
		if g.IsZero() || g == RootGFID || seen[g] {
			t.Fatalf("%v: zero, root or repeated", g)
		}
		seen[g] = true
	}
	// The random part really varies: every byte outside the prefix takes
	// more than one value over the thousand.
	for i := 2; i < 16; i++ {
		vals := map[byte]bool{}
		for g := range seen {
			vals[g[i]] = true
		}
		if len(vals) < 2 {
			t.Errorf("byte %d never changes", i)
		}
	}
}

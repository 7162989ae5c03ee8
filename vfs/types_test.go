package vfs

import "testing"

func TestModeAllows(t *testing.T) {
	a := &Attr{Mode: 0o100640, UID: 10, GID: 20}
	for _, tc := range []struct {
		c    Caller
		want uint32
		ok   bool
	}{
		{Caller{UID: 0}, 4 | 2 | 1, true},                         // root
		{Caller{UID: 10, GID: 99}, 4 | 2, true},                   // owner rw-
		{Caller{UID: 10, GID: 20}, 1, false},                      // owner bits decide, not group
		{Caller{UID: 11, GID: 20}, 4, true},                       // group r--
		{Caller{UID: 11, GID: 1, Groups: []uint32{20}}, 2, false}, // supplementary group, no w
		{Caller{UID: 11, GID: 1}, 4, false},                       // other ---
	} {
		if got := tc.c.ModeAllows(a, tc.want); got != tc.ok {
			t.Errorf("%+v want %o: %v, expected %v", tc.c, tc.want, got, tc.ok)
		}
	}
}

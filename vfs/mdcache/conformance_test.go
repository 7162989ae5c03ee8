package mdcache

import (
	"testing"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// TestConformance: a single client sees no difference with md-cache in the
// stack, even when what it caches is trusted for ever.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func() Config
	}{
		{"defaults", DefaultConfig},
		{"long-negative-small", func() Config {
			c := DefaultConfig()
			c.Timeout = MaxTimeout
			c.NegativeLookup = true
			c.CachePosixACL, c.CacheSELinux = true, true
			c.MaxEntries = 64 // evicts all the time
			return c
		}},
	} {
		newStack := func(t *testing.T) vfs.Translator {
			c, err := New(tc.cfg(), locks.New(memfs.New(memfs.Config{})))
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		t.Run(tc.name, func(t *testing.T) { vfstest.Run(t, newStack) })
		// As an ordinary user, cached lookups are checked against the
		// parent's mode bits.
		t.Run(tc.name+"-user", func(t *testing.T) {
			vfstest.RunWith(t, newStack, vfstest.Options{
				Caller: &vfs.Caller{UID: 1000, GID: 1000, Client: "user"},
				Skip:   memfsAsUser,
			})
		})
	}
}

// memfsAsUser lists the cases memfs itself fails for a non-root caller:
// it refuses XattrOp on trusted.* names to users, where the posix brick's
// XattrOp (used only by replicate) does not check.
var memfsAsUser = map[string]string{
	"XattrOp":           "memfs refuses trusted.* XattrOp to non-root callers (fails without md-cache too)",
	"XattrOpConcurrent": "memfs refuses trusted.* XattrOp to non-root callers (fails without md-cache too)",
}

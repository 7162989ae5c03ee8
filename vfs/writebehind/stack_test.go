package writebehind

import (
	"testing"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/mdcache"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/readahead"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// perfStack is the client-side performance stack GlusterFS builds by
// default, write-behind → read-ahead → md-cache, over locks → memfs.
func perfStack(t *testing.T, wbCfg Config, raCfg readahead.Config, mdCfg mdcache.Config) vfs.Translator {
	md, err := mdcache.New(mdCfg, locks.New(memfs.New(memfs.Config{})))
	if err != nil {
		t.Fatal(err)
	}
	ra, err := readahead.New(raCfg, md)
	if err != nil {
		t.Fatal(err)
	}
	return stack(t, wbCfg, ra)
}

// TestConformanceStack runs the suite over write-behind → read-ahead →
// md-cache → memfs: with defaults, and with everything small and long
// lived (held writes, tiny read-ahead pages, a cache trusted for minutes,
// negative lookups); the defaults also as an ordinary user.
func TestConformanceStack(t *testing.T) {
	small := Config{CacheSize: 8 << 10, AggregateSize: 4 << 10, TotalSize: 16 << 10}
	md := mdcache.DefaultConfig()
	md.Timeout, md.NegativeLookup = mdcache.MaxTimeout, true
	user := &vfs.Caller{UID: 1000, GID: 1000, Client: "user"}
	skip := map[string]string{
		"XattrOp":           "memfs refuses trusted.* XattrOp to non-root callers",
		"XattrOpConcurrent": "memfs refuses trusted.* XattrOp to non-root callers",
	}
	for _, tc := range []struct {
		name string
		new  func(t *testing.T) vfs.Translator
	}{
		{"defaults", func(t *testing.T) vfs.Translator {
			return perfStack(t, DefaultConfig(), readahead.Config{}, mdcache.DefaultConfig())
		}},
		{"small-long", func(t *testing.T) vfs.Translator {
			return perfStack(t, small, readahead.Config{PageSize: 4096, PageCount: 16, MaxStreams: 4}, md)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { vfstest.Run(t, tc.new) })
		if tc.name == "defaults" {
			t.Run(tc.name+"-user", func(t *testing.T) {
				vfstest.RunWith(t, tc.new, vfstest.Options{Caller: user, Skip: skip})
			})
		}
	}
	t.Run("locks", func(t *testing.T) {
		vfstest.RunLocks(t, func(t *testing.T) vfs.Translator {
			return perfStack(t, DefaultConfig(), readahead.Config{}, mdcache.DefaultConfig())
		})
	})
}

package stack

import (
	"context"
	"path/filepath"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/mdcache"
	"github.com/cairnfs/cairn/vfs/openbehind"
	"github.com/cairnfs/cairn/vfs/quickread"
	"github.com/cairnfs/cairn/vfs/readahead"
	"github.com/cairnfs/cairn/vfs/volfile"
	"github.com/cairnfs/cairn/vfs/writebehind"
)

// addPerfTypes registers the performance translators GlusterFS stacks on
// clients by default: write-behind, read-ahead and md-cache.
func addPerfTypes(reg volfile.Registry) {
	reg["performance/write-behind"] = &volfile.TypeSpec{
		Help:        "acknowledges writes at once and sends them aggregated; errors reported at the next call or close",
		MinChildren: 1, MaxChildren: 1,
		Options: []volfile.OptionSpec{
			{Key: "cache-size", Aliases: []string{"window-size"}, Kind: volfile.Size, Default: "1MB", Min: "128KB", Help: "bytes per file acknowledged but not yet written"},
			{Key: "aggregate-size", Kind: volfile.Size, Default: "128KB", Min: "4KB", Max: "1MB", Help: "largest write built from small contiguous writes"},
			{Key: "flush-behind", Kind: volfile.Bool, Default: "on", Help: "finish close(2) without waiting for the brick's flush"},
			{Key: "strict-O_DIRECT", Kind: volfile.Bool, Default: "off", Help: "write O_DIRECT handles synchronously"},
			{Key: "strict-write-ordering", Kind: volfile.Bool, Default: "off", Help: "at most one write of a file in flight"},
			{Key: "trickling-writes", Kind: volfile.Bool, Default: "on", Help: "send a held write as soon as nothing else of the file is in flight"},
		},
		Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, c []vfs.Translator) (vfs.Translator, error) {
			cfg := writebehind.DefaultConfig()
			cfg.CacheSize = o.Size("cache-size")
			cfg.AggregateSize = o.Size("aggregate-size")
			if cfg.CacheSize < cfg.AggregateSize {
				return nil, o.Errorf("cache-size", "cache-size (%d) must be at least aggregate-size (%d)", cfg.CacheSize, cfg.AggregateSize)
			}
			cfg.FlushBehind = o.Bool("flush-behind")
			cfg.StrictODirect = o.Bool("strict-O_DIRECT")
			cfg.StrictWriteOrdering = o.Bool("strict-write-ordering")
			cfg.TricklingWrites = o.Bool("trickling-writes")
			return writebehind.New(cfg, c[0])
		},
	}
	reg["performance/read-ahead"] = &volfile.TypeSpec{
		Help:        "detects sequential readers and reads pages ahead of them",
		MinChildren: 1, MaxChildren: 1,
		Options: []volfile.OptionSpec{
			{Key: "page-count", Kind: volfile.Int, Default: "4", Min: "1", Max: "16", Help: "pages read ahead"},
			{Key: "page-size", Kind: volfile.Size, Default: "128KB", Min: "4KB", Max: "1MB", Help: "unit of read-ahead"},
			{Key: "force-atime-update", Kind: volfile.Bool, Default: "off", Help: "accepted for GlusterFS compatibility"},
		},
		Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, c []vfs.Translator) (vfs.Translator, error) {
			return readahead.New(readahead.Config{PageCount: int(o.Int("page-count")), PageSize: int(o.Size("page-size"))}, c[0])
		},
	}
	reg["performance/md-cache"] = &volfile.TypeSpec{
		Help:        "caches attributes, lookups and xattrs for md-cache-timeout",
		MinChildren: 1, MaxChildren: 1,
		Options: []volfile.OptionSpec{
			{Key: "md-cache-timeout", Aliases: []string{"cache-timeout"}, Kind: volfile.Duration, Default: "1", Max: "600", Help: "seconds metadata is trusted (0 disables)"},
			{Key: "cache-xattrs", Kind: volfile.Bool, Default: "on", Help: "cache every xattr read"},
			{Key: "cache-capability-xattrs", Kind: volfile.Bool, Default: "on", Help: "cache security.capability"},
			{Key: "cache-ima-xattrs", Kind: volfile.Bool, Default: "on", Help: "cache security.ima"},
			{Key: "cache-posix-acl", Kind: volfile.Bool, Default: "off", Help: "cache POSIX ACL xattrs"},
			{Key: "cache-selinux", Kind: volfile.Bool, Default: "off", Help: "cache security.selinux"},
			{Key: "xattr-cache-list", Kind: volfile.String, Help: "comma-separated patterns of further xattrs to cache"},
			{Key: "negative-lookup", Kind: volfile.Bool, Default: "off", Help: "also cache lookups that found nothing"},
			{Key: "cache-invalidation", Kind: volfile.Bool, Default: "off", Help: "drop what other clients change as the bricks report it; md-cache-timeout then applies only while the reports flow (1 s otherwise)"},
			{Key: "stat-prefetch", Kind: volfile.Bool, Default: "on", Help: "accepted for GlusterFS compatibility"},
		},
		Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, c []vfs.Translator) (vfs.Translator, error) {
			cfg := mdcache.DefaultConfig()
			cfg.Timeout = o.Duration("md-cache-timeout")
			if cfg.Timeout == 0 {
				cfg.Timeout = -1 // GlusterFS md-cache-timeout 0: no caching
			}
			cfg.CacheXattrs = o.Bool("cache-xattrs")
			cfg.CacheCapabilityXattrs = o.Bool("cache-capability-xattrs")
			cfg.CacheIMAXattrs = o.Bool("cache-ima-xattrs")
			cfg.CachePosixACL = o.Bool("cache-posix-acl")
			cfg.CacheSELinux = o.Bool("cache-selinux")
			cfg.NegativeLookup = o.Bool("negative-lookup")
			cfg.CacheInvalidation = o.Bool("cache-invalidation")
			for _, p := range splitList(o.String("xattr-cache-list")) {
				if _, err := filepath.Match(p, ""); err != nil {
					return nil, o.Errorf("xattr-cache-list", "bad pattern %q: %v", p, err)
				}
				cfg.XattrCacheList = append(cfg.XattrCacheList, p)
			}
			return mdcache.New(cfg, c[0])
		},
	}
	reg["performance/open-behind"] = &volfile.TypeSpec{
		Help:        "answers read-only opens at once and reads through anonymous handles until a real handle is needed",
		MinChildren: 1, MaxChildren: 1,
		Options: []volfile.OptionSpec{
			{Key: "lazy-open", Kind: volfile.Bool, Default: "on", Help: "open read-only files on the bricks only when a real handle is needed (off: pass every open through)"},
			{Key: "read-after-open", Kind: volfile.Bool, Default: "on", Help: "accepted for GlusterFS compatibility"},
			{Key: "use-anonymous-fd", Kind: volfile.Bool, Default: "on", Help: "accepted for GlusterFS compatibility (reads of lazily opened files always use anonymous handles)"},
		},
		Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, c []vfs.Translator) (vfs.Translator, error) {
			if !o.Bool("lazy-open") {
				return vfs.Passthrough{Child: c[0]}, nil
			}
			return openbehind.New(c[0]), nil
		},
	}
	reg["performance/quick-read"] = &volfile.TypeSpec{
		Help:        "brings the content of small files back with their lookup and serves reads from it",
		MinChildren: 1, MaxChildren: 1,
		Options: []volfile.OptionSpec{
			{Key: "max-file-size", Kind: volfile.Size, Default: "64KB", Min: "0", Max: "1MB", Help: "largest file whose content a lookup fetches"},
			{Key: "cache-size", Kind: volfile.Size, Default: "128MB", Min: "0", Help: "bytes of content kept"},
			{Key: "cache-timeout", Kind: volfile.Duration, Default: "1", Max: "60", Help: "seconds content is trusted"},
		},
		Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, c []vfs.Translator) (vfs.Translator, error) {
			cfg := quickread.DefaultConfig()
			cfg.MaxFileSize = o.Size("max-file-size")
			cfg.CacheSize = o.Size("cache-size")
			cfg.CacheTimeout = o.Duration("cache-timeout")
			return quickread.New(cfg, c[0]), nil
		},
	}
}

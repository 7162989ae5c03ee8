package stack

import (
	"context"
	"strconv"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/client"
	"github.com/cairnfs/cairn/vfs/iocache"
	"github.com/cairnfs/cairn/vfs/iostats"
	"github.com/cairnfs/cairn/vfs/replicate"
	"github.com/cairnfs/cairn/vfs/volfile"
)

// addClientTypes registers the client-side translators.
func addClientTypes(env Env, reg volfile.Registry) {
	reg["protocol/client"] = &volfile.TypeSpec{
		Help: "connects to one brick's exported subvolume over gRPC",
		Options: []volfile.OptionSpec{
			{Key: "transport-type", Kind: volfile.Enum, Enum: []string{"tcp", "socket"}, Default: "tcp", Help: "only tcp is supported"},
			{Key: "remote-host", Kind: volfile.String, Required: true, Help: "brick host name or address"},
			{Key: "remote-port", Kind: volfile.Int, Default: strconv.Itoa(DefaultPort), Min: "1", Max: "65535", Help: "brick port"},
			{Key: "remote-subvolume", Kind: volfile.String, Required: true, Help: "subvolume the brick's protocol/server exports"},
			{Key: "ping-timeout", Aliases: []string{"network.ping-timeout"}, Kind: volfile.Duration, Default: "42", Min: "1s", Help: "seconds a silent brick is given before it is treated as down"},
			{Key: "frame-timeout", Aliases: []string{"network.frame-timeout"}, Kind: volfile.Duration, Default: "1800", Min: "1s", Help: "seconds one call may take"},
			{Key: "transport.socket.nodelay", Kind: volfile.Bool, Default: "on", Help: "TCP_NODELAY (always on in cairn)"},
			{Key: "transport.socket.bind-address", Kind: volfile.String, Help: "local source address of the connection"},
			{Key: "filter-O_DIRECT", Aliases: []string{"network.remote-dio"}, Kind: volfile.Bool, Default: "off", Help: "open files on the brick without O_DIRECT, so that the brick caches them as an NFS server does (O_DIRECT still bypasses the client's caches)"},
			{Key: "local-read", Kind: volfile.Bool, Default: "on", Help: "cairn: when the brick runs on this host, read files through descriptors it hands over instead of having it send the data"},
			{Key: "local-channel", Kind: volfile.Bool, Default: "on", Help: "cairn: when the brick runs on this host, send calls over its abstract Unix socket instead of loopback TCP"},
		},
		Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, _ []vfs.Translator) (vfs.Translator, error) {
			c, err := client.New(client.Config{
				RemoteHost:      o.String("remote-host"),
				RemotePort:      int(o.Int("remote-port")),
				RemoteSubvolume: o.String("remote-subvolume"),
				PingTimeout:     o.Duration("ping-timeout"),
				CallTimeout:     o.Duration("frame-timeout"),
				LocalAddr:       o.String("transport.socket.bind-address"),
				FilterODirect:   o.Bool("filter-O_DIRECT"),
				LocalRead:       o.Bool("local-read"),
				LocalChannel:    o.Bool("local-channel"),
				Name:            v.Name,
				Logger:          env.logger().With("volume", v.Name),
			})
			if err != nil {
				return nil, v.Errorf("%v", err)
			}
			return c, nil
		},
	}
	onOff := func(key, def, help string) volfile.OptionSpec {
		return volfile.OptionSpec{Key: key, Kind: volfile.Bool, Default: def, Help: help}
	}
	reg["cluster/replicate"] = &volfile.TypeSpec{
		Help:        "mirrors its subvolumes (GlusterFS AFR): changelogs, self-heal, split-brain detection",
		MinChildren: 2, MaxChildren: volfile.Unlimited,
		Options: []volfile.OptionSpec{
			{Key: "read-subvolume", Kind: volfile.String, Help: "name of the subvolume preferred for reads (default: see read-hash-mode)"},
			{Key: "read-hash-mode", Kind: volfile.Int, Default: "0", Min: "0", Max: "1", Help: "0: read from the first good subvolume; 1: spread files over the good subvolumes by GFID"},
			{Key: "split-reads", Kind: volfile.Bool, Default: "off", Help: "cairn: serve a large read of a large file from every good copy at once, one part each (for bricks on separate machines and disks)"},
			{Key: "favorite-child-policy", Kind: volfile.Enum, Enum: []string{"none", "mtime", "size", "ctime", "majority"}, Default: "none", Help: "automatic split-brain resolution"},
			{Key: "quorum-type", Kind: volfile.Enum, Enum: []string{"none", "auto", "fixed"}, Default: "none", Help: "when writes are allowed with bricks down"},
			{Key: "quorum-count", Kind: volfile.Int, Default: "0", Min: "0", Help: "bricks that must be up for writes with quorum-type fixed"},
			onOff("data-self-heal", "on", "heal file contents on access"),
			onOff("metadata-self-heal", "on", "heal mode, owner, times and xattrs on access"),
			onOff("entry-self-heal", "on", "heal directory entries on access"),
			onOff("self-heal-daemon", "on", "heal the bricks' dirty indices in the background"),
			{Key: "background-self-heal-count", Kind: volfile.Int, Default: "8", Min: "0", Help: "heals started by lookups that may run at once"},
			{Key: "data-self-heal-algorithm", Kind: volfile.Enum, Enum: []string{"full", "diff"}, Default: "diff", Help: "full copies whole files; diff only blocks whose checksums differ"},
			{Key: "heal-timeout", Kind: volfile.Duration, Default: "600", Min: "1s", Help: "seconds between self-heal daemon crawls of the dirty index"},
			{Key: "eager-lock", Kind: volfile.Bool, Default: "on", Help: "keep the data lock across consecutive writes"},
			{Key: "post-op-delay-secs", Kind: volfile.Duration, Default: "1", Help: "how long an idle eager lock defers its changelog update"},
		},
		Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, children []vfs.Translator) (vfs.Translator, error) {
			cfg := replicate.DefaultConfig()
			// read-hash-mode 0 (the default, as GlusterFS 3.x): every
			// file is read, and its attributes reported, from the first
			// good brick. Spreading by GFID (mode 1) makes a directory
			// listing's attributes (from the directory's brick) and a
			// file's own getattr (from the file's brick) disagree on
			// ctime, which the bricks cannot set: tar then reports
			// "file changed as we read it".
			cfg.ReadSubvolume = 0
			if o.Int("read-hash-mode") == 1 {
				cfg.ReadSubvolume = -1
			}
			names := make([]string, len(v.Subvolumes))
			for i, ref := range v.Subvolumes {
				names[i] = ref.Name
			}
			if rs := o.String("read-subvolume"); rs != "" {
				found := false
				for i, n := range names {
					if n == rs {
						cfg.ReadSubvolume, found = i, true
					}
				}
				if !found {
					return nil, o.Errorf("read-subvolume", "read-subvolume %q is not a subvolume of %q (hint: one of %v)", rs, v.Name, names)
				}
			}
			cfg.SplitReads = o.Bool("split-reads")
			cfg.FavoriteChildPolicy = o.String("favorite-child-policy")
			cfg.QuorumType = o.String("quorum-type")
			cfg.QuorumCount = int(o.Int("quorum-count"))
			if cfg.QuorumType == "fixed" && (cfg.QuorumCount < 1 || cfg.QuorumCount > len(children)) {
				return nil, o.Errorf("quorum-count", "quorum-type fixed needs quorum-count between 1 and %d (the number of subvolumes)", len(children))
			}
			cfg.DataSelfHeal = o.Bool("data-self-heal")
			cfg.MetadataSelfHeal = o.Bool("metadata-self-heal")
			cfg.EntrySelfHeal = o.Bool("entry-self-heal")
			cfg.SelfHealDaemon = o.Bool("self-heal-daemon")
			cfg.BackgroundSelfHealCount = int(o.Int("background-self-heal-count"))
			if cfg.BackgroundSelfHealCount == 0 {
				cfg.BackgroundSelfHealCount = -1
			}
			cfg.DataSelfHealAlgorithm = o.String("data-self-heal-algorithm")
			cfg.HealInterval = o.Duration("heal-timeout")
			cfg.PostOpDelay = o.Duration("post-op-delay-secs")
			if !o.Bool("eager-lock") || cfg.PostOpDelay == 0 {
				cfg.PostOpDelay = -1
			}
			cfg.ChildNames = names
			cfg.Logger = env.logger().With("volume", v.Name)
			r, err := replicate.New(cfg, children)
			if err != nil {
				return nil, v.Errorf("%v", err)
			}
			return r, nil
		},
	}
	reg["performance/io-cache"] = &volfile.TypeSpec{
		Help:        "caches file data, revalidated by mtime and size after cache-timeout",
		MinChildren: 1, MaxChildren: 1,
		Options: []volfile.OptionSpec{
			{Key: "cache-size", Kind: volfile.Size, Default: "32MB", Min: "1MB", Help: "bytes of data cached at most"},
			{Key: "cache-timeout", Kind: volfile.Duration, Default: "1", Help: "seconds cached data is trusted before revalidation"},
			{Key: "page-size", Kind: volfile.Size, Default: "128KB", Min: "4KB", Max: "1MB", Help: "unit of caching"},
		},
		Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, c []vfs.Translator) (vfs.Translator, error) {
			timeout := o.Duration("cache-timeout")
			if timeout == 0 {
				timeout = -1 // GlusterFS cache-timeout 0: revalidate every read
			}
			return iocache.New(iocache.Config{CacheSize: o.Size("cache-size"), CacheTimeout: timeout, PageSize: int(o.Size("page-size"))}, c[0])
		},
	}
	reg["debug/io-stats"] = &volfile.TypeSpec{
		Help:        "counts calls, errors, bytes and latency per operation (Prometheus /metrics)",
		MinChildren: 1, MaxChildren: 1,
		Options: []volfile.OptionSpec{
			{Key: "latency-measurement", Kind: volfile.Bool, Default: "on", Help: "accepted for GlusterFS compatibility; latency is always measured"},
			{Key: "count-fop-hits", Kind: volfile.Bool, Default: "on", Help: "accepted for GlusterFS compatibility; calls are always counted"},
		},
		Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, c []vfs.Translator) (vfs.Translator, error) {
			return iostats.New(iostats.Config{Name: v.Name, Registerer: env.Registerer}, c[0])
		},
	}
}

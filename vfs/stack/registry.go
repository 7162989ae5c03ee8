package stack

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/brick/posix"
	"github.com/cairnfs/cairn/brick/server"
	"github.com/cairnfs/cairn/internal/procs"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/iothreads"
	"github.com/cairnfs/cairn/vfs/volfile"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultPort is where a brick listens and a protocol/client connects unless
// the volfile says otherwise (GlusterFS 3.0's default).
const DefaultPort = 6996

// Env is what translators built from a volfile share: nothing global.
type Env struct {
	Logger *slog.Logger
	// Registerer receives the metrics of debug/io-stats volumes; nil
	// means they are counted but not exported.
	Registerer prometheus.Registerer
	// Procs, when set, lends storage/posix volumes a P while they wait on
	// the disk in the background (posix.Config.Procs); the brick command
	// sets it.
	Procs *procs.Booster
}

func (e Env) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// Registry returns every translator type cairn supports.
func Registry(env Env) volfile.Registry {
	reg := volfile.Registry{
		"storage/posix": {
			Help: "stores the volume in a local export directory (brick side)",
			Options: []volfile.OptionSpec{
				{Key: "directory", Kind: volfile.Path, Required: true, Help: "export directory; must exist"},
				{Key: "o-direct-min-size", Kind: volfile.Size, Default: "256KB", Help: "writes of at least this size, 4 KiB aligned, bypass the brick's page cache (O_DIRECT); 0 turns it off"},
			},
			Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, _ []vfs.Translator) (vfs.Translator, error) {
				p, err := posix.New(posix.Config{Directory: o.String("directory"), Logger: env.logger().With("volume", v.Name),
					DirectWriteMin: int(o.Size("o-direct-min-size")), Procs: env.Procs})
				if err != nil {
					return nil, o.Errorf("directory", "%v", err)
				}
				return p, nil
			},
		},
		"features/locks": {
			Help:        "POSIX, flock, inode and entry locks (brick side)",
			MinChildren: 1, MaxChildren: 1,
			Options: []volfile.OptionSpec{
				{Key: "mandatory-locks", Aliases: []string{"mandatory"}, Kind: volfile.Bool, Default: "off", Help: "accepted for compatibility; cairn locks are advisory"},
			},
			Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, c []vfs.Translator) (vfs.Translator, error) {
				if o.Bool("mandatory-locks") {
					return nil, o.Errorf("mandatory-locks", "mandatory locks are not supported (hint: remove the option; cairn locks are advisory as on Linux)")
				}
				return locks.New(c[0]), nil
			},
		},
		"performance/io-threads": {
			Help:        "bounds the operations running at once below it",
			MinChildren: 1, MaxChildren: 1,
			Options: []volfile.OptionSpec{{Key: "thread-count", Kind: volfile.Int, Default: "16", Min: "1", Max: "64", Help: "operations running at once"}},
			Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, c []vfs.Translator) (vfs.Translator, error) {
				return iothreads.New(iothreads.Config{ThreadCount: int(o.Int("thread-count"))}, c[0])
			},
		},
		"protocol/server": {
			Help:        "exports its subvolumes over gRPC (brick side)",
			MinChildren: 1, MaxChildren: volfile.Unlimited,
			Options: []volfile.OptionSpec{
				{Key: "transport-type", Kind: volfile.Enum, Enum: []string{"tcp", "socket"}, Default: "tcp", Help: "only tcp is supported"},
				{Key: "transport.socket.listen-port", Aliases: []string{"listen-port"}, Kind: volfile.Int, Default: strconv.Itoa(DefaultPort), Min: "0", Max: "65535", Help: "TCP port to listen on"},
				{Key: "transport.socket.bind-address", Aliases: []string{"bind-address"}, Kind: volfile.String, Help: "address to listen on (default all)"},
				{Key: "transport.socket.nodelay", Kind: volfile.Bool, Default: "on", Help: "TCP_NODELAY (always on in cairn)"},
				{Key: "auth.addr.*.allow", Kind: volfile.String, Help: "addresses allowed to use a subvolume: list of IPs, wildcards, CIDRs"},
				{Key: "auth.addr.*.reject", Kind: volfile.String, Help: "addresses refused (wins over allow)"},
				{Key: "volume-filename.*", Kind: volfile.Path, Help: "client volfile served to mounts asking for the name"},
				{Key: "local-read-fds", Kind: volfile.Bool, Default: "on", Help: "cairn: hand read-only descriptors of files to clients on this host (root or the brick's user), which then read without the brick"},
				{Key: "local-channels", Kind: volfile.Bool, Default: "on", Help: "cairn: take side connections of clients on this host on an abstract Unix socket, cheaper than loopback TCP"},
			},
			Build: func(ctx context.Context, v *volfile.Volume, o volfile.Options, c []vfs.Translator) (vfs.Translator, error) {
				return buildServer(env, v, o, c)
			},
		},
	}
	addClientTypes(env, reg)
	addPerfTypes(reg)
	return reg
}

// ServerNode is the build result of protocol/server.
type ServerNode struct {
	vfs.Passthrough
	Server *server.Server
	// Addr is the listen address from transport.socket.bind-address and
	// transport.socket.listen-port.
	Addr string
}

func buildServer(env Env, v *volfile.Volume, o volfile.Options, children []vfs.Translator) (vfs.Translator, error) {
	raw := map[string]string{}
	for _, pat := range []string{"auth.addr.*.allow", "auth.addr.*.reject"} {
		for _, m := range o.Matching(pat) {
			raw[m.Key] = m.Value
		}
	}
	auth, err := server.ParseAuthOptions(raw)
	if err != nil {
		return nil, v.Errorf("%v", err)
	}
	subvols := map[string]vfs.Translator{}
	for i, ref := range v.Subvolumes {
		subvols[ref.Name] = children[i]
	}
	for name := range auth {
		if _, ok := subvols[name]; !ok {
			return nil, v.Errorf("auth option names subvolume %q, which protocol/server %q does not export (hint: the name after auth.addr. must be one of its subvolumes)", name, v.Name)
		}
	}
	for name := range subvols {
		if len(auth[name].Allow) == 0 {
			return nil, v.Errorf("subvolume %q has no auth.addr.%s.allow option, so every client would be refused (hint: add `option auth.addr.%s.allow 127.0.0.1` or `*`)", name, name, name)
		}
	}
	volfiles := map[string]string{}
	for _, m := range o.Matching("volume-filename.*") {
		volfiles[m.Wild] = m.Value
	}
	srv, err := server.New(server.Config{Subvolumes: subvols, Auth: auth, Volfiles: volfiles, Logger: env.logger(),
		LocalReadFDs: o.Bool("local-read-fds"), LocalChannels: o.Bool("local-channels")})
	if err != nil {
		return nil, v.Errorf("%v", err)
	}
	port := int(o.Int("transport.socket.listen-port"))
	return &ServerNode{
		Passthrough: vfs.Passthrough{Child: children[0]},
		Server:      srv,
		Addr:        net.JoinHostPort(o.String("transport.socket.bind-address"), strconv.Itoa(port)),
	}, nil
}

// Close stops the gRPC server.
func (s *ServerNode) Close() error {
	s.Server.Stop()
	return nil
}

func (s *ServerNode) String() string { return fmt.Sprintf("protocol/server on %s", s.Addr) }

// splitList splits a comma- or space-separated option value.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

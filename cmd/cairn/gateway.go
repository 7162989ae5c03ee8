package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"

	"github.com/cairnfs/cairn/gateway"
	"github.com/cairnfs/cairn/gateway/ninep"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/stack"
	"github.com/cairnfs/cairn/vfs/volfile"
)

func gatewayCommand() *command {
	return &command{
		name: "gateway",
		usage: "(--volfile FILE | --volfile-server HOST[:PORT] --volume NAME [--backup-volfile-server HOST[:PORT]])\n" +
			"       [--nfs ADDR] [--9p ADDR] [--9p-msize SIZE] [--allow CIDR,...] [--read-only] [--root-squash=false]",
		summary: "Serve a volume over NFSv3 and 9P2000.L, for hosts without FUSE.\n\n" +
			"NFSv3 and its MOUNT protocol share one port (no portmapper needed); the volume\n" +
			"is exported as /NAME. 9P clients attach to NAME (or the empty name). File\n" +
			"handles are derived from file GFIDs, so they survive gateway restarts and work\n" +
			"on any gateway of the same volume.",
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			var vf volumeFlags
			vf.register(fs)
			backup := fs.String("backup-volfile-server", "", "brick `HOST[:PORT]` tried when --volfile-server is down")
			nfsAddr := fs.String("nfs", ":2049", "NFSv3 listen `ADDR` (empty: no NFS)")
			ninepAddr := fs.String("9p", ":5640", "9P2000.L listen `ADDR` (empty: no 9P)")
			msize := fs.String("9p-msize", "1MiB", "largest 9P message `SIZE` agreed to (8KiB to 4MiB); clients asking more get this")
			allow := fs.String("allow", "", "comma-separated client networks admitted (`CIDR,...`); default everyone")
			readOnly := fs.Bool("read-only", false, "refuse every change (EROFS)")
			rootSquash := fs.Bool("root-squash", true, "map client uid 0 to nobody (65534), as NFS servers do")
			metrics := fs.String("metrics", "", "serve Prometheus /metrics on `ADDR`")
			e.log.register(fs)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				nets, err := gateway.ParseAllow(*allow)
				if err != nil {
					return usagef("--allow: %v", err)
				}
				maxMsize, err := volfile.ParseSize(*msize)
				if err != nil || maxMsize < ninep.MinMessageSize || maxMsize > ninep.MaxMessageSizeLimit {
					return usagef("--9p-msize %q: want a size from 8KiB to 4MiB (e.g. 256KiB, 1MiB)", *msize)
				}
				if vf.volume == "" && vf.volfile != "" {
					vf.volume = "cairn"
				}
				log, closeLog, err := e.log.logger(e.stderr)
				if err != nil {
					return err
				}
				defer closeLog()
				if vf.volfileServer != "" && *backup != "" {
					vf.fallbacks = append(vf.fallbacks, *backup)
				}
				reg := newMetricsRegistry()
				g, err := vf.buildWith(ctx, stack.Env{Logger: log, Registerer: reg})
				if err != nil {
					return err
				}
				defer g.Close()
				if *metrics != "" {
					stop, err := serveMetricsFrom(*metrics, reg, log)
					if err != nil {
						return err
					}
					defer stop()
				}
				gw, err := gateway.New(gateway.Config{
					Volume: vf.volume, FS: g, NFSAddr: *nfsAddr, NinePAddr: *ninepAddr,
					Allow: nets, ReadOnly: *readOnly, NoRootSquash: !*rootSquash,
					NinePMaxMessageSize: uint32(maxMsize), Logger: log,
				})
				if err != nil {
					return err
				}
				defer gw.Close()
				for _, l := range gw.MountCommands(advertisedHost(*nfsAddr)) {
					fmt.Fprintln(e.stdout, l)
				}
				return gw.Serve(ctx)
			}
		},
	}
}

// advertisedHost is the host to print in mount commands for a listen address.
func advertisedHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		return "SERVER"
	}
	return host
}

// runningGateway is the NFS/9P gateway started by cairn up.
type runningGateway struct {
	errc  chan error
	lines []string
	stop  func()
}

func (g *runningGateway) commandLines() []string { return g.lines }

// startGateway starts the gateway over root for cairn up; with both
// addresses empty it starts nothing.
func startGateway(ctx context.Context, root vfs.Translator, volume, nfsAddr, ninepAddr string, log *slog.Logger) (*runningGateway, error) {
	rg := &runningGateway{errc: make(chan error, 1), stop: func() {}}
	if nfsAddr == "" && ninepAddr == "" {
		return rg, nil
	}
	// cairn up serves loopback only, for the local user: root on the
	// client is root on the volume (no root squash), or nothing could be
	// written to the root-owned top directory over NFS.
	gw, err := gateway.New(gateway.Config{Volume: volume, FS: root, NFSAddr: nfsAddr, NinePAddr: ninepAddr, NoRootSquash: true, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%w (hint: pass --nfs/--9p other addresses, or empty to disable)", err)
	}
	gctx, cancel := context.WithCancel(ctx)
	go func() {
		if err := gw.Serve(gctx); err != nil && gctx.Err() == nil {
			rg.errc <- err
		}
	}()
	host := "127.0.0.1"
	if nfsAddr != "" {
		host = advertisedHost(nfsAddr)
	} else {
		host = advertisedHost(ninepAddr)
	}
	rg.lines = gw.MountCommands(host)
	rg.stop = func() {
		cancel()
		gw.Close()
	}
	return rg, nil
}

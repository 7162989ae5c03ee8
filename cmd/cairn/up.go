package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	fuseclient "github.com/cairnfs/cairn/client"
	"github.com/cairnfs/cairn/vfs/stack"
)

func upCommand() *command {
	return &command{
		name:  "up",
		usage: "[--dir DIR] [--mount DIR] [--nfs ADDR] [--9p ADDR] [--volume NAME] [--port PORT]",
		summary: "Run the embedded default: a local two-brick mirrored volume.\n\n" +
			"In one process: two bricks on 127.0.0.1 over DIR/brick1 and DIR/brick2, their\n" +
			"volfiles and the client volfile written to DIR (kept and reused on the next\n" +
			"start, so data and settings survive restarts), the NFSv3 and 9P gateway on\n" +
			"loopback, and a FUSE mount when --mount is given. It prints how to mount the\n" +
			"volume and stops cleanly on Ctrl-C.",
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			var o upOptions
			fs.StringVar(&o.dir, "dir", "cairn-data", "data `DIR` holding the bricks and volfiles")
			fs.StringVar(&o.mount, "mount", "", "also FUSE-mount the volume on `DIR`")
			fs.StringVar(&o.nfs, "nfs", "127.0.0.1:2049", "NFSv3 gateway `ADDR` (empty: no NFS)")
			fs.StringVar(&o.ninep, "9p", "127.0.0.1:5640", "9P2000.L gateway `ADDR` (empty: no 9P)")
			fs.StringVar(&o.volume, "volume", "cairn", "volume `NAME`")
			fs.IntVar(&o.port, "port", 6996, "`PORT` of brick 1 (brick 2 uses PORT+1) on a first start")
			fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus /metrics on `ADDR`")
			e.log.register(fs)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				log, closeLog, err := e.log.logger(e.stderr)
				if err != nil {
					return err
				}
				defer closeLog()
				return runUp(ctx, o, log, e.stdout)
			}
		},
	}
}

type upOptions struct {
	dir, mount, nfs, ninep, volume, metrics string
	port                                    int
}

// upVolume writes the volfiles of the embedded default under dir on the
// first start and returns their paths; later starts reuse them as they are.
func upVolume(o upOptions) (brickVols []string, clientVol string, err error) {
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return nil, "", err
	}
	spec := stack.VolumeSpec{Name: o.volume, ClientVolfilePath: filepath.Join(dir, o.volume+".vol")}
	for i := range 2 {
		bdir := filepath.Join(dir, fmt.Sprintf("brick%d", i+1))
		if err := os.MkdirAll(bdir, 0o755); err != nil {
			return nil, "", err
		}
		spec.Bricks = append(spec.Bricks, stack.BrickSpec{Host: "127.0.0.1", Port: o.port + i, Directory: bdir})
	}
	write := func(path, text string) error {
		if _, err := os.Stat(path); err == nil {
			return nil // keep the existing file: the volume's identity and any edits
		}
		return os.WriteFile(path, []byte(text), 0o644)
	}
	for i := range spec.Bricks {
		p := filepath.Join(dir, fmt.Sprintf("brick%d.vol", i+1))
		if err := write(p, spec.BrickVolfile(i)); err != nil {
			return nil, "", err
		}
		brickVols = append(brickVols, p)
	}
	if err := write(spec.ClientVolfilePath, spec.ClientVolfile()); err != nil {
		return nil, "", err
	}
	return brickVols, spec.ClientVolfilePath, nil
}

func runUp(ctx context.Context, o upOptions, log *slog.Logger, out io.Writer) (err error) {
	brickVols, clientVol, err := upVolume(o)
	if err != nil {
		return err
	}
	reg := newMetricsRegistry()
	env := stack.Env{Logger: log, Registerer: reg}
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	var brickAddrs []string
	for _, path := range brickVols {
		g, err := loadGraph(ctx, path, env)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, func() { g.Close() })
		node, ok := g.Top().(*stack.ServerNode)
		if !ok {
			return fmt.Errorf("%s: top volume is not protocol/server", path)
		}
		lis, err := net.Listen("tcp", node.Addr)
		if err != nil {
			return fmt.Errorf("brick of %s: %w (hint: another cairn up or brick is running; stop it or use --port / another --dir)", path, err)
		}
		go node.Server.Serve(lis)
		brickAddrs = append(brickAddrs, lis.Addr().String())
		log.Info("brick up", "volfile", path, "addr", lis.Addr().String())
	}
	data, err := os.ReadFile(clientVol)
	if err != nil {
		return err
	}
	g, err := buildClientGraph(ctx, clientVol, data, env)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { g.Close() })

	if o.metrics != "" {
		stop, err := serveMetricsFrom(o.metrics, reg, log)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, stop)
	}
	gw, err := startGateway(ctx, g, o.volume, o.nfs, o.ninep, log)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, gw.stop)

	var mounted *fuseclient.Mounted
	if o.mount != "" {
		if err := os.MkdirAll(o.mount, 0o755); err != nil {
			return err
		}
		opts := fuseclient.DefaultOptions()
		opts.FsName = o.volume
		opts.Logger = log
		mounted, err = fuseclient.Mount(ctx, g, o.mount, opts)
		if err != nil {
			return fmt.Errorf("FUSE mount on %s: %w (hint: needs root and /dev/fuse; run without --mount to use NFS or 9P)", o.mount, err)
		}
		raiseProcsForFUSE()
		cleanups = append(cleanups, func() {
			if err := mounted.Unmount(); err != nil {
				log.Warn("unmount", "dir", o.mount, "err", err)
			}
		})
	}

	absDir, _ := filepath.Abs(o.dir)
	fmt.Fprintf(out, "cairn up: volume %q, replica 2, data in %s\n", o.volume, absDir)
	for i, a := range brickAddrs {
		fmt.Fprintf(out, "  brick %d  %s  %s\n", i+1, a, brickVols[i])
	}
	fmt.Fprintf(out, "  client volfile  %s\n\nMount it:\n", clientVol)
	host, port, _ := net.SplitHostPort(brickAddrs[0])
	_, port2, _ := net.SplitHostPort(brickAddrs[1])
	fmt.Fprintf(out, "  %s\n", fuseCommandLine(host, port, port2, o.volume))
	if o.mount != "" {
		fmt.Fprintf(out, "  (already FUSE-mounted on %s)\n", o.mount)
	}
	for _, l := range gw.commandLines() {
		fmt.Fprintf(out, "  %s\n", l)
	}
	fmt.Fprintf(out, "\nStop with Ctrl-C.\n")
	if f, ok := out.(*os.File); ok {
		f.Sync()
	}

	select {
	case <-ctx.Done():
	case err := <-gw.errc:
		return fmt.Errorf("gateway: %w", err)
	}
	log.Info("cairn up stopping")
	return nil
}

func fuseCommandLine(host, port, port2, volume string) string {
	return fmt.Sprintf("mkdir -p /mnt/%s && cairn mount %s:%s:%s /mnt/%s -o backupvolfile-server=%s:%s", volume, host, port, volume, volume, host, port2)
}

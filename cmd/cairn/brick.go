package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/cairnfs/cairn/internal/procs"
	"github.com/cairnfs/cairn/vfs/stack"
	"github.com/cairnfs/cairn/vfs/volfile"
)

func brickCommand() *command {
	return &command{
		name:  "brick",
		usage: "--volfile FILE [--listen ADDR]",
		summary: "Run a brick daemon (like glusterfsd -f FILE).\n\n" +
			"The volfile's top volume must be protocol/server; the brick listens on\n" +
			"transport.socket.bind-address:transport.socket.listen-port (default port 6996)\n" +
			"and serves its subvolumes and the client volfiles named by volume-filename.*.\n\n" +
			"A brick runs with half the CPUs as Go's GOMAXPROCS (at least 1) unless the\n" +
			"GOMAXPROCS environment variable says otherwise.",
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			path := fs.String("volfile", "", "brick volfile `FILE` (required)")
			fs.StringVar(path, "f", "", "shorthand for --volfile")
			listen := fs.String("listen", "", "override the listen `ADDR` (host:port) of the volfile")
			metrics := fs.String("metrics", "", "serve Prometheus /metrics (of debug/io-stats volumes) on `ADDR`")
			e.log.register(fs)
			return func(ctx context.Context, args []string) error {
				if *path == "" {
					return usagef("--volfile is required")
				}
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				log, closeLog, err := e.log.logger(e.stderr)
				if err != nil {
					return err
				}
				defer closeLog()
				// With GOMAXPROCS from the environment, it stays as set.
				var booster *procs.Booster
				if !procsFromEnv() {
					runtime.GOMAXPROCS(brickProcs(runtime.GOMAXPROCS(0)))
					booster = procs.NewBooster(brickBoostLinger)
				}
				reg := newMetricsRegistry()
				g, err := loadGraph(ctx, *path, stack.Env{Logger: log, Registerer: reg, Procs: booster})
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
				node, ok := g.Top().(*stack.ServerNode)
				if !ok {
					return fmt.Errorf("%s: top volume %q is %s, not protocol/server (hint: a brick volfile ends with a protocol/server volume over its storage stack)", *path, g.File().Top().Name, g.File().Top().Type)
				}
				addr := node.Addr
				if *listen != "" {
					addr = *listen
				}
				lis, err := net.Listen("tcp", addr)
				if err != nil {
					return fmt.Errorf("listen on %s: %w", addr, err)
				}
				log.Info("brick listening", "addr", lis.Addr().String(), "volfile", *path, "pid", os.Getpid(), "procs", runtime.GOMAXPROCS(0))
				errc := make(chan error, 1)
				go func() { errc <- node.Server.Serve(lis) }()
				select {
				case <-ctx.Done():
					log.Info("brick stopping", "addr", lis.Addr().String())
					node.Server.Stop()
					<-errc
					return nil
				case err := <-errc:
					return err
				}
			}
		},
	}
}

// loadGraph parses, checks and builds the volfile at path.
func loadGraph(ctx context.Context, path string, env stack.Env) (*volfile.Graph, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := volfile.Parse(path, data)
	if err != nil {
		return nil, err
	}
	return volfile.BuildGraph(ctx, f, stack.Registry(env))
}

func volfileCommand() *command {
	return &command{
		name:  "volfile",
		usage: "check FILE...",
		summary: "Check GlusterFS volfiles: `cairn volfile check FILE` prints the graph of each\n" +
			"file, or every error found with file:line and a hint (exit status 1).",
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			return func(ctx context.Context, args []string) error {
				if len(args) < 2 || args[0] != "check" {
					return usagef("want: cairn volfile check FILE...")
				}
				reg := stack.Registry(stack.Env{})
				bad := 0
				for _, path := range args[1:] {
					data, err := os.ReadFile(path)
					if err == nil {
						var f *volfile.File
						f, err = volfile.Parse(path, data)
						if err == nil {
							err = volfile.Check(f, reg)
						}
						if err == nil {
							fmt.Fprintf(e.stdout, "%s: ok\n%s\n", path, strings.TrimRight(f.Tree(), "\n"))
							continue
						}
					}
					bad++
					for _, one := range splitErrors(err) {
						fmt.Fprintln(e.stderr, one)
					}
				}
				if bad > 0 {
					return fmt.Errorf("%d of %d volfiles have errors", bad, len(args)-1)
				}
				return nil
			}
		},
	}
}

func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{errors.Unwrap(err), err}[1:]
}

// procsFromEnv reports whether the GOMAXPROCS environment variable sets
// the process's GOMAXPROCS (as for Go itself, an empty value does not).
func procsFromEnv() bool {
	return os.Getenv("GOMAXPROCS") != ""
}

// brickProcs is the GOMAXPROCS of a brick process, given the one Go chose
// (the CPUs it may use): half of them, at least 1. A brick's goroutines
// mostly wait in syscalls (ext4, its sockets), which run outside the
// scheduler's Ps; more Ps than that mostly add the scheduler's spinning
// between requests (futex, nanosleep and epoll_pwait, about 40 calls per
// created file on each brick) on CPUs that the kernel side of those
// syscalls and the host's other processes need. Measured on 2 CPUs with
// two bricks and a mount (docs/NOTES.md, twelfth session), one P per
// brick against two: creates +12 to +54 %, deletes +14 to +56 %, CPU per
// small file -14 to -37 %, sequential and random I/O no worse.
func brickProcs(cpus int) int {
	return max(1, cpus/2)
}

// brickBoostLinger is how long a brick keeps the P it was lent for
// background unlinks (storage/posix's Config.Procs) after they stopped.
// Deletes come in bursts a request apart; changing GOMAXPROCS stops the
// world, so it should not happen per request. With the extra P, deletes
// of 10,000 files on a disk mounted with -o discard went from 5,347-5,972
// to 5,835-6,232 files/s (docs/NOTES.md, twenty-first session, change 3).
const brickBoostLinger = 200 * time.Millisecond

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"

	fuseclient "github.com/cairnfs/cairn/client"
	"github.com/cairnfs/cairn/vfs"
	brickclient "github.com/cairnfs/cairn/vfs/client"
	"github.com/cairnfs/cairn/vfs/stack"
	"github.com/cairnfs/cairn/vfs/volfile"
)

// runMountHelper is mount.cairn, called by mount(8) as
// `mount.cairn SPEC DIR [-sfnv] [-o OPTIONS]`.
func runMountHelper(argv []string, stdout, stderr io.Writer) int {
	return fuseclient.Main(argv, argv[1:], stderr, mountDeps())
}

func mountCommand() *command {
	// cairn mount parses its own arguments (mount(8) syntax with -o), so
	// this entry only serves `cairn --help`; run() dispatches to
	// fuseclient.Main.
	return &command{name: "mount", usage: "SPEC DIR [-o OPTIONS]", summary: "Mount a cairn volume with FUSE (see cairn mount --help)."}
}

// mountDeps connect the FUSE mount to the brick protocol and the volfile
// builder.
func mountDeps() fuseclient.Deps {
	return fuseclient.Deps{
		Fetch: func(ctx context.Context, addr, volume string) ([]byte, error) {
			host, portStr, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, fmt.Errorf("volfile server %q: %v", addr, err)
			}
			port, err := strconv.Atoi(portStr)
			if err != nil {
				return nil, fmt.Errorf("volfile server %q: bad port: %v", addr, err)
			}
			return brickclient.FetchVolfile(ctx, host, port, volume)
		},
		Build: func(ctx context.Context, data []byte, server fuseclient.Server) (vfs.Translator, error) {
			name := "volfile"
			if server.Host != "" {
				name = server.String()
			}
			env := stack.Env{Logger: fuseclient.LoggerFrom(ctx)}
			if spec := fuseclient.SpecFrom(ctx); spec != nil && spec.MetricsAddr != "" {
				// Served for the life of the mount process.
				reg := newMetricsRegistry()
				if _, err := serveMetricsFrom(spec.MetricsAddr, reg, env.Logger); err != nil {
					return nil, fmt.Errorf("metrics=%s: %w", spec.MetricsAddr, err)
				}
				env.Registerer = reg
			}
			return buildClientGraph(ctx, name, data, env)
		},
		Mounted: raiseProcsForFUSE,
	}
}

// buildClientGraph parses and builds a client volfile and waits for its
// bricks' first answers, so the stack is usable when it is returned.
func buildClientGraph(ctx context.Context, name string, data []byte, env stack.Env) (*volfile.Graph, error) {
	f, err := volfile.Parse(name, data)
	if err != nil {
		return nil, err
	}
	g, err := volfile.BuildGraph(ctx, f, stack.Registry(env))
	if err != nil {
		return nil, err
	}
	if err := stack.WaitConnected(ctx, g); err != nil {
		g.Close()
		return nil, fmt.Errorf("no brick of %s is reachable: %w", name, err)
	}
	return g, nil
}

// raiseProcsForFUSE adds to GOMAXPROCS as many Ps as go-fuse may keep
// readers of /dev/fuse (fuseProcs), unless the GOMAXPROCS environment
// variable set it. Call it after the mount's server was made: go-fuse
// sizes its readers by GOMAXPROCS then.
func raiseProcsForFUSE() {
	if !procsFromEnv() {
		runtime.GOMAXPROCS(fuseProcs(runtime.GOMAXPROCS(0)))
	}
}

// fuseProcs is the GOMAXPROCS of a process serving a FUSE mount, given
// the one it had when go-fuse made the mount's server. go-fuse keeps up
// to that many goroutines (2 to 16) waiting in read(2) on /dev/fuse, and
// a goroutine blocked in a system call keeps its P until Go's sysmon
// takes it back, 20 us or more later. With as many Ps as readers, the
// goroutines that answer the bricks' replies, the next FUSE request's
// handler and io-threads' workers often found every P so held and waited
// for sysmon. Measured on 2 CPUs (docs/NOTES.md, twenty-first session),
// 4 Ps against 2: 4 KiB random writes +20 % (1 and 4 jobs), random reads
// with 4 jobs +60 %, creates +5 to +8 %, untar ~5 % faster, sequential I/O and
// deletes unchanged.
func fuseProcs(procs int) int {
	return procs + min(max(procs, 2), 16)
}

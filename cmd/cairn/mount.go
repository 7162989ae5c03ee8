package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	fuseclient "github.com/cairnfs/cairn/client"
	"github.com/cairnfs/cairn/vfs"
	brickclient "github.com/cairnfs/cairn/vfs/client"
	"github.com/cairnfs/cairn/vfs/stack"
	"github.com/cairnfs/cairn/vfs/volfile"
)

const mountUsage = `Usage: cairn mount [HOST[:PORT]:]VOLUME DIR [-o OPTIONS] [--foreground] [--log-file FILE] [--log-level LEVEL]
       cairn mount --volfile FILE DIR [-o OPTIONS] [--foreground]
       mount.cairn SPEC DIR [-sfnv] [-o OPTIONS]      (mount -t cairn, fstab type cairn)

Mount a cairn volume with FUSE. The client volfile is fetched from the brick
named in SPEC (its protocol/server option volume-filename.VOLUME), falling back
to backupvolfile-server=HOST when that brick is down, or read from --volfile.
The command daemonizes once the mount is up unless --foreground is given, and
unmounts cleanly on SIGTERM or SIGINT.

Flags:
  --volfile FILE      client volfile to use instead of fetching one
  --foreground        stay in the foreground (also --no-daemon)
  --log-file FILE     log to FILE (also -o log-file=FILE)
  --log-level LEVEL   DEBUG, INFO, WARNING, ERROR (also -o log-level=LEVEL)
  -o OPTIONS          comma-separated mount options (below)
  -f -n -s -v         mount(8) helper flags: fake, no mtab, sloppy, verbose

Example (the GlusterFS tutorial's fstab line):
  brick1:web_sites /web/sites cairn backupvolfile-server=brick2,direct-io-mode=disable,noatime 0 0

Mount options:
`

func printMountUsage(w io.Writer) {
	fmt.Fprint(w, mountUsage)
	for _, o := range fuseclient.ValidOptions() {
		fmt.Fprintf(w, "  %s\n", o)
	}
}

// runMountHelper is mount.cairn, called by mount(8) as
// `mount.cairn SPEC DIR [-sfnv] [-o OPTIONS]`.
func runMountHelper(argv []string, stdout, stderr io.Writer) int {
	return runMount("mount.cairn", argv[1:], argv, stdout, stderr)
}

func mountCommand() *command {
	// cairn mount parses its own arguments (mount(8) syntax with -o), so
	// this entry only serves `cairn --help`; run() dispatches to runMount.
	return &command{name: "mount", usage: "SPEC DIR [-o OPTIONS]", summary: "Mount a cairn volume with FUSE (see cairn mount --help)."}
}

func runMount(prog string, args, argv []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			printMountUsage(stdout)
			return 0
		}
	}
	spec, err := fuseclient.ParseMountArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1 // mount(8): incorrect invocation or permissions
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !spec.Foreground && !spec.Fake {
		if err := fuseclient.Daemonize(ctx, argv); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			return 32 // mount(8): mount failure
		}
		return 0
	}
	log, closer, err := fuseclient.OpenLog(spec, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	defer closer.Close()
	deps := fuseclient.Deps{
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
			name := spec.VolfilePath
			if name == "" {
				name = fmt.Sprintf("%s:%s", server, spec.Volume)
			}
			return buildClientGraph(ctx, name, data, stack.Env{Logger: log})
		},
		Logger: log,
	}
	if err := fuseclient.Run(ctx, spec, deps); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 32
	}
	return 0
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

package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// Exit codes of mount helpers (mount(8)).
const (
	ExitOK          = 0
	ExitUsage       = 1  // incorrect invocation or permissions
	ExitMountFailed = 32 // mount failure
)

// DefaultLogDir is where a daemonized mount logs when no log-file is given,
// one file per mount point, as GlusterFS's /var/log/glusterfs/MNT.log.
const DefaultLogDir = "/var/log/cairn"

// Main is the whole of `cairn mount` and of the mount.cairn helper, for
// cmd/cairn to call: argv is the full command line (os.Args), args the
// arguments proper (argv[1:] for mount.cairn, those after "mount" for
// `cairn mount`). Unless --foreground (or -f, fake) is given it daemonizes
// and returns once the mount is up or has failed, so that mount(8) and
// fstab see the real outcome. The result is a mount(8) exit code.
func Main(argv, args []string, stderr io.Writer, deps Deps) int {
	prog := filepath.Base(argv[0])
	if prog == "cairn" {
		prog = "cairn mount"
	}
	spec, err := ParseMountArgs(args)
	if errors.Is(err, ErrHelp) {
		fmt.Fprintf(stderr, "%s\n\noptions (-o):\n  %s\n", MountUsage, strings.Join(ValidOptions(), "\n  "))
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return ExitUsage
	}
	if !spec.Foreground && !spec.Fake {
		if err := Daemonize(context.Background(), argv); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", prog, err)
			return ExitMountFailed
		}
		return ExitOK
	}
	if spec.LogFile == "" && os.Getenv(readyFDEnv) != "" {
		// A daemon has no stderr: log where GlusterFS would.
		spec.LogFile = defaultLogFile(spec.Mountpoint)
	}
	log, closer, err := OpenLog(spec, stderr)
	if err != nil {
		notifyReady(err)
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return ExitUsage
	}
	defer closer.Close()
	deps.Logger = log
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := Run(ctx, spec, deps); err != nil {
		log.Error("mount failed", "err", err)
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return ExitMountFailed
	}
	return ExitOK
}

// defaultLogFile names a mount's log file after its mount point:
// /web/sites → /var/log/cairn/web-sites.log. If the directory cannot be
// made the log goes nowhere rather than failing the mount.
func defaultLogFile(mountpoint string) string {
	if err := os.MkdirAll(DefaultLogDir, 0o755); err != nil {
		return os.DevNull
	}
	abs, err := filepath.Abs(mountpoint)
	if err != nil {
		abs = mountpoint
	}
	name := strings.ReplaceAll(strings.Trim(abs, "/"), "/", "-")
	if name == "" {
		name = "root"
	}
	return filepath.Join(DefaultLogDir, name+".log")
}

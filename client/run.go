package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// Deps are what Run needs from the rest of cairn; cmd/cairn supplies them,
// which keeps this package free of gRPC and of the volfile builder.
type Deps struct {
	// Fetch fetches a client volfile from a volfile server.
	Fetch VolfileFetcher
	// Build turns a client volfile into the translator graph to mount.
	// server is the volfile server it came from (zero for --volfile), for
	// translators that want to know it.
	Build func(ctx context.Context, volfile []byte, server Server) (vfs.Translator, error)
	// Logger receives the mount's log; nil discards it.
	Logger *slog.Logger
	// Mounted, when set, is called once the FUSE mount is up, for the
	// command's process-wide tuning (cmd/cairn raises GOMAXPROCS there).
	Mounted func()
}

// UnmountGrace is how long Run waits, after stopping, for a busy mount
// that it detached (umount -l) to drain before closing the stack.
const UnmountGrace = 5 * time.Second

// Run is the body of `cairn mount` / `mount.cairn`: fetch the volfile
// (primary, then backup servers), build the stack, mount, and serve until
// the mount is unmounted from outside or ctx ends (SIGTERM/SIGINT in the
// command), in which case it unmounts — lazily, as GlusterFS does, if the
// mount is busy. The stack is closed on return. If the process was started
// by Daemonize, the waiting parent is told when the mount is up or why it
// failed. With spec.Fake everything but the mount itself is done.
func Run(ctx context.Context, spec MountSpec, deps Deps) (err error) {
	defer func() { notifyReady(err) }()
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	vol, server, err := Resolve(ctx, spec, deps.Fetch)
	if err != nil {
		return err
	}
	if spec.VolfilePath == "" {
		log.Info("fetched volfile", "volume", spec.Volume, "server", server.String())
		if server != spec.Servers[0] {
			log.Warn("primary volfile server unavailable, used a backup", "primary", spec.Servers[0].String(), "used", server.String())
		}
	}
	if deps.Build == nil {
		return errors.New("no volfile builder")
	}
	stack, err := deps.Build(withSpec(withLogger(ctx, log), &spec), vol, server)
	if err != nil {
		return fmt.Errorf("volfile: %w", err)
	}
	defer func() {
		if cerr := vfs.Close(stack); cerr != nil {
			log.Warn("closing the volume", "err", cerr)
		}
	}()
	if len(spec.Ignored) > 0 {
		log.Debug("ignored mount options", "options", strings.Join(spec.Ignored, ","))
	}
	if spec.Fake {
		return nil
	}
	opts := spec.Options
	opts.Logger = log
	m, err := Mount(ctx, stack, spec.Mountpoint, opts)
	if err != nil {
		return err
	}
	if deps.Mounted != nil {
		deps.Mounted()
	}
	notifyReady(nil)

	done := make(chan struct{})
	go func() { m.Wait(); close(done) }()
	select {
	case <-done:
		log.Info("unmounted", "mountpoint", m.Mountpoint())
		return nil
	case <-ctx.Done():
	}
	log.Info("stopping: unmounting", "mountpoint", m.Mountpoint())
	if err := m.Unmount(); err != nil {
		log.Warn("mount busy, detaching it", "err", err)
		if err := syscall.Unmount(m.Mountpoint(), syscall.MNT_DETACH); err != nil {
			log.Error("lazy unmount", "err", err)
		}
	}
	select {
	case <-done:
	case <-time.After(UnmountGrace):
		log.Warn("mount still in use after detaching; closing the volume anyway")
	}
	return nil
}

// readyFDEnv names the descriptor on which a daemonized mount reports
// readiness to the parent that started it.
const readyFDEnv = "CAIRN_MOUNT_READY_FD"

// notifyReady tells a waiting Daemonize parent the outcome, once.
func notifyReady(err error) {
	v := os.Getenv(readyFDEnv)
	if v == "" {
		return
	}
	os.Unsetenv(readyFDEnv)
	fd, perr := strconv.Atoi(v)
	if perr != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "ready")
	defer f.Close()
	if err != nil {
		fmt.Fprintf(f, "error: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return
	}
	fmt.Fprintln(f, "ok")
}

// Daemonize is called by `cairn mount` without --foreground: it starts the
// same command again (argv as given, plus --foreground) in a new session
// with stdio on /dev/null, and waits until that process has mounted the
// volume (nil) or failed (its error), so that mount(8) and fstab see the
// real outcome, as with GlusterFS's mount.glusterfs. argv is os.Args.
func Daemonize(ctx context.Context, argv []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return err
	}
	defer null.Close()
	cmd := exec.Command(self, append(append([]string{}, argv[1:]...), "--foreground")...)
	cmd.Args[0] = argv[0] // keep the name: mount.cairn vs cairn
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.ExtraFiles = []*os.File{w} // fd 3
	cmd.Env = append(os.Environ(), readyFDEnv+"=3")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return err
	}
	w.Close()
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		ch <- result{strings.TrimSpace(line), err}
	}()
	select {
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return ctx.Err()
	case res := <-ch:
		switch {
		case res.line == "ok":
			_ = cmd.Process.Release()
			return nil
		case strings.HasPrefix(res.line, "error: "):
			_ = cmd.Wait()
			return errors.New(strings.TrimPrefix(res.line, "error: "))
		default:
			// The child died without a word (crash, killed).
			werr := cmd.Wait()
			return fmt.Errorf("mount process exited before mounting: %v", werr)
		}
	}
}

// OpenLog makes the logger for spec: to spec.LogFile (appending) or to
// fallback when none is given, at spec.LogLevel mapped onto slog (TRACE and
// DEBUG → Debug, INFO → Info, WARNING → Warn, ERROR and CRITICAL → Error,
// NONE → nothing). The returned closer closes the file.
func OpenLog(spec MountSpec, fallback io.Writer) (*slog.Logger, io.Closer, error) {
	w := fallback
	var closer io.Closer = io.NopCloser(nil)
	if spec.LogFile != "" {
		f, err := os.OpenFile(spec.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("log-file: %w", err)
		}
		w, closer = f, f
	}
	if w == nil {
		w = io.Discard
	}
	var level slog.Level
	switch spec.LogLevel {
	case "TRACE", "DEBUG":
		level = slog.LevelDebug
	case "WARNING":
		level = slog.LevelWarn
	case "ERROR", "CRITICAL":
		level = slog.LevelError
	case "NONE":
		w = io.Discard
	default:
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), closer, nil
}

type loggerKey struct{}

func withLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// LoggerFrom returns the mount's logger inside Deps.Build, so that the
// stack it builds logs where the mount does (its log-file).
func LoggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

type specKey struct{}

func withSpec(ctx context.Context, spec *MountSpec) context.Context {
	return context.WithValue(ctx, specKey{}, spec)
}

// SpecFrom returns the mount's parsed command line inside Deps.Build
// (for options the stack builder acts on, such as metrics=ADDR), or nil.
func SpecFrom(ctx context.Context) *MountSpec {
	s, _ := ctx.Value(specKey{}).(*MountSpec)
	return s
}

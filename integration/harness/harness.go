// Package harness starts real cairn processes for integration tests: it
// builds the cairn binary once per test binary, writes brick and client
// volfiles, starts bricks on 127.0.0.1 ports, and kills, stops or restarts
// them. Every process is cleaned up with t.Cleanup.
package harness

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds ./cmd/cairn (once per test process) and returns its path.
// Under CI a build failure fails the test; elsewhere too, since a broken
// build is never a reason to skip.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cairn-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "cairn")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/cairn")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/cairn: %v\n%s", err, out)
			return
		}
		if err := os.Symlink("cairn", filepath.Join(dir, "mount.cairn")); err != nil {
			buildErr = err
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// RepoRoot is the directory holding go.mod.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Brick is one brick process with its export directory and volfile.
type Brick struct {
	Name    string // protocol/server subvolume exported ("export")
	Dir     string // export directory
	Port    int
	Volfile string
	LogFile string

	t   testing.TB
	bin string
	mu  sync.Mutex
	cmd *exec.Cmd
}

// BrickOptions tune a brick's volfile.
type BrickOptions struct {
	// Allow is auth.addr.export.allow (default "127.0.0.1").
	Allow string
	// Reject is auth.addr.export.reject (default none).
	Reject string
	// Volfiles are extra `option volume-filename.NAME PATH` lines.
	Volfiles map[string]string
}

// StartBrick writes a brick volfile in the tutorial's shape (posix → locks →
// io-threads → protocol/server) under a new temp dir and starts it.
func StartBrick(t testing.TB, opts BrickOptions) *Brick {
	t.Helper()
	root := t.TempDir()
	b := &Brick{Name: "export", Dir: filepath.Join(root, "export"), Port: FreePort(t), t: t, bin: Binary(t)}
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if opts.Allow == "" {
		opts.Allow = "127.0.0.1"
	}
	var extra strings.Builder
	if opts.Reject != "" {
		fmt.Fprintf(&extra, "option auth.addr.export.reject %s\n", opts.Reject)
	}
	for name, path := range opts.Volfiles {
		fmt.Fprintf(&extra, "option volume-filename.%s %s\n", name, path)
	}
	vol := fmt.Sprintf(`volume posix
type storage/posix
option directory %s
end-volume
volume locks
type features/locks
subvolumes posix
end-volume
volume export
type performance/io-threads
option thread-count 16
subvolumes locks
end-volume
volume server
type protocol/server
option transport-type tcp
option transport.socket.bind-address 127.0.0.1
option transport.socket.listen-port %d
option auth.addr.export.allow %s
%ssubvolumes export
end-volume
`, b.Dir, b.Port, opts.Allow, extra.String())
	b.Volfile = filepath.Join(root, "brick.vol")
	b.LogFile = filepath.Join(root, "brick.log")
	if err := os.WriteFile(b.Volfile, []byte(vol), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Start()
	t.Cleanup(b.Kill)
	return b
}

// Addr is the brick's host:port.
func (b *Brick) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.Port) }

// Start starts (or restarts) the brick process and waits until it accepts
// connections.
func (b *Brick) Start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	logf, err := os.OpenFile(b.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	cmd := exec.Command(b.bin, "brick", "--volfile", b.Volfile, "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	logf.Close()
	b.cmd = cmd
	go cmd.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", b.Addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(b.LogFile)
	b.t.Fatalf("brick on %s did not start listening:\n%s", b.Addr(), log)
}

// Kill sends SIGKILL and waits for the process to go.
func (b *Brick) Kill() { b.signal(syscall.SIGKILL, true) }

// Stop sends SIGTERM (clean stop) and waits.
func (b *Brick) Stop() { b.signal(syscall.SIGTERM, true) }

// Freeze sends SIGSTOP: the brick keeps its sockets but stops answering.
func (b *Brick) Freeze() { b.signal(syscall.SIGSTOP, false) }

// Thaw sends SIGCONT.
func (b *Brick) Thaw() { b.signal(syscall.SIGCONT, false) }

func (b *Brick) signal(sig syscall.Signal, wait bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	_ = b.cmd.Process.Signal(sig)
	if !wait {
		return
	}
	if sig != syscall.SIGKILL {
		_ = b.cmd.Process.Signal(syscall.SIGCONT)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := b.cmd.Process.Signal(syscall.Signal(0)); err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.cmd = nil
}

// Log returns the brick's log so far.
func (b *Brick) Log() string {
	data, _ := os.ReadFile(b.LogFile)
	return string(data)
}

// ClientVolfile returns a client volfile in the tutorial's shape: one
// protocol/client per brick, cluster/replicate over them when there are
// several, then io-threads and io-cache. extraReplicate holds extra option
// lines for the replicate volume; pingTimeout "" keeps the default.
func ClientVolfile(bricks []*Brick, pingTimeout string, extraReplicate ...string) string {
	var b bytes.Buffer
	var names []string
	for i, br := range bricks {
		name := fmt.Sprintf("brick%d", i+1)
		names = append(names, name)
		fmt.Fprintf(&b, "volume %s\ntype protocol/client\noption transport-type tcp\noption remote-host 127.0.0.1\noption remote-port %d\noption remote-subvolume %s\n", name, br.Port, br.Name)
		if pingTimeout != "" {
			fmt.Fprintf(&b, "option ping-timeout %s\n", pingTimeout)
		}
		b.WriteString("end-volume\n")
	}
	top := names[0]
	if len(bricks) > 1 {
		fmt.Fprintf(&b, "volume mirror\ntype cluster/replicate\n")
		for _, o := range extraReplicate {
			fmt.Fprintf(&b, "option %s\n", o)
		}
		fmt.Fprintf(&b, "subvolumes %s\nend-volume\n", strings.Join(names, " "))
		top = "mirror"
	}
	fmt.Fprintf(&b, "volume iothreads\ntype performance/io-threads\noption thread-count 16\nsubvolumes %s\nend-volume\n", top)
	fmt.Fprintf(&b, "volume iocache\ntype performance/io-cache\noption cache-size 64MB\noption cache-timeout 1\nsubvolumes iothreads\nend-volume\n")
	return b.String()
}

// FreePortPair returns a port P on 127.0.0.1 such that P and P+1 were
// both free a moment ago (cairn up puts brick 2 on PORT+1).
func FreePortPair(t testing.TB) int {
	t.Helper()
	for range 100 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		l1.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no two consecutive free ports on 127.0.0.1")
	return 0
}

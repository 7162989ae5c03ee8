package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cleanup is a stack of undo functions, run in reverse order once. Every
// process started and every mount made pushes its undo here right away, so
// an error, a panic or Ctrl-C anywhere still tears everything down.
type cleanup struct {
	mu  sync.Mutex
	fns []func()
}

func (c *cleanup) push(f func()) {
	c.mu.Lock()
	c.fns = append(c.fns, f)
	c.mu.Unlock()
}

func (c *cleanup) run() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// proc is a child process we started and alone may stop.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// startProc starts bin with args, output appended to logPath. The child
// gets SIGKILL if this program dies (Pdeathsig), so a crash of the bench
// leaves no brick or server behind.
func startProc(name, logPath, bin string, args ...string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace, then SIGKILL.
func (p *proc) stop(grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// logTail is the end of the process's log, for error messages.
func (p *proc) logTail() string { return tailFile(p.log, 15) }

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitListen waits until addr accepts TCP connections, the process dies,
// or the timeout passes.
func waitListen(ctx context.Context, addr string, p *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited before listening on %s: %v\n%s", p.name, addr, p.err, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	msg := ""
	if p != nil {
		msg = "\n" + p.logTail()
	}
	return fmt.Errorf("nothing listening on %s after %v%s", addr, timeout, msg)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// listening reports whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// runCmd executes a command and returns its combined output; the error
// includes the output's tail.
func runCmd(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		s := strings.TrimSpace(string(out))
		if len(s) > 2000 {
			s = "…" + s[len(s)-2000:]
		}
		return string(out), fmt.Errorf("%s %s: %v: %s", bin, strings.Join(args, " "), err, s)
	}
	return string(out), nil
}

// mounted reports whether dir is a mount point (per /proc/self/mountinfo)
// and its filesystem type.
func mounted(dir string) (bool, string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 10 || unescapeMount(f[4]) != dir {
			continue
		}
		for i := 6; i < len(f); i++ {
			if f[i] == "-" && i+1 < len(f) {
				return true, f[i+1]
			}
		}
		return true, ""
	}
	return false, ""
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// unmount unmounts dir, retrying while busy, then lazily as a last resort.
func unmount(dir string) error {
	if ok, _ := mounted(dir); !ok {
		return nil
	}
	var err error
	for range 50 {
		if err = syscall.Unmount(dir, 0); err == nil || !errors.Is(err, syscall.EBUSY) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		if ok, _ := mounted(dir); ok {
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
			return fmt.Errorf("umount %s: %v (detached lazily)", dir, err)
		}
	}
	return nil
}

// dropCaches writes back dirty data and drops the page, dentry and inode
// caches, so a following read comes from the storage (or the server).
func dropCaches() error {
	syscall.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
}

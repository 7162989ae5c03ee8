package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/integration/harness"
)

// upProcess is a running `cairn up`.
type upProcess struct {
	cmd    *exec.Cmd
	output chan string // lines of stdout
	lines  []string
}

func startUp(t *testing.T, args ...string) *upProcess {
	t.Helper()
	requireFUSE(t)
	cmd := exec.Command(harness.Binary(t), append([]string{"up"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	u := &upProcess{cmd: cmd, output: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			u.output <- sc.Text()
		}
		close(u.output)
	}()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-u.output:
			if !ok {
				t.Fatalf("cairn up exited early; output:\n%s", strings.Join(u.lines, "\n"))
			}
			u.lines = append(u.lines, l)
			if strings.HasPrefix(l, "Stop with Ctrl-C") {
				t.Cleanup(func() { u.cmd.Process.Kill() })
				return u
			}
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("cairn up did not come up; output:\n%s", strings.Join(u.lines, "\n"))
		}
	}
}

// stop sends SIGINT (Ctrl-C) and waits for a clean exit.
func (u *upProcess) stop(t *testing.T) {
	t.Helper()
	u.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() {
		for range u.output {
		}
		done <- u.cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cairn up did not stop cleanly: %v", err)
		}
	case <-time.After(30 * time.Second):
		u.cmd.Process.Kill()
		t.Fatal("cairn up did not stop within 30s of Ctrl-C")
	}
}

func requireFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("FUSE tests need root and /dev/fuse (CI=%s): %v", os.Getenv("CI"), err)
		}
		t.Skipf("SKIPPING: needs root and /dev/fuse: %v", err)
	}
}

func isMounted(dir string) bool {
	data, _ := os.ReadFile("/proc/self/mounts")
	return strings.Contains(string(data), " "+dir+" ")
}

// TestUpSurvivesRestart runs `cairn up --mount` over a temporary DIR,
// writes through its FUSE mount, stops it with Ctrl-C (which must unmount),
// starts it again over the same DIR and reads the data back.
func TestUpSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	mnt := filepath.Join(t.TempDir(), "mnt")
	port := harness.FreePortPair(t)
	args := []string{"--dir", dir, "--mount", mnt, "--port", fmt.Sprint(port),
		"--nfs", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)), "--9p", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))}
	u := startUp(t, args...)
	if err := os.MkdirAll(filepath.Join(mnt, "site"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("cairn keeps this\n", 10000)
	if err := os.WriteFile(filepath.Join(mnt, "site", "index.html"), []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	u.stop(t)
	if isMounted(mnt) {
		t.Fatal("mount still present after Ctrl-C")
	}
	for _, b := range []string{"brick1", "brick2"} {
		if data, err := os.ReadFile(filepath.Join(dir, b, "site", "index.html")); err != nil || string(data) != want {
			t.Fatalf("%s after stop: %v (len %d)", b, err, len(data))
		}
	}
	u = startUp(t, args...)
	got, err := os.ReadFile(filepath.Join(mnt, "site", "index.html"))
	if err != nil || string(got) != want {
		t.Fatalf("after restart: %v (len %d)", err, len(got))
	}
	u.stop(t)
}

// TestUpPrintsWorkingMountCommand runs the FUSE mount command line that
// `cairn up` prints, verbatim, and uses the mount. (The NFS and 9P lines
// are run by the kernel clients in the VM tests of integration/gateway.)
func TestUpPrintsWorkingMountCommand(t *testing.T) {
	dir := t.TempDir()
	port := harness.FreePortPair(t)
	u := startUp(t, "--dir", dir, "--port", fmt.Sprint(port),
		"--nfs", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)), "--9p", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)))
	defer u.stop(t)
	var line string
	var nfs, ninep bool
	for _, l := range u.lines {
		l = strings.TrimSpace(l)
		switch {
		case strings.Contains(l, "cairn mount "):
			line = l
		case strings.HasPrefix(l, "mount -t nfs -o vers=3"):
			nfs = true
		case strings.HasPrefix(l, "mount -t 9p -o trans=tcp"):
			ninep = true
		}
	}
	if line == "" || !nfs || !ninep {
		t.Fatalf("cairn up did not print the three mount commands:\n%s", strings.Join(u.lines, "\n"))
	}
	mnt := "/mnt/cairn"
	if !strings.Contains(line, " "+mnt) {
		t.Fatalf("unexpected mount point in %q", line)
	}
	if isMounted(mnt) {
		t.Fatalf("%s is already mounted on this machine", mnt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(harness.Binary(t))+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	defer exec.Command("umount", mnt).Run()
	if err := os.WriteFile(filepath.Join(mnt, "through-printed-command"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "brick2", "through-printed-command")); err != nil || string(data) != "ok" {
		t.Fatalf("brick 2: %q %v", data, err)
	}
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
}

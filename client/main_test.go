package client_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountHelper runs the test binary as mount.cairn (see envMain).
func mountHelper(t *testing.T, args ...string) (string, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// argv[0] is mount.cairn, as when mount(8) runs the helper.
	cmd := &exec.Cmd{Path: exe, Args: append([]string{"mount.cairn"}, args...)}
	cmd.Env = append(os.Environ(), envMain+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), code
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("mount helper did not return: %s", out.String())
	}
	return "", -1
}

func TestMainUsage(t *testing.T) {
	out, code := mountHelper(t, "down:vol", "/nonexistent", "-o", "noatime,bogus")
	if code != 1 || !strings.Contains(out, `mount.cairn: unknown mount option "bogus"`) {
		t.Errorf("unknown option: exit %d, %q", code, out)
	}
	out, code = mountHelper(t, "--help")
	if code != 0 || !strings.Contains(out, "backupvolfile-server=HOST[:PORT]") {
		t.Errorf("help: exit %d, %q", code, out)
	}
	// -f (fake) resolves and builds, then stops short of mounting.
	out, code = mountHelper(t, "-f", "down:vol", "/nonexistent", "-o", "backupvolfile-server=up")
	if code != 0 {
		t.Errorf("fake mount: exit %d, %q", code, out)
	}
	out, code = mountHelper(t, "-f", "down:vol", "/nonexistent", "-o", "backupvolfile-server=down:7000")
	if code != 32 || !strings.Contains(out, "down:6996: connection refused; down:7000: connection refused") {
		t.Errorf("all servers down: exit %d, %q", code, out)
	}
}

// TestMainDaemon mounts the way fstab does: mount.cairn daemonizes, returns
// once the volume is mounted (through the backup volfile server here), and
// the daemon unmounts and exits on umount.
func TestMainDaemon(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	logFile := filepath.Join(dir, "mount.log")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	out, code := mountHelper(t, "down:web_sites", mnt, "-o",
		"backupvolfile-server=brick2,direct-io-mode=disable,noatime,_netdev,log-file="+logFile+",log-level=DEBUG")
	if code != 0 {
		t.Fatalf("mount.cairn: exit %d: %s", code, out)
	}
	mounted := func() bool {
		b, _ := os.ReadFile("/proc/self/mounts")
		return strings.Contains(string(b), "down:web_sites "+mnt+" fuse.cairn ")
	}
	if !mounted() {
		t.Fatal("not in /proc/self/mounts after mount.cairn returned")
	}
	if err := os.WriteFile(filepath.Join(mnt, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "f")); err != nil || string(b) != "hello" {
		t.Fatalf("read back %q %v", b, err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Unmount(mnt, 0); err != nil {
		t.Fatal(err)
	}
	// The daemon notices, closes the volume and exits; its log says how
	// the volfile was found.
	deadline := time.Now().Add(10 * time.Second)
	for {
		log, _ := os.ReadFile(logFile)
		if strings.Contains(string(log), "msg=unmounted") {
			if !strings.Contains(string(log), "primary volfile server unavailable") || !strings.Contains(string(log), "used=brick2:6996") {
				t.Errorf("log does not tell of the fallback:\n%s", log)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not log the unmount:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMainSIGTERM: a daemonized mount unmounts cleanly on SIGTERM.
func TestMainSIGTERM(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, code := mountHelper(t, "up:vol", mnt); code != 0 {
		t.Fatalf("mount.cairn: exit %d: %s", code, out)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	pid := daemonPid(t, mnt)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatal("daemon still running 10s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile("/proc/self/mounts")
	if strings.Contains(string(b), " "+mnt+" ") {
		t.Error("still mounted after the daemon exited")
	}
}

// daemonPid finds the daemonized mount serving mnt.
func daemonPid(t *testing.T, mnt string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 2 && args[0] == "mount.cairn" && strings.Contains(string(b), "\x00"+mnt+"\x00") &&
			strings.Contains(string(b), "--foreground") {
			var pid int
			if _, err := fmt.Sscanf(p, "/proc/%d/cmdline", &pid); err == nil {
				return pid
			}
		}
	}
	t.Fatal("no daemon process found")
	return 0
}

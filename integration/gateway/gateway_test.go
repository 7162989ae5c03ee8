// Package gateway tests cairn's NFS/9P gateway end to end: real brick
// processes serving a two-brick mirrored volume, the gateway over the
// client stack built from its volfile, and the real Linux NFSv3 and v9fs
// clients in a QEMU VM (integration/vm) mounting it; a FUSE mount of the
// same volume on the host checks the data across all three ways in.
package gateway

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/gateway"
	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/integration/vm"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/stack"
	"github.com/cairnfs/cairn/vfs/volfile"
)

// need skips outside CI (loudly) and fails under CI=true when a
// prerequisite is missing.
func need(t *testing.T, why string) {
	t.Helper()
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("prerequisite missing under CI: %s", why)
	}
	t.Skipf("SKIPPED (not CI): %s", why)
}

// volume is a two-brick mirrored volume with its client stack.
type volume struct {
	bricks  []*harness.Brick
	volfile string
	top     vfs.Translator
}

func startVolume(t *testing.T) *volume {
	t.Helper()
	v := &volume{volfile: filepath.Join(t.TempDir(), "vol.vol")}
	opts := harness.BrickOptions{Volfiles: map[string]string{"vol": v.volfile}}
	v.bricks = []*harness.Brick{harness.StartBrick(t, opts), harness.StartBrick(t, opts)}
	text := harness.ClientVolfile(v.bricks, "5")
	if err := os.WriteFile(v.volfile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := volfile.Parse(v.volfile, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := volfile.BuildGraph(ctx, f, stack.Registry(stack.Env{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	if err := stack.WaitConnected(ctx, g); err != nil {
		t.Fatal(err)
	}
	v.top = g.Top()
	return v
}

// restartable is a gateway that a test can replace with a fresh instance
// on the same ports, as a restarted gateway process would be.
type restartable struct {
	t      *testing.T
	cfg    gateway.Config
	mu     sync.Mutex
	g      *gateway.Gateway
	cancel context.CancelFunc
	done   chan error
}

func startGateway(t *testing.T, cfg gateway.Config) *restartable {
	r := &restartable{t: t, cfg: cfg}
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

func (r *restartable) start() error {
	var g *gateway.Gateway
	var err error
	for i := 0; i < 50; i++ { // the old listener's port may linger briefly
		if g, err = gateway.New(r.cfg); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx) }()
	r.mu.Lock()
	r.g, r.cancel, r.done = g, cancel, done
	r.mu.Unlock()
	return nil
}

// stop stops the running instance, if any (it may be called twice).
func (r *restartable) stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel, r.done = nil, nil
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		if err := <-done; err != nil {
			r.t.Errorf("gateway Serve: %v", err)
		}
	}
}

func (r *restartable) restart() error {
	r.stop()
	return r.start()
}

// fuseMount mounts the volume on the host with mount.cairn; "" when FUSE
// is not available here.
func fuseMount(t *testing.T, v *volume) string {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return ""
	}
	base := t.TempDir()
	dir, log := filepath.Join(base, "mnt"), filepath.Join(base, "mount.log")
	os.Mkdir(dir, 0o755)
	helper := filepath.Join(filepath.Dir(harness.Binary(t)), "mount.cairn")
	out, err := exec.Command(helper, v.bricks[0].Addr()+":vol", dir, "-o", "backupvolfile-server="+v.bricks[1].Addr()+",log-file="+log).CombinedOutput()
	if err != nil {
		lb, _ := os.ReadFile(log)
		t.Fatalf("mount.cairn: %v\n%s\n%s", err, out, lb)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if err := syscall.Unmount(dir, 0); err == nil || err != syscall.EBUSY {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		syscall.Unmount(dir, syscall.MNT_DETACH)
	})
	return dir
}

// control serves the guest's requests on a loopback port: "restart",
// "fuse-sha NAME", "fuse-write NAME MIB".
func control(t *testing.T, gw *restartable, fuse string) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			f := strings.Fields(line)
			reply := "error: bad request"
			switch {
			case len(f) == 1 && f[0] == "restart":
				t0 := time.Now()
				if err := gw.restart(); err != nil {
					reply = "error: " + err.Error()
				} else {
					reply = "ok"
					t.Logf("gateway restarted in %v", time.Since(t0))
				}
			case len(f) >= 2 && fuse == "":
				reply = "ok skip (no FUSE on this host)"
			case len(f) == 2 && f[0] == "fuse-sha":
				b, err := os.ReadFile(filepath.Join(fuse, f[1]))
				if err != nil {
					reply = "error: " + err.Error()
				} else {
					s := sha256.Sum256(b)
					reply = "ok " + hex.EncodeToString(s[:])
				}
			case len(f) == 3 && f[0] == "fuse-write":
				mib, _ := strconv.Atoi(f[2])
				b := make([]byte, mib<<20)
				rand.Read(b)
				if err := writeSync(filepath.Join(fuse, f[1]), b); err != nil {
					reply = "error: " + err.Error()
				} else {
					s := sha256.Sum256(b)
					reply = "ok " + hex.EncodeToString(s[:])
				}
			}
			fmt.Fprintln(c, reply)
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

func writeSync(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// logWriter streams the guest's lines into the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestKernelClients mounts the gateway with the Linux NFSv3 and 9P clients
// in one VM boot and runs testdata/kernel-clients.sh: file operations on
// both protocols, ownership, setuid bits, 2000-entry directories, 256 MiB
// checksummed transfers across NFS, 9P and FUSE, small files, and a
// gateway restart under the live NFS mount (no ESTALE, uncommitted data
// resent). BENCH lines are logged and, with CAIRN_BENCH_OUT, appended to
// that file.
func TestKernelClients(t *testing.T) {
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root (bricks keep trusted.* xattrs; the VM harness installs packages)"
	}
	need(t, why)
	img, err := vm.Prepare(context.Background())
	if errors.Is(err, vm.ErrUnavailable) {
		need(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("testdata/kernel-clients.sh")
	if err != nil {
		t.Fatal(err)
	}
	v := startVolume(t)
	nfsPort, p9Port := harness.FreePort(t), harness.FreePort(t)
	gw := startGateway(t, gateway.Config{
		Volume: "vol", FS: v.top, NoRootSquash: true,
		NFSAddr:   fmt.Sprintf("127.0.0.1:%d", nfsPort),
		NinePAddr: fmt.Sprintf("127.0.0.1:%d", p9Port),
	})
	fuse := fuseMount(t, v)
	ctl := control(t, gw, fuse)
	size := "256"
	if s := os.Getenv("CAIRN_VM_SIZE_MIB"); s != "" {
		size = s
	}
	// The guest mounts with exactly the options the gateway prints for
	// users (`cairn up`, `cairn gateway`), plus the addr= and mountaddr=
	// that mount.nfs adds by itself (the guest calls mount(2) directly).
	gw.mu.Lock()
	printed := gw.g.MountCommands("127.0.0.1")
	gw.mu.Unlock()
	nfsOpts, p9Opts := printedOptions(t, printed)
	res, err := img.Run(context.Background(), vm.Options{
		Script:  string(script),
		Forward: []int{nfsPort, p9Port, ctl},
		Env: map[string]string{"VOL": "vol", "NFS_PORT": strconv.Itoa(nfsPort), "P9_PORT": strconv.Itoa(p9Port),
			"CTL_PORT": strconv.Itoa(ctl), "SIZE_MIB": size, "SMALL_FILES": "300",
			"PRINTED_NFS_OPTS": nfsOpts, "PRINTED_9P_OPTS": p9Opts},
		Mem:     1024,
		Timeout: 45 * time.Minute,
		Output:  logWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("VM: kernel %s, %s, %v", res.Kernel, res.Accel, res.Elapsed)
	var bench []string
	for _, l := range strings.Split(res.Output, "\n") {
		if strings.HasPrefix(l, "BENCH ") {
			bench = append(bench, fmt.Sprintf("%s (VM %s, %s MiB)", l, res.Accel, size))
		}
		if strings.HasPrefix(l, "FAIL ") {
			t.Error(l)
		}
	}
	if out := os.Getenv("CAIRN_BENCH_OUT"); out != "" && len(bench) > 0 {
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			io.WriteString(f, strings.Join(bench, "\n")+"\n")
			f.Close()
		}
	}
	if res.Exit != 0 || !strings.Contains(res.Output, "ALL PASS") {
		t.Fatalf("guest script exit %d; console tail:\n%s", res.Exit, tailLines(res.Console, 30))
	}
}

func tailLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// printedOptions returns the -o option strings of the NFS and 9P mount
// commands the gateway prints.
func printedOptions(t *testing.T, lines []string) (nfs, ninep string) {
	t.Helper()
	for _, l := range lines {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "-o" {
				continue
			}
			switch {
			case strings.HasPrefix(l, "mount -t nfs "):
				nfs = f[i+1]
			case strings.HasPrefix(l, "mount -t 9p "):
				ninep = f[i+1]
			}
		}
	}
	if nfs == "" || ninep == "" {
		t.Fatalf("gateway printed no NFS or 9P mount command: %q", lines)
	}
	return nfs, ninep
}

// Package vm boots a throw-away QEMU virtual machine running Debian's
// stock kernel with a busybox initramfs, runs a shell script in it and
// returns the script's output and exit status. It exists because the
// machines cairn is developed and tested on have FUSE but no NFS or 9P
// client in their kernel: the gateway's integration tests mount it from
// the guest with the real Linux NFSv3 and v9fs clients.
//
// It follows the verified recipe of ../shared/vmtest (vmtest): the guest
// reaches servers listening on the host's 127.0.0.1 at 10.0.2.100, same
// port numbers, through QEMU user-mode networking (restrict=on, so nothing
// leaves the machine) with one guestfwd rule per port, each connection
// handled by a fresh vmfwd process (TCP_NODELAY + TCP_QUICKACK; socat
// stalls every RPC on Nagle + delayed ACK). Missing Debian packages
// (qemu-system-x86, linux-image-amd64, busybox-static) are installed with
// apt-get when running as root. The kernel image, its NFS/9P modules, busybox and
// the guest helper gtool (guest/) form a cached base initramfs; each run
// appends a small archive with the script, its environment and files.
//
// Acceleration: KVM when /dev/kvm really boots the stock kernel (a probe
// boot, cached), else TCG. The dev machines' /dev/kvm is kvm_pvm, which
// only runs PVM-aware guests, so there it is TCG: about 8 s to the
// script's start, and throughput is bound by CPU emulation.
package vm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ServerIP is the address at which the guest reaches the host's loopback
// servers; GuestIP is the guest's own address.
const (
	ServerIP = "10.0.2.100"
	GuestIP  = "10.0.2.15"
)

// ErrUnavailable reports that the VM cannot be run on this machine (not
// root and packages missing, no kernel); tests skip on it outside CI.
var ErrUnavailable = errors.New("vm: unavailable")

// Options describe one run.
type Options struct {
	// Script is the guest script (busybox sh). It runs as root in /tmp with
	// stdin from /dev/null; its exit status is Result.Exit.
	Script string
	// Forward lists host ports (on 127.0.0.1) the guest may connect to at
	// ServerIP, with the same port number.
	Forward []int
	// Env is exported in the guest.
	Env map[string]string
	// Files maps names to host paths copied into the guest's /vmtest/files.
	Files map[string]string
	// Mem (MiB, default 1024) and CPUs (default 2) size the guest.
	Mem, CPUs int
	// Timeout kills the VM (default 15 min).
	Timeout time.Duration
	// Accel is "auto" (default), "kvm" or "tcg".
	Accel string
	// Output, when set, receives the guest script's output as it runs.
	Output io.Writer
}

// Result is the outcome of a run.
type Result struct {
	Exit    int    // the script's exit status
	Output  string // what the script printed (stdout and stderr)
	Console string // the kernel console
	Elapsed time.Duration
	Accel   string
	Kernel  string
}

// Run boots the VM, runs the script and waits for the guest to power off.
// An error means no result (setup failed, timeout, guest crash); a script
// failure is a Result with a non-zero Exit.
func Run(ctx context.Context, opt Options) (*Result, error) {
	img, err := Prepare(ctx)
	if err != nil {
		return nil, err
	}
	return img.Run(ctx, opt)
}

// Image is a prepared kernel + base initramfs.
type Image struct {
	Dir    string // cache directory
	Kernel string // kernel release
}

var prepareMu sync.Mutex

// Prepare installs missing packages and builds (or reuses) the cached
// base image.
func Prepare(ctx context.Context) (*Image, error) {
	prepareMu.Lock()
	defer prepareMu.Unlock()
	if err := ensurePackages(ctx); err != nil {
		return nil, err
	}
	kver := os.Getenv("CAIRN_VM_KERNEL")
	if kver == "" {
		kver = newestKernel()
	}
	if kver == "" {
		return nil, fmt.Errorf("%w: no kernel with modules under /boot and /lib/modules", ErrUnavailable)
	}
	key, err := sourceKey(kver)
	if err != nil {
		return nil, err
	}
	root := os.Getenv("CAIRN_VM_CACHE")
	if root == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		root = filepath.Join(c, "cairn-vm")
	}
	dir := filepath.Join(root, kver+"-"+key)
	img := &Image{Dir: dir, Kernel: kver}
	if img.ok() {
		return img, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(root, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if img.ok() {
		return img, nil
	}
	if err := build(ctx, root, dir, kver); err != nil {
		return nil, err
	}
	return img, nil
}

func (img *Image) ok() bool {
	for _, f := range []string{"base.cpio.gz", "vmlinuz", "vmfwd"} {
		if _, err := os.Stat(filepath.Join(img.Dir, f)); err != nil {
			return false
		}
	}
	return true
}

// srcDir is this package's directory (for the guest and forwarder sources).
func srcDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// sourceKey identifies a base image: kernel, helper sources, init script.
func sourceKey(kver string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"guest/main.go", "vmfwd/main.go"} {
		b, err := os.ReadFile(filepath.Join(srcDir(), f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	h.Write([]byte(guestInit))
	h.Write([]byte(kver))
	h.Write([]byte(strings.Join(modules, " ")))
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func pkgInstalled(name string) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", name).Output()
	return err == nil && strings.Contains(string(out), "install ok installed")
}

func ensurePackages(ctx context.Context) error {
	var need []string
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		need = append(need, "qemu-system-x86")
	}
	if !pkgInstalled("busybox-static") {
		need = append(need, "busybox-static")
	}
	if os.Getenv("CAIRN_VM_KERNEL") == "" && newestKernel() == "" {
		need = append(need, "linux-image-amd64")
	}
	if len(need) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: missing Debian packages %v (run as root to install them)", ErrUnavailable, need)
	}
	install := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "--no-install-recommends"}, need...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install %v: %v\n%s", need, err, out)
		}
		return nil
	}
	if err := install(); err != nil {
		if out, uerr := exec.CommandContext(ctx, "apt-get", "update").CombinedOutput(); uerr != nil {
			return fmt.Errorf("apt-get update: %v\n%s", uerr, out)
		}
		return install()
	}
	return nil
}

// newestKernel is the newest /boot/vmlinuz-* release with a modules.dep.
func newestKernel() string {
	m, _ := filepath.Glob("/boot/vmlinuz-*")
	var best string
	for _, p := range m {
		v := strings.TrimPrefix(p, "/boot/vmlinuz-")
		if _, err := os.Stat(filepath.Join("/lib/modules", v, "modules.dep")); err != nil {
			continue
		}
		if best == "" || versionLess(best, v) {
			best = v
		}
	}
	return best
}

// versionLess compares dotted/dashed version strings numerically.
func versionLess(a, b string) bool {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' })
	}
	x, y := split(a), split(b)
	for i := 0; i < len(x) && i < len(y); i++ {
		xi, e1 := strconv.Atoi(x[i])
		yi, e2 := strconv.Atoi(y[i])
		if e1 == nil && e2 == nil {
			if xi != yi {
				return xi < yi
			}
		} else if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return len(x) < len(y)
}

// modules are loaded in the guest (with their dependencies first).
var modules = []string{"virtio_pci", "virtio_net", "sunrpc", "grace", "lockd", "nfs_acl", "netfs",
	"fscache", "nfs", "nfsv3", "9pnet", "9pnet_fd", "9p"}

func modBase(p string) string {
	b := filepath.Base(p)
	for _, ext := range []string{".ko.xz", ".ko.zst", ".ko.gz", ".ko"} {
		if strings.HasSuffix(b, ext) {
			b = strings.TrimSuffix(b, ext)
			break
		}
	}
	return strings.ReplaceAll(b, "-", "_")
}

// moduleOrder resolves want to (name, path) pairs, dependencies first,
// from modules.dep; built-in modules are skipped, unknown ones reported.
func moduleOrder(dep, builtin string, want []string) ([][2]string, []string) {
	paths := map[string]string{}
	deps := map[string][]string{}
	for _, line := range strings.Split(dep, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := strings.TrimSuffix(f[0], ":")
		n := modBase(m)
		paths[n] = m
		for _, d := range f[1:] {
			deps[n] = append(deps[n], modBase(d))
		}
	}
	bi := map[string]bool{}
	for _, l := range strings.Split(builtin, "\n") {
		if l != "" {
			bi[modBase(l)] = true
		}
	}
	var out [][2]string
	var missing []string
	done := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		if done[n] {
			return
		}
		done[n] = true
		p, ok := paths[n]
		if !ok {
			if !bi[n] {
				missing = append(missing, n)
			}
			return
		}
		d := deps[n]
		for i := len(d) - 1; i >= 0; i-- {
			visit(d[i])
		}
		out = append(out, [2]string{n, p})
	}
	for _, w := range want {
		visit(w)
	}
	return out, missing
}

func readModule(path string) ([]byte, error) {
	switch {
	case strings.HasSuffix(path, ".ko"):
		return os.ReadFile(path)
	case strings.HasSuffix(path, ".ko.xz"):
		return exec.Command("xz", "-dc", path).Output()
	case strings.HasSuffix(path, ".ko.zst"):
		return exec.Command("zstd", "-qdc", path).Output()
	case strings.HasSuffix(path, ".ko.gz"):
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		return io.ReadAll(z)
	}
	return nil, fmt.Errorf("unknown module format %s", path)
}

func goBuild(ctx context.Context, out, pkgDir string, env ...string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s", "-o", out, ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), append([]string{"CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off"}, env...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkgDir, err, b)
	}
	return nil
}

func build(ctx context.Context, root, dir, kver string) error {
	tmp, err := os.MkdirTemp(root, ".build.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	t := newTree()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		if p, lerr := exec.LookPath("busybox"); lerr == nil {
			bb, err = os.ReadFile(p)
		}
		if err != nil {
			return fmt.Errorf("%w: busybox: %v", ErrUnavailable, err)
		}
	}
	t.file("bin/busybox", 0o755, bb)
	list, err := exec.CommandContext(ctx, "/bin/busybox", "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %v", err)
	}
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			t.symlink("bin/"+a, "busybox")
		}
	}
	for _, d := range []string{"sbin", "dev", "proc", "sys", "tmp", "etc", "root", "mnt/nfs", "mnt/9p", "vmtest/files", "lib/modules/vmtest"} {
		t.dir(d)
	}
	gtool := filepath.Join(tmp, "gtool")
	if err := goBuild(ctx, gtool, filepath.Join(srcDir(), "guest"), "GOOS=linux", "GOARCH=amd64"); err != nil {
		return err
	}
	gb, err := os.ReadFile(gtool)
	if err != nil {
		return err
	}
	t.file("bin/gtool", 0o755, gb)
	if err := goBuild(ctx, filepath.Join(tmp, "vmfwd"), filepath.Join(srcDir(), "vmfwd")); err != nil {
		return err
	}
	dep, err := os.ReadFile(filepath.Join("/lib/modules", kver, "modules.dep"))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	builtin, _ := os.ReadFile(filepath.Join("/lib/modules", kver, "modules.builtin"))
	order, missing := moduleOrder(string(dep), string(builtin), modules)
	if len(missing) > 0 {
		return fmt.Errorf("vm: kernel %s lacks modules %v", kver, missing)
	}
	var names []string
	for _, m := range order {
		b, err := readModule(filepath.Join("/lib/modules", kver, m[1]))
		if err != nil {
			return fmt.Errorf("module %s: %v", m[1], err)
		}
		t.file("lib/modules/vmtest/"+m[0]+".ko", 0o644, b)
		names = append(names, m[0])
	}
	t.file("etc/vmtest-modules", 0o644, []byte(strings.Join(names, "\n")+"\n"))
	t.file("init", 0o755, []byte(guestInit))
	if err := writeGz(filepath.Join(tmp, "base.cpio.gz"), t); err != nil {
		return err
	}
	k, err := os.ReadFile("/boot/vmlinuz-" + kver)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "vmlinuz"), k, 0o644); err != nil {
		return err
	}
	// drop stale builds for this kernel
	old, _ := filepath.Glob(filepath.Join(root, kver+"-*"))
	for _, o := range old {
		os.RemoveAll(o)
	}
	return os.Rename(tmp, dir)
}

func writeGz(path string, t *tree) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	z, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err := t.write(z); err != nil {
		f.Close()
		return err
	}
	if err := z.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// guestInit is the guest's /init: modules, network, then the script with
// its output on the second serial port and the exit status after it.
const guestInit = `#!/bin/sh
export PATH=/bin:/sbin HOME=/root TERM=dumb
mount -t devtmpfs dev /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmp /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
OUT=/dev/ttyS1
stty -F $OUT raw -echo 2>/dev/null
log() { echo "vm-init[$(cut -d' ' -f1 /proc/uptime)]: $*"; }
finish() {
	sync
	echo "VMTEST_EXIT=$1" >$OUT
	log "exit status $1"
	poweroff -f
	sleep 10
}
trap 'finish 125' EXIT
while read -r m; do
	insmod "/lib/modules/vmtest/$m.ko" || log "insmod $m failed"
done </etc/vmtest-modules
ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 || log "network setup failed"
hostname vmtest
. /vmtest/config
cd /tmp
log "running script"
sh /vmtest/script >$OUT 2>&1 </dev/null
rc=$?
log "script exited $rc"
for m in $(awk '$3 == "nfs" || $3 == "9p" { print $2 }' /proc/mounts); do
	timeout 20 umount -f "$m" || log "umount $m failed"
done
trap - EXIT
finish $rc
`

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// kvmWorks probes (once per host kernel, QEMU and guest kernel) whether
// KVM boots the stock kernel.
func (img *Image) kvmWorks(ctx context.Context) bool {
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err != nil {
		return false
	} else {
		f.Close()
	}
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return false // a nested PVM hypervisor: only PVM-aware guests run
	}
	var uts syscall.Utsname
	syscall.Uname(&uts)
	var rel []byte
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	probe := filepath.Join(filepath.Dir(img.Dir), "kvm-probe-"+string(rel)+"-"+img.Kernel)
	if b, err := os.ReadFile(probe); err == nil {
		return string(b) == "kvm"
	}
	log := filepath.Join(img.Dir, "probe.log")
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	exec.CommandContext(pctx, "qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-M", "pc", "-m", "256",
		"-nodefaults", "-display", "none", "-no-reboot", "-kernel", filepath.Join(img.Dir, "vmlinuz"),
		"-append", "console=ttyS0 panic=-1", "-serial", "file:"+log).Run()
	b, _ := os.ReadFile(log)
	res := "tcg"
	if bytes.Contains(b, []byte("Linux version")) {
		res = "kvm"
	}
	os.WriteFile(probe, []byte(res), 0o644)
	return res == "kvm"
}

// Run runs one script in a fresh VM.
func (img *Image) Run(ctx context.Context, opt Options) (*Result, error) {
	if opt.Mem == 0 {
		opt.Mem = 1024
	}
	if opt.CPUs == 0 {
		opt.CPUs = 2
	}
	if opt.Timeout == 0 {
		opt.Timeout = 15 * time.Minute
	}
	if opt.Accel == "" || opt.Accel == "auto" {
		opt.Accel = "tcg"
		if img.kvmWorks(ctx) {
			opt.Accel = "kvm"
		}
	}
	run, err := os.MkdirTemp("", "cairn-vm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(run)

	// per-run archive: config, script, files
	t := newTree()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "export VMTEST_SERVER=%s VMTEST_GUEST=%s\n", ServerIP, GuestIP)
	keys := make([]string, 0, len(opt.Env))
	for k := range opt.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&cfg, "export %s=%s\n", k, shQuote(opt.Env[k]))
	}
	t.file("vmtest/config", 0o644, []byte(cfg.String()))
	t.file("vmtest/script", 0o755, []byte(opt.Script))
	for name, p := range opt.Files {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		t.file("vmtest/files/"+name, 0o755, b)
	}
	var runGz bytes.Buffer
	z, _ := gzip.NewWriterLevel(&runGz, gzip.BestSpeed)
	if err := t.write(z); err != nil {
		return nil, err
	}
	z.Close()
	base, err := os.ReadFile(filepath.Join(img.Dir, "base.cpio.gz"))
	if err != nil {
		return nil, err
	}
	initrd := filepath.Join(run, "initrd")
	if err := os.WriteFile(initrd, append(base, runGz.Bytes()...), 0o644); err != nil {
		return nil, err
	}

	// one vmfwd per guest connection (libslirp runs the cmd through
	// g_shell_parse_argv; commas in QEMU option values are doubled)
	fwd := strings.ReplaceAll("'"+filepath.Join(img.Dir, "vmfwd")+"'", ",", ",,")
	netdev := "user,id=n0,restrict=on,net=10.0.2.0/24,host=10.0.2.2,dns=10.0.2.3,ipv6=off"
	seen := map[int]bool{}
	for _, p := range opt.Forward {
		if p <= 0 || p > 65535 || seen[p] {
			continue
		}
		seen[p] = true
		netdev += fmt.Sprintf(",guestfwd=tcp:%s:%d-cmd:%s 127.0.0.1:%d", ServerIP, p, fwd, p)
	}
	accel := []string{"-accel", "tcg,thread=multi", "-cpu", "max"}
	if opt.Accel == "kvm" {
		accel = []string{"-accel", "kvm", "-cpu", "host"}
	}
	console := filepath.Join(run, "console.log")
	guestOut := filepath.Join(run, "guest.out")
	for _, f := range []string{console, guestOut} {
		os.WriteFile(f, nil, 0o644)
	}
	args := append(accel, "-M", "pc", "-smp", strconv.Itoa(opt.CPUs), "-m", strconv.Itoa(opt.Mem),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", filepath.Join(img.Dir, "vmlinuz"), "-initrd", initrd,
		"-append", "console=ttyS0 quiet loglevel=4 panic=-1 oops=panic mitigations=off tsc=reliable",
		"-serial", "file:"+console, "-serial", "file:"+guestOut,
		"-netdev", netdev, "-device", "virtio-net-pci,netdev=n0")
	qctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	var qlog bytes.Buffer
	cmd := exec.CommandContext(qctx, "qemu-system-x86_64", args...)
	cmd.Stdout, cmd.Stderr = &qlog, &qlog
	cmd.WaitDelay = 5 * time.Second
	// A test binary killed by its -timeout must not leave the VM running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("vm: qemu: %v", err)
	}
	done := make(chan struct{})
	var out bytes.Buffer
	var tailWG sync.WaitGroup
	tailWG.Add(1)
	go func() {
		defer tailWG.Done()
		tail(guestOut, done, func(line string) {
			if strings.HasPrefix(line, "VMTEST_EXIT=") {
				return
			}
			out.WriteString(line)
			out.WriteByte('\n')
			if opt.Output != nil {
				io.WriteString(opt.Output, line+"\n")
			}
		})
	}()
	werr := cmd.Wait()
	close(done)
	tailWG.Wait()
	res := &Result{Output: out.String(), Elapsed: time.Since(t0), Accel: opt.Accel, Kernel: img.Kernel}
	cb, _ := os.ReadFile(console)
	res.Console = string(cb)
	if qctx.Err() != nil && ctx.Err() == nil {
		return res, fmt.Errorf("vm: timeout after %v (%s); console tail:\n%s", opt.Timeout, opt.Accel, lastLines(res.Console, 30))
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	gb, _ := os.ReadFile(guestOut)
	rc := -1
	for _, l := range strings.Split(string(gb), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "VMTEST_EXIT="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				rc = n
			}
		}
	}
	if rc < 0 {
		return res, fmt.Errorf("vm: guest gave no result (qemu: %v %s); console tail:\n%s", werr, lastLines(qlog.String(), 10), lastLines(res.Console, 40))
	}
	res.Exit = rc
	return res, nil
}

// tail follows a growing file line by line until done is closed and the
// file is drained.
func tail(path string, done <-chan struct{}, line func(string)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var partial string
	for {
		s, err := r.ReadString('\n')
		partial += s
		if err == nil {
			line(strings.TrimRight(partial, "\r\n"))
			partial = ""
			continue
		}
		select {
		case <-done:
			// drain what is left
			rest, _ := io.ReadAll(r)
			partial += string(rest)
			for _, l := range strings.Split(partial, "\n") {
				if l = strings.TrimRight(l, "\r"); l != "" {
					line(l)
				}
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return "  " + strings.Join(l, "\n  ")
}

package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestModuleOrder(t *testing.T) {
	dep := `kernel/fs/nfs/nfsv3.ko: kernel/fs/nfs/nfs.ko kernel/net/sunrpc/sunrpc.ko
kernel/fs/nfs/nfs.ko: kernel/fs/lockd/lockd.ko kernel/net/sunrpc/sunrpc.ko
kernel/fs/lockd/lockd.ko: kernel/net/sunrpc/sunrpc.ko
kernel/net/sunrpc/sunrpc.ko:
kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz
kernel/net/9p/9pnet.ko.xz:
`
	order, missing := moduleOrder(dep, "kernel/drivers/virtio/virtio_pci.ko\n", []string{"virtio_pci", "nfsv3", "9p", "nosuch"})
	var names []string
	for _, o := range order {
		names = append(names, o[0])
	}
	if got := strings.Join(names, " "); got != "sunrpc lockd nfs nfsv3 9pnet 9p" {
		t.Fatalf("order %q", got)
	}
	if fmt.Sprint(missing) != "[nosuch]" {
		t.Fatalf("missing %v", missing)
	}
}

func TestVersionLess(t *testing.T) {
	if !versionLess("6.1.0-9-amd64", "6.1.0-56-amd64") || versionLess("6.10.0", "6.9.1") {
		t.Fatal("versionLess")
	}
}

// TestCpio checks the archive with busybox's cpio, which reads newc as
// the kernel does.
func TestCpio(t *testing.T) {
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("no busybox")
	}
	tr := newTree()
	tr.file("bin/x", 0o755, []byte("abc"))
	tr.file("etc/empty", 0o644, nil)
	tr.symlink("bin/y", "x")
	tr.dir("mnt/nfs")
	var b bytes.Buffer
	if err := tr.write(&b); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("busybox", "cpio", "-t")
	cmd.Stdin = &b
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "bin\nbin/x\nbin/y\netc\netc/empty\nmnt\nmnt/nfs\n"
	if string(out) != want {
		t.Fatalf("cpio -t:\n%s\nwant\n%s", out, want)
	}
}

// TestBoot boots the VM once (about 10 s under TCG) when CAIRN_VM_SELFTEST
// is set; the gateway's integration tests boot it anyway.
func TestBoot(t *testing.T) {
	if os.Getenv("CAIRN_VM_SELFTEST") == "" {
		t.Skip("set CAIRN_VM_SELFTEST=1 to boot the VM")
	}
	res, err := Run(context.Background(), Options{
		Script:  "echo hello $GREETING; gtool now >/dev/null && grep -q nfs /proc/filesystems && grep -q 9p /proc/filesystems; exit 7",
		Env:     map[string]string{"GREETING": "from 'the' host"},
		Timeout: 5 * time.Minute,
	})
	if errors.Is(err, ErrUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s, %s, %v", res.Kernel, res.Accel, res.Elapsed)
	if res.Exit != 7 || !strings.Contains(res.Output, "hello from 'the' host") {
		t.Fatalf("exit %d output %q", res.Exit, res.Output)
	}
}

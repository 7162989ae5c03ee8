// Package fuse tests cairn's FUSE client end to end with real processes:
// `cairn brick` daemons serving the tutorial's volume, mounted by the
// mount.cairn helper exactly as mount(8) runs it for the tutorial's fstab
// line.
package fuse

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/client/fusetest"
	"github.com/cairnfs/cairn/integration/harness"
)

func TestMain(m *testing.M) {
	// fusetest's helper processes (lock holders, in-process mount servers)
	// are this binary again.
	fusetest.Serve(stacks)
	os.Exit(m.Run())
}

// needFUSE skips outside CI (and fails under CI=true) without root and
// /dev/fuse.
func needFUSE(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root"
	} else if _, err := os.Stat("/dev/fuse"); err != nil {
		why = "no /dev/fuse"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip("SKIPPING FUSE integration test: " + why)
}

// volume is two brick processes serving the tutorial's client volfile as
// web_sites.
type volume struct {
	b1, b2  *harness.Brick
	volfile string
}

func startVolume(t *testing.T) *volume {
	t.Helper()
	v := &volume{volfile: filepath.Join(t.TempDir(), "web_sites.vol")}
	opts := harness.BrickOptions{Volfiles: map[string]string{"web_sites": v.volfile}}
	v.b1 = harness.StartBrick(t, opts)
	v.b2 = harness.StartBrick(t, opts)
	// Bricks read the served file on each request, so it can name both
	// bricks' ports although they were only known after starting them.
	// A short ping-timeout keeps a frozen brick from stalling the tests.
	if err := os.WriteFile(v.volfile, []byte(harness.ClientVolfile([]*harness.Brick{v.b1, v.b2}, "5")), 0o644); err != nil {
		t.Fatal(err)
	}
	return v
}

// spec is the fstab source naming brick 1 as volfile server.
func (v *volume) spec() string { return v.b1.Addr() + ":web_sites" }

// fstabOptions are the tutorial's fstab options, with brick 2 as backup.
func (v *volume) fstabOptions() string {
	return "backupvolfile-server=" + v.b2.Addr() + ",direct-io-mode=disable,noatime,_netdev"
}

// mountpoint is one mount made by mount.cairn.
type mountpoint struct {
	dir, log string
}

// mountHelper runs `mount.cairn SPEC DIR -o OPTS` as mount(8) does, and
// arranges for the mount to be removed (and its daemon to exit) at cleanup.
func mountHelper(t *testing.T, spec, opts string) *mountpoint {
	t.Helper()
	base := t.TempDir()
	// Let other users reach the mount (Permissions runs commands as nobody).
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := &mountpoint{dir: filepath.Join(base, "mnt"), log: filepath.Join(base, "mount.log")}
	if err := os.Mkdir(m.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(filepath.Dir(harness.Binary(t)), "mount.cairn")
	cmd := exec.Command(helper, spec, m.dir, "-o", opts+",log-file="+m.log+",log-level=DEBUG")
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(m.log)
		t.Fatalf("mount.cairn %s %s -o %s: %v\n%s\nlog:\n%s", spec, m.dir, opts, err, out, log)
	}
	t.Cleanup(func() { m.unmount(t) })
	return m
}

func (m *mountpoint) mounted() bool {
	b, _ := os.ReadFile("/proc/self/mounts")
	return strings.Contains(string(b), " "+m.dir+" fuse.cairn ")
}

func (m *mountpoint) unmount(t *testing.T) {
	if !m.mounted() {
		return
	}
	var err error
	for i := 0; i < 50; i++ {
		if err = syscall.Unmount(m.dir, 0); err == nil || err != syscall.EBUSY {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("umount %s: %v", m.dir, err)
		_ = syscall.Unmount(m.dir, syscall.MNT_DETACH)
	}
	// The daemon logs its exit after the unmount.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(m.log); bytes.Contains(b, []byte("msg=unmounted")) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(m.log)
	t.Errorf("mount daemon of %s did not finish after umount; log:\n%s", m.dir, log)
}

func (m *mountpoint) logText() string {
	b, _ := os.ReadFile(m.log)
	return string(b)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// waitFor polls cond until it holds or the time runs out.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %v", what, limit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sameOnBrick checks that the file rel has content want in a brick's
// export directory.
func sameOnBrick(b *harness.Brick, rel string, want []byte) error {
	got, err := os.ReadFile(filepath.Join(b.Dir, rel))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%s on brick %s: %d bytes, want %d", rel, b.Addr(), len(got), len(want))
	}
	return nil
}

// TestTutorialFailover is the real-process scenario: a mount from
// the tutorial's fstab options via mount.cairn, volfile from brick 1; brick
// 1 stopped; a second mount still comes up through backupvolfile-server;
// the first mount keeps reading and writing through brick 2; brick 1
// returns and is healed.
func TestTutorialFailover(t *testing.T) {
	needFUSE(t)
	v := startVolume(t)
	m1 := mountHelper(t, v.spec(), v.fstabOptions())
	if !m1.mounted() {
		t.Fatal("mount 1 not in /proc/mounts")
	}
	if log := m1.logText(); !strings.Contains(log, "server="+v.b1.Addr()) {
		t.Errorf("mount 1 should have fetched its volfile from brick 1; log:\n%s", log)
	}

	// Both bricks get what mount 1 writes.
	before := randBytes(3<<20 + 17)
	if err := os.MkdirAll(filepath.Join(m1.dir, "site"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m1.dir, "site", "index.html"), before, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*harness.Brick{v.b1, v.b2} {
		if err := sameOnBrick(b, "site/index.html", before); err != nil {
			t.Fatal(err)
		}
	}

	// Brick 1 goes away.
	v.b1.Stop()

	// A second mount of the same fstab line still comes up, through the
	// backup volfile server.
	m2 := mountHelper(t, v.spec(), v.fstabOptions())
	log2 := m2.logText()
	if !strings.Contains(log2, "used a backup") || !strings.Contains(log2, "used="+v.b2.Addr()) {
		t.Errorf("mount 2 should report the fallback to %s; log:\n%s", v.b2.Addr(), log2)
	}

	// Mount 1 keeps reading and writing through brick 2.
	if got, err := os.ReadFile(filepath.Join(m1.dir, "site", "index.html")); err != nil || !bytes.Equal(got, before) {
		t.Fatalf("mount 1 read with brick 1 down: %d bytes, %v", len(got), err)
	}
	during := randBytes(1<<20 + 5)
	if err := os.WriteFile(filepath.Join(m1.dir, "site", "new.html"), during, 0o644); err != nil {
		t.Fatalf("mount 1 write with brick 1 down: %v", err)
	}
	appended := append(append([]byte{}, before...), []byte("appended while brick 1 was down\n")...)
	f, err := os.OpenFile(filepath.Join(m1.dir, "site", "index.html"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(appended[len(before):]); err != nil {
		t.Fatalf("append with brick 1 down: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(m1.dir, "site", "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(m1.dir, "site", "img")); err != nil {
		t.Fatal(err)
	}
	// …and mount 2 sees it.
	waitFor(t, "mount 2 sees mount 1's writes", 5*time.Second, func() error {
		got, err := os.ReadFile(filepath.Join(m2.dir, "site", "new.html"))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, during) {
			return fmt.Errorf("new.html differs")
		}
		got, err = os.ReadFile(filepath.Join(m2.dir, "site", "index.html"))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, appended) {
			return fmt.Errorf("index.html: %d bytes, want %d", len(got), len(appended))
		}
		return nil
	})
	if err := sameOnBrick(v.b2, "site/new.html", during); err != nil {
		t.Fatal(err)
	}

	// Brick 1 returns and is healed: it gets the file it missed and the
	// append, without anyone rewriting them.
	v.b1.Start()
	waitFor(t, "brick 1 healed", 60*time.Second, func() error {
		// Looking the files up also triggers heal on access.
		_, _ = os.Stat(filepath.Join(m1.dir, "site", "new.html"))
		_, _ = os.Stat(filepath.Join(m1.dir, "site", "index.html"))
		if err := sameOnBrick(v.b1, "site/new.html", during); err != nil {
			return err
		}
		return sameOnBrick(v.b1, "site/index.html", appended)
	})
	// And the volume is fully usable again from both mounts.
	after := randBytes(4096)
	if err := os.WriteFile(filepath.Join(m2.dir, "site", "after.html"), after, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*harness.Brick{v.b1, v.b2} {
		if err := sameOnBrick(b, "site/after.html", after); err != nil {
			t.Error(err)
		}
	}
	waitFor(t, "mount 1 sees mount 2's write", 5*time.Second, func() error {
		got, err := os.ReadFile(filepath.Join(m1.dir, "site", "after.html"))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, after) {
			return fmt.Errorf("after.html differs")
		}
		return nil
	})
}

// TestMountFailsWithoutVolfileServer: with every volfile server down the
// helper fails with mount(8)'s "mount failure" and names the servers.
func TestMountFailsWithoutVolfileServer(t *testing.T) {
	needFUSE(t)
	v := startVolume(t)
	v.b1.Stop()
	v.b2.Stop()
	dir := t.TempDir()
	helper := filepath.Join(filepath.Dir(harness.Binary(t)), "mount.cairn")
	out, err := exec.Command(helper, v.spec(), dir, "-o", v.fstabOptions()).CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 32 {
		t.Fatalf("mount.cairn with no volfile server: %v, want exit 32\n%s", err, out)
	}
	for _, b := range []*harness.Brick{v.b1, v.b2} {
		if !strings.Contains(string(out), b.Addr()) {
			t.Errorf("error does not name %s: %s", b.Addr(), out)
		}
	}
}

// The shared suites over a real-process mount of the tutorial's volume.

func TestPosix(t *testing.T) {
	needFUSE(t)
	v := startVolume(t)
	m := mountHelper(t, v.spec(), v.fstabOptions())
	fusetest.Posix(t, m.dir, fusetest.Skips)
}

func TestTools(t *testing.T) {
	needFUSE(t)
	v := startVolume(t)
	m := mountHelper(t, v.spec(), v.fstabOptions())
	fusetest.Tools(t, m.dir, fusetest.ToolsConfig{FsName: v.spec()})
}

func TestDifferential(t *testing.T) {
	needFUSE(t)
	v := startVolume(t)
	m := mountHelper(t, v.spec(), v.fstabOptions())
	for seed := int64(1); seed <= 2; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			dir := filepath.Join(m.dir, fmt.Sprint("diff", seed))
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			fusetest.Differential(t, dir, seed, 1500)
		})
	}
}

// TestTwoClients: two mount processes (two clients of the volume) see each
// other's changes within the default cache timeouts.
func TestTwoClients(t *testing.T) {
	needFUSE(t)
	v := startVolume(t)
	a := mountHelper(t, v.spec(), v.fstabOptions())
	b := mountHelper(t, v.spec(), v.fstabOptions())
	fusetest.TwoMounts(t, a.dir, b.dir, fusetest.Timeouts{Entry: time.Second, Attr: time.Second})
}

// TestPermissions: requests carry the caller's identity to the bricks.
func TestPermissions(t *testing.T) {
	needFUSE(t)
	v := startVolume(t)
	m := mountHelper(t, v.spec(), v.fstabOptions()+",allow_other")
	fusetest.Permissions(t, m.dir)
	fusetest.Privileges(t, m.dir)
}

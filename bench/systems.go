package main

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cairnfs/cairn/vfs/stack"
)

// fsUnderTest is a directory tree the host workloads run in: the local
// disk, a cairn FUSE mount or a GlusterFS FUSE mount.
type fsUnderTest interface {
	ID() string
	Dir() string
	// Cold makes the next access cold: drop the kernel's caches and, for a
	// FUSE mount, remount so the client process starts with empty caches.
	Cold(ctx context.Context) error
}

// localFS is a plain directory on the disk that also holds the bricks.
type localFS struct{ dir string }

func (l *localFS) ID() string                     { return sysLocal }
func (l *localFS) Dir() string                    { return l.dir }
func (l *localFS) Cold(ctx context.Context) error { return dropCaches() }

// cairnVolume is a replica-2 cairn volume: two `cairn brick` processes on
// 127.0.0.1 with the volfiles `cairn up` generates (vfs/stack), a FUSE
// mount through the volfile server as a user would do it, and on demand
// the NFS/9P gateway.
type cairnVolume struct {
	bin       string
	root      string
	name      string
	ports     [2]int
	brickDirs [2]string
	brickVols [2]string
	clientVol string
	bricks    [2]*proc

	mnt       string
	mountOpts string
	mountProc *proc

	gw               *proc
	nfsPort, p9Port  int
	gatewayRestarted int
}

func startCairn(ctx context.Context, bin, root string, cl *cleanup) (*cairnVolume, error) {
	v := &cairnVolume{bin: bin, root: root, name: "bench", mnt: filepath.Join(root, "mnt")}
	if err := os.MkdirAll(v.mnt, 0o755); err != nil {
		return nil, err
	}
	spec := stack.VolumeSpec{Name: v.name, ClientVolfilePath: filepath.Join(root, v.name+".vol")}
	for i := range 2 {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		v.ports[i] = p
		v.brickDirs[i] = filepath.Join(root, fmt.Sprintf("brick%d", i+1))
		if err := os.MkdirAll(v.brickDirs[i], 0o755); err != nil {
			return nil, err
		}
		spec.Bricks = append(spec.Bricks, stack.BrickSpec{Host: "127.0.0.1", Port: p, Directory: v.brickDirs[i]})
	}
	for i := range 2 {
		v.brickVols[i] = filepath.Join(root, fmt.Sprintf("brick%d.vol", i+1))
		if err := os.WriteFile(v.brickVols[i], []byte(spec.BrickVolfile(i)), 0o644); err != nil {
			return nil, err
		}
	}
	v.clientVol = spec.ClientVolfilePath
	if err := os.WriteFile(v.clientVol, []byte(spec.ClientVolfile()), 0o644); err != nil {
		return nil, err
	}
	cl.push(v.stopAll)
	for i := range 2 {
		if err := v.startBrick(ctx, i); err != nil {
			return nil, err
		}
	}
	// The tutorial's fstab options; the client volfile comes from brick 1.
	v.mountOpts = fmt.Sprintf("backupvolfile-server=127.0.0.1:%d,direct-io-mode=disable,noatime", v.ports[1])
	return v, nil
}

func (v *cairnVolume) ID() string  { return sysCairnFUSE }
func (v *cairnVolume) Dir() string { return v.mnt }

func (v *cairnVolume) startBrick(ctx context.Context, i int) error {
	p, err := startProc(fmt.Sprintf("cairn brick %d", i+1), filepath.Join(v.root, fmt.Sprintf("brick%d.log", i+1)),
		v.bin, "brick", "--volfile", v.brickVols[i])
	if err != nil {
		return err
	}
	v.bricks[i] = p
	return waitListen(ctx, fmt.Sprintf("127.0.0.1:%d", v.ports[i]), p, 30*time.Second)
}

// mount runs `cairn mount HOST:PORT:VOL DIR -o … --foreground` as our child
// (so we know its pid) and waits for the FUSE mount to appear.
func (v *cairnVolume) mount(ctx context.Context) error {
	spec := fmt.Sprintf("127.0.0.1:%d:%s", v.ports[0], v.name)
	p, err := startProc("cairn mount", filepath.Join(v.root, "mount.log"), v.bin,
		"mount", spec, v.mnt, "-o", v.mountOpts, "--foreground")
	if err != nil {
		return err
	}
	v.mountProc = p
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ok, typ := mounted(v.mnt); ok && strings.HasPrefix(typ, "fuse") {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("cairn mount exited: %v\n%s", p.err, p.logTail())
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("cairn mount: %s not mounted after 30s\n%s", v.mnt, p.logTail())
}

func (v *cairnVolume) unmount() error {
	err := unmount(v.mnt)
	if v.mountProc != nil {
		select {
		case <-v.mountProc.done:
		case <-time.After(15 * time.Second):
			v.mountProc.kill()
			_ = unmount(v.mnt)
		}
		v.mountProc = nil
	}
	return err
}

func (v *cairnVolume) Cold(ctx context.Context) error {
	if err := v.unmount(); err != nil {
		return err
	}
	if err := dropCaches(); err != nil {
		return err
	}
	return v.mount(ctx)
}

// startGateway serves the volume over NFSv3 and 9P on loopback. Root squash
// is off: nfs-cp and the VM's scripts work as root on the volume's root.
func (v *cairnVolume) startGateway(ctx context.Context) error {
	if v.gw != nil && !v.gw.exited() {
		return nil
	}
	var err error
	if v.nfsPort == 0 {
		if v.nfsPort, err = freePort(); err != nil {
			return err
		}
		if v.p9Port, err = freePort(); err != nil {
			return err
		}
	}
	p, err := startProc("cairn gateway", filepath.Join(v.root, "gateway.log"), v.bin, "gateway",
		"--volfile", v.clientVol, "--volume", v.name,
		"--nfs", fmt.Sprintf("127.0.0.1:%d", v.nfsPort),
		"--9p", fmt.Sprintf("127.0.0.1:%d", v.p9Port),
		"--root-squash=false")
	if err != nil {
		return err
	}
	v.gw = p
	if err := waitListen(ctx, fmt.Sprintf("127.0.0.1:%d", v.nfsPort), p, 30*time.Second); err != nil {
		return err
	}
	return waitListen(ctx, fmt.Sprintf("127.0.0.1:%d", v.p9Port), p, 30*time.Second)
}

func (v *cairnVolume) stopGateway() {
	if v.gw != nil {
		v.gw.stop(10 * time.Second)
		v.gw = nil
	}
}

func (v *cairnVolume) stopAll() {
	v.stopGateway()
	_ = v.unmount()
	for _, b := range v.bricks {
		b.stop(10 * time.Second)
	}
}

// heal runs `cairn heal … ARGS` against the volume.
func (v *cairnVolume) heal(ctx context.Context, args ...string) (string, error) {
	return runCmd(ctx, v.bin, append([]string{"heal", "--volfile", v.clientVol}, args...)...)
}

// glusterFS is a GlusterFS replica-2 volume set up by bench/gluster.sh
// (which owns glusterd and tears it all down); this program only remounts
// it and, for the heal workload, kills and restarts a brick.
type glusterFS struct {
	vol     string
	mnt     string
	bricks  []string // host:path, as in `gluster volume info`
	version string
}

func (g *glusterFS) ID() string  { return sysGluster }
func (g *glusterFS) Dir() string { return g.mnt }

func (g *glusterFS) mount(ctx context.Context) error {
	host, _, _ := strings.Cut(g.bricks[0], ":")
	_, err := runCmd(ctx, "mount", "-t", "glusterfs", "-o", "noatime", host+":/"+g.vol, g.mnt)
	return err
}

func (g *glusterFS) Cold(ctx context.Context) error {
	if err := unmount(g.mnt); err != nil {
		return err
	}
	if err := dropCaches(); err != nil {
		return err
	}
	return g.mount(ctx)
}

func (g *glusterFS) check(ctx context.Context) error {
	if ok, typ := mounted(g.mnt); !ok || !strings.Contains(typ, "glusterfs") {
		return fmt.Errorf("%s is not a glusterfs mount (type %q)", g.mnt, typ)
	}
	out, err := runCmd(ctx, "gluster", "--mode=script", "volume", "info", g.vol)
	if err != nil {
		return err
	}
	g.bricks = nil
	for _, m := range regexp.MustCompile(`(?m)^Brick\d+: (\S+)`).FindAllStringSubmatch(out, -1) {
		g.bricks = append(g.bricks, m[1])
	}
	if len(g.bricks) != 2 {
		return fmt.Errorf("volume %s has %d bricks, want 2", g.vol, len(g.bricks))
	}
	if v, err := runCmd(ctx, "gluster", "--version"); err == nil {
		g.version = strings.TrimSpace(strings.SplitN(v, "\n", 2)[0])
	}
	return nil
}

// brickPid returns the pid and online state of a brick from
// `gluster volume status VOL --xml`.
func (g *glusterFS) brickPid(ctx context.Context, brick string) (int, bool, error) {
	out, err := runCmd(ctx, "gluster", "--mode=script", "volume", "status", g.vol, "--xml")
	if err != nil {
		return 0, false, err
	}
	var doc struct {
		Nodes []struct {
			Hostname string `xml:"hostname"`
			Path     string `xml:"path"`
			Status   int    `xml:"status"`
			Pid      int    `xml:"pid"`
		} `xml:"volStatus>volumes>volume>node"`
	}
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		return 0, false, fmt.Errorf("gluster volume status --xml: %v", err)
	}
	for _, n := range doc.Nodes {
		if n.Hostname+":"+n.Path == brick {
			return n.Pid, n.Status == 1, nil
		}
	}
	return 0, false, fmt.Errorf("brick %s not in volume status", brick)
}

// healInfoPending parses `heal info` output (GlusterFS's format, which
// cairn heal info follows): the total of "Number of entries" over all
// bricks, or an error if a brick is not connected.
func healInfoPending(out string, bricks int) (int, error) {
	total, seen := 0, 0
	for _, m := range regexp.MustCompile(`(?m)^Number of entries: (\S+)`).FindAllStringSubmatch(out, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return 0, fmt.Errorf("brick not connected in heal info:\n%s", out)
		}
		total += n
		seen++
	}
	if seen < bricks {
		return 0, fmt.Errorf("heal info lists %d bricks, want %d:\n%s", seen, bricks, out)
	}
	return total, nil
}

var errNotInstalled = errors.New("not installed")

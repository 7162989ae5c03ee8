package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/bench/fsops"
)

// Host workload ids.
const (
	wSeqWrite  = "seq-write"
	wSeqRead   = "seq-read"
	wRandRead1 = "rand-read-1"
	wRandRead4 = "rand-read-4"
	wRandWrt1  = "rand-write-1"
	wRandWrt4  = "rand-write-4"
	wCreate    = "files-create"
	wStat      = "files-stat"
	wRead      = "files-read"
	wDelete    = "files-delete"
	wLsCold    = "ls-cold"
	wLsWarm    = "ls-warm"
	wUntar     = "untar"
	wHeal      = "heal"
)

func (b *bench) defineHost() {
	c := b.cfg
	r := b.res
	r.define(workload{wSeqWrite, fmt.Sprintf("seq write %s, bs=1M, end_fsync", mib(c.seqMiB)), "MiB/s", true, "seq"})
	r.define(workload{wSeqRead, fmt.Sprintf("seq read %s, cold cache", mib(c.seqMiB)), "MiB/s", true, "seq"})
	rnd := fmt.Sprintf("%s file, %ds", mib(c.randMiB), int(c.randRuntime.Seconds()))
	r.define(workload{wRandRead1, "4 KiB rand read, 1 job, " + rnd, "IOPS", true, "rand"})
	r.define(workload{wRandRead4, "4 KiB rand read, 4 jobs, " + rnd, "IOPS", true, "rand"})
	r.define(workload{wRandWrt1, "4 KiB rand write, 1 job, " + rnd, "IOPS", true, "rand"})
	r.define(workload{wRandWrt4, "4 KiB rand write, 4 jobs, " + rnd, "IOPS", true, "rand"})
	n := fmt.Sprintf("%s × %d KiB files", thousands(c.nFiles), c.fileSize/1024)
	r.define(workload{wCreate, n + ": create", "files/s", true, "small"})
	r.define(workload{wStat, n + ": stat", "files/s", true, "small"})
	r.define(workload{wRead, n + ": read", "files/s", true, "small"})
	r.define(workload{wDelete, n + ": delete", "files/s", true, "small"})
	r.define(workload{wLsCold, fmt.Sprintf("ls -l of %s entries, cold", thousands(c.nFiles)), "s", false, "small"})
	r.define(workload{wLsWarm, fmt.Sprintf("ls -l of %s entries, warm", thousands(c.nFiles)), "s", false, "small"})
	r.define(workload{wUntar, "untar of /usr/include", "s", false, "untar"})
	r.define(workload{wHeal, fmt.Sprintf("heal of %s after a brick was killed", mib(c.healMiB)), "s", false, "heal"})
}

// fioResult is the part of fio's JSON output we read.
type fioResult struct {
	Jobs []struct {
		Read  fioDir `json:"read"`
		Write fioDir `json:"write"`
		Error int    `json:"error"`
	} `json:"jobs"`
}

type fioDir struct {
	BwBytes float64 `json:"bw_bytes"`
	IOPS    float64 `json:"iops"`
}

// fio runs one fio job in dir and returns its (group-reported) result.
// fallocate=none everywhere: FUSE filesystems differ in fallocate support
// and layout cost should not be part of any figure.
func (b *bench) fio(ctx context.Context, dir string, args ...string) (fioDir, fioDir, error) {
	out := filepath.Join(b.cfg.workdir, "fio.json")
	_ = os.Remove(out)
	a := append([]string{"--name=bench", "--directory=" + dir, "--ioengine=psync", "--fallocate=none",
		"--group_reporting", "--output-format=json", "--output=" + out}, args...)
	cmd := exec.CommandContext(ctx, "fio", a...)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		return fioDir{}, fioDir{}, fmt.Errorf("fio %s: %v: %s %s", strings.Join(args, " "), err, strings.TrimSpace(string(msg)), tailFile(out, 5))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return fioDir{}, fioDir{}, err
	}
	// fio may print notes before the JSON object.
	if i := strings.IndexByte(string(data), '{'); i > 0 {
		data = data[i:]
	}
	var res fioResult
	if err := json.Unmarshal(data, &res); err != nil {
		return fioDir{}, fioDir{}, fmt.Errorf("fio output: %v", err)
	}
	if len(res.Jobs) == 0 {
		return fioDir{}, fioDir{}, fmt.Errorf("fio output has no jobs")
	}
	if res.Jobs[0].Error != 0 {
		return fioDir{}, fioDir{}, fmt.Errorf("fio job error %d (%v)", res.Jobs[0].Error, syscall.Errno(res.Jobs[0].Error))
	}
	return res.Jobs[0].Read, res.Jobs[0].Write, nil
}

// forEach runs unit for every run and, inside each run, for every system,
// so that a burst of load from the machine's other users spreads over all
// systems instead of hitting one. A failure costs the workloads it names
// (see lost) for that run only: later runs still go ahead.
func (b *bench) forEach(ctx context.Context, fss []fsUnderTest, unit func(ctx context.Context, fs fsUnderTest, run int) error, all []string) {
	for run := 1; run <= b.cfg.runs; run++ {
		for _, fs := range fss {
			if ctx.Err() != nil {
				return
			}
			if err := unit(ctx, fs, run); err != nil {
				b.logf("%s run %d: %v", fs.ID(), run, err)
				ids := all
				var we *wlError
				if errors.As(err, &we) {
					ids = we.ids
				}
				for _, id := range ids {
					b.res.fail(id, fs.ID(), fmt.Errorf("run %d: %w", run, err))
				}
			}
		}
	}
}

// wlError names the workloads a failure cost.
type wlError struct {
	ids []string
	err error
}

func (e *wlError) Error() string { return e.err.Error() }
func (e *wlError) Unwrap() error { return e.err }

// lost marks err as costing the workloads ids (nil stays nil).
func lost(err error, ids ...string) error {
	if err == nil {
		return nil
	}
	return &wlError{ids: ids, err: err}
}

// seq: 1 GiB sequential write with fsync at the end, then a cold read.
func (b *bench) runSeq(ctx context.Context, fss []fsUnderTest) {
	size := fmt.Sprintf("--size=%dM", b.cfg.seqMiB)
	b.forEach(ctx, fss, func(ctx context.Context, fs fsUnderTest, run int) error {
		name := fmt.Sprintf("seq.%d", run)
		defer os.Remove(filepath.Join(fs.Dir(), name))
		_, w, err := b.fio(ctx, fs.Dir(), "--rw=write", "--bs=1M", size, "--end_fsync=1", "--filename="+name)
		if err != nil {
			return err
		}
		b.record(wSeqWrite, fs.ID(), run, w.BwBytes/(1<<20))
		if err := fs.Cold(ctx); err != nil {
			return lost(err, wSeqRead)
		}
		r, _, err := b.fio(ctx, fs.Dir(), "--rw=read", "--bs=1M", size, "--filename="+name)
		if err != nil {
			return lost(err, wSeqRead)
		}
		b.record(wSeqRead, fs.ID(), run, r.BwBytes/(1<<20))
		return nil
	}, []string{wSeqWrite, wSeqRead})
}

// rand: 4 KiB random reads and writes with psync over one laid-out file,
// 1 and 4 jobs, direct I/O where the filesystem takes O_DIRECT.
func (b *bench) runRand(ctx context.Context, fss []fsUnderTest) {
	size := fmt.Sprintf("--size=%dM", b.cfg.randMiB)
	rt := fmt.Sprintf("--runtime=%d", int(b.cfg.randRuntime.Seconds()))
	direct := map[string]string{}
	laid := map[string]bool{}
	ids := []string{wRandRead1, wRandRead4, wRandWrt1, wRandWrt4}
	b.forEach(ctx, fss, func(ctx context.Context, fs fsUnderTest, run int) error {
		if !laid[fs.ID()] {
			if _, _, err := b.fio(ctx, fs.Dir(), "--rw=write", "--bs=1M", size, "--end_fsync=1", "--filename=rand"); err != nil {
				return fmt.Errorf("layout: %w", err)
			}
			laid[fs.ID()] = true
			// Probe O_DIRECT once: open(O_DIRECT) fails with EINVAL where
			// the filesystem has no direct I/O.
			direct[fs.ID()] = "--direct=1"
			fd, err := syscall.Open(filepath.Join(fs.Dir(), "rand"), syscall.O_RDONLY|syscall.O_DIRECT, 0)
			if err != nil {
				direct[fs.ID()] = "--direct=0"
				for _, id := range ids {
					b.res.annotate(id, fs.ID(), "buffered I/O (open O_DIRECT: "+err.Error()+")")
				}
			} else {
				syscall.Close(fd)
			}
		}
		for _, j := range []struct {
			id, rw string
			jobs   int
		}{{wRandRead1, "randread", 1}, {wRandRead4, "randread", 4}, {wRandWrt1, "randwrite", 1}, {wRandWrt4, "randwrite", 4}} {
			r, w, err := b.fio(ctx, fs.Dir(), "--rw="+j.rw, "--bs=4k", size, "--filename=rand", direct[fs.ID()],
				"--numjobs="+strconv.Itoa(j.jobs), "--time_based", rt)
			if err != nil {
				// This job's figure is lost for this run; the others go on.
				b.logf("%s run %d: %v", fs.ID(), run, err)
				b.res.fail(j.id, fs.ID(), fmt.Errorf("run %d: %w", run, err))
				continue
			}
			v := r.IOPS
			if j.rw == "randwrite" {
				v = w.IOPS
			}
			b.record(j.id, fs.ID(), run, v)
		}
		if run == b.cfg.runs {
			return lost(os.Remove(filepath.Join(fs.Dir(), "rand")))
		}
		return nil
	}, ids)
}

// small: N × 4 KiB files in one directory: create, stat, read, then
// `ls -l` cold and warm, then delete. Between create, stat and read the
// bench waits b.cfg.settle (past FUSE's 1 s entry and attribute timeouts),
// so stat and read reach the filesystem rather than the kernel's caches.
func (b *bench) runSmall(ctx context.Context, fss []fsUnderTest) {
	n, size := b.cfg.nFiles, b.cfg.fileSize
	ids := []string{wCreate, wStat, wRead, wLsCold, wLsWarm, wDelete}
	b.forEach(ctx, fss, func(ctx context.Context, fs fsUnderTest, run int) error {
		dir := filepath.Join(fs.Dir(), fmt.Sprintf("small.%d", run))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		// A failed phase costs it and the phases after it in this run; the
		// directory is removed (untimed) so the next run starts clean.
		defer func() {
			if _, err := os.Stat(dir); err == nil {
				_, _ = runCmd(ctx, "rm", "-rf", dir)
			}
		}()
		p, err := fsops.Create(dir, n, size)
		if err != nil {
			return err
		}
		b.record(wCreate, fs.ID(), run, p.Rate())
		time.Sleep(b.cfg.settle)
		if p, err = fsops.Stat(dir, n); err != nil {
			return lost(err, ids[1:]...)
		}
		b.record(wStat, fs.ID(), run, p.Rate())
		time.Sleep(b.cfg.settle)
		if p, err = fsops.Read(dir, n, size); err != nil {
			return lost(err, ids[2:]...)
		}
		b.record(wRead, fs.ID(), run, p.Rate())
		if err := fs.Cold(ctx); err != nil {
			return lost(err, ids[3:]...)
		}
		for i, id := range []string{wLsCold, wLsWarm} {
			d, err := timeLs(ctx, dir, n)
			if err != nil {
				return lost(err, ids[3+i:]...)
			}
			b.record(id, fs.ID(), run, d.Seconds())
		}
		if p, err = fsops.Delete(dir, n); err != nil {
			return lost(err, wDelete)
		}
		b.record(wDelete, fs.ID(), run, p.Rate())
		return lost(os.Remove(dir))
	}, ids)
}

// timeLs times `ls -l DIR` with output to /dev/null (GNU ls still stats
// every entry and asks for its ACL and security xattrs, as a user's does)
// and checks the entry count with a second, untimed pass when needed.
func timeLs(ctx context.Context, dir string, want int) (time.Duration, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer null.Close()
	cmd := exec.CommandContext(ctx, "ls", "-l", dir)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdout = null
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("ls -l %s: %v %s", dir, err, stderr.String())
	}
	d := time.Since(start)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	if len(ents) != want {
		return 0, fmt.Errorf("ls -l %s: %d entries, want %d", dir, len(ents), want)
	}
	return d, nil
}

// untar: extract the tar of /usr/include (made once per machine).
func (b *bench) runUntar(ctx context.Context, fss []fsUnderTest) {
	b.forEach(ctx, fss, func(ctx context.Context, fs fsUnderTest, run int) error {
		dir := filepath.Join(fs.Dir(), fmt.Sprintf("untar.%d", run))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		start := time.Now()
		if _, err := runCmd(ctx, "tar", "-C", dir, "-xf", b.cfg.tarball); err != nil {
			return err
		}
		b.record(wUntar, fs.ID(), run, time.Since(start).Seconds())
		_, err := runCmd(ctx, "rm", "-rf", dir)
		return lost(err)
	}, []string{wUntar})
}

// healFiles writes healMiB MiB through fs as 1 GiB files (one smaller file
// in quick mode), fsynced.
func (b *bench) healFiles(ctx context.Context, dir string, run int) ([]string, error) {
	left := b.cfg.healMiB
	var names []string
	for i := 0; left > 0; i++ {
		sz := min(left, 1024)
		name := fmt.Sprintf("heal.%d.%d", run, i)
		if _, _, err := b.fio(ctx, dir, "--rw=write", "--bs=1M", fmt.Sprintf("--size=%dM", sz), "--end_fsync=1", "--filename="+name); err != nil {
			return names, err
		}
		names = append(names, name)
		left -= sz
	}
	return names, nil
}

// healCairn: kill brick 2 (SIGKILL), write the data through the FUSE
// mount (brick 1 alone takes it and blames brick 2), unmount (so that no
// client's self-heal joins in), restart brick 2, and time from the moment it
// listens again until `cairn heal full` has finished and `heal info`
// shows no entry left.
func (b *bench) healCairn(ctx context.Context, v *cairnVolume, run int) (err error) {
	v.stopGateway()
	// Whatever happens, leave the volume whole and mounted for what follows.
	defer func() {
		if v.bricks[1].exited() {
			if e := v.startBrick(ctx, 1); e != nil && err == nil {
				err = e
			}
		}
		if v.mountProc == nil {
			if e := v.mount(ctx); e != nil && err == nil {
				err = e
			}
		}
	}()
	v.bricks[1].kill()
	names, err := b.healFiles(ctx, v.mnt, run)
	if err != nil {
		return err
	}
	if err := v.unmount(); err != nil {
		return err
	}
	if err := v.startBrick(ctx, 1); err != nil {
		return err
	}
	start := time.Now()
	if _, err := v.heal(ctx, "full"); err != nil {
		return err
	}
	for {
		out, err := v.heal(ctx, "info")
		if err != nil {
			return err
		}
		n, err := healInfoPending(out, 2)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("heal info still lists %d entries after 30 min", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	elapsed := time.Since(start)
	for _, name := range names {
		if err := sameSize(filepath.Join(v.brickDirs[0], name), filepath.Join(v.brickDirs[1], name)); err != nil {
			return fmt.Errorf("after heal: %w", err)
		}
	}
	b.record(wHeal, sysCairnFUSE, run, elapsed.Seconds())
	if err := v.mount(ctx); err != nil {
		return err
	}
	for _, name := range names {
		if err := os.Remove(filepath.Join(v.mnt, name)); err != nil {
			return err
		}
	}
	return nil
}

// healGluster: the same with GlusterFS: kill brick 2's glusterfsd, write,
// `gluster volume start VOL force` brings it back, then time from its
// return until `gluster volume heal VOL full` and polling `heal info`
// show no entry left (the self-heal daemon does the copying).
func (b *bench) healGluster(ctx context.Context, g *glusterFS, run int) error {
	pid, online, err := g.brickPid(ctx, g.bricks[1])
	if err != nil {
		return err
	}
	if !online || pid <= 0 {
		// Left down by an earlier failed run: bring it back first.
		if err := g.restartBrick(ctx, g.bricks[1]); err != nil {
			return err
		}
		if pid, online, err = g.brickPid(ctx, g.bricks[1]); err != nil || !online || pid <= 0 {
			return fmt.Errorf("brick %s is not online before the heal test (%v)", g.bricks[1], err)
		}
	}
	if err := killGlusterPid(pid); err != nil {
		return err
	}
	for i := 0; ; i++ {
		if _, on, err := g.brickPid(ctx, g.bricks[1]); err == nil && !on {
			break
		}
		if i > 100 {
			return fmt.Errorf("brick %s still online after SIGKILL", g.bricks[1])
		}
		time.Sleep(100 * time.Millisecond)
	}
	names, err := b.healFiles(ctx, g.mnt, run)
	// glusterd says "discovered already-running brick" and starts nothing
	// while the killed brick is an unreaped child of it: wait for it to go,
	// and repeat `volume start force` until the brick is online.
	waitReaped(pid, 30*time.Second)
	if err2 := g.restartBrick(ctx, g.bricks[1]); err2 != nil {
		return err2
	}
	if err != nil {
		return err
	}
	start := time.Now()
	// The self-heal daemon starts an index heal by itself when the brick
	// returns; glusterd then refuses "heal full" while it runs. Retry a few
	// times, then let the daemon finish and time that.
	for try := 1; ; try++ {
		_, err := runCmd(ctx, "gluster", "--mode=script", "volume", "heal", g.vol, "full")
		if err == nil {
			break
		}
		if try == 5 {
			b.logf("gluster heal full refused (%v); timing the self-heal daemon's own heal", oneLine(err.Error()))
			b.res.annotate(wHeal, sysGluster, "`heal full` refused while glustershd was already healing; timed until `heal info` showed 0 entries")
			break
		}
		time.Sleep(time.Second)
	}
	for {
		out, err := runCmd(ctx, "gluster", "--mode=script", "volume", "heal", g.vol, "info")
		if err != nil {
			return err
		}
		n, err := healInfoPending(out, 2)
		if err == nil && n == 0 {
			break
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("gluster heal info still pending after 30 min: %d %v", n, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.record(wHeal, sysGluster, run, time.Since(start).Seconds())
	for _, name := range names {
		if err := os.Remove(filepath.Join(g.mnt, name)); err != nil {
			return err
		}
	}
	return nil
}

// restartBrick runs `gluster volume start VOL force` until brick is online
// (up to 2 minutes).
func (g *glusterFS) restartBrick(ctx context.Context, brick string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := runCmd(ctx, "gluster", "--mode=script", "volume", "start", g.vol, "force"); err != nil {
			return err
		}
		for range 50 {
			if _, on, err := g.brickPid(ctx, brick); err == nil && on {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return fmt.Errorf("brick %s not back online after `volume start force` for 2 min", brick)
}

// waitReaped waits until pid has left the process table (a zombie still
// counts as present), up to timeout.
func waitReaped(pid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// killGlusterPid sends SIGKILL to a brick process that glusterd (which
// bench/gluster.sh started) spawned, after checking it is one.
func killGlusterPid(pid int) error {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return err
	}
	if !strings.HasPrefix(strings.TrimSpace(string(comm)), "glusterfs") {
		return fmt.Errorf("pid %d is %q, not a gluster brick", pid, strings.TrimSpace(string(comm)))
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}

func sameSize(a, b string) error {
	sa, err := os.Stat(a)
	if err != nil {
		return err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return err
	}
	if sa.Size() != sb.Size() {
		return fmt.Errorf("%s is %d bytes, %s %d", a, sa.Size(), b, sb.Size())
	}
	return nil
}

func mib(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d GiB", n/1024)
	}
	return fmt.Sprintf("%d MiB", n)
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Command bench is `make bench`: the same workloads, in one invocation, on
// the local disk, a cairn FUSE mount of a replica-2 volume (two brick
// processes on loopback), GlusterFS replica 2 over FUSE when
// bench/gluster.sh has set one up, cairn's NFSv3 gateway and nfs-ganesha
// through libnfs's nfs-cp, and cairn's NFSv3/9P gateway, nfs-ganesha and
// diod through the real Linux kernel clients in a QEMU VM. Each figure is
// the median of several runs with min and max; the report (Markdown, CSV
// and a PNG chart) goes to bench/results/ under the date and the machine.
//
//	go run ./bench [--quick] [--runs N] [--systems LIST] [--parts LIST] [--require-all]
//
// A system that is not installed gives rows marked "not run: reason"
// instead of failing the run, unless --require-all. Everything started
// here (bricks, mounts, gateway, ganesha, rpcbind, diod, the VM) is stopped
// on exit, on error and on Ctrl-C; GlusterFS's daemons belong to
// bench/gluster.sh, which tears them down itself.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type config struct {
	quick       bool
	runs        int
	systems     map[string]bool
	parts       map[string]bool
	requireAll  bool
	out         string
	workdir     string
	repo        string
	cairnBin    string
	glusterVol  string
	glusterMnt  string
	keep        bool
	seqMiB      int
	randMiB     int
	randRuntime time.Duration
	nFiles      int
	fileSize    int
	settle      time.Duration
	healMiB     int
	nfsMiB      int
	vmMiB       int
	vmFiles     int
	tarball     string
	goBenchTime string
}

const (
	allSystems = "local,cairn-fuse,gluster,cairn-nfs,ganesha,vm"
	allParts   = "seq,rand,small,untar,heal,nfscp,vm,gobench"
)

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	c := &config{}
	runsDefault := 3
	if s := os.Getenv("BENCH_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("BENCH_RUNS=%q: want a positive number", s)
		}
		runsDefault = n
	}
	sys := envOr("BENCH_SYSTEMS", allSystems)
	fs.BoolVar(&c.quick, "quick", false, "small sizes and short runs, for development")
	fs.IntVar(&c.runs, "runs", runsDefault, "runs per figure (median, min, max); env BENCH_RUNS")
	fs.StringVar(&sys, "systems", sys, "comma-separated systems: "+allSystems+"; env BENCH_SYSTEMS")
	parts := fs.String("parts", envOr("BENCH_PARTS", allParts), "comma-separated parts: "+allParts+"; env BENCH_PARTS")
	fs.BoolVar(&c.requireAll, "require-all", false, "fail (exit 1) when a system could not be measured")
	fs.StringVar(&c.out, "out", "bench/results", "directory for the Markdown, CSV and PNG results")
	fs.StringVar(&c.workdir, "workdir", "/var/tmp/cairn-bench", "scratch directory on the disk under test (local dir, bricks, exports)")
	fs.StringVar(&c.repo, "repo", ".", "cairn source tree (for go test -bench and building helpers)")
	fs.StringVar(&c.cairnBin, "cairn", "", "cairn binary (default: build ./cmd/cairn into the scratch directory)")
	fs.StringVar(&c.glusterVol, "gluster-volume", os.Getenv("BENCH_GLUSTER_VOLUME"), "GlusterFS volume set up by bench/gluster.sh")
	fs.StringVar(&c.glusterMnt, "gluster-mount", os.Getenv("BENCH_GLUSTER_MOUNT"), "its FUSE mount point")
	fs.BoolVar(&c.keep, "keep", false, "keep the scratch run directory (logs) after the run")
	heal := fs.Int("heal-mib", 0, "MiB written while a brick is down for the heal workload (default 2048, quick 128)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.runs < 1 {
		return nil, fmt.Errorf("--runs must be ≥ 1")
	}
	var err error
	if c.systems, err = set(sys, allSystems); err != nil {
		return nil, fmt.Errorf("--systems: %w", err)
	}
	if c.parts, err = set(*parts, allParts); err != nil {
		return nil, fmt.Errorf("--parts: %w", err)
	}
	c.fileSize = 4096
	c.settle = 1100 * time.Millisecond
	if c.quick {
		c.seqMiB, c.randMiB, c.randRuntime, c.nFiles = 128, 64, 3*time.Second, 1000
		c.healMiB, c.nfsMiB, c.vmMiB, c.vmFiles = 128, 128, 16, 100
		c.goBenchTime = "1x"
	} else {
		c.seqMiB, c.randMiB, c.randRuntime, c.nFiles = 1024, 256, 12*time.Second, 10000
		c.healMiB, c.nfsMiB, c.vmMiB, c.vmFiles = 2048, 1024, 256, 1000
		c.goBenchTime = "3x"
	}
	if *heal > 0 {
		c.healMiB = *heal
	}
	if c.repo, err = filepath.Abs(c.repo); err != nil {
		return nil, err
	}
	if c.out, err = filepath.Abs(c.out); err != nil {
		return nil, err
	}
	return c, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func set(list, allowed string) (map[string]bool, error) {
	ok := strings.Split(allowed, ",")
	m := map[string]bool{}
	for _, x := range strings.Split(list, ",") {
		x = strings.TrimSpace(x)
		if x == "" {
			continue
		}
		if x == "all" {
			for _, y := range ok {
				m[y] = true
			}
			continue
		}
		if !slices.Contains(ok, x) {
			return nil, fmt.Errorf("unknown %q (choose from %s)", x, allowed)
		}
		m[x] = true
	}
	return m, nil
}

// bench is one run of the whole benchmark.
type bench struct {
	cfg        *config
	res        *results
	cl         *cleanup
	start      time.Time
	logMu      sync.Mutex
	logw       io.Writer
	root       string // this run's scratch directory
	notes      []string
	goBenchOut string
	vmInfo     string
	versions   []string
	loadStart  string
	quiet      bool // no table on stdout (tests)

	ganeshaOnce sync.Once
	ganeshaSrv  *ganesha
	ganeshaErr  error
}

func (b *bench) logf(format string, a ...any) {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	fmt.Fprintf(b.logw, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func (b *bench) record(wl, sys string, run int, v float64) {
	b.res.add(wl, sys, v)
	unit := ""
	if w := b.res.workload(wl); w != nil {
		unit = w.unit
	}
	b.logf("%-16s %-15s run %d: %s %s", wl, sys, run, formatValue(v), unit)
}

func (b *bench) note(format string, a ...any) { b.notes = append(b.notes, fmt.Sprintf(format, a...)) }

func main() {
	os.Exit(realMain())
}

func realMain() int {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	b := &bench{cfg: cfg, res: newResults(), cl: &cleanup{}, start: time.Now(), logw: os.Stderr, loadStart: loadavg()}
	defer b.cl.run()
	// The progress log (every sample, every error) is kept beside the report.
	if err := os.MkdirAll(cfg.out, 0o755); err == nil {
		if f, err := os.Create(filepath.Join(cfg.out, b.fileStem()+".log")); err == nil {
			defer f.Close()
			b.logw = io.MultiWriter(os.Stderr, f)
		}
	}
	if err := b.runAll(ctx); err != nil {
		b.logf("error: %v", err)
		return 1
	}
	return b.exitCode()
}

func (b *bench) runAll(ctx context.Context) error {
	c := b.cfg
	if os.Geteuid() != 0 {
		return fmt.Errorf("run as root: bricks keep trusted.* xattrs, FUSE mounts, drop_caches")
	}
	if err := os.MkdirAll(c.workdir, 0o755); err != nil {
		return err
	}
	root, err := os.MkdirTemp(c.workdir, "run-")
	if err != nil {
		return err
	}
	b.root = root
	b.cl.push(func() {
		if c.keep {
			b.logf("kept %s", root)
			return
		}
		safeRemoveAll(root)
	})
	b.logf("scratch %s; %d run(s) per figure; %s", root, c.runs, b.mode())

	if c.cairnBin == "" {
		c.cairnBin = filepath.Join(root, "cairn")
		b.logf("building cairn")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", c.cairnBin, "./cmd/cairn")
		cmd.Dir = c.repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/cairn: %v\n%s", err, out)
		}
	} else if c.cairnBin, err = filepath.Abs(c.cairnBin); err != nil {
		return err
	}
	b.versions = append(b.versions, "cairn "+gitDescribe(c.repo))
	if v := firstLine(exec.Command("fio", "--version").Output()); v != "" {
		b.versions = append(b.versions, v)
	}

	b.res.parts = c.parts
	b.defineHost()
	b.defineNFS()
	b.defineVM()
	hostParts := c.parts["seq"] || c.parts["rand"] || c.parts["small"] || c.parts["untar"] || c.parts["heal"]
	hostWorkloads := b.hostWorkloadIDs()

	// The host filesystems.
	var hostFS []fsUnderTest
	if c.systems[sysLocal] {
		dir := filepath.Join(root, "local")
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		hostFS = append(hostFS, &localFS{dir: dir})
	}
	var cv *cairnVolume
	needCairn := (c.systems[sysCairnFUSE] && hostParts) || (c.systems[sysCairnNFS] && c.parts["nfscp"]) || (c.systems["vm"] && c.parts["vm"])
	if needCairn {
		cv, err = startCairn(ctx, c.cairnBin, filepath.Join(root, "cairn"), b.cl)
		if err == nil {
			err = cv.mount(ctx)
		}
		if err != nil {
			// cairn is what is measured: a failure to start is a failure.
			b.logf("cairn: %v", err)
			for _, w := range b.res.workloads {
				for _, s := range []string{sysCairnFUSE, sysCairnNFS, sysVMCairnN, sysVMCairn9} {
					b.res.fail(w.id, s, fmt.Errorf("cairn volume did not start: %v", err))
				}
			}
			cv = nil
		} else if c.systems[sysCairnFUSE] {
			hostFS = append(hostFS, cv)
		}
	}
	var gl *glusterFS
	if c.systems[sysGluster] && hostParts {
		reason := ""
		if skip := os.Getenv("BENCH_GLUSTER_SKIP"); skip != "" && c.glusterVol == "" {
			reason = "not run: " + skip
		} else if c.glusterVol == "" || c.glusterMnt == "" {
			reason = "not run: no GlusterFS volume (make bench-gluster installs GlusterFS; bench/run.sh sets up a volume when it is installed)"
		} else {
			gl = &glusterFS{vol: c.glusterVol, mnt: c.glusterMnt}
			if err := gl.check(ctx); err != nil {
				reason = "not run: GlusterFS volume: " + oneLine(err.Error())
				gl = nil
			} else {
				hostFS = append(hostFS, gl)
				b.versions = append(b.versions, gl.version)
			}
		}
		if reason != "" {
			b.logf("gluster: %s", reason)
			for _, id := range hostWorkloads {
				b.res.skip(id, sysGluster, reason)
			}
		}
	}

	if _, err := exec.LookPath("fio"); err != nil {
		// seq, rand and heal write with fio: without it they are not run.
		for _, part := range []string{"seq", "rand", "heal"} {
			if !c.parts[part] {
				continue
			}
			c.parts[part] = false
			for _, w := range b.res.workloads {
				if w.part == part {
					for _, fs := range hostFS {
						if w.id != wHeal || fs.ID() != sysLocal {
							b.res.skip(w.id, fs.ID(), "not run: fio not installed (apt-get install fio)")
						}
					}
				}
			}
		}
	}
	if c.parts["seq"] {
		b.logf("== sequential 1M write and cold read")
		b.runSeq(ctx, hostFS)
		b.progressReport()
	}
	if c.parts["rand"] {
		b.logf("== 4 KiB random I/O")
		b.runRand(ctx, hostFS)
		b.progressReport()
	}
	if c.parts["heal"] {
		b.logf("== heal after a brick was killed")
		b.runHeal(ctx, hostFS)
		b.progressReport()
	}
	if c.parts["small"] {
		b.logf("== small files and ls -l")
		b.runSmall(ctx, hostFS)
		b.progressReport()
	}
	if c.parts["untar"] {
		b.logf("== untar of /usr/include")
		if err := b.ensureTarball(ctx); err != nil {
			for _, fs := range hostFS {
				b.res.fail(wUntar, fs.ID(), err)
			}
		} else {
			b.runUntar(ctx, hostFS)
		}
		b.progressReport()
	}
	if c.parts["nfscp"] && (c.systems[sysCairnNFS] || c.systems[sysGanesha]) {
		b.logf("== NFSv3 through libnfs nfs-cp")
		b.runNFSPart(ctx, cv)
		b.progressReport()
	}
	if c.parts["vm"] && c.systems["vm"] {
		b.logf("== NFSv3 and 9P through the kernel clients in the VM")
		b.runVMPart(ctx, cv)
		b.progressReport()
	}
	if c.parts["gobench"] {
		b.logf("== go test -bench ./vfs/client ./vfs/replicate")
		b.runGoBench(ctx)
	}
	if ctx.Err() != nil {
		b.note("Interrupted (%v): partial results.", context.Cause(ctx))
		if err := b.writeReport(false); err != nil {
			b.logf("report: %v", err)
		}
		return ctx.Err()
	}
	return b.writeReport(true)
}

func (b *bench) hostWorkloadIDs() []string {
	var ids []string
	for _, w := range b.res.workloads {
		if w.part != "nfscp" && w.part != "vm" && b.cfg.parts[w.part] {
			ids = append(ids, w.id)
		}
	}
	return ids
}

func (b *bench) runHeal(ctx context.Context, fss []fsUnderTest) {
	for run := 1; run <= b.cfg.runs; run++ {
		for _, fs := range fss {
			if ctx.Err() != nil {
				return
			}
			var err error
			switch v := fs.(type) {
			case *cairnVolume:
				err = b.healCairn(ctx, v, run)
			case *glusterFS:
				err = b.healGluster(ctx, v, run)
			default:
				continue
			}
			if err != nil {
				b.logf("heal %s run %d: %v", fs.ID(), run, err)
				b.res.fail(wHeal, fs.ID(), fmt.Errorf("run %d: %w", run, err))
			}
		}
	}
}

func (b *bench) runNFSPart(ctx context.Context, cv *cairnVolume) {
	c := b.cfg
	var servers []*nfsServer
	skipBoth := func(sys, reason string) {
		b.res.skip(wNFSWrite, sys, reason)
		b.res.skip(wNFSRead, sys, reason)
	}
	if _, err := exec.LookPath("nfs-cp"); err != nil {
		for _, s := range []string{sysCairnNFS, sysGanesha} {
			if c.systems[s] {
				skipBoth(s, "not run: nfs-cp not installed (apt-get install libnfs-utils)")
			}
		}
		return
	}
	if c.systems[sysCairnNFS] && cv != nil {
		if err := cv.startGateway(ctx); err != nil {
			b.res.fail(wNFSWrite, sysCairnNFS, err)
			b.res.fail(wNFSRead, sysCairnNFS, err)
		} else {
			servers = append(servers, &nfsServer{
				id: sysCairnNFS, export: "/" + cv.name, nfsPort: cv.nfsPort, mntPort: cv.nfsPort,
				cold: func(ctx context.Context) error {
					cv.stopGateway()
					if err := dropCaches(); err != nil {
						return err
					}
					return cv.startGateway(ctx)
				},
				remove: func(name string) error { return os.Remove(filepath.Join(cv.mnt, name)) },
			})
		}
	}
	if c.systems[sysGanesha] {
		g, err := b.ganesha(ctx)
		if err != nil {
			skipBoth(sysGanesha, "not run: "+oneLine(err.Error()))
		} else {
			servers = append(servers, &nfsServer{
				id: sysGanesha, export: g.export, nfsPort: g.nfsPort, mntPort: g.mntPort,
				cold:   func(context.Context) error { return dropCaches() },
				remove: func(name string) error { return os.Remove(filepath.Join(g.export, name)) },
			})
		}
	}
	b.runNFSCopy(ctx, servers)
	if cv != nil {
		cv.stopGateway()
	}
}

// ganesha starts nfs-ganesha once per run (the nfs-cp and VM parts share it).
func (b *bench) ganesha(ctx context.Context) (*ganesha, error) {
	b.ganeshaOnce.Do(func() {
		b.ganeshaSrv, b.ganeshaErr = startGanesha(ctx, b.root, b.cl)
		if b.ganeshaErr == nil {
			if v := dpkgVersion("nfs-ganesha"); v != "" {
				b.versions = append(b.versions, "nfs-ganesha "+v)
			}
		}
	})
	return b.ganeshaSrv, b.ganeshaErr
}

func (b *bench) runVMPart(ctx context.Context, cv *cairnVolume) {
	// One VM for every system, each cairn mount next to its baseline, so
	// that the systems compared are measured in the same boot (vmScript).
	var cairnNFS, cairn9P, ganeshaNFS, diod9P []vmMount
	if cv != nil {
		if err := cv.startGateway(ctx); err != nil {
			for _, w := range vmWorkloads {
				b.res.fail(w, sysVMCairnN, err)
				b.res.fail(w, sysVMCairn9, err)
			}
		} else {
			cairnNFS = []vmMount{nfsVMMount(sysVMCairnN, "/"+cv.name, cv.nfsPort, cv.nfsPort)}
			cairn9P = []vmMount{ninepVMMount(sysVMCairn9, cv.name, cv.p9Port)}
		}
	}
	if g, err := b.ganesha(ctx); err != nil {
		for _, w := range vmWorkloads {
			b.res.skip(w, sysVMGanesha, "not run: "+oneLine(err.Error()))
		}
	} else {
		ganeshaNFS = []vmMount{nfsVMMount(sysVMGanesha, g.export, g.nfsPort, g.mntPort)}
	}
	if dir, port, err := startDiod(ctx, b.root, b.cl); err != nil {
		for _, w := range vmWorkloads {
			b.res.skip(w, sysVMDiod, "not run: "+oneLine(err.Error()))
		}
	} else {
		diod9P = []vmMount{ninepVMMount(sysVMDiod, dir, port)}
		if v := dpkgVersion("diod"); v != "" {
			b.versions = append(b.versions, "diod "+v)
		}
	}
	var all []vmMount
	for _, ms := range [][]vmMount{cairnNFS, ganeshaNFS, cairn9P, diod9P} {
		all = append(all, ms...)
	}
	b.runVM(ctx, [][]vmMount{all})
	if cv != nil {
		cv.stopGateway()
	}
}

// runGoBench runs the Go benchmarks of the client and replicate
// translators and keeps their output for the report.
func (b *bench) runGoBench(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "go", "test", "-run", "^$", "-bench", ".", "-benchtime", b.cfg.goBenchTime, "-count", "1",
		"./vfs/client/", "./vfs/replicate/")
	cmd.Dir = b.cfg.repo
	out, err := cmd.CombinedOutput()
	b.goBenchOut = fmt.Sprintf("$ go test -run '^$' -bench . -benchtime %s -count 1 ./vfs/client/ ./vfs/replicate/\n%s", b.cfg.goBenchTime, out)
	if err != nil {
		b.goBenchOut += fmt.Sprintf("(exit: %v)\n", err)
		b.logf("go test -bench: %v", err)
	}
}

// ensureTarball makes the tar of /usr/include once per machine (kept in
// the work directory across runs, so every run extracts the same bytes).
// --quick extracts /usr/include/linux only (about 800 entries).
func (b *bench) ensureTarball(ctx context.Context) error {
	src, name := "include", "usr-include.tar"
	if b.cfg.quick {
		src, name = "include/linux", "usr-include-linux.tar"
	}
	b.cfg.tarball = filepath.Join(b.cfg.workdir, name)
	if _, err := os.Stat(b.cfg.tarball); err != nil {
		tmp := b.cfg.tarball + ".tmp"
		if _, err := runCmd(ctx, "tar", "-C", "/usr", "-cf", tmp, src); err != nil {
			return err
		}
		if err := os.Rename(tmp, b.cfg.tarball); err != nil {
			return err
		}
	}
	st, err := os.Stat(b.cfg.tarball)
	if err != nil {
		return err
	}
	out, err := runCmd(ctx, "tar", "-tf", b.cfg.tarball)
	if err != nil {
		return err
	}
	n := strings.Count(out, "\n")
	if w := b.res.workload(wUntar); w != nil {
		w.title = fmt.Sprintf("untar of /usr/%s (%.0f MiB, %s entries)", src, float64(st.Size())/(1<<20), thousands(n))
	}
	return nil
}

// exitCode: 1 if a figure of an available system failed, or with
// --require-all if any system was not run.
func (b *bench) exitCode() int {
	code := 0
	for _, w := range b.res.workloads {
		for _, s := range b.res.rowSystems(w.id) {
			c := b.res.get(w.id, s)
			if c.failed != "" {
				code = 1
			}
			if c.notRun != "" && b.cfg.requireAll {
				code = 1
			}
		}
	}
	return code
}

// progressReport rewrites the report after each part, so that a run cut
// short (time limit, machine trouble) still leaves what it measured.
func (b *bench) progressReport() {
	if err := b.writeReport(false); err != nil {
		b.logf("report: %v", err)
	}
}

// writeReport writes the Markdown, CSV and PNG files; the final one also
// prints the table.
func (b *bench) writeReport(final bool) error {
	if err := os.MkdirAll(b.cfg.out, 0o755); err != nil {
		return err
	}
	base := filepath.Join(b.cfg.out, b.fileStem())
	notes := b.notes
	defer func() { b.notes = notes }()
	b.note("Noise: this machine is shared with other contributors' builds and tests; figures can move by tens of percent between runs. Load average (1, 5, 15 min) at start %s, at end %s.", b.loadStart, loadavg())
	if !final {
		b.note("Partial report, written %s: the run had not finished.", time.Now().UTC().Format("15:04 UTC"))
	}
	md := b.markdown()
	if err := os.WriteFile(base+".md", []byte(md), 0o644); err != nil {
		return err
	}
	if err := b.writeCSV(base + ".csv"); err != nil {
		return err
	}
	if err := b.writeChart(base + ".png"); err != nil {
		b.logf("chart: %v", err)
	}
	if final && !b.quiet {
		fmt.Println(md)
		b.logf("wrote %s.{md,csv,png}", base)
	}
	return nil
}

// safeRemoveAll removes dir unless something is still mounted below it
// (removing through a live mount would delete a volume's content, or hang).
func safeRemoveAll(dir string) {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(unescapeMount(f[4])+"/", dir+"/") {
			fmt.Fprintf(os.Stderr, "bench: %s still mounted; leaving %s\n", f[4], dir)
			return
		}
	}
	_ = os.RemoveAll(dir)
}

func firstLine(b []byte, err error) string {
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
}

func dpkgVersion(pkg string) string {
	return firstLine(exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output())
}

func gitDescribe(repo string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = repo
	return firstLine(cmd.Output())
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairnfs/cairn/integration/vm"
)

// VM workload ids: the kernel NFSv3 and v9fs clients in the QEMU guest.
const (
	wVMWrite  = "vm-write"
	wVMRead   = "vm-read"
	wVMCreate = "vm-files-create"
	wVMStat   = "vm-files-stat"
	wVMRFiles = "vm-files-read"
	wVMDelete = "vm-files-delete"
)

func (b *bench) defineVM() {
	c := b.cfg
	r := b.res
	r.define(workload{wVMWrite, fmt.Sprintf("VM: write %s + fsync", mib(c.vmMiB)), "MiB/s", true, "vm"})
	r.define(workload{wVMRead, fmt.Sprintf("VM: read %s, cold", mib(c.vmMiB)), "MiB/s", true, "vm"})
	n := fmt.Sprintf("VM: %s × %d KiB files", thousands(c.vmFiles), c.fileSize/1024)
	r.define(workload{wVMCreate, n + ": create", "files/s", true, "vm"})
	r.define(workload{wVMStat, n + ": stat", "files/s", true, "vm"})
	r.define(workload{wVMRFiles, n + ": read", "files/s", true, "vm"})
	r.define(workload{wVMDelete, n + ": delete", "files/s", true, "vm"})
}

var vmWorkloads = []string{wVMWrite, wVMRead, wVMCreate, wVMStat, wVMRFiles, wVMDelete}

// vmMount is one filesystem the guest mounts.
type vmMount struct {
	sys   string // system id (vm-…)
	fs    string // nfs | 9p
	src   string // mount source
	opts  string
	ports []int
}

// vmScript mounts every filesystem given as "SYS FSTYPE SOURCE OPTS" lines
// in $MOUNTS, then runs RUNS rounds; in each round every mounted system in
// turn gets a MIB MiB write + fsync with checksum, a read after
// drop_caches (checksum compared), and the small-file phases. The order
// alternates between rounds (A B C D, D C B A, ...). Why: the guest runs
// under software emulation, whose speed drifts by tens of percent between
// boots and over minutes (the same server measured 5.8 and 11.8 MiB/s in
// two boots 40 minutes apart, while runs within one boot stayed within
// about 10 %); systems compared must share the guest's speed, so they are
// measured in the same boot, round by round. Result lines: "BENCH SYS
// METRIC RUN VALUE"; a failing system gets "FAIL SYS ..." and no more
// rounds.
const vmScript = `set -u
i=0
echo "$MOUNTS" >/tmp/mounts
: >/tmp/mounted
: >/tmp/failed
while read -r sys fstype src opts <&3; do
	[ -n "$sys" ] || continue
	i=$((i + 1))
	m=/mnt/b$i
	mkdir -p $m
	if gtool mount -t "$fstype" -o "$opts" "$src" $m; then
		echo "$sys $m" >>/tmp/mounted
	else
		echo "FAIL $sys mount"
		dmesg | tail -5
	fi
done 3</tmp/mounts
r=1
while [ $r -le $RUNS ]; do
	if [ $((r % 2)) -eq 1 ]; then
		cp /tmp/mounted /tmp/order
	else
		awk '{l[NR] = $0} END {for (k = NR; k > 0; k--) print l[k]}' /tmp/mounted >/tmp/order
	fi
	while read -r sys m <&4; do
		grep -qx "$sys" /tmp/failed && continue
		w=$(gtool writesum $m/big.$r $MIB $r) || { echo "FAIL $sys write: $w"; echo "$sys" >>/tmp/failed; continue; }
		echo "BENCH $sys vm-write $r $(echo "$w" | awk '{print $4}')"
		gtool dropcaches
		rd=$(gtool readsum $m/big.$r) || { echo "FAIL $sys read: $rd"; echo "$sys" >>/tmp/failed; continue; }
		echo "BENCH $sys vm-read $r $(echo "$rd" | awk '{print $4}')"
		[ "$(echo "$w" | awk '{print $2}')" = "$(echo "$rd" | awk '{print $2}')" ] || echo "FAIL $sys checksum"
		rm -f $m/big.$r
		/vmtest/files/smallfiles -settle 1100ms $m/small.$r $FILES $FSIZE >/tmp/sf.out 2>&1 || { echo "FAIL $sys smallfiles: $(cat /tmp/sf.out)"; echo "$sys" >>/tmp/failed; continue; }
		while read -r phase n secs rate rest; do
			echo "BENCH $sys vm-files-$phase $r $rate"
		done </tmp/sf.out
		rmdir $m/small.$r
	done 4</tmp/order
	r=$((r + 1))
done
while read -r sys m; do
	umount $m || umount -l $m
done </tmp/mounted
echo VMDONE
`

// runVM boots one VM per group of servers and runs the script against
// the group's mounts (runVMPart makes one group: see vmScript for why).
func (b *bench) runVM(ctx context.Context, groups [][]vmMount) {
	img, err := vm.Prepare(ctx)
	if err != nil {
		for _, g := range groups {
			for _, m := range g {
				for _, w := range vmWorkloads {
					b.res.skip(w, m.sys, "not run: VM unavailable: "+oneLine(err.Error()))
				}
			}
		}
		return
	}
	tool := filepath.Join(b.cfg.workdir, "smallfiles")
	if _, err := os.Stat(tool); err != nil {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", tool, "./bench/smallfiles")
		cmd.Dir = b.cfg.repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			for _, g := range groups {
				for _, m := range g {
					for _, w := range vmWorkloads {
						b.res.fail(w, m.sys, fmt.Errorf("go build ./bench/smallfiles: %v %s", err, out))
					}
				}
			}
			return
		}
	}
	for _, g := range groups {
		if len(g) == 0 || ctx.Err() != nil {
			continue
		}
		var lines []string
		var fwd []int
		for _, m := range g {
			lines = append(lines, strings.Join([]string{m.sys, m.fs, m.src, m.opts}, " "))
			fwd = append(fwd, m.ports...)
		}
		// A guard against a hung guest, generous for TCG on a loaded
		// machine (seen: 2–6 MiB/s, 10–30 small files/s).
		timeout := 15*time.Minute + time.Duration(b.cfg.runs*len(g))*(time.Duration(b.cfg.vmMiB)*time.Second+time.Duration(b.cfg.vmFiles)*400*time.Millisecond)
		b.logf("VM: booting for %s (timeout %v)", strings.Join(sysIDs(g), ", "), timeout.Round(time.Minute))
		pr, pw := io.Pipe()
		done := make(chan struct{})
		seen := map[string]bool{}
		go func() {
			defer close(done)
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				l := sc.Text()
				b.logf("  guest: %s", l)
				f := strings.Fields(l)
				switch {
				case len(f) == 5 && f[0] == "BENCH":
					run, _ := strconv.Atoi(f[3])
					v, err := strconv.ParseFloat(f[4], 64)
					if err != nil {
						continue
					}
					b.record(f[2], f[1], run, v)
					seen[f[1]] = true
				case len(f) >= 2 && f[0] == "FAIL":
					for _, w := range vmWorkloads {
						b.res.fail(w, f[1], fmt.Errorf("%s", strings.Join(f[2:], " ")))
					}
				}
			}
		}()
		res, err := img.Run(ctx, vm.Options{
			Script:  vmScript,
			Forward: fwd,
			Env: map[string]string{
				"MOUNTS": strings.Join(lines, "\n"), "RUNS": strconv.Itoa(b.cfg.runs),
				"MIB": strconv.Itoa(b.cfg.vmMiB), "FILES": strconv.Itoa(b.cfg.vmFiles), "FSIZE": strconv.Itoa(b.cfg.fileSize),
			},
			Files:   map[string]string{"smallfiles": tool},
			Mem:     1024,
			Timeout: timeout,
			Output:  pw,
		})
		pw.Close()
		<-done
		if err == nil && res.Exit != 0 {
			err = fmt.Errorf("guest script exit %d", res.Exit)
		}
		if res != nil {
			b.vmInfo = fmt.Sprintf("QEMU guest: kernel %s, %s, 2 vCPUs, 1 GiB", res.Kernel, res.Accel)
			b.logf("VM: done in %v (%s)", res.Elapsed.Round(time.Second), res.Accel)
		}
		for _, m := range g {
			if err != nil {
				for _, w := range vmWorkloads {
					b.res.fail(w, m.sys, err)
				}
			} else if !seen[m.sys] {
				for _, w := range vmWorkloads {
					b.res.fail(w, m.sys, fmt.Errorf("no figures from the guest"))
				}
			}
		}
	}
}

func sysIDs(g []vmMount) []string {
	var s []string
	for _, m := range g {
		s = append(s, m.sys)
	}
	return s
}

// nfsVMMount is the mount of an NFSv3 server on the host's loopback from
// the guest, without portmapper or NLM (as ../shared/vmtest does).
func nfsVMMount(sys, export string, nfsPort, mntPort int) vmMount {
	s := vm.ServerIP
	return vmMount{sys: sys, fs: "nfs", src: s + ":" + export,
		opts:  fmt.Sprintf("vers=3,proto=tcp,port=%d,mountport=%d,mountproto=tcp,mountvers=3,nolock,addr=%s,mountaddr=%s", nfsPort, mntPort, s, s),
		ports: []int{nfsPort, mntPort}}
}

// ninepVMMount is a 9P2000.L mount; msize is an upper bound the server
// negotiates down (diod to 64 KiB).
func ninepVMMount(sys, aname string, port int) vmMount {
	return vmMount{sys: sys, fs: "9p", src: vm.ServerIP,
		opts:  fmt.Sprintf("trans=tcp,port=%d,version=9p2000.L,aname=%s,uname=root,access=user,msize=1048576", port, aname),
		ports: []int{port}}
}

// startDiod runs diod exporting a local directory on a loopback port.
func startDiod(ctx context.Context, root string, cl *cleanup) (string, int, error) {
	bin, err := exec.LookPath("diod")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/diod"); err2 == nil {
			bin = "/usr/sbin/diod"
		} else {
			return "", 0, fmt.Errorf("diod %w (apt-get install diod)", errNotInstalled)
		}
	}
	dir := filepath.Join(root, "diod-export")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	port, err := freePort()
	if err != nil {
		return "", 0, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := startProc("diod", filepath.Join(root, "diod.out"), bin, "-f", "-n", "-l", addr, "-e", dir, "-L", filepath.Join(root, "diod.log"))
	if err != nil {
		return "", 0, err
	}
	cl.push(func() { p.stop(5 * time.Second) })
	if err := waitListen(ctx, addr, p, 20*time.Second); err != nil {
		return "", 0, err
	}
	return dir, port, nil
}

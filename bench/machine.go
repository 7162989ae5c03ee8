package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// memTotalGiB reads MemTotal from /proc/meminfo.
func memTotalGiB() float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / (1 << 20)
			}
		}
	}
	return 0
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func kernelRelease() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return ""
	}
	var s strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		s.WriteByte(byte(c))
	}
	return s.String()
}

// fsOf names the filesystem and device holding dir (longest mount prefix).
func fsOf(dir string) string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return ""
	}
	best, out := -1, ""
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		mp := unescapeMount(f[1])
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > best {
			best, out = len(mp), fmt.Sprintf("%s on %s (%s)", f[2], f[0], mp)
		}
	}
	return out
}

func (b *bench) mode() string {
	if b.cfg.quick {
		return "quick"
	}
	return "full"
}

// machineShort is the machine as it appears in file names: cores and memory.
func (b *bench) machineShort() string {
	return fmt.Sprintf("%dcpu-%.0fGiB", runtime.NumCPU(), memTotalGiB())
}

// fileStem is the results' base name: date, time, machine, mode.
func (b *bench) fileStem() string {
	return fmt.Sprintf("%s-%s-%s", b.start.UTC().Format("2006-01-02-1504"), b.machineShort(), b.mode())
}

func (b *bench) headerLines() []string {
	c := b.cfg
	lines := []string{
		fmt.Sprintf("Machine: %d cores (%s), %.1f GiB memory (/proc/meminfo), Linux %s", runtime.NumCPU(), cpuModel(), memTotalGiB(), kernelRelease()),
		fmt.Sprintf("Disk under test: %s; the local directory, the bricks of both volumes and the NFS/9P exports are all on it", fsOf(c.workdir)),
		fmt.Sprintf("Mode: %s; %d run(s) per figure", b.mode(), c.runs),
		"Software: " + strings.Join(b.versions, "; "),
		"cairn volume: replica 2, two `cairn brick` processes on 127.0.0.1 with the volfiles `cairn up` generates (vfs/stack), " +
			"FUSE-mounted with `cairn mount 127.0.0.1:PORT:bench DIR -o backupvolfile-server=…,direct-io-mode=disable,noatime`",
		"GlusterFS volume: replica 2, two bricks on 127.0.0.2 (loopback; gluster refuses 127.0.0.1 as a brick host; created with force), `mount -t glusterfs -o noatime`, " + glusterOptions(),
		fmt.Sprintf("Cold cache = `sync; echo 3 > /proc/sys/vm/drop_caches`, and for FUSE mounts an unmount and remount; small-file phases "+
			"are %v apart (past the 1 s FUSE entry/attribute timeouts); `ls -l` runs with LC_ALL=C, output to /dev/null", c.settle),
		"fio: ioengine=psync, fallocate=none; random I/O with direct=1 where the filesystem takes O_DIRECT, 4 jobs share one file",
	}
	if b.vmInfo != "" {
		lines = append(lines, b.vmInfo+"; NFS mounted vers=3,proto=tcp,nolock; 9P trans=tcp,version=9p2000.L,msize=1048576 (servers negotiate down)")
	}
	return lines
}

// glusterOptions describes the GlusterFS volume options the run set
// (BENCH_GLUSTER_SET, applied by bench/gluster.sh), or says there were none.
func glusterOptions() string {
	set := strings.Fields(os.Getenv("BENCH_GLUSTER_SET"))
	if len(set) == 0 {
		return "default volume options"
	}
	return "default volume options except `gluster volume set` " + strings.Join(set, ", ")
}

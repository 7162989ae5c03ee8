// Command gtool is the static helper the VM harness puts in the guest as
// /bin/gtool (standard library only, built with CGO_ENABLED=0). Busybox
// lacks what the gateway tests need: a mount(2) that passes an NFS option
// string verbatim (busybox's mount turns host:/path into its own
// portmapper-based mount), nanosecond time, checksummed bulk I/O with
// throughput, and a way to ask the host to act mid-script.
//
//	gtool mount -t TYPE [-o DATA] SOURCE TARGET
//	gtool now                      monotonic seconds with nanoseconds
//	gtool writesum FILE MIB [SEED] write MIB MiB of seeded data, fsync, close;
//	                               print "sha256 <hex> write <MiB/s>"
//	gtool readsum FILE             read to EOF; print "sha256 <hex> read <MiB/s>"
//	gtool dropcaches               sync; echo 3 > /proc/sys/vm/drop_caches
//	gtool ctl HOST:PORT WORDS...   send a line to the test on the host and
//	                               print its one-line answer (exit 1 unless
//	                               it starts with "ok")
//	gtool asuser UID GID CMD ARGS  run CMD with that uid and gid and no
//	                               supplementary groups (busybox's setpriv
//	                               cannot change ids)
//	gtool smallfiles DIR N         create N 4 KiB files (write, close); print files/s
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

func die(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "gtool: "+f+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		die("usage: gtool mount|now|writesum|readsum|dropcaches|ctl|smallfiles ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "mount":
		doMount(args)
	case "now":
		var ts syscall.Timespec
		if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 1, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
			die("clock_gettime: %v", e)
		}
		fmt.Printf("%d.%09d\n", ts.Sec, ts.Nsec)
	case "writesum":
		doWrite(args)
	case "readsum":
		doRead(args)
	case "dropcaches":
		syscall.Sync()
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
			die("%v", err)
		}
	case "ctl":
		doCtl(args)
	case "smallfiles":
		doSmall(args)
	case "asuser":
		doAsUser(args)
	default:
		die("unknown subcommand %q", os.Args[1])
	}
}

var flagOpts = map[string]uintptr{
	"ro": syscall.MS_RDONLY, "nosuid": syscall.MS_NOSUID, "nodev": syscall.MS_NODEV,
	"noexec": syscall.MS_NOEXEC, "sync": syscall.MS_SYNCHRONOUS, "noatime": syscall.MS_NOATIME,
	"relatime": syscall.MS_RELATIME,
}

func doMount(args []string) {
	var fstype, data string
	var flags uintptr
	var pos []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-t":
			i++
			if i < len(args) {
				fstype = args[i]
			}
		case "-o":
			i++
			if i < len(args) {
				data = args[i]
			}
		default:
			pos = append(pos, args[i])
		}
	}
	if fstype == "" || len(pos) != 2 {
		die("usage: gtool mount -t TYPE [-o DATA] SOURCE TARGET")
	}
	var keep []string
	for _, o := range strings.Split(data, ",") {
		if f, ok := flagOpts[o]; ok {
			flags |= f
		} else if o != "" && o != "rw" {
			keep = append(keep, o)
		}
	}
	if err := syscall.Mount(pos[0], pos[1], fstype, flags, strings.Join(keep, ",")); err != nil {
		die("mount -t %s -o %s %s %s: %v", fstype, data, pos[0], pos[1], err)
	}
}

// fill makes deterministic, incompressible-looking data (xorshift).
func fill(buf []byte, state *uint64) {
	for i := 0; i+8 <= len(buf); i += 8 {
		x := *state
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		*state = x
		binary.LittleEndian.PutUint64(buf[i:], x)
	}
}

func rate(n int64, d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(n)/(1<<20)/d.Seconds())
}

func doWrite(args []string) {
	if len(args) < 2 {
		die("usage: gtool writesum FILE MIB [SEED]")
	}
	mib, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		die("bad MIB: %v", err)
	}
	seed := uint64(88172645463325252)
	if len(args) > 2 {
		s, _ := strconv.ParseUint(args[2], 10, 64)
		seed ^= s
	}
	buf := make([]byte, 1<<20)
	h := sha256.New()
	t0 := time.Now()
	f, err := os.OpenFile(args[0], os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		die("%v", err)
	}
	for i := int64(0); i < mib; i++ {
		fill(buf, &seed)
		h.Write(buf)
		if _, err := f.Write(buf); err != nil {
			die("write: %v", err)
		}
	}
	if err := f.Sync(); err != nil {
		die("fsync: %v", err)
	}
	if err := f.Close(); err != nil {
		die("close: %v", err)
	}
	fmt.Printf("sha256 %s write %s\n", hex.EncodeToString(h.Sum(nil)), rate(mib<<20, time.Since(t0)))
}

func doRead(args []string) {
	if len(args) < 1 {
		die("usage: gtool readsum FILE")
	}
	t0 := time.Now()
	f, err := os.Open(args[0])
	if err != nil {
		die("%v", err)
	}
	n, sum, err := hashAll(f)
	if err != nil {
		die("read: %v", err)
	}
	f.Close()
	fmt.Printf("sha256 %s read %s\n", hex.EncodeToString(sum), rate(n, time.Since(t0)))
}

// readSize is the request size of readsum, as the write side writes.
const readSize = 1 << 20

// hashAll reads r to EOF in readSize reads and returns the byte count and
// SHA-256. Not io.CopyBuffer(h, r, buf) on the file itself: *os.File
// implements WriterTo, which CopyBuffer prefers, and its fallback copies
// through its own 32 KiB buffer, so buf went unused and an uncached 9P
// mount saw 32 KiB Treads.
func hashAll(r io.Reader) (int64, []byte, error) {
	h := sha256.New()
	n, err := io.CopyBuffer(h, onlyReader{r}, make([]byte, readSize))
	return n, h.Sum(nil), err
}

// onlyReader hides every method of its Reader but Read.
type onlyReader struct{ io.Reader }

func doCtl(args []string) {
	if len(args) < 2 {
		die("usage: gtool ctl HOST:PORT WORDS...")
	}
	c, err := net.DialTimeout("tcp", args[0], 10*time.Second)
	if err != nil {
		die("ctl: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(120 * time.Second))
	fmt.Fprintln(c, strings.Join(args[1:], " "))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && line == "" {
		die("ctl: %v", err)
	}
	line = strings.TrimSpace(line)
	fmt.Println(line)
	if !strings.HasPrefix(line, "ok") {
		os.Exit(1)
	}
}

func doSmall(args []string) {
	if len(args) < 2 {
		die("usage: gtool smallfiles DIR N")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		die("bad N: %v", err)
	}
	buf := make([]byte, 4096)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		f, err := os.Create(filepath.Join(args[0], fmt.Sprintf("small-%06d", i)))
		if err != nil {
			die("%v", err)
		}
		if _, err := f.Write(buf); err != nil {
			die("%v", err)
		}
		if err := f.Close(); err != nil {
			die("%v", err)
		}
	}
	fmt.Printf("smallfiles %d %.1f files/s\n", n, float64(n)/time.Since(t0).Seconds())
}

func doAsUser(args []string) {
	if len(args) < 3 {
		die("usage: gtool asuser UID GID CMD ARGS...")
	}
	uid, err1 := strconv.Atoi(args[0])
	gid, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil {
		die("bad uid or gid")
	}
	if err := syscall.Setgroups(nil); err != nil {
		die("setgroups: %v", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		die("setgid: %v", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		die("setuid: %v", err)
	}
	path := args[2]
	if !strings.Contains(path, "/") {
		path = "/bin/" + path
	}
	die("exec %s: %v", path, syscall.Exec(path, args[2:], os.Environ()))
}

package gateway

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/brick/posix"
	"github.com/cairnfs/cairn/gateway"
	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/vfs"
)

// TestNFSCPThroughput measures sequential NFS throughput with a real
// userspace client, libnfs's nfs-cp (Debian libnfs-utils): a 1 GiB file
// (CAIRN_BENCH_MIB) copied to the gateway and back, over the brick stack
// in-process (locks → posix, no network to bricks) and over the two-brick
// mirrored volume (client → gRPC → bricks). It runs when CAIRN_BENCH is
// set (make bench); figures are logged and appended to CAIRN_BENCH_OUT.
func TestNFSCPThroughput(t *testing.T) {
	if os.Getenv("CAIRN_BENCH") == "" {
		t.Skip("set CAIRN_BENCH=1 to measure")
	}
	if _, err := exec.LookPath("nfs-cp"); err != nil {
		need(t, "nfs-cp not installed (apt-get install libnfs-utils)")
	}
	if os.Geteuid() != 0 {
		need(t, "needs root (bricks keep trusted.* xattrs)")
	}
	mib := 1024
	if s := os.Getenv("CAIRN_BENCH_MIB"); s != "" {
		mib, _ = strconv.Atoi(s)
	}
	src := filepath.Join(t.TempDir(), "src")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, int64(mib)<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()

	p, err := posix.New(posix.Config{Directory: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	vols := []struct {
		name string
		fs   func() vfs.Translator
	}{
		{"locks-posix", func() vfs.Translator { return locks.New(p) }},
		{"replica2", func() vfs.Translator { return startVolume(t).top }},
	}
	var rows []string
	for _, v := range vols {
		port := harness.FreePort(t)
		gw := startGateway(t, gateway.Config{Volume: "vol", FS: v.fs(), NoRootSquash: true,
			NFSAddr: fmt.Sprintf("127.0.0.1:%d", port)})
		url := fmt.Sprintf("nfs://127.0.0.1/vol/big?nfsport=%d&mountport=%d&version=3", port, port)
		dst := filepath.Join(t.TempDir(), "back")
		w := timeCmd(t, "nfs-cp", src, url)
		r := timeCmd(t, "nfs-cp", url, dst)
		if !sameFile(t, src, dst) {
			t.Fatalf("%s: the copy read back differs", v.name)
		}
		rows = append(rows,
			fmt.Sprintf("BENCH nfs-cp %s write MiB/s %.1f (%d MiB)", v.name, float64(mib)/w.Seconds(), mib),
			fmt.Sprintf("BENCH nfs-cp %s read MiB/s %.1f (%d MiB)", v.name, float64(mib)/r.Seconds(), mib))
		gw.stop()
	}
	for _, r := range rows {
		t.Log(r)
	}
	if out := os.Getenv("CAIRN_BENCH_OUT"); out != "" {
		if f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			for _, r := range rows {
				fmt.Fprintln(f, r)
			}
			f.Close()
		}
	}
}

func timeCmd(t *testing.T, name string, args ...string) time.Duration {
	t.Helper()
	t0 := time.Now()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return time.Since(t0)
}

func sameFile(t *testing.T, a, b string) bool {
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	ra, rb := bufio.NewReaderSize(fa, 1<<20), bufio.NewReaderSize(fb, 1<<20)
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(ra, ba)
		nb, eb := io.ReadFull(rb, bb)
		if na != nb || string(ba[:na]) != string(bb[:nb]) {
			return false
		}
		if ea != nil || eb != nil {
			return ea == eb || (ea == io.ErrUnexpectedEOF && eb == io.ErrUnexpectedEOF)
		}
	}
}

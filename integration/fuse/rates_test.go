package fuse

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/client/fusetest"
)

// TestMetadataRates times small-file operations through the mount for each
// in-process stack, to see what the FUSE binding itself costs against what
// the stack below it costs. CAIRN_BENCH=1 runs it.
func TestInProcessMetadataRates(t *testing.T) {
	if os.Getenv("CAIRN_BENCH") == "" {
		t.Skip("set CAIRN_BENCH=1")
	}
	const n = 2000
	for _, st := range []string{"mem", "posix", "replicate", "full"} {
		t.Run(st, func(t *testing.T) {
			s := fusetest.Start(t, st, "", 1)
			dir := filepath.Join(s.Mounts[0], "d")
			os.Mkdir(dir, 0o755)
			data := make([]byte, 1024)
			rate := func(what string, fn func(p string) error) {
				start := time.Now()
				for i := 0; i < n; i++ {
					if err := fn(filepath.Join(dir, fmt.Sprintf("f%05d", i))); err != nil {
						t.Fatal(err)
					}
				}
				t.Logf("%-10s %-8s %8.0f/s", st, what, n/time.Since(start).Seconds())
			}
			rate("create", func(p string) error { return os.WriteFile(p, data, 0o644) })
			time.Sleep(1100 * time.Millisecond)
			var sb syscall.Stat_t
			rate("stat", func(p string) error { return syscall.Stat(p, &sb) })
			time.Sleep(1100 * time.Millisecond)
			rate("read", func(p string) error { _, err := os.ReadFile(p); return err })
			time.Sleep(1100 * time.Millisecond)
			start := time.Now()
			if out, err := exec.Command("ls", "-l", dir).CombinedOutput(); err != nil {
				t.Fatal(err, string(out))
			}
			t.Logf("%-10s ls -l %d: %v", st, n, time.Since(start))
			rate("unlink", os.Remove)
		})
	}
}

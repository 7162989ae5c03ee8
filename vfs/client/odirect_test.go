package client

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/brick/posix"
	"github.com/cairnfs/cairn/vfs"
)

// TestFilterODirect opens and creates files with O_DIRECT through a
// client, with filter-O_DIRECT on and off, and looks at the descriptors
// the brick (in this process) then holds on them: O_DIRECT reaches the
// brick's open(2) only when the client does not filter it. Data written
// and read through such handles is the same either way.
func TestFilterODirect(t *testing.T) {
	for _, filter := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[filter], func(t *testing.T) {
			if os.Geteuid() != 0 {
				t.Skip("storage/posix needs root (trusted.* xattrs)")
			}
			dir := filepath.Join(t.TempDir(), "export")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			probe, err := os.OpenFile(filepath.Join(t.TempDir(), "probe"), os.O_CREATE|os.O_RDWR|syscall.O_DIRECT, 0o644)
			if err != nil {
				t.Skipf("the test directory's file system refuses O_DIRECT: %v", err)
			}
			probe.Close()
			p, err := posix.New(posix.Config{Directory: dir})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			c, _ := connected(t, p, func(cfg *Config) { cfg.FilterODirect = filter })
			ctx := context.Background()

			data := bytes.Repeat([]byte("0123456789abcdef"), 4096/16)
			attr, fh, e := c.Create(ctx, vfs.RootGFID, "created", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR | syscall.O_DIRECT})
			if e != 0 {
				t.Fatalf("create with O_DIRECT: %v", e)
			}
			if n, e := c.Write(ctx, attr.GFID, fh, data, 0); e != 0 || n != len(data) {
				t.Fatalf("write: %d, %v", n, e)
			}
			checkDirect(t, dir, "created", !filter)
			if e := c.Release(ctx, attr.GFID, fh); e != 0 {
				t.Fatal(e)
			}

			fh, e = c.Open(ctx, attr.GFID, syscall.O_RDONLY|syscall.O_DIRECT)
			if e != 0 {
				t.Fatalf("open with O_DIRECT: %v", e)
			}
			got := make([]byte, len(data))
			if n, e := c.Read(ctx, attr.GFID, fh, got, 0); e != 0 || n != len(data) || !bytes.Equal(got, data) {
				t.Fatalf("read back: %d, %v, equal %v", n, e, bytes.Equal(got, data))
			}
			checkDirect(t, dir, "created", !filter)
			if e := c.Release(ctx, attr.GFID, fh); e != 0 {
				t.Fatal(e)
			}
		})
	}
}

// checkDirect fails unless this process holds a readable or writable
// descriptor on dir/name, and unless O_DIRECT is set on one of them
// exactly when want is true.
func checkDirect(t *testing.T, dir, name string, want bool) {
	t.Helper()
	target, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	open, direct := 0, 0
	for _, fd := range fds {
		st, err := os.Stat(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil || !os.SameFile(st, target) {
			continue
		}
		info, err := os.ReadFile(filepath.Join("/proc/self/fdinfo", fd.Name()))
		if err != nil {
			continue
		}
		flags := fdinfoFlags(t, string(info))
		if flags&0o10000000 != 0 { // O_PATH: the brick's handle, not an open file
			continue
		}
		open++
		if flags&syscall.O_DIRECT != 0 {
			direct++
		}
	}
	if open == 0 {
		t.Fatalf("the brick holds no open descriptor on %s", name)
	}
	if got := direct > 0; got != want {
		t.Errorf("%d of the brick's %d descriptors on %s have O_DIRECT; want O_DIRECT %v", direct, open, name, want)
	}
}

// fdinfoFlags returns the octal "flags:" field of a /proc/*/fdinfo file.
func fdinfoFlags(t *testing.T, info string) int {
	t.Helper()
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 8, 64)
			if err != nil {
				t.Fatalf("fdinfo flags %q: %v", v, err)
			}
			return int(n)
		}
	}
	t.Fatalf("no flags in fdinfo %q", info)
	return 0
}

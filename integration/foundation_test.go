// Package integration holds end-to-end tests across real processes: cairn
// bricks started from volfiles, clients built from client volfiles, and the
// cairn command line.
package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/client"
	"github.com/cairnfs/cairn/vfs/stack"
	"github.com/cairnfs/cairn/vfs/volfile"
	"golang.org/x/sys/unix"
)

// buildClient builds the stack of a client volfile in this process.
func buildClient(t *testing.T, text string) *volfile.Graph {
	t.Helper()
	path := filepath.Join(t.TempDir(), "client.vol")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := volfile.Parse(path, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g, err := volfile.BuildGraph(ctx, f, stack.Registry(stack.Env{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	if err := stack.WaitConnected(ctx, g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestTwoBrickProcessesServeClientVolfile starts two `cairn brick`
// processes on 127.0.0.1 from volfiles, builds a client from a client
// volfile (protocol/client ×2 → replicate → io-threads → io-cache) and checks
// that what the client writes lands on both export directories with the
// same GFID.
func TestTwoBrickProcessesServeClientVolfile(t *testing.T) {
	b1 := harness.StartBrick(t, harness.BrickOptions{})
	b2 := harness.StartBrick(t, harness.BrickOptions{})
	g := buildClient(t, harness.ClientVolfile([]*harness.Brick{b1, b2}, "5"))
	ctx := context.Background()

	dir, errno := g.Mkdir(ctx, vfs.RootGFID, "docs", &vfs.CreateIn{Mode: 0o755})
	if errno != 0 {
		t.Fatalf("mkdir: %v", errno)
	}
	attr, fh, errno := g.Create(ctx, dir.GFID, "hello.txt", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if errno != 0 {
		t.Fatalf("create: %v", errno)
	}
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	for off := 0; off < len(data); off += 1 << 20 {
		end := min(off+1<<20, len(data))
		if n, errno := g.Write(ctx, attr.GFID, fh, data[off:end], int64(off)); errno != 0 || n != end-off {
			t.Fatalf("write at %d: n=%d %v", off, n, errno)
		}
	}
	if errno := g.Flush(ctx, attr.GFID, fh); errno != 0 {
		t.Fatalf("flush: %v", errno)
	}
	if errno := g.Release(ctx, attr.GFID, fh); errno != 0 {
		t.Fatalf("release: %v", errno)
	}
	got := make([]byte, len(data))
	for off := 0; off < len(got); {
		n, errno := g.Read(ctx, attr.GFID, 0, got[off:min(off+1<<20, len(got))], int64(off))
		if errno != 0 || n == 0 {
			t.Fatalf("read at %d: n=%d %v", off, n, errno)
		}
		off += n
	}
	if !bytes.Equal(got, data) {
		t.Fatal("read back differs from what was written")
	}
	for _, b := range []*harness.Brick{b1, b2} {
		p := filepath.Join(b.Dir, "docs", "hello.txt")
		onDisk, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("brick %s: %v", b.Addr(), err)
		}
		if !bytes.Equal(onDisk, data) {
			t.Fatalf("brick %s holds different content", b.Addr())
		}
		gfid := make([]byte, 16)
		if n, err := unix.Lgetxattr(p, "trusted.cairn.gfid", gfid); err != nil || n != 16 {
			t.Fatalf("brick %s: gfid xattr: n=%d %v", b.Addr(), n, err)
		}
		if vfs.GFID(gfid) != attr.GFID {
			t.Fatalf("brick %s: gfid %x, client saw %v", b.Addr(), gfid, attr.GFID)
		}
	}
}

// TestBrickServesClientVolfile checks volume-filename.NAME: a mount fetches
// its client volfile from a brick by name, and an unknown name is ENOENT.
func TestBrickServesClientVolfile(t *testing.T) {
	clientVol := filepath.Join(t.TempDir(), "web_sites.vol")
	want := "# the client volfile\nvolume x\ntype storage/posix\noption directory /tmp\nend-volume\n"
	if err := os.WriteFile(clientVol, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	b := harness.StartBrick(t, harness.BrickOptions{Volfiles: map[string]string{"web_sites": clientVol}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := client.FetchVolfile(ctx, "127.0.0.1", b.Port, "web_sites")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("fetched %q, want %q", got, want)
	}
	if _, err := client.FetchVolfile(ctx, "127.0.0.1", b.Port, "nope"); vfs.Errno(err) != syscall.ENOENT {
		t.Fatalf("unknown volfile name: %v, want ENOENT", err)
	}
}

// TestAuthRefusesAddress checks auth.addr.<subvol>.allow/.reject on a real
// brick: an address not allowed is refused with a clear error on the client.
func TestAuthRefusesAddress(t *testing.T) {
	cases := []struct {
		name          string
		opts          harness.BrickOptions
		local         string
		allowed       bool
		errorMentions string
	}{
		{"allowed by wildcard", harness.BrickOptions{Allow: "127.0.0.*"}, "127.0.0.1", true, ""},
		{"allowed by CIDR", harness.BrickOptions{Allow: "127.0.0.0/8"}, "127.0.0.3", true, ""},
		{"not in allow list", harness.BrickOptions{Allow: "127.0.0.1,127.0.0.5"}, "127.0.0.2", false, "127.0.0.2"},
		{"rejected wins over allow", harness.BrickOptions{Allow: "*", Reject: "127.0.0.2"}, "127.0.0.2", false, "127.0.0.2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := harness.StartBrick(t, tc.opts)
			c, err := client.New(client.Config{RemoteHost: "127.0.0.1", RemotePort: b.Port, RemoteSubvolume: b.Name, LocalAddr: tc.local, PingTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = c.WaitConnect(ctx)
			_, errno := c.GetAttr(ctx, vfs.RootGFID, 0)
			if tc.allowed {
				if err != nil || errno != 0 {
					t.Fatalf("allowed client refused: %v / %v", err, errno)
				}
				return
			}
			if err == nil || errno == 0 {
				t.Fatalf("refused client got through: err=%v errno=%v", err, errno)
			}
			if vfs.Errno(err) != syscall.EACCES {
				t.Errorf("refusal is %v, want an error wrapping EACCES", err)
			}
			if !strings.Contains(err.Error(), tc.errorMentions) || !strings.Contains(err.Error(), "auth") {
				t.Errorf("refusal %q should name the address %s and the auth rule", err, tc.errorMentions)
			}
		})
	}
}

// TestVolfileCheckCLI runs `cairn volfile check` on the seed tutorial's two
// files: the brick file passes; the client file fails verbatim on its
// undefined subvolume with file:line and a did-you-mean, and passes once the
// one name is corrected.
func TestVolfileCheckCLI(t *testing.T) {
	bin := harness.Binary(t)
	seed := filepath.Join(harness.RepoRoot(), "vfs", "volfile", "testdata")
	out, err := exec.Command(bin, "volfile", "check", filepath.Join(seed, "glusterfsd.vol")).CombinedOutput()
	if err != nil {
		t.Fatalf("brick volfile: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "volfile", "check", filepath.Join(seed, "web_sites.vol")).CombinedOutput()
	if err == nil {
		t.Fatalf("the verbatim client volfile was accepted:\n%s", out)
	}
	for _, want := range []string{"web_sites.vol:17", `"brick1_web_sites" is not defined`, `did you mean "brick1_com_web_sites"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if out, err := exec.Command(bin, "volfile", "check", filepath.Join(seed, "web_sites_fixed.vol")).CombinedOutput(); err != nil {
		t.Fatalf("corrected client volfile: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.vol")
	os.WriteFile(bad, []byte("volume p\ntype storage/posix\noption directory /tmp\nend-volume\nvolume c\ntype performance/io-cache\noption cache-size 512XB\nsubvolumes p\nend-volume\n"), 0o644)
	out, _ = exec.Command(bin, "volfile", "check", bad).CombinedOutput()
	if !strings.Contains(string(out), "bad.vol:7") || !strings.Contains(string(out), "512XB") {
		t.Errorf("malformed size not reported at bad.vol:7:\n%s", out)
	}
}

// TestBrickProcs: a brick process runs with half the CPUs Go would use as
// GOMAXPROCS (at least one), unless GOMAXPROCS is set in its environment.
func TestBrickProcs(t *testing.T) {
	want := fmt.Sprintf("procs=%d", max(1, runtime.GOMAXPROCS(0)/2))
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		t.Setenv("GOMAXPROCS", "")
		os.Unsetenv("GOMAXPROCS")
	}
	b := harness.StartBrick(t, harness.BrickOptions{})
	if log := b.Log(); !strings.Contains(log, want) {
		t.Errorf("brick log has no %s:\n%s", want, log)
	}
	t.Setenv("GOMAXPROCS", "3")
	b = harness.StartBrick(t, harness.BrickOptions{})
	if log := b.Log(); !strings.Contains(log, "procs=3") {
		t.Errorf("brick started with GOMAXPROCS=3: log has no procs=3:\n%s", log)
	}
}

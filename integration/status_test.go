package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/vfs"
)

// TestStatusAndHealInfo checks `cairn status` and `cairn heal info` against
// real bricks: all up and clean; one brick killed (shown down) while a
// file is written (a pending heal on the surviving brick); and after the
// brick returns and `cairn heal full` runs, clean again.
func TestStatusAndHealInfo(t *testing.T) {
	bin := harness.Binary(t)
	b1 := harness.StartBrick(t, harness.BrickOptions{})
	b2 := harness.StartBrick(t, harness.BrickOptions{})
	volText := harness.ClientVolfile([]*harness.Brick{b1, b2}, "2")
	volPath := filepath.Join(t.TempDir(), "client.vol")
	if err := os.WriteFile(volPath, []byte(volText), 0o644); err != nil {
		t.Fatal(err)
	}
	cairn := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("cairn %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	expect := func(out, pattern string) {
		t.Helper()
		if !regexp.MustCompile(pattern).MatchString(out) {
			t.Fatalf("output does not match %q:\n%s", pattern, out)
		}
	}

	out := cairn("status", "--volfile", volPath)
	expect(out, `brick1\s+127\.0\.0\.1:\d+\s+Y`)
	expect(out, `brick2\s+127\.0\.0\.1:\d+\s+Y`)
	expect(out, `Pending heal entries: 0`)

	b2.Kill()
	g := buildClient(t, volText)
	ctx := context.Background()
	a, fh, errno := g.Create(ctx, vfs.RootGFID, "while-down", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if errno != 0 {
		t.Fatalf("create with a brick down: %v", errno)
	}
	if _, errno := g.Write(ctx, a.GFID, fh, []byte("written while brick 2 was down"), 0); errno != 0 {
		t.Fatalf("write: %v", errno)
	}
	g.Release(ctx, a.GFID, fh)
	g.Close()

	out = cairn("status", "--volfile", volPath)
	expect(out, `brick2\s+127\.0\.0\.1:\d+\s+N`)
	expect(out, `brick1: [1-9]\d* pending heal`)
	out = cairn("heal", "--volfile", volPath, "info")
	expect(out, `(?s)Brick brick1.*Number of entries: [1-9]`)
	expect(out, `(?s)Brick brick2\nStatus: Transport endpoint is not connected`)

	b2.Start()
	out = cairn("heal", "--volfile", volPath, "full")
	expect(out, `heal of mirror finished`)
	out = cairn("status", "--volfile", volPath)
	expect(out, `Pending heal entries: 0`)
	data, err := os.ReadFile(filepath.Join(b2.Dir, "while-down"))
	if err != nil || string(data) != "written while brick 2 was down" {
		t.Fatalf("brick 2 after heal: %q %v", data, err)
	}
}

package client_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/brick/posix"
	"github.com/cairnfs/cairn/client/fusetest"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// Stacks the mount server subprocess can build.
var stacks = map[string]fusetest.Builder{
	// mem: one in-memory brick with locks; the quickest check of the binding.
	"mem": func(ctx context.Context, dir string) (vfs.Translator, error) {
		return locks.New(memfs.New(memfs.Config{})), nil
	},
	// posix: one on-disk brick (locks → posix).
	"posix": func(ctx context.Context, dir string) (vfs.Translator, error) {
		return brick(filepath.Join(dir, "b1"))
	},
}

func brick(dir string) (vfs.Translator, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := posix.New(posix.Config{Directory: dir})
	if err != nil {
		return nil, err
	}
	return locks.New(p), nil
}

func TestMain(m *testing.M) {
	fusetest.Serve(stacks)
	os.Exit(m.Run())
}

// posixSkips are the posixtest tests that cannot pass on any mount, with
// the reason (the README lists them).
var posixSkips = map[string]string{
	"FcntlFlockLocksFile": "expects EAGAIN when one process takes a read lock over its own write lock through a second " +
		"descriptor; POSIX locks of one process never conflict (ext4 grants it too), and go-fuse's own TestAll skips it",
}

func TestPosixMem(t *testing.T) {
	s := fusetest.Start(t, "mem", "", 1)
	fusetest.Posix(t, s.Mounts[0], posixSkips)
}

func TestPosixBrick(t *testing.T) {
	s := fusetest.Start(t, "posix", "", 1)
	fusetest.Posix(t, s.Mounts[0], posixSkips)
}

func TestToolsBrick(t *testing.T) {
	s := fusetest.Start(t, "posix", "-o direct-io-mode=disable,noatime", 1)
	fusetest.Tools(t, s.Mounts[0], fusetest.ToolsConfig{FsName: "fusetest:posix"})
}

func TestDifferentialBrick(t *testing.T) {
	s := fusetest.Start(t, "posix", "", 1)
	for seed := int64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			dir := filepath.Join(s.Mounts[0], fmt.Sprint("diff", seed))
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			fusetest.Differential(t, dir, seed, 2000)
		})
	}
}

func TestTwoMounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		args string
		to   fusetest.Timeouts
	}{
		{"defaults", "", fusetest.Timeouts{Entry: time.Second, Attr: time.Second}},
		{"negative", "-o negative-timeout=1,entry-timeout=2,attribute-timeout=0.5",
			fusetest.Timeouts{Entry: 2 * time.Second, Attr: time.Second / 2, Negative: time.Second}},
		{"zero", "-o entry-timeout=0,attribute-timeout=0", fusetest.Timeouts{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fusetest.Start(t, "posix", tc.args, 2)
			fusetest.TwoMounts(t, s.Mounts[0], s.Mounts[1], tc.to)
		})
	}
}

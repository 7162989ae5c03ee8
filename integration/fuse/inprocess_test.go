package fuse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/brick/posix"
	"github.com/cairnfs/cairn/client/fusetest"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/stack"
	"github.com/cairnfs/cairn/vfs/volfile"
)

// The in-process tests mount stacks built inside a mount server that is
// this test binary again (fusetest.Start), so the whole client stack —
// the FUSE binding, io-cache, io-threads, replicate, locks, posix — runs
// under the race detector while real programs use the mount. The tests
// over brick processes (fuse_test.go) cover the gRPC path and mount.cairn.

// stacks are what the in-process mount server can build.
var stacks = map[string]fusetest.Builder{
	// mem: one in-memory brick with locks; the quickest check of the binding.
	"mem": func(ctx context.Context, dir string) (vfs.Translator, error) {
		return locks.New(memfs.New(memfs.Config{})), nil
	},
	// posix: one on-disk brick (locks → posix).
	"posix": func(ctx context.Context, dir string) (vfs.Translator, error) {
		return brick(filepath.Join(dir, "b1"))
	},
	// replicate: the volume of the issue, in one process: replicate over
	// two bricks (locks → posix each), built from a volfile.
	"replicate": func(ctx context.Context, dir string) (vfs.Translator, error) {
		return fromVolfile(ctx, dir, replicateVolfile)
	},
	// full: the tutorial's client stack (io-cache → io-threads →
	// replicate) over two in-process bricks.
	"full": func(ctx context.Context, dir string) (vfs.Translator, error) {
		return fromVolfile(ctx, dir, replicateVolfile+fullVolfileTop)
	},
	// default: the performance translators `cairn up` stacks (write-behind,
	// md-cache, open-behind ...) over the same mirror.
	"default": func(ctx context.Context, dir string) (vfs.Translator, error) {
		return fromVolfile(ctx, dir, replicateVolfile+stack.PerformanceLayers("default", "mirror"))
	},
}

const replicateVolfile = `
volume posix1
  type storage/posix
  option directory {{DIR}}/b1
end-volume
volume locks1
  type features/locks
  subvolumes posix1
end-volume
volume posix2
  type storage/posix
  option directory {{DIR}}/b2
end-volume
volume locks2
  type features/locks
  subvolumes posix2
end-volume
volume mirror
  type cluster/replicate
  subvolumes locks1 locks2
end-volume
`

const fullVolfileTop = `
volume iothreads
  type performance/io-threads
  option thread-count 16
  subvolumes mirror
end-volume
volume iocache
  type performance/io-cache
  option cache-size 64MB
  option cache-timeout 1
  subvolumes iothreads
end-volume
`

// fromVolfile builds a stack from a volfile whose {{DIR}} is dir.
func fromVolfile(ctx context.Context, dir, text string) (vfs.Translator, error) {
	for _, b := range []string{"b1", "b2"} {
		if err := os.MkdirAll(filepath.Join(dir, b), 0o755); err != nil {
			return nil, err
		}
	}
	text = strings.ReplaceAll(text, "{{DIR}}", dir)
	f, err := volfile.Parse(filepath.Join(dir, "test.vol"), []byte(text))
	if err != nil {
		return nil, err
	}
	g, err := volfile.BuildGraph(ctx, f, stack.Registry(stack.Env{}))
	if err != nil {
		return nil, err
	}
	return graphStack{g.Top(), g}, nil
}

// graphStack closes the whole graph when the mount server closes its stack.
type graphStack struct {
	vfs.Translator
	g *volfile.Graph
}

func (s graphStack) Close() error { return s.g.Close() }

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

func TestInProcessPosixBrick(t *testing.T) {
	s := fusetest.Start(t, "posix", "", 1)
	fusetest.Posix(t, s.Mounts[0], fusetest.Skips)
}

func TestInProcessPosixReplicate(t *testing.T) {
	s := fusetest.Start(t, "replicate", "", 1)
	fusetest.Posix(t, s.Mounts[0], fusetest.Skips)
}

func TestInProcessPosixFullStack(t *testing.T) {
	s := fusetest.Start(t, "full", "-o direct-io-mode=disable", 1)
	fusetest.Posix(t, s.Mounts[0], fusetest.Skips)
}

func TestInProcessTools(t *testing.T) {
	for _, tc := range []struct{ stack, args string }{
		{"full", "-o direct-io-mode=disable,noatime"},
		{"replicate", "-o direct-io-mode=enable"},
	} {
		t.Run(tc.stack+"/"+tc.args, func(t *testing.T) {
			s := fusetest.Start(t, tc.stack, tc.args, 1)
			fusetest.Tools(t, s.Mounts[0], fusetest.ToolsConfig{
				FsName:   "fusetest:" + tc.stack,
				DirectIO: strings.Contains(tc.args, "direct-io-mode=enable"),
			})
		})
	}
}

func TestInProcessDifferential(t *testing.T) {
	s := fusetest.Start(t, "full", "", 1)
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

func TestInProcessTwoMounts(t *testing.T) {
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
			s := fusetest.Start(t, "full", tc.args, 2)
			fusetest.TwoMounts(t, s.Mounts[0], s.Mounts[1], tc.to)
		})
	}
}

func TestInProcessPermissions(t *testing.T) {
	for _, tc := range []struct{ stack, args string }{
		{"replicate", "-o allow_other"},
		{"replicate", "-o allow_other,default_permissions"},
		{"default", "-o allow_other"},
	} {
		t.Run(tc.stack+"/"+tc.args, func(t *testing.T) {
			s := fusetest.Start(t, tc.stack, tc.args, 1)
			fusetest.Permissions(t, s.Mounts[0])
			fusetest.Privileges(t, s.Mounts[0])
		})
	}
}

package client_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/client"
	"github.com/cairnfs/cairn/client/fusetest"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// Stacks the mount server subprocess can build. The stacks over bricks
// and replicate, and the longer suites, run in integration/fuse.
var stacks = map[string]fusetest.Builder{
	// mem: one in-memory brick with locks; the quickest check of the binding.
	"mem": func(ctx context.Context, dir string) (vfs.Translator, error) {
		return locks.New(memfs.New(memfs.Config{})), nil
	},
}

// envMain makes the test binary act as mount.cairn (client.Main) with
// fake volfile servers: host "down" refuses, any other answers.
const envMain = "CAIRN_CLIENT_TEST_MAIN"

var fakeDeps = client.Deps{
	Fetch: func(ctx context.Context, addr, vol string) ([]byte, error) {
		if strings.HasPrefix(addr, "down:") {
			return nil, fmt.Errorf("connection refused")
		}
		return []byte("# volfile of " + vol + " from " + addr), nil
	},
	Build: func(ctx context.Context, volfile []byte, s client.Server) (vfs.Translator, error) {
		if !strings.HasPrefix(string(volfile), "# volfile of ") {
			return nil, fmt.Errorf("bad volfile %q", volfile)
		}
		return locks.New(memfs.New(memfs.Config{})), nil
	},
}

func TestMain(m *testing.M) {
	if os.Getenv(envMain) != "" {
		os.Exit(client.Main(os.Args, os.Args[1:], os.Stderr, fakeDeps))
	}
	fusetest.Serve(stacks)
	os.Exit(m.Run())
}

func TestPosixMem(t *testing.T) {
	s := fusetest.Start(t, "mem", "", 1)
	fusetest.Posix(t, s.Mounts[0], fusetest.Skips)
}

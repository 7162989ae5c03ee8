package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/server"
	"github.com/cairnfs/cairn/vfs/memfs"
)

func TestFetchVolfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web_sites.vol")
	content := "volume web_sites\n  type protocol/client\nend-volume\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// GetVolfile needs no auth: this brick refuses everybody.
	b := startBrick(t, memfs.New(memfs.Config{}), func(cfg *server.Config) {
		cfg.Auth = nil
		cfg.Volfiles = map[string]string{"web_sites": path, "broken": filepath.Join(t.TempDir(), "gone")}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := FetchVolfile(ctx, "127.0.0.1", b.port, "web_sites")
	if err != nil || string(got) != content {
		t.Fatalf("FetchVolfile = %q, %v", got, err)
	}
	if _, err := FetchVolfile(ctx, "127.0.0.1", b.port, "nosuch"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("unknown volfile: %v", err)
	}
	if _, err := FetchVolfile(ctx, "127.0.0.1", b.port, "broken"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("missing file: %v", err)
	}
	b.stop()
	if _, err := FetchVolfile(ctx, "127.0.0.1", b.port, "web_sites"); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("stopped brick: %v", err)
	}
}

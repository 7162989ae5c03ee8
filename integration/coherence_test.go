package integration

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairnfs/cairn/integration/harness"
)

// TestGeneratedStackCoherence: two FUSE mounts of a volume with the client
// volfile cairn generates (md-cache 600 s with cache-invalidation, io-cache
// write-through) see each other's changes as soon as the kernel's own 1 s
// caches expire, not after md-cache-timeout: the bricks report each change
// to the other mount. Covered: a rewrite of a file the other mount has
// cached (attributes and data), a name made in a directory the other mount
// made (which it knows complete), a rename, a chmod, an unlink.
func TestGeneratedStackCoherence(t *testing.T) {
	dir := t.TempDir()
	m1 := filepath.Join(t.TempDir(), "m1")
	m2 := filepath.Join(t.TempDir(), "m2")
	port := harness.FreePortPair(t)
	u := startUp(t, "--dir", dir, "--mount", m1, "--port", fmt.Sprint(port),
		"--nfs", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)), "--9p", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)))
	defer u.stop(t)
	if err := os.MkdirAll(m2, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	spec := fmt.Sprintf("127.0.0.1:%d:cairn", port)
	if out, err := exec.CommandContext(ctx, harness.Binary(t), "mount", spec, m2).CombinedOutput(); err != nil {
		t.Fatalf("cairn mount %s %s: %v\n%s", spec, m2, err, out)
	}
	defer exec.Command("umount", m2).Run()

	// eventually waits for cond on mount 2: the kernel's entry and
	// attribute timeouts are 1 s; without the bricks' reports md-cache
	// would answer from its cache for 600 s.
	eventually := func(what string, cond func() error) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := cond()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("mount 2 did not see %s within 10 s: %v", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	content := func(p, want string) func() error {
		return func() error {
			got, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if string(got) != want {
				return fmt.Errorf("read %q, want %q", got, want)
			}
			return nil
		}
	}
	absent := func(p string) func() error {
		return func() error {
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("stat: %v, want ENOENT", err)
			}
			return nil
		}
	}

	// Mount 2 caches a file's attributes and data; mount 1 rewrites it.
	if err := os.WriteFile(filepath.Join(m1, "f"), []byte("first version"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually("a new file", content(filepath.Join(m2, "f"), "first version"))
	if err := os.WriteFile(filepath.Join(m1, "f"), []byte("the second, longer version"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually("a rewrite", content(filepath.Join(m2, "f"), "the second, longer version"))

	// Mount 2 makes a directory (known complete there) and looks a name
	// up in it; mount 1 then makes that name.
	if err := os.Mkdir(filepath.Join(m2, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(m2, "d", "g")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of a name not yet made: %v", err)
	}
	eventually("the directory", func() error { _, err := os.Stat(filepath.Join(m1, "d")); return err })
	if err := os.WriteFile(filepath.Join(m1, "d", "g"), []byte("made by mount 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually("a name made in its own directory", content(filepath.Join(m2, "d", "g"), "made by mount 1"))

	// Rename, chmod, unlink.
	if err := os.Rename(filepath.Join(m1, "f"), filepath.Join(m1, "d", "h")); err != nil {
		t.Fatal(err)
	}
	eventually("a rename's old name gone", absent(filepath.Join(m2, "f")))
	eventually("a rename's new name", content(filepath.Join(m2, "d", "h"), "the second, longer version"))
	if err := os.Chmod(filepath.Join(m1, "d", "h"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually("a chmod", func() error {
		st, err := os.Stat(filepath.Join(m2, "d", "h"))
		if err != nil {
			return err
		}
		if st.Mode().Perm() != 0o600 {
			return fmt.Errorf("mode %v", st.Mode().Perm())
		}
		return nil
	})
	if err := os.Remove(filepath.Join(m1, "d", "h")); err != nil {
		t.Fatal(err)
	}
	eventually("an unlink", absent(filepath.Join(m2, "d", "h")))
	if ents, err := os.ReadDir(filepath.Join(m2, "d")); err != nil || len(ents) != 1 || ents[0].Name() != "g" {
		names := []string{}
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("mount 2 lists d as %s (%v), want g", strings.Join(names, " "), err)
	}

	// Mount 2's kernel keeps that listing while d's mtime stays the same;
	// mount 1 adds a name, and md-cache must not keep answering d's old
	// mtime for 600 s either.
	if err := os.WriteFile(filepath.Join(m1, "d", "k"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually("a name added to a directory it has listed", func() error {
		ents, err := os.ReadDir(filepath.Join(m2, "d"))
		if err != nil {
			return err
		}
		if len(ents) != 2 || ents[0].Name() != "g" || ents[1].Name() != "k" {
			return fmt.Errorf("lists %d entries", len(ents))
		}
		return nil
	})
}

package fusetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Timeouts are a mount's cache timeouts, as given with -o.
type Timeouts struct {
	Entry, Attr, Negative time.Duration
}

// visibilitySlack is added to a cache timeout when waiting for a change to
// show through another mount: kernel timers are jiffy-grained and the
// checks themselves take time.
const visibilitySlack = 750 * time.Millisecond

// TwoMounts checks that changes made through mount a are seen through
// mount b of the same volume, each within the cache timeout that can hide
// it: new names within the negative timeout, removed and renamed names
// within the entry timeout, new content, size, mode and mtime within the
// attribute timeout. With zero timeouts changes must show at once.
func TwoMounts(t *testing.T, a, b string, to Timeouts) {
	dirA, dirB := filepath.Join(a, "two-mounts"), filepath.Join(b, "two-mounts")
	if err := os.Mkdir(dirA, 0o755); err != nil {
		t.Fatal(err)
	}
	within := func(what string, limit time.Duration, seen func() bool) {
		t.Helper()
		start := time.Now()
		deadline := start.Add(limit + visibilitySlack)
		for !seen() {
			if time.Now().After(deadline) {
				t.Errorf("%s: not visible through the second mount after %v (timeout %v)", what, time.Since(start), limit)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("%s: visible after %v (timeout %v)", what, time.Since(start).Round(time.Millisecond), limit)
	}
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	content := func(p string, want []byte) func() bool {
		return func() bool { got, err := os.ReadFile(p); return err == nil && bytes.Equal(got, want) }
	}

	// The directory made on a, then a file in it; b has looked neither up.
	within("new directory", to.Negative, func() bool { return exists(dirB) })
	fa, fb := filepath.Join(dirA, "f"), filepath.Join(dirB, "f")
	// b looks the name up before it exists, so a negative entry may be cached.
	if exists(fb) {
		t.Fatal("f exists before it was created")
	}
	v1 := []byte("version 1\n")
	if err := os.WriteFile(fa, v1, 0o644); err != nil {
		t.Fatal(err)
	}
	within("new file", to.Negative, content(fb, v1))

	// b has v1 in its page cache now. Same size, then a different size.
	v2 := []byte("version 2\n")
	time.Sleep(10 * time.Millisecond) // a different mtime
	if err := os.WriteFile(fa, v2, 0o644); err != nil {
		t.Fatal(err)
	}
	within("rewrite, same size", to.Attr, content(fb, v2))
	v3 := bytes.Repeat([]byte("version 3 is longer\n"), 1000)
	if err := os.WriteFile(fa, v3, 0o644); err != nil {
		t.Fatal(err)
	}
	within("rewrite, new size", to.Attr, content(fb, v3))

	// Appends seen through a descriptor b keeps open.
	g, err := os.Open(fb)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	h, err := os.OpenFile(fa, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.WriteString("appended\n"); err != nil {
		t.Fatal(err)
	}
	h.Close()
	within("append, through an open descriptor", to.Attr, func() bool {
		fi, err := g.Stat()
		return err == nil && fi.Size() == int64(len(v3))+9
	})

	if err := os.Chmod(fa, 0o600); err != nil {
		t.Fatal(err)
	}
	within("chmod", to.Attr, func() bool { fi, err := os.Stat(fb); return err == nil && fi.Mode().Perm() == 0o600 })
	// b has found the xattr absent (and may remember that), then a sets it.
	buf := make([]byte, 64)
	if _, err := unix.Getxattr(fb, "user.color", buf); err != unix.ENODATA {
		t.Fatalf("getxattr of an absent xattr: %v", err)
	}
	if err := unix.Setxattr(fa, "user.color", []byte("blue"), 0); err != nil {
		t.Fatal(err)
	}
	within("setxattr", to.Attr, func() bool {
		n, err := unix.Getxattr(fb, "user.color", buf)
		return err == nil && string(buf[:n]) == "blue"
	})
	mt := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(fa, mt, mt); err != nil {
		t.Fatal(err)
	}
	within("utimes", to.Attr, func() bool { fi, err := os.Stat(fb); return err == nil && fi.ModTime().Equal(mt) })

	// Rename and unlink: b's cached entries go stale.
	if err := os.Rename(fa, fa+".renamed"); err != nil {
		t.Fatal(err)
	}
	within("rename: old name gone", to.Entry, func() bool { return !exists(fb) })
	within("rename: new name present", to.Negative, func() bool { return exists(fb + ".renamed") })
	if err := os.Remove(fa + ".renamed"); err != nil {
		t.Fatal(err)
	}
	within("unlink", to.Entry, func() bool { _, err := os.Stat(fb + ".renamed"); return errors.Is(err, os.ErrNotExist) })

	// A listing of b shows a's new files.
	for i := 0; i < 20; i++ {
		if err := os.WriteFile(filepath.Join(dirA, fmt.Sprint("n", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	within("readdir", 0, func() bool { es, err := os.ReadDir(dirB); return err == nil && len(es) == 20 })

	// b keeps that listing (the kernel's readdir cache); names a makes or
	// removes afterwards show in b's listings once b's copy of the
	// directory's attributes expires and its new mtime drops the cache.
	listed := func(want int, name string, present bool) func() bool {
		return func() bool {
			es, err := os.ReadDir(dirB)
			if err != nil || len(es) != want {
				return false
			}
			found := false
			for _, e := range es {
				found = found || e.Name() == name
			}
			return found == present
		}
	}
	time.Sleep(10 * time.Millisecond) // a different mtime
	if err := os.WriteFile(filepath.Join(dirA, "late"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	within("readdir of a cached listing: a new name", to.Attr, listed(21, "late", true))
	time.Sleep(10 * time.Millisecond)
	if err := os.Remove(filepath.Join(dirA, "n0")); err != nil {
		t.Fatal(err)
	}
	within("readdir of a cached listing: a removed name", to.Attr, listed(20, "n0", false))
}

package fusetest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ListingFollowsChanges lists a directory after each kind of change made
// through the same mount and checks that the listing shows it at once.
// The mount lets the kernel keep directory listings (FOPEN_CACHE_DIR);
// every change the kernel makes to a directory drops its kept listing.
func ListingFollowsChanges(t *testing.T, dir string) {
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	expect := func(what, d string, want ...string) {
		t.Helper()
		es, err := os.ReadDir(d)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got := make([]string, 0, len(es))
		for _, e := range es {
			got = append(got, e.Name())
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("after %s, %s lists [%s], want [%s]", what, d, strings.Join(got, " "), strings.Join(want, " "))
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	expect("mkdir", dir, "other")
	expect("mkdir", dir, "other") // now from the kept listing
	must(os.WriteFile(filepath.Join(dir, "a"), nil, 0o644))
	expect("create", dir, "a", "other")
	must(os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "b")))
	expect("link", dir, "a", "b", "other")
	must(os.Symlink("a", filepath.Join(dir, "s")))
	expect("symlink", dir, "a", "b", "other", "s")
	must(os.Rename(filepath.Join(dir, "b"), filepath.Join(dir, "c")))
	expect("rename in the directory", dir, "a", "c", "other", "s")
	expect("rename into another directory (target, before)", other)
	must(os.Rename(filepath.Join(dir, "c"), filepath.Join(other, "c")))
	expect("rename out of the directory", dir, "a", "other", "s")
	expect("rename into another directory", other, "c")
	must(os.Remove(filepath.Join(dir, "s")))
	expect("unlink", dir, "a", "other")
	must(os.Mkdir(filepath.Join(dir, "d"), 0o755))
	expect("mkdir of a subdirectory", dir, "a", "d", "other")
	must(os.Remove(filepath.Join(dir, "d")))
	expect("rmdir", dir, "a", "other")
	// other/c and a are one file: rename(2) between them does nothing.
	must(os.Remove(filepath.Join(other, "c")))
	expect("unlink in another directory", other)
	must(os.WriteFile(filepath.Join(other, "e"), []byte("e"), 0o644))
	expect("create in another directory", other, "e")
	must(os.Rename(filepath.Join(other, "e"), filepath.Join(dir, "a"))) // replaces a
	expect("rename over a name", dir, "a", "other")
	expect("rename over a name (source directory)", other)
	if b, err := os.ReadFile(filepath.Join(dir, "a")); err != nil || string(b) != "e" {
		t.Fatalf("a after the rename over it: %q, %v", b, err)
	}
}

package fusetest

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// Posix runs go-fuse's posixtest suite against mnt, each test in a fresh
// directory mnt/posix/NAME that is removed afterwards. skip maps test names
// to the reason they cannot pass on this mount; they are reported as
// skipped with that reason.
func Posix(t *testing.T, mnt string, skip map[string]string) {
	names := make([]string, 0, len(posixtest.All))
	for name := range posixtest.All {
		names = append(names, name)
	}
	sort.Strings(names)
	base := filepath.Join(mnt, "posix")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		fn := posixtest.All[name]
		t.Run(name, func(t *testing.T) {
			if why, ok := skip[name]; ok {
				t.Skip(why)
			}
			dir := filepath.Join(base, name)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			fn(t, dir)
			if err := os.RemoveAll(dir); err != nil {
				t.Errorf("cleaning up: %v", err)
			}
		})
	}
}

package fusetest

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// Posix runs go-fuse's posixtest suite, plus Extra, against mnt, each test
// in a fresh directory mnt/posix/NAME that is removed afterwards. skip maps
// test names to the reason they cannot pass on this mount; they are
// reported as skipped with that reason.
func Posix(t *testing.T, mnt string, skip map[string]string) {
	all := map[string]func(*testing.T, string){}
	for name, fn := range posixtest.All {
		all[name] = fn
	}
	for name, fn := range Extra {
		all[name] = fn
	}
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)
	base := filepath.Join(mnt, "posix")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		fn := all[name]
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

// Skips are the posixtest tests that cannot pass on a cairn mount, with the
// reason; the README lists them.
var Skips = map[string]string{
	"FcntlFlockLocksFile": "expects EAGAIN when one process takes a read lock over its own write lock through a " +
		"second descriptor; POSIX locks of one process never conflict (ext4 grants it too), and go-fuse's own " +
		"TestAll skips it",
	"FstatDeleted": "compares st_blocks of a file before and after unlink, and on a replicated volume the brick's " +
		"st_blocks moves in between: ext4 places replicate's changelog xattrs (the GFID plus one pending counter " +
		"per brick, written by the delayed post-op up to a second after the write) in an extra 4 KiB xattr block " +
		"and counts delayed-allocation reservations until writeback; size, mode, owner, times and nlink all match",
	"OpenSymlinkRace": "a rename replacing the file between the kernel's lookup and OPEN makes the bricks answer " +
		"ESTALE for the deleted GFID; the kernel retries once with a fresh lookup, and when the test's shuffler " +
		"replaces the name again within that retry the application sees ESTALE, which the test does not accept " +
		"(go-fuse's own TestAll skips it too). OpenSymlinkRaceTolerant runs the same race accepting ESTALE and " +
		"still checks that no symlink is ever followed on the server side",
}

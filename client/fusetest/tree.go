package fusetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// MakeTree fills dir with a tree that exercises what copying tools must
// preserve: nested directories with unusual modes, files of sizes around
// page and request boundaries (up to 3 MiB), hard links, relative,
// absolute and dangling symlinks, a FIFO, user xattrs and old timestamps.
func MakeTree(t testing.TB, dir string, seed int64) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"a", "a/b", "a/b/c", "empty", "private"} {
		must(os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	sizes := []int{0, 1, 100, 4095, 4096, 4097, 65536, 131073, 1<<20 + 3, 3 << 20}
	for i, size := range sizes {
		data := make([]byte, size)
		rng.Read(data)
		p := filepath.Join(dir, []string{"a", "a/b", "a/b/c", "."}[i%4], fmt.Sprintf("f%d-%d", i, size))
		must(os.WriteFile(p, data, 0o644))
	}
	must(os.WriteFile(filepath.Join(dir, "a/exec.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "a/readonly"), []byte("ro"), 0o444))
	must(os.WriteFile(filepath.Join(dir, "private/secret"), []byte("s"), 0o600))
	must(os.Link(filepath.Join(dir, "a/exec.sh"), filepath.Join(dir, "a/b/hardlink")))
	must(os.Link(filepath.Join(dir, "a/exec.sh"), filepath.Join(dir, "hardlink2")))
	must(os.Symlink("b/c", filepath.Join(dir, "a/rel-link")))
	must(os.Symlink("/nonexistent/target", filepath.Join(dir, "dangling")))
	must(os.Symlink("../../f3-4096", filepath.Join(dir, "a/b/up-link")))
	must(syscall.Mkfifo(filepath.Join(dir, "a/fifo"), 0o640))
	must(unix.Setxattr(filepath.Join(dir, "a/readonly"), "user.cairn-test", []byte("xattr value"), 0))
	must(unix.Setxattr(filepath.Join(dir, "a/b"), "user.dir", []byte{0, 1, 2, 255}, 0))
	must(os.Chmod(filepath.Join(dir, "private"), 0o700))
	must(syscall.Chmod(filepath.Join(dir, "empty"), 0o2775)) // os.Chmod would drop setgid
	// Timestamps last, children before parents, so that creating entries
	// does not move them again.
	old := time.Date(2009, 3, 14, 15, 9, 26, 535897932, time.UTC)
	var paths []string
	must(filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}))
	sort.Sort(sort.Reverse(sort.StringSlice(paths)))
	for i, p := range paths {
		ts := old.Add(time.Duration(i) * time.Hour)
		tv := []unix.Timespec{unix.NsecToTimespec(ts.UnixNano()), unix.NsecToTimespec(ts.UnixNano())}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, p, tv, unix.AT_SYMLINK_NOFOLLOW))
	}
}

// TreeEntry is what CompareTrees looks at for one path.
type TreeEntry struct {
	Mode   os.FileMode
	Size   int64
	Sum    [32]byte // content of regular files
	Target string   // symlinks
	Mtime  time.Time
	Xattrs map[string]string
	Links  string // the other names of a hard-linked file, sorted
}

// ReadTree describes every entry under dir (dir itself is "."), following
// no symlinks.
func ReadTree(t testing.TB, dir string) map[string]TreeEntry {
	t.Helper()
	out := map[string]TreeEntry{}
	inodes := map[uint64][]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := TreeEntry{Mode: fi.Mode(), Mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec), Xattrs: readXattrs(p)}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.Size, e.Sum = int64(len(b)), sha256.Sum256(b)
			if st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		case fi.Mode()&os.ModeSymlink != 0:
			if e.Target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("reading tree %s: %v", dir, err)
	}
	for _, names := range inodes {
		sort.Strings(names)
		for _, n := range names {
			e := out[n]
			e.Links = strings.Join(names, ",")
			out[n] = e
		}
	}
	return out
}

func readXattrs(p string) map[string]string {
	sz, err := unix.Llistxattr(p, nil)
	if err != nil || sz == 0 {
		return nil
	}
	buf := make([]byte, sz)
	sz, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:sz]), "\x00"), "\x00") {
		if !strings.HasPrefix(name, "user.") {
			continue // security.* labels differ between file systems
		}
		v := make([]byte, 64<<10)
		n, err := unix.Lgetxattr(p, name, v)
		if err == nil {
			m[name] = string(v[:n])
		}
	}
	return m
}

// CompareOpts relaxes CompareTrees for tools that do not preserve
// everything.
type CompareOpts struct {
	// MtimeResolution is the precision to which mtimes must agree: 0 is
	// exact (cp -a), time.Second for tar's default format, negative
	// skips mtimes.
	MtimeResolution time.Duration
	NoXattrs        bool
	NoHardLinks     bool
}

// CompareTrees reports every difference between the trees under a and b.
func CompareTrees(t testing.TB, a, b string, o CompareOpts) {
	t.Helper()
	ta, tb := ReadTree(t, a), ReadTree(t, b)
	var problems []string
	for p, ea := range ta {
		eb, ok := tb[p]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: missing from %s", p, b))
			continue
		}
		if p != "." && ea.Mode != eb.Mode {
			problems = append(problems, fmt.Sprintf("%s: mode %v vs %v", p, ea.Mode, eb.Mode))
		}
		if ea.Size != eb.Size || ea.Sum != eb.Sum {
			problems = append(problems, fmt.Sprintf("%s: content differs (size %d vs %d)", p, ea.Size, eb.Size))
		}
		if ea.Target != eb.Target {
			problems = append(problems, fmt.Sprintf("%s: symlink %q vs %q", p, ea.Target, eb.Target))
		}
		if res := o.MtimeResolution; res >= 0 && p != "." {
			if res == 0 {
				res = time.Nanosecond
			}
			if !ea.Mtime.Truncate(res).Equal(eb.Mtime.Truncate(res)) {
				problems = append(problems, fmt.Sprintf("%s: mtime %v vs %v", p, ea.Mtime, eb.Mtime))
			}
		}
		if !o.NoXattrs && fmt.Sprint(ea.Xattrs) != fmt.Sprint(eb.Xattrs) {
			problems = append(problems, fmt.Sprintf("%s: xattrs %v vs %v", p, ea.Xattrs, eb.Xattrs))
		}
		if !o.NoHardLinks && ea.Links != eb.Links {
			problems = append(problems, fmt.Sprintf("%s: hard links %q vs %q", p, ea.Links, eb.Links))
		}
	}
	for p := range tb {
		if _, ok := ta[p]; !ok {
			problems = append(problems, fmt.Sprintf("%s: extra in %s", p, b))
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		if len(problems) > 30 {
			problems = append(problems[:30], fmt.Sprintf("… and %d more", len(problems)-30))
		}
		t.Errorf("trees %s and %s differ:\n  %s", a, b, strings.Join(problems, "\n  "))
	}
}

// Run runs a command in dir and returns its combined output, failing the
// test if it fails.
func Run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	out, err := RunErr(dir, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// RunErr is Run without failing, with a 5-minute limit.
func RunErr(dir string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return buf.String(), err
	case <-time.After(5 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		return buf.String(), fmt.Errorf("timed out after 5 minutes")
	}
}

// NeedTool skips (or fails under CI) when a command is not installed.
func NeedTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		skipOrFail(t, name+" is not installed (apt-get install -y "+name+")")
	}
}

//go:build linux

package sys

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func openDir(t *testing.T, path string) int {
	t.Helper()
	fd, err := Open(path, O_PATH|O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Close(fd) })
	return fd
}

// tree makes d/a/b/f, d/a/lnk -> b, d/a/out -> /etc, d/f.
func tree(t *testing.T) (string, int) {
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(d, "a", "b", "f"), []byte("f"), 0o644)
	os.WriteFile(filepath.Join(d, "f"), []byte("top"), 0o644)
	os.Symlink("b", filepath.Join(d, "a", "lnk"))
	os.Symlink("/etc", filepath.Join(d, "a", "out"))
	return d, openDir(t, d)
}

func TestOpenBeneath(t *testing.T) {
	_, dfd := tree(t)
	for _, open := range []struct {
		name string
		fn   func(int, string, int, uint32) (int, error)
	}{{"openat2", OpenBeneath}, {"walk", openBeneathWalk}} {
		t.Run(open.name, func(t *testing.T) {
			fd, err := open.fn(dfd, "a/b/f", syscall.O_RDONLY, 0)
			if err != nil {
				t.Fatalf("a/b/f: %v", err)
			}
			buf := make([]byte, 4)
			n, _ := Pread(fd, buf, 0)
			Close(fd)
			if string(buf[:n]) != "f" {
				t.Fatalf("read %q", buf[:n])
			}
			for _, bad := range []string{"a/lnk/f", "a/out/passwd", "a/out", "../x", "a/../f", "/etc/passwd", "a//b/f", ""} {
				if fd, err := open.fn(dfd, bad, syscall.O_RDONLY, 0); err == nil {
					Close(fd)
					t.Errorf("%q opened", bad)
				}
			}
			// O_PATH|O_NOFOLLOW gives the final symlink itself.
			fd, err = open.fn(dfd, "a/out", O_PATH|O_NOFOLLOW, 0)
			if err != nil {
				t.Fatalf("O_PATH of a final symlink: %v", err)
			}
			var st Stat_t
			Fstat(fd, &st)
			Close(fd)
			if st.Mode&syscall.S_IFMT != syscall.S_IFLNK {
				t.Fatalf("O_PATH of a final symlink is mode %o", st.Mode)
			}
		})
	}
}

func TestSingleComponents(t *testing.T) {
	d, dfd := tree(t)
	afd, err := Openat(dfd, "a", O_PATH|O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(afd)
	for _, bad := range []string{"", ".", "..", "b/f", "x\x00"} {
		if _, err := Openat(afd, bad, O_PATH, 0); err != syscall.EINVAL {
			t.Errorf("Openat %q: %v", bad, err)
		}
		if err := Mkdirat(afd, bad, 0o755); err != syscall.EINVAL {
			t.Errorf("Mkdirat %q: %v", bad, err)
		}
		if err := Unlinkat(afd, bad, 0); err != syscall.EINVAL {
			t.Errorf("Unlinkat %q: %v", bad, err)
		}
		var st Stat_t
		if err := Fstatat(afd, bad, &st); err != syscall.EINVAL {
			t.Errorf("Fstatat %q: %v", bad, err)
		}
	}
	if _, err := Openat(afd, "out", syscall.O_RDONLY, 0); err != syscall.ELOOP {
		t.Errorf("Openat of a symlink: %v", err)
	}
	var st Stat_t
	if err := Fstatat(afd, "out", &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		t.Errorf("Fstatat followed a symlink")
	}
	if s, err := Readlinkat(afd, "out"); err != nil || s != "/etc" {
		t.Errorf("Readlinkat %q %v", s, err)
	}
	long := strings.Repeat("x/", 1500)
	if err := Symlinkat(long, afd, "long"); err != nil {
		t.Fatal(err)
	}
	if s, err := Readlinkat(afd, "long"); err != nil || s != long {
		t.Errorf("Readlinkat of a %d-byte target: %d %v", len(long), len(s), err)
	}
	// Times and owner of a symlink, never of /etc.
	var etc syscall.Stat_t
	syscall.Stat("/etc", &etc)
	if err := Utimensat(afd, "out", [2]Timespec{{Sec: 5}, {Sec: 5}}); err != nil {
		t.Fatal(err)
	}
	uid, gid := 123, 456
	if os.Geteuid() != 0 {
		uid, gid = -1, -1 // only root gives files away
	}
	if err := Fchownat(afd, "out", uid, gid); err != nil {
		t.Fatal(err)
	}
	var after syscall.Stat_t
	syscall.Stat("/etc", &after)
	if after.Mtim != etc.Mtim || after.Uid != etc.Uid {
		t.Fatal("/etc touched through a symlink")
	}
	Fstatat(afd, "out", &st)
	if st.Mtim.Sec != 5 || (uid >= 0 && st.Uid != 123) {
		t.Errorf("symlink times/owner not set: %+v", st)
	}
	// Linkat links the symlink, not its target; LinkFD links an O_PATH fd.
	if err := Linkat(afd, "out", afd, "out2"); err != nil {
		t.Fatal(err)
	}
	fd, _ := Openat(afd, "out", O_PATH, 0)
	if err := LinkFD(fd, afd, "out3"); err != nil {
		t.Fatal(err)
	}
	Fstat(fd, &st)
	Close(fd)
	if st.Nlink != 3 || st.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		t.Errorf("links of a symlink: nlink %d mode %o", st.Nlink, st.Mode)
	}
	if err := Renameat2(afd, "out3", afd, "out2", RENAME_NOREPLACE); err != syscall.EEXIST {
		t.Errorf("RENAME_NOREPLACE: %v", err)
	}
	_ = d
}

func TestXattrsNeverFollow(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("trusted.* xattrs need root")
	}
	d, dfd := tree(t)
	target := filepath.Join(d, "f")
	os.Symlink(target, filepath.Join(d, "l"))
	lfd, err := Openat(dfd, "l", O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(lfd)
	if err := SetxattrFD(lfd, "trusted.a", []byte("fd"), 0); err != nil {
		t.Fatal(err)
	}
	if err := SetxattrAt(dfd, "l", "trusted.b", []byte("at"), XATTR_CREATE); err != nil {
		t.Fatal(err)
	}
	if err := SetxattrAt(dfd, "l", "trusted.b", []byte("at"), XATTR_CREATE); err != syscall.EEXIST {
		t.Errorf("XATTR_CREATE twice: %v", err)
	}
	buf := make([]byte, 256)
	if n, _ := syscall.Listxattr(target, buf); n > 0 {
		t.Fatalf("the symlink's target got xattrs %q", buf[:n])
	}
	v, err := GetxattrAt(dfd, "l", "trusted.a")
	if err != nil || string(v) != "fd" {
		t.Errorf("GetxattrAt %q %v", v, err)
	}
	v, err = GetxattrFD(lfd, "trusted.b")
	if err != nil || string(v) != "at" {
		t.Errorf("GetxattrFD %q %v", v, err)
	}
	names, err := ListxattrFD(lfd)
	if err != nil || !slices.Contains(names, "trusted.a") || !slices.Contains(names, "trusted.b") {
		t.Errorf("ListxattrFD %q %v", names, err)
	}
	names2, _ := ListxattrAt(dfd, "l")
	if !slices.Equal(names, names2) {
		t.Errorf("ListxattrAt %q vs %q", names2, names)
	}
	// Values larger than the first buffer (ext4 keeps a symlink's xattrs in
	// one block, so not much larger).
	big := []byte(strings.Repeat("v", 3000))
	if err := SetxattrFD(lfd, "trusted.big", big, 0); err != nil {
		t.Fatal(err)
	}
	if v, err := GetxattrFD(lfd, "trusted.big"); err != nil || string(v) != string(big) {
		t.Errorf("big value: %d bytes %v", len(v), err)
	}
	if err := RemovexattrAt(dfd, "l", "trusted.a"); err != nil {
		t.Fatal(err)
	}
	if err := RemovexattrFD(lfd, "trusted.b"); err != nil {
		t.Fatal(err)
	}
	if _, err := GetxattrFD(lfd, "trusted.a"); err != syscall.ENODATA {
		t.Errorf("removed xattr: %v", err)
	}
	// Times and mode through an O_PATH descriptor of the symlink.
	if err := UtimensFD(lfd, [2]Timespec{{Nsec: UTIME_OMIT}, {Sec: 7}}); err != nil {
		t.Fatal(err)
	}
	var st Stat_t
	Fstat(lfd, &st)
	var tst syscall.Stat_t
	syscall.Stat(target, &tst)
	if st.Mtim.Sec != 7 || tst.Mtim.Sec == 7 {
		t.Errorf("UtimensFD: link mtime %d, target mtime %d", st.Mtim.Sec, tst.Mtim.Sec)
	}
	if err := FchownFD(lfd, 9, 9); err != nil {
		t.Fatal(err)
	}
	syscall.Stat(target, &tst)
	if tst.Uid == 9 {
		t.Error("FchownFD reached the target")
	}
}

func TestDirents(t *testing.T) {
	d := t.TempDir()
	var want []string
	for i := 0; i < 300; i++ {
		n := strings.Repeat("n", i%40+1) + string(rune('a'+i%26)) + strings.Repeat("z", i/26)
		if slices.Contains(want, n) {
			continue
		}
		want = append(want, n)
		os.WriteFile(filepath.Join(d, n), nil, 0o644)
	}
	os.Mkdir(filepath.Join(d, "sub"), 0o755)
	want = append(want, "sub")
	slices.Sort(want)
	dfd := openDir(t, d)
	fd, err := Reopen(dfd, syscall.O_RDONLY|O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(fd)
	read := func(fd int, bufsize, stopAfter int) ([]Dirent, bool) {
		var out []Dirent
		buf := make([]byte, bufsize)
		for {
			n, err := Getdents(fd, buf)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return out, true
			}
			ents, err := ParseDirents(buf[:n], nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.Name != "." && e.Name != ".." {
					out = append(out, e)
				}
			}
			if stopAfter > 0 && len(out) >= stopAfter {
				return out, false
			}
		}
	}
	all, _ := read(fd, 1024, 0)
	var names []string
	for _, e := range all {
		names = append(names, e.Name)
		if e.Name == "sub" && DTToMode(e.Type) != syscall.S_IFDIR {
			t.Errorf("sub has type %d", e.Type)
		}
		if e.Name != "sub" && DTToMode(e.Type) != syscall.S_IFREG {
			t.Errorf("%s has type %d", e.Name, e.Type)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Fatalf("getdents: %d names, want %d", len(names), len(want))
	}
	// d_off resumes on another descriptor.
	fd2, _ := Reopen(dfd, syscall.O_RDONLY|O_DIRECTORY)
	defer Close(fd2)
	part, _ := read(fd2, 512, 50)
	cookie := part[49].Off
	fd3, _ := Reopen(dfd, syscall.O_RDONLY|O_DIRECTORY)
	defer Close(fd3)
	if _, err := Lseek(fd3, int64(cookie), 0); err != nil {
		t.Fatal(err)
	}
	rest, _ := read(fd3, 4096, 0)
	var resumed []string
	for _, e := range append(part[:50], rest...) {
		resumed = append(resumed, e.Name)
	}
	slices.Sort(resumed)
	if !slices.Equal(resumed, want) {
		t.Fatalf("resumed listing: %d names, want %d", len(resumed), len(want))
	}
	// Malformed records.
	if _, err := ParseDirents(make([]byte, 10), nil); err != syscall.EIO {
		t.Errorf("short record: %v", err)
	}
	bad := make([]byte, 24)
	bad[16] = 200 // reclen beyond the buffer
	if _, err := ParseDirents(bad, nil); err != syscall.EIO {
		t.Errorf("long reclen: %v", err)
	}
}

func FuzzParseDirents(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 24))
	f.Fuzz(func(t *testing.T, b []byte) {
		ents, _ := ParseDirents(b, nil)
		for _, e := range ents {
			if strings.IndexByte(e.Name, 0) >= 0 {
				t.Fatalf("name with NUL: %q", e.Name)
			}
		}
	})
}

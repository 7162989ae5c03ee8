package fusetest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asUser runs a shell command as uid/gid with supplementary groups.
func asUser(dir string, uid, gid uint32, groups []uint32, script string) (string, error) {
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// permDir makes directory name (0755, root's) in the mount for a check,
// and returns it with a helper that fails the test on an error.
func permDir(t *testing.T, mnt, name string) (string, func(error)) {
	t.Helper()
	dir := filepath.Join(mnt, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Permissions checks that requests run with the caller's identity: an
// ordinary user is refused what mode bits forbid, gets access through a
// supplementary group, and owns what it creates. The mount must have
// allow_other (otherwise the kernel lets only the mounting user in).
func Permissions(t *testing.T, mnt string) {
	dir, must := permDir(t, mnt, "perm")
	const nobody, group = 65534, 4242
	must(os.WriteFile(filepath.Join(dir, "secret"), []byte("root only"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "group"), []byte("group readable"), 0o640))
	must(os.Chown(filepath.Join(dir, "group"), 0, group))
	must(os.Mkdir(filepath.Join(dir, "open"), 0o777))
	must(os.Chmod(filepath.Join(dir, "open"), 0o777)) // past the umask
	must(os.Mkdir(filepath.Join(dir, "closed"), 0o755))

	if out, err := asUser(dir, nobody, nobody, nil, "cat secret"); err == nil {
		t.Errorf("nobody read a 0600 root file: %q", out)
	}
	if out, err := asUser(dir, nobody, nobody, nil, "cat group"); err == nil {
		t.Errorf("nobody without the group read a 0640 file: %q", out)
	}
	if out, err := asUser(dir, nobody, nobody, []uint32{group}, "cat group"); err != nil || out != "group readable" {
		t.Errorf("reading through a supplementary group: %v %q", err, out)
	}
	// access(2), as test(1) uses it, agrees with what open does.
	if out, err := asUser(dir, nobody, nobody, []uint32{group}, "test -r group && ! test -w group && ! test -r secret && test -x open"); err != nil {
		t.Errorf("access(2) with a supplementary group: %v %q", err, out)
	}
	if out, err := asUser(dir, nobody, nobody, nil, "test -r group"); err == nil {
		t.Errorf("access(2) without the group allowed reading: %q", out)
	}
	if out, err := asUser(dir, nobody, nobody, nil, "touch closed/x"); err == nil {
		t.Errorf("nobody created a file in a 0755 root directory: %q", out)
	}
	if out, err := asUser(dir, nobody, nobody, nil, "echo hi > open/mine && stat -c %u:%g open/mine"); err != nil || out != "65534:65534" {
		t.Errorf("file created by nobody: %v %q, want owner 65534:65534", err, out)
	}
	if out, err := asUser(dir, nobody, nobody, nil, "chmod 777 secret"); err == nil {
		t.Errorf("nobody chmod'ed root's file: %q", out)
	}
	if out, err := asUser(dir, nobody, nobody, nil, "rm -f secret"); err == nil {
		t.Errorf("nobody removed a file from a 0755 root directory: %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "secret")); err != nil {
		t.Errorf("secret: %v", err)
	}
}

// Privileges checks who clears setuid and setgid. The mount lets the
// bricks do it (FUSE's handle_killpriv): a change of owner clears setuid,
// and setgid when group-executable, for root too; a write or truncate by
// anyone but root clears them. tar extracting as root, which sets times,
// owner and mode one after the other on the open file (write-behind holds
// and joins those), must end with exactly what the archive says. The
// mount must have allow_other.
func Privileges(t *testing.T, mnt string) {
	dir, must := permDir(t, mnt, "priv")
	mode := func(name string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid)
	}
	const nobody = 65534
	for name, perm := range map[string]uint32{"chowned": 0o6755, "written": 0o6777, "truncated": 0o6777} {
		must(os.WriteFile(filepath.Join(dir, name), []byte("data"), 0o600))
		must(syscall.Chmod(filepath.Join(dir, name), perm))
		if m := mode(name); m&os.ModeSetuid == 0 || m&os.ModeSetgid == 0 {
			t.Fatalf("%s: chmod %o gave %v", name, perm, m)
		}
	}
	must(os.Chown(filepath.Join(dir, "chowned"), 5, 6))
	if m := mode("chowned"); m != 0o755 {
		t.Errorf("after root's chown: mode %v, want -rwxr-xr-x without setuid and setgid", m)
	}
	if out, err := asUser(dir, nobody, nobody, nil, "echo more >> written"); err != nil {
		t.Fatalf("write by nobody: %v %q", err, out)
	}
	if out, err := asUser(dir, nobody, nobody, nil, "truncate -s 1 truncated"); err != nil {
		t.Fatalf("truncate by nobody: %v %q", err, out)
	}
	for _, name := range []string{"written", "truncated"} {
		if m := mode(name); m != 0o777 {
			t.Errorf("%s by nobody: mode %v, want -rwxrwxrwx without setuid and setgid", name, m)
		}
	}

	// An archive made on the local disk, extracted as root.
	src := t.TempDir()
	files := []struct {
		name     string
		perm     os.FileMode
		uid, gid int
		size     int
	}{
		{"tool", 0o755 | os.ModeSetuid, 7, 8, 5000},
		{"shared", 0o775 | os.ModeSetgid, 9, 10, 100},
		{"plain", 0o640, 11, 12, 0},
	}
	mtime := time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, f := range files {
		p := filepath.Join(src, f.name)
		must(os.WriteFile(p, bytes.Repeat([]byte{'x'}, f.size), 0o600))
		must(os.Chown(p, f.uid, f.gid))
		must(os.Chmod(p, f.perm))
		must(os.Chtimes(p, mtime, mtime))
	}
	tarball := filepath.Join(t.TempDir(), "priv.tar")
	if out, err := exec.Command("tar", "-cf", tarball, "-C", src, "tool", "shared", "plain").CombinedOutput(); err != nil {
		t.Fatalf("tar -c: %v %s", err, out)
	}
	ex := filepath.Join(dir, "extracted")
	must(os.Mkdir(ex, 0o755))
	if out, err := exec.Command("tar", "-xpf", tarball, "-C", ex).CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v %s", err, out)
	}
	for _, f := range files {
		fi, err := os.Stat(filepath.Join(ex, f.name))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != f.perm || int(st.Uid) != f.uid || int(st.Gid) != f.gid || fi.Size() != int64(f.size) || !fi.ModTime().Equal(mtime) {
			t.Errorf("extracted %s: %v %d:%d %d bytes %v, want %v %d:%d %d bytes %v",
				f.name, fi.Mode(), st.Uid, st.Gid, fi.Size(), fi.ModTime().UTC(), f.perm, f.uid, f.gid, f.size, mtime)
		}
	}
}

package fusetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// asUser runs a shell command as uid/gid with supplementary groups.
func asUser(dir string, uid, gid uint32, groups []uint32, script string) (string, error) {
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Permissions checks that requests run with the caller's identity: an
// ordinary user is refused what mode bits forbid, gets access through a
// supplementary group, and owns what it creates. The mount must have
// allow_other (otherwise the kernel lets only the mounting user in).
func Permissions(t *testing.T, mnt string) {
	dir := filepath.Join(mnt, "perm")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
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

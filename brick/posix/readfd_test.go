package posix

import (
	"context"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// TestShareReadFD: a shared descriptor reads the file and cannot write it;
// the caller's permissions are checked as for an anonymous read; only
// regular files are shared.
func TestShareReadFD(t *testing.T) {
	p, _ := newTestPosix(t)
	ctx := context.Background()
	other := vfs.WithCaller(ctx, &vfs.Caller{UID: 1000, GID: 1000})
	a, fh, e := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o600, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	if _, e := p.Write(ctx, a.GFID, fh, []byte("shared"), 0); e != 0 {
		t.Fatal(e)
	}
	p.Release(ctx, a.GFID, fh)

	fd, e := p.ShareReadFD(ctx, a.GFID)
	if e != 0 {
		t.Fatal(e)
	}
	buf := make([]byte, 16)
	n, err := syscall.Pread(fd, buf, 0)
	if err != nil || string(buf[:n]) != "shared" {
		t.Fatalf("pread: %q %v", buf[:n], err)
	}
	if _, err := syscall.Pwrite(fd, []byte("x"), 0); err != syscall.EBADF {
		t.Fatalf("pwrite on a shared descriptor: %v, want EBADF", err)
	}
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	if errno != 0 || flags&syscall.FD_CLOEXEC == 0 {
		t.Fatalf("shared descriptor without FD_CLOEXEC (%v)", errno)
	}
	syscall.Close(fd)

	if fd, e := p.ShareReadFD(other, a.GFID); e != syscall.EACCES {
		syscall.Close(fd)
		t.Fatalf("uid 1000 on a 0600 root file: %v, want EACCES", e)
	}
	d, e := p.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	if e != 0 {
		t.Fatal(e)
	}
	if _, e := p.ShareReadFD(ctx, d.GFID); e != syscall.EISDIR {
		t.Fatalf("directory: %v, want EISDIR", e)
	}
	l, e := p.Symlink(ctx, vfs.RootGFID, "l", "/etc/passwd", &vfs.CreateIn{})
	if e != 0 {
		t.Fatal(e)
	}
	if fd, e := p.ShareReadFD(ctx, l.GFID); e == 0 {
		syscall.Close(fd)
		t.Fatal("a symlink was shared")
	}
	if _, e := p.ShareReadFD(ctx, vfs.NewGFID()); e == 0 {
		t.Fatal("an unknown GFID was shared")
	}
}

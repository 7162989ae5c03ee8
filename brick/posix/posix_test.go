package posix

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

func newTestPosix(t testing.TB) (*Posix, string) {
	t.Helper()
	return newTestPosixConfig(t, Config{})
}

// newTestPosixConfig is newTestPosix with cfg (its Directory is set here).
func newTestPosixConfig(t testing.TB, cfg Config) (*Posix, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("storage/posix needs root (trusted.* xattrs); skipping")
	}
	dir := filepath.Join(t.TempDir(), "export")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.Directory = dir
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, dir
}

func TestSmoke(t *testing.T) {
	p, dir := newTestPosix(t)
	ctx := context.Background()
	root := vfs.RootGFID
	a, fh, e := p.Create(ctx, root, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal("create", e)
	}
	if a.Nlink != 1 || !a.IsRegular() || a.Mode&0o777 != 0o644 {
		t.Fatalf("attr %+v", a)
	}
	if n, e := p.Write(ctx, a.GFID, fh, []byte("hello"), 0); e != 0 || n != 5 {
		t.Fatal("write", n, e)
	}
	if e := p.Release(ctx, a.GFID, fh); e != 0 {
		t.Fatal(e)
	}
	buf := make([]byte, 10)
	n, e := p.Read(ctx, a.GFID, 0, buf, 0)
	if e != 0 || !bytes.Equal(buf[:n], []byte("hello")) {
		t.Fatal("read", n, e)
	}
	d, e := p.Mkdir(ctx, root, "d", &vfs.CreateIn{Mode: 0o755})
	if e != 0 {
		t.Fatal(e)
	}
	if e := p.Rename(ctx, root, "f", d.GFID, "g", 0); e != 0 {
		t.Fatal(e)
	}
	if e := p.Rename(ctx, root, "d", root, "d2", 0); e != 0 {
		t.Fatal(e)
	}
	// Restart: GFIDs still resolve.
	p.Close()
	p2, err := New(Config{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if got, e := p2.GetAttr(ctx, d.GFID, 0); e != 0 || !got.IsDir() {
		t.Fatal("dir after restart", e)
	}
	if got, e := p2.Lookup(ctx, d.GFID, "g"); e != 0 || got.GFID != a.GFID {
		t.Fatal("lookup after restart", e)
	}
	ents, eof, e := p2.ReadDir(ctx, root, 0, 0, 0, true)
	if e != 0 || !eof || len(ents) != 1 || ents[0].Name != "d2" || ents[0].Attr == nil {
		t.Fatalf("readdir %+v %v %v", ents, eof, e)
	}
	if _, e := p2.Lookup(ctx, root, ".cairn"); e != syscall.ENOENT {
		t.Fatal(".cairn visible", e)
	}
}

// TestTmpIsTopDirectory: tmp/, where new directories are made, and gfid/,
// which holds the index, carry ext4's top-directory flag so that new
// directories and index entries spread over the block groups (see
// spreadDirectories) instead of piling up next to them.
func TestTmpIsTopDirectory(t *testing.T) {
	p, dir := newTestPosix(t)
	if _, err := sys.InodeFlags(sys.AT_FDCWD, dir); errors.Is(err, syscall.ENOTTY) || errors.Is(err, syscall.EOPNOTSUPP) {
		t.Skipf("%s is on a file system without inode flags: %v", dir, err)
	}
	for _, name := range []string{metaTmp, metaGFID} {
		flags, err := sys.InodeFlags(p.metaFD, name)
		if err != nil {
			t.Fatal(err)
		}
		if flags&sys.FS_TOPDIR_FL == 0 {
			t.Fatalf("%s/ inode flags %#x, want FS_TOPDIR_FL", name, flags)
		}
	}
	flags, _ := sys.InodeFlags(p.metaFD, metaTmp)
	// Idempotent across restarts, other flags kept.
	if err := sys.AddInodeFlags(p.metaFD, metaTmp, sys.FS_TOPDIR_FL); err != nil {
		t.Fatal(err)
	}
	if again, _ := sys.InodeFlags(p.metaFD, metaTmp); again != flags {
		t.Fatalf("flags %#x after setting the flag again, want %#x", again, flags)
	}
}

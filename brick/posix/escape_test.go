package posix

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// sentinel is a directory outside the export that no brick operation may
// ever touch.
type sentinel struct {
	dir   string
	file  string
	mode  os.FileMode
	mtime time.Time
}

func newSentinel(t testing.TB, base string) *sentinel {
	t.Helper()
	s := &sentinel{dir: filepath.Join(base, "sentinel")}
	s.file = filepath.Join(s.dir, "secret")
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.file, []byte("secret"), 0o640); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1000000000, 0)
	os.Chtimes(s.file, old, old)
	os.Chtimes(s.dir, old, old)
	st, _ := os.Stat(s.file)
	s.mode, s.mtime = st.Mode(), st.ModTime()
	return s
}

// check fails if anything in or about the sentinel changed, or if base
// holds anything but the export and the sentinel.
func (s *sentinel) check(t testing.TB, base string) {
	t.Helper()
	ents, err := os.ReadDir(s.dir)
	if err != nil || len(ents) != 1 || ents[0].Name() != "secret" {
		t.Fatalf("sentinel directory changed: %v %v", ents, err)
	}
	b, err := os.ReadFile(s.file)
	if err != nil || string(b) != "secret" {
		t.Fatalf("sentinel content changed: %q %v", b, err)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(s.file, &st); err != nil || st.Uid != 0 || st.Gid != 0 {
		t.Fatalf("sentinel owner changed: %d:%d %v", st.Uid, st.Gid, err)
	}
	fi, _ := os.Stat(s.file)
	if fi.Mode() != s.mode || !fi.ModTime().Equal(s.mtime) {
		t.Fatalf("sentinel mode/mtime changed: %v %v", fi.Mode(), fi.ModTime())
	}
	if di, _ := os.Stat(s.dir); !di.ModTime().Equal(s.mtime) {
		t.Fatalf("sentinel directory modified at %v", di.ModTime())
	}
	buf := make([]byte, 1024)
	for _, p := range []string{s.file, s.dir} {
		if n, _ := syscall.Listxattr(p, buf); n > 0 {
			t.Fatalf("sentinel %s got xattrs %q", p, buf[:n])
		}
	}
	top, _ := os.ReadDir(base)
	var names []string
	for _, e := range top {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"export", "sentinel"}) {
		t.Fatalf("files appeared next to the export: %q", names)
	}
}

// newEscapeEnv makes base/export (served) and base/sentinel (outside).
func newEscapeEnv(t *testing.T) (*Posix, string, string, *sentinel) {
	t.Helper()
	p, dir := newTestPosix(t)
	base := filepath.Dir(dir)
	return p, dir, base, newSentinel(t, base)
}

func TestPlantedSymlinks(t *testing.T) {
	p, dir, base, s := newEscapeEnv(t)
	ctx := context.Background()
	root := vfs.RootGFID
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Planted behind the brick's back: absolute, relative, and through a
	// planted directory.
	plants := map[string]string{
		"abs-dir":   s.dir,
		"abs-file":  s.file,
		"etc":       "/etc",
		"sub/rel":   "../../sentinel",
		"sub/rel-f": "../../sentinel/secret",
	}
	for name, target := range plants {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	sub, e := p.Lookup(ctx, root, "sub")
	if e != 0 {
		t.Fatal(e)
	}
	for name, target := range plants {
		parent := root
		if strings.HasPrefix(name, "sub/") {
			parent, name = sub.GFID, strings.TrimPrefix(name, "sub/")
		}
		t.Run(name, func(t *testing.T) {
			a, e := p.Lookup(ctx, parent, name)
			if e != 0 || !a.IsSymlink() || a.GFID.IsZero() {
				t.Fatalf("lookup of a planted symlink: %+v %v", a, e)
			}
			if got, e := p.Readlink(ctx, a.GFID); e != 0 || got != target {
				t.Errorf("readlink %q %v", got, e)
			}
			g := a.GFID
			want := func(what string, got syscall.Errno, ok ...syscall.Errno) {
				t.Helper()
				if !slices.Contains(ok, got) {
					t.Errorf("%s through a planted symlink: %v, want %v", what, got, ok)
				}
			}
			_, e = p.Lookup(ctx, g, "secret")
			want("lookup", e, syscall.ENOTDIR)
			_, _, e = p.Create(ctx, g, "new", &vfs.CreateIn{Mode: 0o644})
			want("create", e, syscall.ENOTDIR)
			_, e = p.Mkdir(ctx, g, "new", &vfs.CreateIn{Mode: 0o755})
			want("mkdir", e, syscall.ENOTDIR)
			_, e = p.Mknod(ctx, g, "new", &vfs.CreateIn{Mode: syscall.S_IFIFO | 0o644})
			want("mknod", e, syscall.ENOTDIR)
			_, e = p.Symlink(ctx, g, "new", "x", &vfs.CreateIn{})
			want("symlink", e, syscall.ENOTDIR)
			want("unlink", p.Unlink(ctx, g, "secret"), syscall.ENOTDIR)
			want("rmdir", p.Rmdir(ctx, g, "secret"), syscall.ENOTDIR)
			want("rename from", p.Rename(ctx, g, "secret", root, "stolen", 0), syscall.ENOTDIR)
			f, _, e := p.Create(ctx, root, "f-"+name, &vfs.CreateIn{Mode: 0o644})
			if e != 0 {
				t.Fatal(e)
			}
			want("rename into", p.Rename(ctx, root, "f-"+name, g, "secret", 0), syscall.ENOTDIR)
			_, e = p.Link(ctx, f.GFID, g, "secret")
			want("link into", e, syscall.ENOTDIR)
			_, e = p.Open(ctx, g, syscall.O_RDONLY)
			want("open", e, syscall.ELOOP)
			_, e = p.Open(ctx, g, syscall.O_RDWR|syscall.O_TRUNC)
			want("open O_TRUNC", e, syscall.ELOOP)
			_, e = p.Read(ctx, g, 0, make([]byte, 10), 0)
			want("read", e, syscall.ELOOP)
			_, e = p.Write(ctx, g, 0, []byte("pwned"), 0)
			want("write", e, syscall.ELOOP)
			want("fallocate", p.Fallocate(ctx, g, 0, 0, 0, 1<<20), syscall.ELOOP)
			want("fsync", p.Fsync(ctx, g, 0, false), syscall.ELOOP)
			_, e = p.OpenDir(ctx, g)
			want("opendir", e, syscall.ENOTDIR)
			_, _, e = p.ReadDir(ctx, g, 0, 0, 0, false)
			want("readdir", e, syscall.ENOTDIR)
			_, e = p.SetAttr(ctx, g, 0, &vfs.SetAttrIn{Valid: vfs.SetSize})
			want("truncate", e, syscall.EINVAL)
			_, e = p.SetAttr(ctx, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o777})
			want("chmod", e, syscall.EOPNOTSUPP)
			// These apply to the link itself, never to its target.
			_, e = p.SetAttr(ctx, g, 0, &vfs.SetAttrIn{Valid: vfs.SetUID | vfs.SetGID, UID: 4321, GID: 4321})
			want("chown", e, 0)
			_, e = p.SetAttr(ctx, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMtimeNow | vfs.SetAtimeNow})
			want("utimes", e, 0)
			want("setxattr user", p.SetXattr(ctx, g, "user.x", []byte("1"), 0), syscall.EPERM)
			want("setxattr trusted", p.SetXattr(ctx, g, "trusted.x", []byte("1"), 0), 0)
			_, e = p.XattrOp(ctx, g, vfs.XattrAddArray32, map[string][]byte{XattrPendingPrefix + "x": {0, 0, 0, 1}})
			want("xattrop", e, 0)
			_, e = p.Lookup(ctx, parent, name)
			want("lookup again", e, 0)
			s.check(t, base)
		})
	}
	// Removing and renaming the planted links only affects the links.
	if e := p.Rename(ctx, root, "abs-dir", root, "moved", 0); e != 0 {
		t.Fatal(e)
	}
	if e := p.Unlink(ctx, root, "moved"); e != 0 {
		t.Fatal(e)
	}
	if e := p.Unlink(ctx, sub.GFID, "rel"); e != 0 {
		t.Fatal(e)
	}
	s.check(t, base)
}

// TestSwappedDirectory replaces a directory the brick knows by a symlink
// to the outside: resolving the directory's GFID must not follow it.
func TestSwappedDirectory(t *testing.T) {
	p, dir, base, s := newEscapeEnv(t)
	ctx := context.Background()
	d, e := p.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	if e != 0 {
		t.Fatal(e)
	}
	inner, e := p.Mkdir(ctx, d.GFID, "inner", &vfs.CreateIn{Mode: 0o755})
	if e != 0 {
		t.Fatal(e)
	}
	if err := os.Rename(filepath.Join(dir, "d"), filepath.Join(dir, "d.away")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(s.dir, filepath.Join(dir, "d")); err != nil {
		t.Fatal(err)
	}
	// A running brick may still hold the directory itself (its cached
	// descriptor follows the inode to d.away, inside the export); a fresh
	// one finds only the symlink and refuses. Neither touches the outside.
	p2, err := New(Config{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	for _, b := range []*Posix{p, p2} {
		for _, g := range []vfs.GFID{d.GFID, inner.GFID} {
			if _, e := b.GetAttr(ctx, g, 0); e != 0 && e != syscall.ESTALE {
				t.Errorf("getattr of a directory swapped for a symlink: %v", e)
			}
			if a, fh, e := b.Create(ctx, g, "secret2", &vfs.CreateIn{Mode: 0o644}); e == 0 {
				b.Release(ctx, a.GFID, fh)
				b.Unlink(ctx, g, "secret2")
			} else if b == p2 && e != syscall.ESTALE {
				t.Errorf("create in a swapped directory: %v", e)
			}
			if _, _, e := b.ReadDir(ctx, g, 0, 0, 0, false); e != 0 && e != syscall.ESTALE {
				t.Errorf("readdir of a swapped directory: %v", e)
			}
			if e := b.Unlink(ctx, g, "secret"); e != syscall.ESTALE && e != syscall.ENOENT {
				t.Errorf("unlink in a swapped directory: %v", e)
			}
		}
		if _, e := b.GetAttr(ctx, d.GFID, 0); b == p2 && e != syscall.ESTALE {
			t.Errorf("fresh brick resolves a directory swapped for a symlink: %v", e)
		}
		s.check(t, base)
	}
	s.check(t, base)
}

// TestTamperedIndex plants symlinks inside the GFID index itself.
func TestTamperedIndex(t *testing.T) {
	p, dir, base, s := newEscapeEnv(t)
	ctx := context.Background()
	d, _ := p.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	f, fh, _ := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644})
	p.Release(ctx, f.GFID, fh)
	idx := func(g vfs.GFID) string {
		return filepath.Join(dir, vfs.ReservedName, "gfid", indexDirRel(g), g.String())
	}
	for _, target := range []string{
		s.dir,
		"../../../../../sentinel",
		"../../00/00/" + vfs.RootGFID.String() + "/..",
		"../../00/00/" + vfs.RootGFID.String() + "/.cairn",
		"../../00/00/" + vfs.RootGFID.String() + "/d/../..",
		"../../" + indexDirRel(d.GFID) + "/" + d.GFID.String() + "/x",
	} {
		for _, g := range []vfs.GFID{d.GFID, f.GFID} {
			os.Remove(idx(g))
			if err := os.Symlink(target, idx(g)); err != nil {
				t.Fatal(err)
			}
			if _, e := p.GetAttr(ctx, g, 0); e != syscall.ESTALE {
				t.Errorf("index link %q: getattr %v, want ESTALE", target, e)
			}
			if _, e := p.Mkdir(ctx, g, "x", &vfs.CreateIn{Mode: 0o755}); e != syscall.ESTALE {
				t.Errorf("index link %q: mkdir %v, want ESTALE", target, e)
			}
			if _, e := p.Open(ctx, g, syscall.O_RDWR); e != syscall.ESTALE {
				t.Errorf("index link %q: open %v, want ESTALE", target, e)
			}
		}
	}
	// A directory whose index link names another directory (with another
	// GFID) is refused too.
	other, _ := p.Mkdir(ctx, vfs.RootGFID, "other", &vfs.CreateIn{Mode: 0o755})
	os.Remove(idx(d.GFID))
	os.Symlink(dirLinkTarget(vfs.RootGFID, "other"), idx(d.GFID))
	if _, e := p.GetAttr(ctx, d.GFID, 0); e != syscall.ESTALE {
		t.Errorf("index link to another directory: %v", e)
	}
	if a, e := p.GetAttr(ctx, other.GFID, 0); e != 0 || !a.IsDir() {
		t.Errorf("other directory: %v", e)
	}
	s.check(t, base)
}

// TestPlantedMetaDirectory plants .cairn as a symlink: New refuses it
// rather than keep its index outside the export.
func TestPlantedMetaDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	base := t.TempDir()
	dir := filepath.Join(base, "export")
	os.Mkdir(dir, 0o755)
	s := newSentinel(t, base)
	if err := os.Symlink(s.dir, filepath.Join(dir, vfs.ReservedName)); err != nil {
		t.Fatal(err)
	}
	if p, err := New(Config{Directory: dir}); err == nil {
		p.Close()
		t.Fatal("New accepted a .cairn that is a symlink")
	}
	s.check(t, base)
}

// TestSpecialFilesNotOpened checks that FIFOs and devices are never opened
// on the brick (a FIFO would block it, a device would reach the host's).
func TestSpecialFilesNotOpened(t *testing.T) {
	p, _ := newTestPosix(t)
	ctx := context.Background()
	fifo, e := p.Mknod(ctx, vfs.RootGFID, "fifo", &vfs.CreateIn{Mode: syscall.S_IFIFO | 0o666})
	if e != 0 {
		t.Fatal(e)
	}
	done := make(chan syscall.Errno, 1)
	go func() {
		_, e := p.Open(ctx, fifo.GFID, syscall.O_RDONLY)
		done <- e
	}()
	select {
	case e := <-done:
		if e != syscall.EACCES {
			t.Errorf("open of a FIFO: %v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("open of a FIFO blocked the brick")
	}
	if _, e := p.Read(ctx, fifo.GFID, 0, make([]byte, 1), 0); e != syscall.EACCES {
		t.Errorf("anonymous read of a FIFO: %v", e)
	}
	blk, e := p.Mknod(ctx, vfs.RootGFID, "blk", &vfs.CreateIn{Mode: syscall.S_IFBLK | 0o666, Rdev: 7 << 8})
	if e != 0 {
		t.Fatal(e)
	}
	if _, e := p.Write(ctx, blk.GFID, 0, []byte("x"), 0); e != syscall.EACCES {
		t.Errorf("write to a block device node: %v", e)
	}
}

package posix

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// Tests of the on-disk layout: GFID xattrs and index, healing of entries
// made behind the brick's back, crash leftovers, restarts, dirty index.

func gfidOnDisk(t *testing.T, path string) vfs.GFID {
	t.Helper()
	var g vfs.GFID
	n, err := syscall.Getxattr(path, XattrGFID, g[:])
	if err != nil || n != 16 {
		t.Fatalf("%s: gfid xattr: %d %v", path, n, err)
	}
	return g
}

func TestRootGFID(t *testing.T) {
	_, dir := newTestPosix(t)
	if g := gfidOnDisk(t, dir); g != vfs.RootGFID {
		t.Fatalf("root gfid %v", g)
	}
	// An export whose root carries another GFID is refused.
	other := filepath.Join(t.TempDir(), "x")
	os.Mkdir(other, 0o755)
	g := vfs.NewGFID()
	if err := syscall.Setxattr(other, XattrGFID, g[:], 0); err != nil {
		t.Fatal(err)
	}
	if p, err := New(Config{Directory: other}); err == nil {
		p.Close()
		t.Fatal("New accepted an export root with a non-root GFID")
	}
	if _, err := New(Config{Directory: filepath.Join(other, "missing")}); err == nil {
		t.Fatal("New accepted a missing directory")
	}
	if _, err := New(Config{}); err == nil {
		t.Fatal("New accepted no directory")
	}
}

func TestIndexLayout(t *testing.T) {
	p, dir := newTestPosix(t)
	ctx := context.Background()
	d, _ := p.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	f, fh, _ := p.Create(ctx, d.GFID, "f", &vfs.CreateIn{Mode: 0o644})
	p.Release(ctx, f.GFID, fh)
	if gfidOnDisk(t, filepath.Join(dir, "d")) != d.GFID || gfidOnDisk(t, filepath.Join(dir, "d", "f")) != f.GFID {
		t.Fatal("gfid xattrs")
	}
	idx := func(g vfs.GFID) string {
		return filepath.Join(dir, vfs.ReservedName, "gfid", indexDirRel(g), g.String())
	}
	var st, ist syscall.Stat_t
	syscall.Lstat(filepath.Join(dir, "d", "f"), &st)
	syscall.Lstat(idx(f.GFID), &ist)
	if st.Ino != ist.Ino || st.Nlink != 2 {
		t.Fatalf("file index is not a hard link: ino %d/%d nlink %d", st.Ino, ist.Ino, st.Nlink)
	}
	if l, err := os.Readlink(idx(d.GFID)); err != nil || l != "../../00/00/"+vfs.RootGFID.String()+"/d" {
		t.Fatalf("directory index link %q %v", l, err)
	}
	if l, err := os.Readlink(idx(vfs.RootGFID)); err != nil || l != "../../../.." {
		t.Fatalf("root index link %q %v", l, err)
	}
	// A renamed directory's link follows it.
	sub, _ := p.Mkdir(ctx, vfs.RootGFID, "sub", &vfs.CreateIn{Mode: 0o755})
	if e := p.Rename(ctx, vfs.RootGFID, "d", sub.GFID, "d2", 0); e != 0 {
		t.Fatal(e)
	}
	if l, _ := os.Readlink(idx(d.GFID)); l != dirLinkTarget(sub.GFID, "d2") {
		t.Fatalf("directory index link after rename %q", l)
	}
	// Removal clears the index.
	p.Unlink(ctx, d.GFID, "f")
	p.Rmdir(ctx, sub.GFID, "d2")
	for _, g := range []vfs.GFID{f.GFID, d.GFID} {
		if _, err := os.Lstat(idx(g)); !os.IsNotExist(err) {
			t.Errorf("index entry of a removed object: %v", err)
		}
	}
	// Nothing is left in tmp.
	if ents, _ := os.ReadDir(filepath.Join(dir, vfs.ReservedName, "tmp")); len(ents) != 0 {
		t.Errorf("tmp holds %v", ents)
	}
}

// TestForeignEntries creates entries directly on disk (a brick populated
// by hand, or half-created before a crash): lookup and readdir give them
// GFIDs and index them.
func TestForeignEntries(t *testing.T) {
	p, dir := newTestPosix(t)
	ctx := context.Background()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "b", "f"), []byte("hand made"), 0o644)
	os.Symlink("f", filepath.Join(dir, "a", "b", "s"))
	a, e := p.Lookup(ctx, vfs.RootGFID, "a")
	if e != 0 || a.GFID.IsZero() || !a.IsDir() {
		t.Fatalf("lookup a: %+v %v", a, e)
	}
	ents, _, e := p.ReadDir(ctx, a.GFID, 0, 0, 0, true)
	if e != 0 || len(ents) != 1 || ents[0].GFID.IsZero() || ents[0].Attr == nil {
		t.Fatalf("readdir a: %+v %v", ents, e)
	}
	b := ents[0]
	f, e := p.Lookup(ctx, b.GFID, "f")
	if e != 0 || f.Nlink != 1 {
		t.Fatalf("lookup f: %+v %v", f, e)
	}
	if again, _ := p.Lookup(ctx, b.GFID, "f"); again.GFID != f.GFID {
		t.Fatal("gfid changed between lookups")
	}
	s, e := p.Lookup(ctx, b.GFID, "s")
	if e != 0 || !s.IsSymlink() {
		t.Fatalf("lookup s: %v", e)
	}
	// After a restart, every GFID resolves through the index alone.
	p.Close()
	p2, err := New(Config{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	for _, g := range []vfs.GFID{a.GFID, b.GFID, f.GFID, s.GFID} {
		if _, e := p2.GetAttr(ctx, g, 0); e != 0 {
			t.Errorf("getattr after restart: %v", e)
		}
	}
	buf := make([]byte, 64)
	if n, e := p2.Read(ctx, f.GFID, 0, buf, 0); e != 0 || string(buf[:n]) != "hand made" {
		t.Errorf("read %q %v", buf[:n], e)
	}
}

// TestCrashLeftovers simulates a crash in the middle of a create and of an
// unlink of an open file: the next start cleans up.
func TestCrashLeftovers(t *testing.T) {
	p, dir := newTestPosix(t)
	ctx := context.Background()
	// A file unlinked while open when the brick stopped.
	f, fh, _ := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644})
	p.Unlink(ctx, vfs.RootGFID, "f")
	unlinkDir := filepath.Join(dir, vfs.ReservedName, "unlink")
	if ents, _ := os.ReadDir(unlinkDir); len(ents) != 1 {
		t.Fatalf("unlink area holds %v while the file is open", ents)
	}
	if _, e := p.GetAttr(ctx, f.GFID, 0); e != 0 {
		t.Fatalf("unlinked open file by gfid: %v", e)
	}
	_ = fh // never released: the brick "crashes"
	p.Close()
	// A create interrupted after indexing, before the rename into place.
	g := vfs.NewGFID()
	tmp := filepath.Join(dir, vfs.ReservedName, "tmp", g.String())
	os.WriteFile(tmp, nil, 0o644)
	syscall.Setxattr(tmp, XattrGFID, g[:], 0)
	idxDir := filepath.Join(dir, vfs.ReservedName, "gfid", indexDirRel(g))
	os.MkdirAll(idxDir, 0o700)
	if err := os.Link(tmp, filepath.Join(idxDir, g.String())); err != nil {
		t.Fatal(err)
	}
	dg := vfs.NewGFID()
	os.Mkdir(filepath.Join(dir, vfs.ReservedName, "tmp", dg.String()), 0o755)
	p2, err := New(Config{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	for _, sub := range []string{"tmp", "unlink"} {
		if ents, _ := os.ReadDir(filepath.Join(dir, vfs.ReservedName, sub)); len(ents) != 0 {
			t.Errorf("%s not cleaned at start: %v", sub, ents)
		}
	}
	if _, err := os.Lstat(filepath.Join(idxDir, g.String())); !os.IsNotExist(err) {
		t.Errorf("index entry of a half-created file survives: %v", err)
	}
	for _, x := range []vfs.GFID{f.GFID, g, dg} {
		if _, e := p2.GetAttr(ctx, x, 0); e != syscall.ESTALE {
			t.Errorf("leftover gfid resolves: %v", e)
		}
	}
}

func TestUnlinkedOpenLifecycle(t *testing.T) {
	p, dir := newTestPosix(t)
	ctx := context.Background()
	f, fh, _ := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	p.Write(ctx, f.GFID, fh, []byte("data"), 0)
	fh2, _ := p.Open(ctx, f.GFID, syscall.O_RDONLY)
	p.Unlink(ctx, vfs.RootGFID, "f")
	// Anonymous access by GFID still works while a handle is open.
	buf := make([]byte, 8)
	if n, e := p.Read(ctx, f.GFID, 0, buf, 0); e != 0 || string(buf[:n]) != "data" {
		t.Fatalf("anonymous read of an unlinked open file: %q %v", buf[:n], e)
	}
	// Linking it back makes it an ordinary file again.
	if _, e := p.Link(ctx, f.GFID, vfs.RootGFID, "back"); e != 0 {
		t.Fatalf("link back: %v", e)
	}
	p.Release(ctx, f.GFID, fh)
	p.Release(ctx, f.GFID, fh2)
	if a, e := p.GetAttr(ctx, f.GFID, 0); e != 0 || a.Nlink != 1 {
		t.Fatalf("relinked file: %+v %v", a, e)
	}
	p.Unlink(ctx, vfs.RootGFID, "back")
	if _, e := p.GetAttr(ctx, f.GFID, 0); e != syscall.ESTALE {
		t.Fatalf("after the last unlink: %v", e)
	}
	for _, sub := range []string{"unlink", "tmp"} {
		if ents, _ := os.ReadDir(filepath.Join(dir, vfs.ReservedName, sub)); len(ents) != 0 {
			t.Errorf("%s holds %v", sub, ents)
		}
	}
}

func TestDirtyIndex(t *testing.T) {
	p, _ := newTestPosix(t)
	ctx := context.Background()
	f, fh, _ := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644})
	p.Release(ctx, f.GFID, fh)
	d, _ := p.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	dirty := func() []vfs.GFID {
		t.Helper()
		gs, err := p.DirtyGFIDs()
		if err != nil {
			t.Fatal(err)
		}
		return gs
	}
	const a, b = XattrPendingPrefix + "c0", XattrPendingPrefix + "c1"
	one := []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	minus := []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}
	zero := make([]byte, 12)
	if len(dirty()) != 0 {
		t.Fatal("dirty at start")
	}
	p.XattrOp(ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{a: one, b: zero})
	if got := dirty(); !slices.Equal(got, []vfs.GFID{f.GFID}) {
		t.Fatalf("after pre-op: %v", got)
	}
	p.XattrOp(ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{b: one})
	p.XattrOp(ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{a: minus})
	if got := dirty(); len(got) != 1 {
		t.Fatalf("b still pending, but: %v", got)
	}
	p.XattrOp(ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{b: minus})
	if got := dirty(); len(got) != 0 {
		t.Fatalf("all zero, but dirty: %v", got)
	}
	// Through SetXattr/RemoveXattr (heal), on a directory.
	p.SetXattr(ctx, d.GFID, a, one, 0)
	if got := dirty(); !slices.Equal(got, []vfs.GFID{d.GFID}) {
		t.Fatalf("after setxattr: %v", got)
	}
	p.RemoveXattr(ctx, d.GFID, a)
	if len(dirty()) != 0 {
		t.Fatal("after removexattr")
	}
	// Other xattrs do not count; removing a dirty file clears its entry.
	p.XattrOp(ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{"trusted.other": one})
	if len(dirty()) != 0 {
		t.Fatal("a non-pending xattr made the file dirty")
	}
	p.XattrOp(ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{a: one})
	p.Unlink(ctx, vfs.RootGFID, "f")
	p.XattrOp(ctx, d.GFID, vfs.XattrAddArray32, map[string][]byte{a: one})
	p.Rmdir(ctx, vfs.RootGFID, "d")
	if got := dirty(); len(got) != 0 {
		t.Fatalf("removed objects still dirty: %v", got)
	}
}

package posix

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// FuzzNames sends arbitrary names and symlink targets to every namespace
// operation and checks that request validation holds: invalid names get
// their errno, .cairn is refused in the root, nothing is ever created,
// changed or followed outside the export (a sentinel directory next to it
// stays intact), and a name that was accepted is a real entry of the
// export directory.
func FuzzNames(f *testing.F) {
	for _, s := range []string{
		"ok", "", ".", "..", "../x", "../../sentinel/secret", "/etc/passwd", "a/b", "a\x00b",
		".cairn", ".cairn/gfid", strings.Repeat("n", 255), strings.Repeat("n", 256), "sentinel",
		"..\x00", " ", "\xff\xfe", "x/", "link",
	} {
		f.Add(s, "../sentinel", uint8(0))
		f.Add(s, "/", uint8(3))
	}
	if os.Geteuid() != 0 {
		f.Skip("storage/posix needs root (trusted.* xattrs)")
	}
	base := f.TempDir()
	dir := filepath.Join(base, "export")
	if err := os.Mkdir(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	s := newSentinel(f, base)
	p, err := New(Config{Directory: dir})
	if err != nil {
		f.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	root := vfs.RootGFID
	sub, e := p.Mkdir(ctx, root, "sub", &vfs.CreateIn{Mode: 0o755})
	if e != 0 {
		f.Fatal(e)
	}
	seed, fh, e := p.Create(ctx, sub.GFID, "seed", &vfs.CreateIn{Mode: 0o644})
	if e != 0 {
		f.Fatal(e)
	}
	p.Release(ctx, seed.GFID, fh)
	// A planted symlink to the sentinel, as a parent and as a rename source.
	if err := os.Symlink("../sentinel", filepath.Join(dir, "link")); err != nil {
		f.Fatal(err)
	}
	link, e := p.Lookup(ctx, root, "link")
	if e != 0 {
		f.Fatal(e)
	}

	f.Fuzz(func(t *testing.T, name, target string, op uint8) {
		parent := root
		if op&0x80 != 0 {
			parent = sub.GFID
		}
		if op&0x40 != 0 {
			parent = link.GFID
		}
		if op%8 == 7 && ((parent == root && name == "link") || (parent == sub.GFID && name == "seed")) {
			return // keep the fixtures
		}
		// What validation alone decides; 0 means "no expectation" (the
		// answer then depends on what exists).
		existing := op%8 == 0 || op%8 == 7 // lookup, unlink: name must exist
		want := vfs.CheckName(name)
		switch {
		case want != 0:
		case parent == root && name == vfs.ReservedName && existing:
			want = syscall.ENOENT
		case parent == root && name == vfs.ReservedName:
			want = syscall.EPERM
		case parent == link.GFID:
			want = syscall.ENOTDIR
		}
		badTarget := target == "" || strings.IndexByte(target, 0) >= 0 || len(target) >= 4096
		var got syscall.Errno
		var created bool
		switch op % 8 {
		case 0:
			_, got = p.Lookup(ctx, parent, name)
		case 1:
			var a vfs.Attr
			var h vfs.Handle
			a, h, got = p.Create(ctx, parent, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR | syscall.O_EXCL})
			if got == 0 {
				p.Release(ctx, a.GFID, h)
			}
			created = true
		case 2:
			_, got = p.Mkdir(ctx, parent, name, &vfs.CreateIn{Mode: 0o755})
			created = true
		case 3:
			_, got = p.Symlink(ctx, parent, name, target, &vfs.CreateIn{})
			if badTarget {
				if got == 0 {
					t.Fatalf("symlink to %q accepted", target)
				}
				want = got // either refusal will do
			}
			created = true
		case 4:
			got = p.Rename(ctx, sub.GFID, "seed", parent, name, vfs.RenameNoReplace)
			if got == 0 {
				if e := p.Rename(ctx, parent, name, sub.GFID, "seed", 0); e != 0 {
					t.Fatalf("rename back: %v", e)
				}
			}
		case 5:
			_, got = p.Link(ctx, seed.GFID, parent, name)
			created = true
		case 6:
			_, got = p.Mknod(ctx, parent, name, &vfs.CreateIn{Mode: syscall.S_IFIFO | 0o644})
			created = true
		case 7:
			got = p.Unlink(ctx, parent, name)
		}
		if want != 0 && got != want {
			t.Fatalf("op %d on %q in %v: %v, want %v", op%8, name, parent, got, want)
		}
		if created && got == 0 {
			pdir := dir
			if parent == sub.GFID {
				pdir = filepath.Join(dir, "sub")
			}
			if _, err := os.Lstat(filepath.Join(pdir, name)); err != nil {
				t.Fatalf("accepted name %q is not in the export: %v", name, err)
			}
			a, e := p.Lookup(ctx, parent, name)
			if e != 0 {
				t.Fatalf("lookup of created %q: %v", name, e)
			}
			if a.IsDir() {
				e = p.Rmdir(ctx, parent, name)
			} else {
				e = p.Unlink(ctx, parent, name)
			}
			if e != 0 {
				t.Fatalf("removing %q: %v", name, e)
			}
		}
		s.check(t, base)
	})
}

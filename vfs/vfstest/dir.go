package vfstest

import (
	"fmt"
	"slices"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

func dirCases() []Case {
	return []Case{
		{Name: "ReadDirBasic", Fn: testReadDirBasic},
		{Name: "ReadDirPaging", Fn: testReadDirPaging},
		{Name: "ReadDirChanging", Fn: testReadDirChanging},
	}
}

func testReadDirBasic(e *Env) {
	d := e.Mkdir(Root, "d", 0o755)
	if ents := e.List(d.GFID, 0, false); len(ents) != 0 {
		e.Errorf("empty directory lists %q", Names(ents))
	}
	f := e.File(d.GFID, "file", 0o644, []byte("12345"))
	sub := e.Mkdir(d.GFID, "sub", 0o700)
	s, errno := e.FS.Symlink(e.Ctx, d.GFID, "link", "file", &vfs.CreateIn{})
	e.OK("symlink", errno)
	p, errno := e.FS.Mknod(e.Ctx, d.GFID, "fifo", &vfs.CreateIn{Mode: syscall.S_IFIFO | 0o600})
	e.OK("mknod", errno)
	want := map[string]vfs.Attr{"file": f, "sub": sub, "link": s, "fifo": p}
	for _, plus := range []bool{false, true} {
		ents := e.List(d.GFID, 0, plus)
		if got := Names(ents); !slices.Equal(got, []string{"fifo", "file", "link", "sub"}) {
			e.Errorf("readdir(plus=%v) = %q", plus, got)
			continue
		}
		for _, de := range ents {
			w := want[de.Name]
			if de.GFID != w.GFID || de.Type != w.Mode&syscall.S_IFMT {
				e.Errorf("entry %s: gfid/type %v %o, want %v %o", de.Name, de.GFID, de.Type, w.GFID, w.Mode&syscall.S_IFMT)
			}
			if !plus {
				continue
			}
			if de.Attr == nil {
				e.Errorf("readdirplus entry %s has no attributes", de.Name)
				continue
			}
			if de.Attr.GFID != w.GFID || de.Attr.Mode != w.Mode || de.Attr.Size != e.GetAttr(w.GFID).Size || de.Attr.Nlink != e.GetAttr(w.GFID).Nlink {
				e.Errorf("readdirplus attr of %s: %+v, want %+v", de.Name, *de.Attr, w)
			}
		}
	}
	_, _, errno = e.FS.ReadDir(e.Ctx, f.GFID, 0, 0, 0, false)
	e.Want("readdir of a file", errno, syscall.ENOTDIR)
	_, errno = e.FS.OpenDir(e.Ctx, f.GFID)
	e.Want("opendir of a file", errno, syscall.ENOTDIR)
	_, errno = e.FS.OpenDir(e.Ctx, vfs.NewGFID())
	e.Want("opendir of an unknown gfid", errno, syscall.ESTALE, syscall.ENOENT)
}

func testReadDirPaging(e *Env) {
	const n = 1200
	d := e.Mkdir(Root, "many", 0o755)
	for i := 0; i < n; i++ {
		e.File(d.GFID, fmt.Sprintf("entry-%04d-%s", i, "abcdefghijklmnopqrstuvwxyz"[:i%26]), 0o644, nil)
	}
	all := e.List(d.GFID, 0, false)
	if len(all) != n {
		e.Fatalf("one listing: %d entries, want %d", len(all), n)
	}
	seen := map[string]int{}
	for _, de := range e.List(d.GFID, 37, true) {
		seen[de.Name]++
		if de.Attr == nil || de.Attr.GFID != de.GFID {
			e.Errorf("paged readdirplus entry %s without attributes", de.Name)
		}
	}
	if len(seen) != n {
		e.Errorf("paged listing: %d distinct names, want %d", len(seen), n)
	}
	for name, c := range seen {
		if c != 1 {
			e.Errorf("%s listed %d times", name, c)
		}
	}
	// Stop after some pages, release the handle, and resume from the
	// cookie with a fresh handle, then with no handle at all.
	fh, errno := e.FS.OpenDir(e.Ctx, d.GFID)
	e.OK("opendir", errno)
	var got []vfs.DirEntry
	var cookie uint64
	for len(got) < 350 {
		ents, eof, errno := e.FS.ReadDir(e.Ctx, d.GFID, fh, cookie, 100, false)
		e.OK("readdir", errno)
		if len(ents) > 100 {
			e.Fatalf("readdir returned %d entries, asked for at most 100", len(ents))
		}
		if eof || len(ents) == 0 {
			e.Fatalf("eof after %d entries", len(got))
		}
		got = append(got, ents...)
		cookie = ents[len(ents)-1].Cookie
	}
	e.OK("releasedir", e.FS.ReleaseDir(e.Ctx, d.GFID, fh))
	fh2, errno := e.FS.OpenDir(e.Ctx, d.GFID)
	e.OK("opendir again", errno)
	ents, _, errno := e.FS.ReadDir(e.Ctx, d.GFID, fh2, cookie, 200, false)
	e.OK("readdir with a fresh handle", errno)
	e.OK("releasedir", e.FS.ReleaseDir(e.Ctx, d.GFID, fh2))
	got = append(got, ents...)
	cookie = ents[len(ents)-1].Cookie
	for {
		ents, eof, errno := e.FS.ReadDir(e.Ctx, d.GFID, 0, cookie, 250, false)
		e.OK("anonymous readdir", errno)
		got = append(got, ents...)
		if eof {
			break
		}
		if len(ents) == 0 {
			e.Fatalf("no progress")
		}
		cookie = ents[len(ents)-1].Cookie
	}
	if names := Names(got); !slices.Equal(names, Names(all)) {
		e.Errorf("resumed listing has %d names (%d distinct), want %d", len(names), len(slices.Compact(names)), n)
	}
	// A cookie of the last entry gives an empty page at EOF.
	ents, eof, errno := e.FS.ReadDir(e.Ctx, d.GFID, 0, got[len(got)-1].Cookie, 10, false)
	if errno != 0 || !eof || len(ents) != 0 {
		e.Errorf("readdir after the last cookie: %d entries eof=%v %v", len(ents), eof, errno)
	}
}

func testReadDirChanging(e *Env) {
	d := e.Mkdir(Root, "d", 0o755)
	for i := 0; i < 100; i++ {
		e.File(d.GFID, fmt.Sprintf("f%03d", i), 0o644, nil)
	}
	fh, errno := e.FS.OpenDir(e.Ctx, d.GFID)
	e.OK("opendir", errno)
	defer e.FS.ReleaseDir(e.Ctx, d.GFID, fh)
	first, _, errno := e.FS.ReadDir(e.Ctx, d.GFID, fh, 0, 30, false)
	e.OK("readdir", errno)
	// Entries removed and added during a listing: every entry that exists
	// throughout is returned exactly once.
	removed := map[string]bool{}
	for i := 0; i < 100; i += 3 {
		name := fmt.Sprintf("f%03d", i)
		if !slices.ContainsFunc(first, func(d vfs.DirEntry) bool { return d.Name == name }) {
			e.OK("unlink", e.FS.Unlink(e.Ctx, d.GFID, name))
			removed[name] = true
		}
	}
	for i := 0; i < 20; i++ {
		e.File(d.GFID, fmt.Sprintf("new%02d", i), 0o644, nil)
	}
	seen := map[string]int{}
	for _, de := range first {
		seen[de.Name]++
	}
	cookie := first[len(first)-1].Cookie
	for {
		ents, eof, errno := e.FS.ReadDir(e.Ctx, d.GFID, fh, cookie, 30, false)
		e.OK("readdir", errno)
		for _, de := range ents {
			seen[de.Name]++
		}
		if eof {
			break
		}
		cookie = ents[len(ents)-1].Cookie
	}
	for i := 0; i < 100; i++ {
		name := fmt.Sprintf("f%03d", i)
		if removed[name] {
			continue
		}
		if seen[name] != 1 {
			e.Errorf("%s seen %d times", name, seen[name])
		}
	}
}

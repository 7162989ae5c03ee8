package memfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

var (
	bg   = context.Background()
	root = vfs.RootGFID
)

// must returns v, panicking (which fails the test with a stack) on an errno.
func must[T any](v T, e syscall.Errno) T {
	if e != 0 {
		panic(fmt.Sprintf("unexpected %v", e))
	}
	return v
}

func ok(t *testing.T, e syscall.Errno) {
	t.Helper()
	if e != 0 {
		t.Fatalf("unexpected %v", e)
	}
}

func mkfile(t *testing.T, fs *FS, parent vfs.GFID, name, content string) vfs.Attr {
	t.Helper()
	a, fh, e := fs.Create(bg, parent, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR | syscall.O_EXCL})
	if e != 0 {
		t.Fatalf("create %s: %v", name, e)
	}
	if _, e := fs.Write(bg, a.GFID, fh, []byte(content), 0); e != 0 {
		t.Fatalf("write %s: %v", name, e)
	}
	fs.Release(bg, a.GFID, fh)
	return a
}

func mkdir(t *testing.T, fs *FS, parent vfs.GFID, name string) vfs.Attr {
	t.Helper()
	return must(fs.Mkdir(bg, parent, name, &vfs.CreateIn{Mode: 0o755}))
}

func names(t *testing.T, fs *FS, dir vfs.GFID) []string {
	t.Helper()
	ents, eof, e := fs.ReadDir(bg, dir, 0, 0, 0, false)
	if e != 0 || !eof {
		t.Fatalf("readdir: %v eof=%v", e, eof)
	}
	var out []string
	for _, d := range ents {
		out = append(out, d.Name)
	}
	return out
}

func content(t *testing.T, fs *FS, gfid vfs.GFID) string {
	t.Helper()
	buf := make([]byte, 1<<16)
	n := must(fs.Read(bg, gfid, 0, buf, 0))
	return string(buf[:n])
}

func TestCreateLookup(t *testing.T) {
	fs := New(Config{})
	must(fs.SetAttr(bg, root, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o777}))
	ctx := vfs.WithCaller(bg, &vfs.Caller{UID: 1000, GID: 100})
	want := vfs.GFID{0xaa}
	a, fh, e := fs.Create(ctx, root, "f", &vfs.CreateIn{GFID: want, Mode: 0o640, Flags: syscall.O_RDWR})
	if e != 0 || a.GFID != want || a.Mode != syscall.S_IFREG|0o640 || a.UID != 1000 || a.GID != 100 || a.Nlink != 1 {
		t.Fatalf("create: %+v %v", a, e)
	}
	fs.Release(bg, want, fh)
	tests := []struct {
		name   string
		parent vfs.GFID
		lookup string
		want   syscall.Errno
	}{
		{"found", root, "f", 0},
		{"missing", root, "g", syscall.ENOENT},
		{"parent not dir", want, "x", syscall.ENOTDIR},
		{"parent missing", vfs.GFID{7}, "x", syscall.ENOENT},
		{"dot", root, ".", syscall.EINVAL},
		{"slash", root, "a/b", syscall.EINVAL},
		{"too long", root, string(bytes.Repeat([]byte{'x'}, 256)), syscall.ENAMETOOLONG},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, e := fs.Lookup(bg, tc.parent, tc.lookup)
			if e != tc.want || (e == 0 && got.GFID != want) {
				t.Errorf("got %v %v, want %v", got.GFID, e, tc.want)
			}
		})
	}
	createTests := []struct {
		name  string
		in    vfs.CreateIn
		cname string
		want  syscall.Errno
	}{
		{"excl existing", vfs.CreateIn{Flags: syscall.O_EXCL | syscall.O_RDWR}, "f", syscall.EEXIST},
		{"open existing", vfs.CreateIn{Flags: syscall.O_RDWR}, "f", 0},
		{"gfid taken", vfs.CreateIn{GFID: want}, "g", syscall.EEXIST},
		{"bad name", vfs.CreateIn{}, "..", syscall.EINVAL},
	}
	for _, tc := range createTests {
		t.Run(tc.name, func(t *testing.T) {
			_, fh, e := fs.Create(bg, root, tc.cname, &tc.in)
			if e != tc.want {
				t.Errorf("got %v, want %v", e, tc.want)
			}
			if fh != 0 {
				fs.Release(bg, want, fh)
			}
		})
	}
}

func TestReadWrite(t *testing.T) {
	fs := New(Config{})
	a := mkfile(t, fs, root, "f", "hello world")
	g := a.GFID
	if got := content(t, fs, g); got != "hello world" {
		t.Fatalf("content %q", got)
	}
	// Sparse extension fills with zeros.
	must(fs.Write(bg, g, 0, []byte("!"), 15))
	if got := content(t, fs, g); got != "hello world\x00\x00\x00\x00!" {
		t.Fatalf("content %q", got)
	}
	// O_APPEND ignores the offset.
	fh := must(fs.Open(bg, g, syscall.O_WRONLY|syscall.O_APPEND))
	must(fs.Write(bg, g, fh, []byte("AB"), 0))
	if _, e := fs.Read(bg, g, fh, make([]byte, 1), 0); e != syscall.EBADF {
		t.Errorf("read on O_WRONLY handle: %v", e)
	}
	fs.Release(bg, g, fh)
	if got := content(t, fs, g); got != "hello world\x00\x00\x00\x00!AB" {
		t.Fatalf("after append %q", got)
	}
	// Read at and past EOF.
	buf := make([]byte, 10)
	if n, e := fs.Read(bg, g, 0, buf, 16); n != 2 || e != 0 {
		t.Errorf("short read: %d %v", n, e)
	}
	if n, e := fs.Read(bg, g, 0, buf, 100); n != 0 || e != 0 {
		t.Errorf("read past EOF: %d %v", n, e)
	}
	// Read-only handles refuse writes; O_TRUNC empties.
	ro := must(fs.Open(bg, g, syscall.O_RDONLY))
	if _, e := fs.Write(bg, g, ro, []byte("x"), 0); e != syscall.EBADF {
		t.Errorf("write on O_RDONLY handle: %v", e)
	}
	if _, e := fs.Write(bg, g, ro+100, []byte("x"), 0); e != syscall.EBADF {
		t.Errorf("write on unknown handle: %v", e)
	}
	fs.Release(bg, g, ro)
	fs.Release(bg, g, must(fs.Open(bg, g, syscall.O_RDWR|syscall.O_TRUNC)))
	if got := must(fs.GetAttr(bg, g, 0)); got.Size != 0 {
		t.Errorf("size after O_TRUNC %d", got.Size)
	}
	if fs.Usage() != 0 {
		t.Errorf("usage %d after truncate", fs.Usage())
	}
	if _, e := fs.Open(bg, root, syscall.O_RDWR); e != syscall.EISDIR {
		t.Errorf("write-open of a directory: %v", e)
	}
}

func TestTimes(t *testing.T) {
	now := time.Unix(1000, 0)
	fs := New(Config{Clock: func() time.Time { return now }})
	a := mkfile(t, fs, root, "f", "x")
	now = now.Add(time.Second)
	must(fs.Write(bg, a.GFID, 0, []byte("y"), 0))
	got := must(fs.GetAttr(bg, a.GFID, 0))
	if got.Mtime.Sec != 1001 || got.Ctime.Sec != 1001 || got.Atime.Sec != 1000 {
		t.Errorf("times after write: %+v", got)
	}
	got = must(fs.SetAttr(bg, a.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMtime | vfs.SetMode, Mtime: vfs.Timespec{Sec: 5}, Mode: 0o600}))
	if got.Mtime.Sec != 5 || got.Mode != syscall.S_IFREG|0o600 {
		t.Errorf("setattr: %+v", got)
	}
	if _, e := fs.SetAttr(bg, root, 0, &vfs.SetAttrIn{Valid: vfs.SetSize}); e != syscall.EISDIR {
		t.Errorf("truncate dir: %v", e)
	}
	if d := must(fs.GetAttr(bg, root, 0)); d.Mtime.Sec != 1000 {
		t.Errorf("root mtime %v, want the create time", d.Mtime)
	}
}

func TestLinksAndUnlink(t *testing.T) {
	fs := New(Config{})
	d := mkdir(t, fs, root, "d")
	a := mkfile(t, fs, root, "f", "data")
	if got := must(fs.Link(bg, a.GFID, d.GFID, "g")); got.Nlink != 2 {
		t.Errorf("nlink after link %d", got.Nlink)
	}
	if _, e := fs.Link(bg, a.GFID, d.GFID, "g"); e != syscall.EEXIST {
		t.Errorf("link over existing: %v", e)
	}
	if _, e := fs.Link(bg, d.GFID, root, "dl"); e != syscall.EPERM {
		t.Errorf("link of a directory: %v", e)
	}
	if e := fs.Unlink(bg, root, "d"); e != syscall.EISDIR {
		t.Errorf("unlink of a directory: %v", e)
	}
	ok(t, fs.Unlink(bg, root, "f"))
	if got := must(fs.Lookup(bg, d.GFID, "g")); got.Nlink != 1 {
		t.Errorf("nlink after unlink %d", got.Nlink)
	}
	// An open, fully unlinked file stays readable by GFID until released.
	fh := must(fs.Open(bg, a.GFID, syscall.O_RDONLY))
	ok(t, fs.Unlink(bg, d.GFID, "g"))
	if got := content(t, fs, a.GFID); got != "data" {
		t.Errorf("unlinked open file reads %q", got)
	}
	ok(t, fs.Release(bg, a.GFID, fh))
	if _, e := fs.GetAttr(bg, a.GFID, 0); e != syscall.ENOENT {
		t.Errorf("released unlinked file: %v", e)
	}
	if fs.Usage() != 0 {
		t.Errorf("usage %d after last release", fs.Usage())
	}
	if e := fs.Release(bg, a.GFID, fh); e != syscall.EBADF {
		t.Errorf("double release: %v", e)
	}
}

func TestDirs(t *testing.T) {
	fs := New(Config{})
	d := mkdir(t, fs, root, "d")
	if got := must(fs.GetAttr(bg, root, 0)); got.Nlink != 3 {
		t.Errorf("root nlink %d, want 3", got.Nlink)
	}
	mkfile(t, fs, d.GFID, "f", "")
	if e := fs.Rmdir(bg, root, "d"); e != syscall.ENOTEMPTY {
		t.Errorf("rmdir non-empty: %v", e)
	}
	if e := fs.Rmdir(bg, d.GFID, "f"); e != syscall.ENOTDIR {
		t.Errorf("rmdir of a file: %v", e)
	}
	ok(t, fs.Unlink(bg, d.GFID, "f"))
	ok(t, fs.Rmdir(bg, root, "d"))
	if got := must(fs.GetAttr(bg, root, 0)); got.Nlink != 2 {
		t.Errorf("root nlink %d, want 2", got.Nlink)
	}
	if _, e := fs.GetAttr(bg, d.GFID, 0); e != syscall.ENOENT {
		t.Errorf("removed dir: %v", e)
	}
	// Symlinks and nodes.
	s := must(fs.Symlink(bg, root, "s", "../target", &vfs.CreateIn{}))
	if got := must(fs.Readlink(bg, s.GFID)); got != "../target" || s.Size != 9 {
		t.Errorf("readlink %q size %d", got, s.Size)
	}
	if _, e := fs.Readlink(bg, root); e != syscall.EINVAL {
		t.Errorf("readlink of a dir: %v", e)
	}
	n := must(fs.Mknod(bg, root, "fifo", &vfs.CreateIn{Mode: syscall.S_IFIFO | 0o600}))
	if n.Mode != syscall.S_IFIFO|0o600 {
		t.Errorf("mknod mode %o", n.Mode)
	}
	if _, e := fs.Mknod(bg, root, "x", &vfs.CreateIn{Mode: syscall.S_IFDIR}); e != syscall.EINVAL {
		t.Errorf("mknod of a dir: %v", e)
	}
}

// TestReadDirCookies: a listing resumed from a cookie neither repeats nor
// skips entries that stayed, whatever changed meanwhile.
func TestReadDirCookies(t *testing.T) {
	fs := New(Config{})
	for i := 0; i < 10; i++ {
		mkfile(t, fs, root, fmt.Sprintf("f%d", i), "")
	}
	dh := must(fs.OpenDir(bg, root))
	ents, eof, e := fs.ReadDir(bg, root, dh, 0, 4, true)
	if e != 0 || eof || len(ents) != 4 || ents[0].Attr == nil || ents[0].Type != syscall.S_IFREG {
		t.Fatalf("first page: %d entries eof=%v %v", len(ents), eof, e)
	}
	ok(t, fs.ReleaseDir(bg, root, dh))
	ok(t, fs.Unlink(bg, root, "f5"))
	mkfile(t, fs, root, "new", "")
	seen := []string{}
	for _, d := range ents {
		seen = append(seen, d.Name)
	}
	cookie := ents[len(ents)-1].Cookie
	for !eof {
		ents, eof, e = fs.ReadDir(bg, root, 0, cookie, 3, false)
		if e != 0 {
			t.Fatal(e)
		}
		for _, d := range ents {
			seen = append(seen, d.Name)
			cookie = d.Cookie
		}
	}
	want := []string{"f0", "f1", "f2", "f3", "f4", "f6", "f7", "f8", "f9", "new"}
	if !slices.Equal(seen, want) {
		t.Errorf("listing %v, want %v", seen, want)
	}
	if _, _, e := fs.ReadDir(bg, root, 999, 0, 0, false); e != syscall.EBADF {
		t.Errorf("bad dir handle: %v", e)
	}
}

func TestRename(t *testing.T) {
	tests := []struct {
		name      string
		files     []string // "d/" is a directory; "x=content" a file
		from, to  string   // "dir/name" with dir "" for root
		flags     uint32
		want      syscall.Errno
		wantNames map[string][]string // directory → listing after
	}{
		{"file to new name", []string{"a=1"}, "a", "b", 0, 0, map[string][]string{"": {"b"}}},
		{"file over file", []string{"a=1", "b=2"}, "a", "b", 0, 0, map[string][]string{"": {"b"}}},
		{"noreplace", []string{"a=1", "b=2"}, "a", "b", vfs.RenameNoReplace, syscall.EEXIST, map[string][]string{"": {"a", "b"}}},
		{"file over dir", []string{"a=1", "d/"}, "a", "d", 0, syscall.EISDIR, nil},
		{"dir over file", []string{"a=1", "d/"}, "d", "a", 0, syscall.ENOTDIR, nil},
		{"dir over empty dir", []string{"d/", "e/"}, "d", "e", 0, 0, map[string][]string{"": {"e"}}},
		{"dir over full dir", []string{"d/", "e/", "e/x=1"}, "d", "e", 0, syscall.ENOTEMPTY, nil},
		{"dir into itself", []string{"d/", "d/e/"}, "d", "d/e/f", 0, syscall.EINVAL, nil},
		{"across dirs", []string{"d/", "e/", "d/x=1"}, "d/x", "e/y", 0, 0, map[string][]string{"d": nil, "e": {"y"}}},
		{"missing source", nil, "a", "b", 0, syscall.ENOENT, nil},
		{"exchange", []string{"a=1", "d/"}, "a", "d", vfs.RenameExchange, 0, map[string][]string{"": {"a", "d"}}},
		{"exchange missing", []string{"a=1"}, "a", "b", vfs.RenameExchange, syscall.ENOENT, nil},
		{"bad flags", []string{"a=1"}, "a", "b", vfs.RenameExchange | vfs.RenameNoReplace, syscall.EINVAL, nil},
		{"hard links", []string{"a=1"}, "a", "a", 0, 0, map[string][]string{"": {"a"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := New(Config{})
			dirs := map[string]vfs.GFID{"": root}
			resolve := func(p string) (vfs.GFID, string) {
				for i := len(p) - 1; i >= 0; i-- {
					if p[i] == '/' {
						return dirs[p[:i]], p[i+1:]
					}
				}
				return root, p
			}
			for _, f := range tc.files {
				if f[len(f)-1] == '/' {
					parent, name := resolve(f[:len(f)-1])
					dirs[f[:len(f)-1]] = mkdir(t, fs, parent, name).GFID
					continue
				}
				i := bytes.IndexByte([]byte(f), '=')
				parent, name := resolve(f[:i])
				mkfile(t, fs, parent, name, f[i+1:])
			}
			op, on := resolve(tc.from)
			np, nn := resolve(tc.to)
			if e := fs.Rename(bg, op, on, np, nn, tc.flags); e != tc.want {
				t.Fatalf("rename: %v, want %v", e, tc.want)
			}
			for d, want := range tc.wantNames {
				got := names(t, fs, dirs[d])
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("dir %q: %v, want %v", d, got, want)
				}
			}
		})
	}
}

func TestRenameDirNlinkAndParent(t *testing.T) {
	fs := New(Config{})
	d := mkdir(t, fs, root, "d")
	e := mkdir(t, fs, root, "e")
	x := mkdir(t, fs, d.GFID, "x")
	ok(t, fs.Rename(bg, d.GFID, "x", e.GFID, "x", 0))
	if got := must(fs.GetAttr(bg, d.GFID, 0)); got.Nlink != 2 {
		t.Errorf("old parent nlink %d", got.Nlink)
	}
	if got := must(fs.GetAttr(bg, e.GFID, 0)); got.Nlink != 3 {
		t.Errorf("new parent nlink %d", got.Nlink)
	}
	// x now lives under e, so moving e into x is a loop; moving d is not.
	if err := fs.Rename(bg, root, "e", x.GFID, "e", 0); err != syscall.EINVAL {
		t.Errorf("e into its child x: %v", err)
	}
	ok(t, fs.Rename(bg, root, "d", x.GFID, "d", 0))
}

func TestXattr(t *testing.T) {
	fs := New(Config{})
	g := mkfile(t, fs, root, "f", "").GFID
	steps := []struct {
		op    string
		name  string
		value string
		flags uint32
		want  syscall.Errno
	}{
		{"get", "user.a", "", 0, syscall.ENODATA},
		{"set", "user.a", "1", vfs.XattrReplace, syscall.ENODATA},
		{"set", "user.a", "1", vfs.XattrCreate, 0},
		{"set", "user.a", "2", vfs.XattrCreate, syscall.EEXIST},
		{"set", "user.a", "3", vfs.XattrReplace, 0},
		{"get", "user.a", "3", 0, 0},
		{"set", "trusted.b", "", 0, 0},
		{"get", "trusted.b", "", 0, 0},
		{"remove", "user.a", "", 0, 0},
		{"remove", "user.a", "", 0, syscall.ENODATA},
		{"get", "", "", 0, syscall.ERANGE},
		{"set", "user.big", string(make([]byte, xattrSizeMax+1)), 0, syscall.E2BIG},
	}
	for i, s := range steps {
		var e syscall.Errno
		switch s.op {
		case "get":
			var v []byte
			v, e = fs.GetXattr(bg, g, s.name)
			if e == 0 && string(v) != s.value {
				t.Errorf("step %d: value %q, want %q", i, v, s.value)
			}
		case "set":
			e = fs.SetXattr(bg, g, s.name, []byte(s.value), s.flags)
		case "remove":
			e = fs.RemoveXattr(bg, g, s.name)
		}
		if e != s.want {
			t.Errorf("step %d %s %s: %v, want %v", i, s.op, s.name, e, s.want)
		}
	}
	if got := must(fs.ListXattr(bg, g)); !slices.Equal(got, []string{"trusted.b"}) {
		t.Errorf("list %v", got)
	}
}

func be32(v ...int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

func TestXattrOp(t *testing.T) {
	fs := New(Config{})
	g := mkfile(t, fs, root, "f", "").GFID
	const p = "trusted.cairn.pending.b0"
	out := must(fs.XattrOp(bg, g, vfs.XattrAddArray32, map[string][]byte{p: be32(1, 0, 2)}))
	if !bytes.Equal(out[p], be32(1, 0, 2)) {
		t.Errorf("first add: %x", out[p])
	}
	out = must(fs.XattrOp(bg, g, vfs.XattrAddArray32, map[string][]byte{p: be32(-1, 5, -2)}))
	if !bytes.Equal(out[p], be32(0, 5, 0)) {
		t.Errorf("second add: %x", out[p])
	}
	if _, e := fs.XattrOp(bg, g, vfs.XattrAddArray32, map[string][]byte{p: be32(1)}); e != syscall.EINVAL {
		t.Errorf("length mismatch: %v", e)
	}
	if _, e := fs.XattrOp(bg, g, vfs.XattrAddArray64, map[string][]byte{"user.x": {1, 2, 3}}); e != syscall.EINVAL {
		t.Errorf("ragged operand: %v", e)
	}
	// Concurrent increments are atomic.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fs.XattrOp(bg, g, vfs.XattrAddArray64, map[string][]byte{"user.n": {0, 0, 0, 0, 0, 0, 0, 1}})
		}()
	}
	wg.Wait()
	v := must(fs.GetXattr(bg, g, "user.n"))
	if binary.BigEndian.Uint64(v) != 50 {
		t.Errorf("counter %d, want 50", binary.BigEndian.Uint64(v))
	}
}

func TestCapacityFallocateLseek(t *testing.T) {
	fs := New(Config{Capacity: 100})
	g := mkfile(t, fs, root, "f", string(make([]byte, 60))).GFID
	if _, e := fs.Write(bg, g, 0, make([]byte, 50), 60); e != syscall.ENOSPC {
		t.Errorf("write past capacity: %v", e)
	}
	if e := fs.Fallocate(bg, g, 0, 0, 0, 101); e != syscall.ENOSPC {
		t.Errorf("fallocate past capacity: %v", e)
	}
	ok(t, fs.Fallocate(bg, g, 0, 0, 0, 80))
	if a := must(fs.GetAttr(bg, g, 0)); a.Size != 80 {
		t.Errorf("size after fallocate %d", a.Size)
	}
	must(fs.Write(bg, g, 0, []byte("abcdef"), 0))
	ok(t, fs.Fallocate(bg, g, 0, fallocKeepSize|fallocPunchHole, 1, 2))
	if got := content(t, fs, g)[:6]; got != "a\x00\x00def" {
		t.Errorf("after punch %q", got)
	}
	if e := fs.Fallocate(bg, g, 0, fallocPunchHole, 0, 1); e != syscall.EINVAL {
		t.Errorf("punch without keep-size: %v", e)
	}
	if st := must(fs.StatFS(bg, root)); st.Blocks != 0 || st.NameLen != 255 {
		t.Logf("statfs %+v", st) // 100 bytes is less than a block
	}
	tests := []struct {
		off    int64
		whence int
		want   int64
		err    syscall.Errno
	}{
		{0, 3, 0, 0}, {10, 3, 10, 0}, {80, 3, 0, syscall.ENXIO},
		{0, 4, 80, 0}, {79, 4, 80, 0}, {80, 4, 0, syscall.ENXIO},
		{0, 0, 0, syscall.EINVAL},
	}
	for _, tc := range tests {
		got, e := fs.Lseek(bg, g, 0, tc.off, tc.whence)
		if got != tc.want || e != tc.err {
			t.Errorf("lseek(%d, %d) = %d %v, want %d %v", tc.off, tc.whence, got, e, tc.want, tc.err)
		}
	}
}

func TestLocksNotKept(t *testing.T) {
	fs := New(Config{})
	if e := fs.SetLk(bg, root, 0, vfs.PosixLock, vfs.Lock{Type: vfs.WriteLock}, false); e != syscall.ENOSYS {
		t.Errorf("SetLk: %v", e)
	}
}

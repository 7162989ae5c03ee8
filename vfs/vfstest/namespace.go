package vfstest

import (
	"strings"
	"sync"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

func namespaceCases() []Case {
	return []Case{
		{Name: "RootAndLookup", Fn: testRootAndLookup},
		{Name: "BadNames", Fn: testBadNames},
		{Name: "Create", Fn: testCreate},
		{Name: "CreateWithGFID", Fn: testCreateWithGFID},
		{Name: "CreateExisting", Fn: testCreateExisting},
		{Name: "Mkdir", Fn: testMkdir},
		{Name: "Mknod", Fn: testMknod},
		{Name: "Symlink", Fn: testSymlink},
		{Name: "HardLinks", Fn: testHardLinks},
		{Name: "Unlink", Fn: testUnlink},
		{Name: "UnlinkedAnonymousIO", Fn: testUnlinkedAnonymousIO},
		{Name: "Rmdir", Fn: testRmdir},
		{Name: "Rename", Fn: testRename},
		{Name: "RenameOverExisting", Fn: testRenameOverExisting},
		{Name: "RenameNoReplace", Fn: testRenameNoReplace},
		{Name: "RenameErrors", Fn: testRenameErrors},
		{Name: "RenameDirKeepsChildren", Fn: testRenameDirKeepsChildren},
		{Name: "RenameExchange", Fn: testRenameExchange},
		{Name: "ConcurrentCreates", Fn: testConcurrentCreates},
	}
}

func testRootAndLookup(e *Env) {
	a := e.GetAttr(Root)
	if !a.IsDir() || a.GFID != Root || a.Nlink < 2 {
		e.Errorf("root attr %+v", a)
	}
	_, errno := e.FS.Lookup(e.Ctx, Root, "missing")
	e.Want("lookup missing", errno, syscall.ENOENT)
	f := e.File(Root, "f", 0o644, []byte("x"))
	_, errno = e.FS.Lookup(e.Ctx, f.GFID, "x")
	e.Want("lookup in a file", errno, syscall.ENOTDIR)
	_, errno = e.FS.Lookup(e.Ctx, vfs.NewGFID(), "x")
	e.Want("lookup in an unknown gfid", errno, syscall.ESTALE, syscall.ENOENT)
	_, errno = e.FS.GetAttr(e.Ctx, vfs.NewGFID(), 0)
	e.Want("getattr of an unknown gfid", errno, syscall.ESTALE, syscall.ENOENT)
	// The brick's private directory is never visible.
	_, errno = e.FS.Lookup(e.Ctx, Root, vfs.ReservedName)
	e.Want("lookup .cairn", errno, syscall.ENOENT)
	for _, d := range e.List(Root, 0, false) {
		if d.Name == vfs.ReservedName {
			e.Errorf("%s listed in the root", vfs.ReservedName)
		}
	}
}

// badNames are names every namespace operation must refuse, with the errno.
var badNames = []struct {
	name  string
	errno syscall.Errno
}{
	{"", syscall.EINVAL},
	{".", syscall.EINVAL},
	{"..", syscall.EINVAL},
	{"a/b", syscall.EINVAL},
	{"/", syscall.EINVAL},
	{"../etc", syscall.EINVAL},
	{"a\x00b", syscall.EINVAL},
	{strings.Repeat("n", vfs.NameMax+1), syscall.ENAMETOOLONG},
}

func testBadNames(e *Env) {
	d := e.Mkdir(Root, "d", 0o755)
	f := e.File(d.GFID, "f", 0o644, nil)
	in := &vfs.CreateIn{Mode: 0o644}
	for _, b := range badNames {
		ok := []syscall.Errno{b.errno}
		if b.errno == syscall.EINVAL {
			// Some layers report a bad name as ENOENT in lookups.
			ok = append(ok, syscall.ENOENT)
		}
		_, errno := e.FS.Lookup(e.Ctx, d.GFID, b.name)
		e.Want("lookup "+quote(b.name), errno, ok...)
		_, _, errno = e.FS.Create(e.Ctx, d.GFID, b.name, in)
		e.Want("create "+quote(b.name), errno, b.errno)
		_, errno = e.FS.Mkdir(e.Ctx, d.GFID, b.name, in)
		e.Want("mkdir "+quote(b.name), errno, b.errno)
		_, errno = e.FS.Mknod(e.Ctx, d.GFID, b.name, in)
		e.Want("mknod "+quote(b.name), errno, b.errno)
		_, errno = e.FS.Symlink(e.Ctx, d.GFID, b.name, "t", in)
		e.Want("symlink "+quote(b.name), errno, b.errno)
		_, errno = e.FS.Link(e.Ctx, f.GFID, d.GFID, b.name)
		e.Want("link "+quote(b.name), errno, b.errno)
		e.Want("unlink "+quote(b.name), e.FS.Unlink(e.Ctx, d.GFID, b.name), ok...)
		e.Want("rmdir "+quote(b.name), e.FS.Rmdir(e.Ctx, d.GFID, b.name), ok...)
		e.Want("rename from "+quote(b.name), e.FS.Rename(e.Ctx, d.GFID, b.name, d.GFID, "x", 0), ok...)
		e.Want("rename to "+quote(b.name), e.FS.Rename(e.Ctx, d.GFID, "f", d.GFID, b.name, 0), b.errno)
	}
	// The longest legal name works.
	long := strings.Repeat("l", vfs.NameMax)
	e.File(d.GFID, long, 0o644, nil)
	e.Lookup(d.GFID, long)
	// Nothing else appeared.
	if got := Names(e.List(d.GFID, 0, false)); len(got) != 2 {
		e.Errorf("directory after bad names: %q", got)
	}
}

func quote(s string) string {
	if len(s) > 20 {
		return "<" + s[:5] + "...>"
	}
	return "\"" + strings.ReplaceAll(s, "\x00", "\\0") + "\""
}

func testCreate(e *Env) {
	a, fh, errno := e.FS.Create(e.Ctx, Root, "f", &vfs.CreateIn{Mode: 0o640, Flags: syscall.O_WRONLY})
	e.OK("create", errno)
	defer e.FS.Release(e.Ctx, a.GFID, fh)
	if !a.IsRegular() || a.Mode&07777 != 0o640 || a.Size != 0 || a.Nlink != 1 || a.GFID.IsZero() {
		e.Errorf("create attr %+v", a)
	}
	if a.UID != e.UID() || a.GID != e.GID() {
		e.Errorf("file of %d:%d owned by %d:%d", e.UID(), e.GID(), a.UID, a.GID)
	}
	if a.Ino() != a.GFID.Ino() {
		e.Errorf("ino")
	}
	l := e.Lookup(Root, "f")
	if l.GFID != a.GFID || l.Mode != a.Mode {
		e.Errorf("lookup %+v, create %+v", l, a)
	}
	// Mode bits beyond the permissions are kept (umask is the client's).
	b, fh2, errno := e.FS.Create(e.Ctx, Root, "suid", &vfs.CreateIn{Mode: 0o4755, Flags: syscall.O_RDONLY})
	e.OK("create suid", errno)
	e.FS.Release(e.Ctx, b.GFID, fh2)
	if b.Mode&07777 != 0o4755 {
		e.Errorf("create 04755 gave %o", b.Mode&07777)
	}
	if e.GetAttr(Root).Mtime.Sec == 0 {
		e.Errorf("root mtime 0")
	}
}

func testCreateWithGFID(e *Env) {
	g := vfs.NewGFID()
	a, fh, errno := e.FS.Create(e.Ctx, Root, "f", &vfs.CreateIn{GFID: g, Mode: 0o644, Flags: syscall.O_RDWR})
	e.OK("create", errno)
	e.FS.Release(e.Ctx, a.GFID, fh)
	if a.GFID != g {
		e.Errorf("create chose %v, asked %v", a.GFID, g)
	}
	if e.Lookup(Root, "f").GFID != g || e.GetAttr(g).GFID != g {
		e.Errorf("gfid not kept")
	}
	dg := vfs.NewGFID()
	d, errno := e.FS.Mkdir(e.Ctx, Root, "d", &vfs.CreateIn{GFID: dg, Mode: 0o755})
	e.OK("mkdir", errno)
	if d.GFID != dg || !isDir(e.GetAttr(dg)) {
		e.Errorf("mkdir gfid not kept")
	}
	sg := vfs.NewGFID()
	s, errno := e.FS.Symlink(e.Ctx, d.GFID, "s", "f", &vfs.CreateIn{GFID: sg})
	e.OK("symlink", errno)
	if s.GFID != sg {
		e.Errorf("symlink gfid not kept")
	}
	ng := vfs.NewGFID()
	n, errno := e.FS.Mknod(e.Ctx, d.GFID, "n", &vfs.CreateIn{GFID: ng, Mode: syscall.S_IFIFO | 0o600})
	e.OK("mknod", errno)
	if n.GFID != ng {
		e.Errorf("mknod gfid not kept")
	}
	// A GFID in use cannot be given to a second object.
	_, errno = e.FS.Mkdir(e.Ctx, Root, "d2", &vfs.CreateIn{GFID: g, Mode: 0o755})
	e.Want("mkdir with a gfid in use", errno, syscall.EEXIST)
	_, _, errno = e.FS.Create(e.Ctx, Root, "f2", &vfs.CreateIn{GFID: dg, Mode: 0o644, Flags: syscall.O_EXCL})
	e.Want("create with a gfid in use", errno, syscall.EEXIST)
	e.Gone(Root, "d2")
	e.Gone(Root, "f2")
}

func testCreateExisting(e *Env) {
	a := e.File(Root, "f", 0o644, []byte("hello"))
	_, _, errno := e.FS.Create(e.Ctx, Root, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR | syscall.O_EXCL})
	e.Want("create O_EXCL over a file", errno, syscall.EEXIST)
	b, fh, errno := e.FS.Create(e.Ctx, Root, "f", &vfs.CreateIn{Mode: 0o600, Flags: syscall.O_RDWR})
	e.OK("create without O_EXCL over a file", errno)
	e.FS.Release(e.Ctx, b.GFID, fh)
	if b.GFID != a.GFID || b.Size != 5 || b.Mode&0o777 != 0o644 {
		e.Errorf("create opened %+v, want the existing file %+v", b, a)
	}
	c, fh, errno := e.FS.Create(e.Ctx, Root, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY | syscall.O_TRUNC})
	e.OK("create O_TRUNC over a file", errno)
	e.FS.Release(e.Ctx, c.GFID, fh)
	if c.GFID != a.GFID || e.GetAttr(a.GFID).Size != 0 {
		e.Errorf("O_TRUNC create did not truncate the existing file")
	}
	e.Mkdir(Root, "d", 0o755)
	_, _, errno = e.FS.Create(e.Ctx, Root, "d", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	e.Want("create over a directory", errno, syscall.EISDIR, syscall.EEXIST)
	_, errno = e.FS.Mkdir(e.Ctx, Root, "f", &vfs.CreateIn{Mode: 0o755})
	e.Want("mkdir over a file", errno, syscall.EEXIST)
	_, errno = e.FS.Symlink(e.Ctx, Root, "d", "x", &vfs.CreateIn{})
	e.Want("symlink over a directory", errno, syscall.EEXIST)
	_, errno = e.FS.Mknod(e.Ctx, Root, "f", &vfs.CreateIn{Mode: syscall.S_IFIFO | 0o644})
	e.Want("mknod over a file", errno, syscall.EEXIST)
}

func testMkdir(e *Env) {
	before := e.GetAttr(Root).Nlink
	d := e.Mkdir(Root, "d", 0o750)
	if !d.IsDir() || d.Mode&07777 != 0o750 || d.Nlink != 2 {
		e.Errorf("mkdir attr %+v", d)
	}
	if after := e.GetAttr(Root).Nlink; after != before+1 {
		e.Errorf("parent nlink %d -> %d, want +1", before, after)
	}
	sub := e.Mkdir(d.GFID, "sub", 0o755)
	if e.Lookup(d.GFID, "sub").GFID != sub.GFID {
		e.Errorf("lookup sub")
	}
	_, errno := e.FS.Mkdir(e.Ctx, Root, "d", &vfs.CreateIn{Mode: 0o755})
	e.Want("mkdir existing", errno, syscall.EEXIST)
	f := e.File(Root, "f", 0o644, nil)
	_, errno = e.FS.Mkdir(e.Ctx, f.GFID, "x", &vfs.CreateIn{Mode: 0o755})
	e.Want("mkdir in a file", errno, syscall.ENOTDIR)
	_, errno = e.FS.Mkdir(e.Ctx, vfs.NewGFID(), "x", &vfs.CreateIn{Mode: 0o755})
	e.Want("mkdir in an unknown gfid", errno, syscall.ESTALE, syscall.ENOENT)
	st := e.Mkdir(Root, "sticky", 0o1777)
	if st.Mode&07777 != 0o1777 {
		e.Errorf("mkdir 01777 gave %o", st.Mode&07777)
	}
}

func testMknod(e *Env) {
	for _, c := range []struct {
		name string
		mode uint32
	}{
		{"fifo", syscall.S_IFIFO | 0o640},
		{"reg", syscall.S_IFREG | 0o600},
		{"sock", syscall.S_IFSOCK | 0o644},
	} {
		a, errno := e.FS.Mknod(e.Ctx, Root, c.name, &vfs.CreateIn{Mode: c.mode})
		e.OK("mknod "+c.name, errno)
		if a.Mode != c.mode {
			e.Errorf("mknod %s: mode %o, want %o", c.name, a.Mode, c.mode)
		}
		if l := e.Lookup(Root, c.name); l.Mode != c.mode || l.GFID != a.GFID {
			e.Errorf("lookup %s: %+v", c.name, l)
		}
	}
	// Root may make device nodes; the brick must never open them.
	dev, errno := e.FS.Mknod(e.Admin, Root, "null", &vfs.CreateIn{Mode: syscall.S_IFCHR | 0o666, Rdev: 1<<8 | 3})
	e.OK("mknod chr", errno)
	if dev.Mode&syscall.S_IFMT != syscall.S_IFCHR || dev.Rdev != 1<<8|3 {
		e.Errorf("mknod chr attr %+v", dev)
	}
	_, errno = e.FS.Open(e.Admin, dev.GFID, syscall.O_RDWR)
	e.Want("open of a device node", errno, syscall.EACCES, syscall.EPERM, syscall.ENXIO, syscall.EOPNOTSUPP)
	d := e.Mkdir(Root, "pub", 0o777)
	_, errno = e.FS.Mknod(e.As(1000, 1000), d.GFID, "chr", &vfs.CreateIn{Mode: syscall.S_IFCHR | 0o666, Rdev: 1<<8 | 3})
	e.Want("mknod chr by a user", errno, syscall.EPERM)
	_, errno = e.FS.Mknod(e.Ctx, Root, "dir", &vfs.CreateIn{Mode: syscall.S_IFDIR | 0o755})
	e.Want("mknod S_IFDIR", errno, syscall.EPERM, syscall.EINVAL)
}

func testSymlink(e *Env) {
	for i, target := range []string{"f", "/etc/passwd", "../../../../outside", "a/b/c", strings.Repeat("x/", 500) + "y"} {
		name := "s" + string(rune('0'+i))
		a, errno := e.FS.Symlink(e.Ctx, Root, name, target, &vfs.CreateIn{})
		e.OK("symlink "+name, errno)
		if !a.IsSymlink() || a.Size != uint64(len(target)) {
			e.Errorf("symlink attr %+v", a)
		}
		got, errno := e.FS.Readlink(e.Ctx, a.GFID)
		e.OK("readlink", errno)
		if got != target {
			e.Errorf("readlink %q, want %q", got, target)
		}
		if l := e.Lookup(Root, name); !l.IsSymlink() || l.GFID != a.GFID {
			e.Errorf("lookup of symlink %+v", l)
		}
	}
	f := e.File(Root, "f", 0o644, nil)
	_, errno := e.FS.Readlink(e.Ctx, f.GFID)
	e.Want("readlink of a file", errno, syscall.EINVAL)
	_, errno = e.FS.Readlink(e.Ctx, Root)
	e.Want("readlink of a directory", errno, syscall.EINVAL)
	_, errno = e.FS.Symlink(e.Ctx, Root, "empty", "", &vfs.CreateIn{})
	e.Want("symlink to an empty target", errno, syscall.ENOENT, syscall.EINVAL)
	// Opening a symlink is never a way through it.
	s := e.Lookup(Root, "s1")
	_, errno = e.FS.Open(e.Ctx, s.GFID, syscall.O_RDONLY)
	e.Want("open of a symlink", errno, syscall.ELOOP, syscall.EINVAL, syscall.EACCES)
	_, errno = e.FS.Lookup(e.Ctx, s.GFID, "passwd")
	e.Want("lookup through a symlink", errno, syscall.ENOTDIR)
}

func testHardLinks(e *Env) {
	d := e.Mkdir(Root, "d", 0o755)
	f := e.File(Root, "f", 0o644, []byte("shared"))
	a, errno := e.FS.Link(e.Ctx, f.GFID, d.GFID, "g")
	e.OK("link", errno)
	if a.GFID != f.GFID || a.Nlink != 2 {
		e.Errorf("link attr %+v", a)
	}
	if l := e.Lookup(d.GFID, "g"); l.GFID != f.GFID || l.Nlink != 2 {
		e.Errorf("lookup of the link %+v", l)
	}
	if e.GetAttr(f.GFID).Nlink != 2 {
		e.Errorf("nlink after link")
	}
	_, errno = e.FS.Link(e.Ctx, f.GFID, d.GFID, "h")
	e.OK("second link", errno)
	if n := e.GetAttr(f.GFID).Nlink; n != 3 {
		e.Errorf("nlink %d, want 3", n)
	}
	if string(e.ReadAll(e.Lookup(d.GFID, "h").GFID)) != "shared" {
		e.Errorf("content through a link")
	}
	e.OK("unlink f", e.FS.Unlink(e.Ctx, Root, "f"))
	if n := e.GetAttr(f.GFID).Nlink; n != 2 {
		e.Errorf("nlink after unlink %d, want 2", n)
	}
	e.OK("unlink g", e.FS.Unlink(e.Ctx, d.GFID, "g"))
	if n := e.GetAttr(f.GFID).Nlink; n != 1 {
		e.Errorf("nlink after 2 unlinks %d, want 1", n)
	}
	if string(e.ReadAll(f.GFID)) != "shared" {
		e.Errorf("content after unlinks")
	}
	_, errno = e.FS.Link(e.Ctx, d.GFID, Root, "dlink")
	e.Want("link of a directory", errno, syscall.EPERM)
	_, errno = e.FS.Link(e.Ctx, f.GFID, d.GFID, "h")
	e.Want("link over an existing name", errno, syscall.EEXIST)
	_, errno = e.FS.Link(e.Ctx, vfs.NewGFID(), d.GFID, "x")
	e.Want("link of an unknown gfid", errno, syscall.ESTALE, syscall.ENOENT)
	s, errno := e.FS.Symlink(e.Ctx, Root, "s", "target", &vfs.CreateIn{})
	e.OK("symlink", errno)
	sl, errno := e.FS.Link(e.Ctx, s.GFID, d.GFID, "s2")
	e.OK("link of a symlink", errno)
	if !sl.IsSymlink() || sl.Nlink != 2 {
		e.Errorf("link of a symlink: %+v", sl)
	}
	e.OK("unlink h", e.FS.Unlink(e.Ctx, d.GFID, "h"))
	e.Stale(f.GFID)
}

// testUnlinkedAnonymousIO: after an unlink through the stack, a GFID is
// stale for anonymous I/O too, even if a layer cached its data or a
// descriptor (an NFS client must get ESTALE, not old data).
func testUnlinkedAnonymousIO(e *Env) {
	f := e.File(Root, "f", 0o644, []byte("x"))
	if string(e.ReadAll(f.GFID)) != "x" {
		e.Errorf("content")
	}
	e.OK("unlink", e.FS.Unlink(e.Ctx, Root, "f"))
	_, errno := e.FS.Read(e.Ctx, f.GFID, 0, make([]byte, 1), 0)
	e.Want("anonymous read of an unlinked file", errno, syscall.ESTALE, syscall.ENOENT)
	_, errno = e.FS.Write(e.Ctx, f.GFID, 0, []byte("y"), 0)
	e.Want("anonymous write to an unlinked file", errno, syscall.ESTALE, syscall.ENOENT)
}

func testUnlink(e *Env) {
	f := e.File(Root, "f", 0o644, []byte("x"))
	e.OK("unlink", e.FS.Unlink(e.Ctx, Root, "f"))
	e.Gone(Root, "f")
	e.Stale(f.GFID)
	var errno syscall.Errno
	e.Want("unlink missing", e.FS.Unlink(e.Ctx, Root, "f"), syscall.ENOENT)
	d := e.Mkdir(Root, "d", 0o755)
	e.Want("unlink of a directory", e.FS.Unlink(e.Ctx, Root, "d"), syscall.EISDIR, syscall.EPERM)
	s, errno := e.FS.Symlink(e.Ctx, d.GFID, "s", "/", &vfs.CreateIn{})
	e.OK("symlink", errno)
	e.OK("unlink symlink", e.FS.Unlink(e.Ctx, d.GFID, "s"))
	e.Stale(s.GFID)
	n, errno := e.FS.Mknod(e.Ctx, d.GFID, "p", &vfs.CreateIn{Mode: syscall.S_IFIFO | 0o644})
	e.OK("mknod", errno)
	e.OK("unlink fifo", e.FS.Unlink(e.Ctx, d.GFID, "p"))
	e.Stale(n.GFID)
	f2 := e.File(d.GFID, "f", 0o644, nil)
	e.Want("unlink in a file", e.FS.Unlink(e.Ctx, f2.GFID, "x"), syscall.ENOTDIR)
	e.Want("unlink .cairn", e.FS.Unlink(e.Ctx, Root, vfs.ReservedName), syscall.ENOENT, syscall.EPERM)
	e.Want("rmdir .cairn", e.FS.Rmdir(e.Ctx, Root, vfs.ReservedName), syscall.ENOENT, syscall.EPERM)
	_, errno = e.FS.Mkdir(e.Ctx, Root, vfs.ReservedName, &vfs.CreateIn{Mode: 0o755})
	e.Want("mkdir .cairn", errno, syscall.EPERM, syscall.EEXIST, syscall.EACCES)
	_, _, errno = e.FS.Create(e.Ctx, Root, vfs.ReservedName, &vfs.CreateIn{Mode: 0o644})
	e.Want("create .cairn", errno, syscall.EPERM, syscall.EEXIST, syscall.EACCES)
}

func testRmdir(e *Env) {
	d := e.Mkdir(Root, "d", 0o755)
	sub := e.Mkdir(d.GFID, "sub", 0o755)
	e.Want("rmdir non-empty", e.FS.Rmdir(e.Ctx, Root, "d"), syscall.ENOTEMPTY, syscall.EEXIST)
	e.File(sub.GFID, "f", 0o644, nil)
	e.Want("rmdir non-empty (file)", e.FS.Rmdir(e.Ctx, d.GFID, "sub"), syscall.ENOTEMPTY, syscall.EEXIST)
	e.OK("unlink", e.FS.Unlink(e.Ctx, sub.GFID, "f"))
	before := e.GetAttr(d.GFID).Nlink
	e.OK("rmdir sub", e.FS.Rmdir(e.Ctx, d.GFID, "sub"))
	if after := e.GetAttr(d.GFID).Nlink; after != before-1 {
		e.Errorf("parent nlink %d -> %d after rmdir", before, after)
	}
	e.Stale(sub.GFID)
	e.Gone(d.GFID, "sub")
	e.Want("rmdir missing", e.FS.Rmdir(e.Ctx, d.GFID, "sub"), syscall.ENOENT)
	e.File(d.GFID, "f", 0o644, nil)
	e.Want("rmdir of a file", e.FS.Rmdir(e.Ctx, d.GFID, "f"), syscall.ENOTDIR)
	e.OK("unlink", e.FS.Unlink(e.Ctx, d.GFID, "f"))
	e.OK("rmdir d", e.FS.Rmdir(e.Ctx, Root, "d"))
	e.Stale(d.GFID)
}

func testRename(e *Env) {
	a := e.File(Root, "a", 0o644, []byte("A"))
	e.OK("rename", e.FS.Rename(e.Ctx, Root, "a", Root, "b", 0))
	e.Gone(Root, "a")
	if b := e.Lookup(Root, "b"); b.GFID != a.GFID {
		e.Errorf("rename changed the gfid")
	}
	d := e.Mkdir(Root, "d", 0o755)
	e.OK("rename across directories", e.FS.Rename(e.Ctx, Root, "b", d.GFID, "c", 0))
	if c := e.Lookup(d.GFID, "c"); c.GFID != a.GFID {
		e.Errorf("rename across changed the gfid")
	}
	if string(e.ReadAll(a.GFID)) != "A" {
		e.Errorf("content after rename")
	}
	e.OK("rename onto itself", e.FS.Rename(e.Ctx, d.GFID, "c", d.GFID, "c", 0))
	e.Lookup(d.GFID, "c")
	// Two names of one file: rename does nothing and both stay.
	_, errno := e.FS.Link(e.Ctx, a.GFID, d.GFID, "c2")
	e.OK("link", errno)
	e.OK("rename between hard links", e.FS.Rename(e.Ctx, d.GFID, "c", d.GFID, "c2", 0))
	e.Lookup(d.GFID, "c")
	e.Lookup(d.GFID, "c2")
	// Directories move with their nlink bookkeeping.
	e2 := e.Mkdir(Root, "e", 0o755)
	rootN, dN := e.GetAttr(Root).Nlink, e.GetAttr(d.GFID).Nlink
	e.OK("rename dir", e.FS.Rename(e.Ctx, Root, "e", d.GFID, "e", 0))
	if e.GetAttr(Root).Nlink != rootN-1 || e.GetAttr(d.GFID).Nlink != dN+1 {
		e.Errorf("nlinks after moving a directory")
	}
	if e.Lookup(d.GFID, "e").GFID != e2.GFID || !isDir(e.GetAttr(e2.GFID)) {
		e.Errorf("moved directory lost its gfid")
	}
}

func testRenameOverExisting(e *Env) {
	a := e.File(Root, "a", 0o644, []byte("new"))
	b := e.File(Root, "b", 0o644, []byte("old"))
	e.OK("rename over a file", e.FS.Rename(e.Ctx, Root, "a", Root, "b", 0))
	e.Gone(Root, "a")
	got := e.Lookup(Root, "b")
	if got.GFID != a.GFID || string(e.ReadAll(got.GFID)) != "new" {
		e.Errorf("target not replaced")
	}
	e.Stale(b.GFID)
	// Over an empty directory.
	d1 := e.Mkdir(Root, "d1", 0o755)
	e.File(d1.GFID, "inside", 0o644, nil)
	d2 := e.Mkdir(Root, "d2", 0o755)
	e.OK("rename dir over empty dir", e.FS.Rename(e.Ctx, Root, "d1", Root, "d2", 0))
	if e.Lookup(Root, "d2").GFID != d1.GFID {
		e.Errorf("directory not replaced")
	}
	e.Stale(d2.GFID)
	e.Lookup(d1.GFID, "inside")
	// Over a file with other links: the other links stay.
	c := e.File(Root, "c", 0o644, []byte("c"))
	_, errno := e.FS.Link(e.Ctx, c.GFID, Root, "c2")
	e.OK("link", errno)
	e.File(Root, "x", 0o644, nil)
	e.OK("rename over a linked file", e.FS.Rename(e.Ctx, Root, "x", Root, "c", 0))
	if e.GetAttr(c.GFID).Nlink != 1 || string(e.ReadAll(c.GFID)) != "c" {
		e.Errorf("other link of a replaced file")
	}
}

func testRenameNoReplace(e *Env) {
	e.File(Root, "a", 0o644, []byte("a"))
	b := e.File(Root, "b", 0o644, []byte("b"))
	e.Want("RENAME_NOREPLACE over a file", e.FS.Rename(e.Ctx, Root, "a", Root, "b", vfs.RenameNoReplace), syscall.EEXIST)
	if e.Lookup(Root, "b").GFID != b.GFID {
		e.Errorf("target replaced despite RENAME_NOREPLACE")
	}
	e.Lookup(Root, "a")
	e.OK("RENAME_NOREPLACE to a free name", e.FS.Rename(e.Ctx, Root, "a", Root, "c", vfs.RenameNoReplace))
	e.Gone(Root, "a")
	e.Want("rename with unknown flags", e.FS.Rename(e.Ctx, Root, "c", Root, "d", 1<<8), syscall.EINVAL)
}

func testRenameErrors(e *Env) {
	d := e.Mkdir(Root, "d", 0o755)
	sub := e.Mkdir(d.GFID, "sub", 0o755)
	full := e.Mkdir(Root, "full", 0o755)
	e.File(full.GFID, "x", 0o644, nil)
	e.File(Root, "f", 0o644, nil)
	e.Want("rename missing", e.FS.Rename(e.Ctx, Root, "missing", Root, "x", 0), syscall.ENOENT)
	e.Want("rename dir over non-empty dir", e.FS.Rename(e.Ctx, d.GFID, "sub", Root, "full", 0), syscall.ENOTEMPTY, syscall.EEXIST)
	e.Want("rename dir over a file", e.FS.Rename(e.Ctx, d.GFID, "sub", Root, "f", 0), syscall.ENOTDIR)
	e.Want("rename file over a dir", e.FS.Rename(e.Ctx, Root, "f", d.GFID, "sub", 0), syscall.EISDIR)
	e.Want("rename dir into itself", e.FS.Rename(e.Ctx, Root, "d", sub.GFID, "loop", 0), syscall.EINVAL)
	e.Want("rename into a file", e.FS.Rename(e.Ctx, Root, "d", e.Lookup(Root, "f").GFID, "x", 0), syscall.ENOTDIR)
	e.Want("rename to .cairn", e.FS.Rename(e.Ctx, Root, "f", Root, vfs.ReservedName, 0), syscall.EPERM, syscall.EEXIST, syscall.EACCES, syscall.EISDIR)
	e.Want("rename from .cairn", e.FS.Rename(e.Ctx, Root, vfs.ReservedName, Root, "x", 0), syscall.ENOENT, syscall.EPERM)
	e.Lookup(d.GFID, "sub")
	e.Lookup(Root, "f")
}

func testRenameDirKeepsChildren(e *Env) {
	a := e.Mkdir(Root, "a", 0o755)
	b := e.Mkdir(a.GFID, "b", 0o755)
	c := e.Mkdir(b.GFID, "c", 0o755)
	f := e.File(c.GFID, "f", 0o644, []byte("deep"))
	x := e.Mkdir(Root, "x", 0o755)
	e.OK("rename a", e.FS.Rename(e.Ctx, Root, "a", x.GFID, "a2", 0))
	e.OK("rename b", e.FS.Rename(e.Ctx, a.GFID, "b", Root, "b2", 0))
	for _, g := range []vfs.GFID{a.GFID, b.GFID, c.GFID} {
		if !isDir(e.GetAttr(g)) {
			e.Errorf("directory gfid lost after renames")
		}
	}
	if string(e.ReadAll(f.GFID)) != "deep" {
		e.Errorf("file under renamed directories")
	}
	if e.Lookup(c.GFID, "f").GFID != f.GFID {
		e.Errorf("lookup under a renamed directory")
	}
	e.File(c.GFID, "g", 0o644, nil)
	e.Lookup(e.Lookup(Root, "b2").GFID, "c")
}

func testRenameExchange(e *Env) {
	a := e.File(Root, "a", 0o644, []byte("a"))
	d := e.Mkdir(Root, "d", 0o755)
	errno := e.FS.Rename(e.Ctx, Root, "a", Root, "d", vfs.RenameExchange)
	if errno == syscall.EINVAL || errno == syscall.ENOSYS || errno == syscall.EOPNOTSUPP {
		e.Skipf("RENAME_EXCHANGE not supported by this stack (%v)", errno)
	}
	e.OK("exchange", errno)
	if e.Lookup(Root, "a").GFID != d.GFID || e.Lookup(Root, "d").GFID != a.GFID {
		e.Errorf("names not exchanged")
	}
	e.Mkdir(d.GFID, "inside", 0o755)
	if !isDir(e.GetAttr(d.GFID)) {
		e.Errorf("exchanged directory lost its gfid")
	}
	e.Want("exchange with a missing name", e.FS.Rename(e.Ctx, Root, "a", Root, "zz", vfs.RenameExchange), syscall.ENOENT)
}

func testConcurrentCreates(e *Env) {
	d := e.Mkdir(Root, "d", 0o755)
	var wg sync.WaitGroup
	const workers, each = 8, 25
	errs := make(chan syscall.Errno, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				name := string(rune('a'+w)) + "-" + string(rune('a'+i))
				a, fh, errno := e.FS.Create(e.Ctx, d.GFID, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR | syscall.O_EXCL})
				if errno == 0 {
					_, errno = e.FS.Write(e.Ctx, a.GFID, fh, []byte(name), 0)
					e.FS.Release(e.Ctx, a.GFID, fh)
				}
				errs <- errno
			}
		}()
	}
	// Racing creators of one name: exactly one wins.
	var wins sync.Map
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, fh, errno := e.FS.Create(e.Ctx, d.GFID, "contended", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR | syscall.O_EXCL})
			if errno == 0 {
				wins.Store(w, a.GFID)
				e.FS.Release(e.Ctx, a.GFID, fh)
			} else if errno != syscall.EEXIST {
				errs <- errno
			}
		}()
	}
	wg.Wait()
	close(errs)
	for errno := range errs {
		if errno != 0 {
			e.Errorf("concurrent create: %v", errno)
		}
	}
	n := 0
	wins.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		e.Errorf("%d creators of one name won, want 1", n)
	}
	if got := len(e.List(d.GFID, 0, false)); got != workers*each+1 {
		e.Errorf("%d entries after concurrent creates, want %d", got, workers*each+1)
	}
}

package vfstest

import (
	"context"
	"fmt"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// The users of the permission cases.
const (
	alice = 1000
	bob   = 1001
	staff = 2000 // a group bob belongs to, alice does not
)

func permCases() []Case {
	return []Case{
		{Name: "PermOwnerOfNewFiles", Fn: testPermOwnerOfNewFiles, AsRoot: true},
		{Name: "PermSetgidDir", Fn: testPermSetgidDir, AsRoot: true},
		{Name: "PermDirectories", Fn: testPermDirectories, AsRoot: true},
		{Name: "PermFiles", Fn: testPermFiles, AsRoot: true},
		{Name: "PermAnonymousReadCached", Fn: testPermAnonymousReadCached, AsRoot: true},
		{Name: "PermSticky", Fn: testPermSticky, AsRoot: true},
		{Name: "PermSetAttr", Fn: testPermSetAttr, AsRoot: true},
		{Name: "PermXattr", Fn: testPermXattr, AsRoot: true},
		{Name: "PermKillSuid", Fn: testPermKillSuid, AsRoot: true},
	}
}

func (e *Env) alice() context.Context { return e.As(alice, alice) }
func (e *Env) bob() context.Context   { return e.As(bob, bob, staff) }

func testPermOwnerOfNewFiles(e *Env) {
	pub := e.Mkdir(Root, "pub", 0o777)
	a := e.FileAs(e.alice(), pub.GFID, "f", 0o640, []byte("x"))
	if a.UID != alice || a.GID != alice {
		e.Errorf("file of alice owned by %d:%d", a.UID, a.GID)
	}
	if l := e.Lookup(pub.GFID, "f"); l.UID != alice || l.GID != alice || l.Mode&07777 != 0o640 {
		e.Errorf("lookup %d:%d %o", l.UID, l.GID, l.Mode&07777)
	}
	d, errno := e.FS.Mkdir(e.alice(), pub.GFID, "d", &vfs.CreateIn{Mode: 0o750})
	e.OK("mkdir as alice", errno)
	if d.UID != alice || d.GID != alice || d.Mode&07777 != 0o750 {
		e.Errorf("dir of alice %d:%d %o", d.UID, d.GID, d.Mode&07777)
	}
	s, errno := e.FS.Symlink(e.alice(), pub.GFID, "s", "f", &vfs.CreateIn{})
	e.OK("symlink as alice", errno)
	if s.UID != alice || s.GID != alice {
		e.Errorf("symlink of alice %d:%d", s.UID, s.GID)
	}
	n, errno := e.FS.Mknod(e.alice(), pub.GFID, "p", &vfs.CreateIn{Mode: syscall.S_IFIFO | 0o600})
	e.OK("mknod as alice", errno)
	if n.UID != alice || n.GID != alice {
		e.Errorf("fifo of alice %d:%d", n.UID, n.GID)
	}
	// A user cannot make a setgid file for a group it is not in.
	g, fh, errno := e.FS.Create(e.alice(), pub.GFID, "sg", &vfs.CreateIn{Mode: 0o2755, Flags: syscall.O_RDWR})
	e.OK("create setgid", errno)
	e.FS.Release(e.alice(), g.GFID, fh)
}

func testPermSetgidDir(e *Env) {
	sg := e.Mkdir(Root, "sg", 0o777)
	_, errno := e.FS.SetAttr(e.Ctx, sg.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetGID | vfs.SetMode, GID: staff, Mode: 0o2777})
	e.OK("chgrp+chmod g+s", errno)
	f := e.FileAs(e.alice(), sg.GFID, "f", 0o644, nil)
	if f.GID != staff || f.UID != alice {
		e.Errorf("file in a setgid dir: %d:%d, want %d:%d", f.UID, f.GID, alice, staff)
	}
	d, errno := e.FS.Mkdir(e.alice(), sg.GFID, "d", &vfs.CreateIn{Mode: 0o755})
	e.OK("mkdir in a setgid dir", errno)
	if d.GID != staff || d.Mode&syscall.S_ISGID == 0 {
		e.Errorf("dir in a setgid dir: gid %d mode %o", d.GID, d.Mode&07777)
	}
}

func testPermDirectories(e *Env) {
	closed := e.Mkdir(Root, "closed", 0o700)
	e.File(closed.GFID, "f", 0o644, nil)
	ro := e.Mkdir(Root, "ro", 0o755)
	e.File(ro.GFID, "f", 0o644, nil)
	e.Mkdir(ro.GFID, "sub", 0o777)
	noread := e.Mkdir(Root, "noread", 0o711)
	e.File(noread.GFID, "f", 0o644, nil)
	ctx := e.alice()

	_, errno := e.FS.Lookup(ctx, closed.GFID, "f")
	e.Want("lookup in a 0700 root dir", errno, syscall.EACCES)
	_, errno = e.FS.Lookup(ctx, ro.GFID, "f")
	e.OK("lookup in a 0755 dir", errno)
	_, _, errno = e.FS.Create(ctx, ro.GFID, "new", &vfs.CreateIn{Mode: 0o644})
	e.Want("create in a 0755 root dir", errno, syscall.EACCES)
	_, errno = e.FS.Mkdir(ctx, ro.GFID, "new", &vfs.CreateIn{Mode: 0o755})
	e.Want("mkdir in a 0755 root dir", errno, syscall.EACCES)
	_, errno = e.FS.Symlink(ctx, ro.GFID, "new", "x", &vfs.CreateIn{})
	e.Want("symlink in a 0755 root dir", errno, syscall.EACCES)
	_, errno = e.FS.Mknod(ctx, ro.GFID, "new", &vfs.CreateIn{Mode: syscall.S_IFIFO | 0o644})
	e.Want("mknod in a 0755 root dir", errno, syscall.EACCES)
	e.Want("unlink in a 0755 root dir", e.FS.Unlink(ctx, ro.GFID, "f"), syscall.EACCES)
	e.Want("rmdir in a 0755 root dir", e.FS.Rmdir(ctx, ro.GFID, "sub"), syscall.EACCES)
	e.Want("rename in a 0755 root dir", e.FS.Rename(ctx, ro.GFID, "f", ro.GFID, "g", 0), syscall.EACCES)
	pub := e.Mkdir(Root, "pub", 0o777)
	e.Want("rename out of a 0755 root dir", e.FS.Rename(ctx, ro.GFID, "f", pub.GFID, "g", 0), syscall.EACCES)
	_, errno = e.FS.Link(ctx, e.Lookup(ro.GFID, "f").GFID, ro.GFID, "l")
	e.Want("link in a 0755 root dir", errno, syscall.EACCES)
	e.Lookup(ro.GFID, "f")
	e.Gone(ro.GFID, "new")
	// open(O_CREAT) without O_EXCL of an existing file needs no write
	// permission on the directory.
	_, errno = e.FS.SetAttr(e.Ctx, e.Lookup(ro.GFID, "f").GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o666})
	e.OK("chmod", errno)
	a, fh, errno := e.FS.Create(ctx, ro.GFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	e.OK("create of an existing file in a 0755 root dir", errno)
	e.FS.Release(ctx, a.GFID, fh)
	_, _, errno = e.FS.Create(ctx, ro.GFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR | syscall.O_EXCL})
	e.Want("O_EXCL create of an existing file in a 0755 root dir", errno, syscall.EACCES, syscall.EEXIST)

	_, errno = e.FS.OpenDir(ctx, closed.GFID)
	e.Want("opendir of a 0700 root dir", errno, syscall.EACCES)
	_, _, errno = e.FS.ReadDir(ctx, closed.GFID, 0, 0, 0, false)
	e.Want("anonymous readdir of a 0700 root dir", errno, syscall.EACCES)
	_, errno = e.FS.OpenDir(ctx, noread.GFID)
	e.Want("opendir of a 0711 dir", errno, syscall.EACCES)
	_, errno = e.FS.Lookup(ctx, noread.GFID, "f")
	e.OK("lookup in a 0711 dir", errno)
	ents, _, errno := e.FS.ReadDir(ctx, ro.GFID, 0, 0, 0, false)
	if errno != 0 || len(ents) != 2 {
		e.Errorf("readdir of a 0755 dir: %d entries %v", len(ents), errno)
	}
	// Moving someone else's directory to another parent needs write
	// permission on it (its ".." changes).
	e.Mkdir(pub.GFID, "rootdir", 0o755)
	pub2 := e.Mkdir(Root, "pub2", 0o777)
	e.Want("move a 0755 root dir between parents", e.FS.Rename(ctx, pub.GFID, "rootdir", pub2.GFID, "x", 0), syscall.EACCES, syscall.EPERM)
}

func testPermFiles(e *Env) {
	secret := e.File(Root, "secret", 0o600, []byte("s"))
	readable := e.File(Root, "readable", 0o644, []byte("r"))
	ctx := e.alice()
	_, errno := e.FS.Open(ctx, secret.GFID, syscall.O_RDONLY)
	e.Want("open a 0600 root file", errno, syscall.EACCES)
	_, errno = e.FS.Read(ctx, secret.GFID, 0, make([]byte, 1), 0)
	e.Want("anonymous read of a 0600 root file", errno, syscall.EACCES)
	fh, errno := e.FS.Open(ctx, readable.GFID, syscall.O_RDONLY)
	e.OK("open a 0644 file for reading", errno)
	e.FS.Release(ctx, readable.GFID, fh)
	_, errno = e.FS.Open(ctx, readable.GFID, syscall.O_WRONLY)
	e.Want("open a 0644 root file for writing", errno, syscall.EACCES)
	_, errno = e.FS.Open(ctx, readable.GFID, syscall.O_RDONLY|syscall.O_TRUNC)
	e.Want("O_TRUNC of a 0644 root file", errno, syscall.EACCES)
	_, errno = e.FS.Write(ctx, readable.GFID, 0, []byte("x"), 0)
	e.Want("anonymous write to a 0644 root file", errno, syscall.EACCES)
	_, errno = e.FS.SetAttr(ctx, readable.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetSize})
	e.Want("truncate of a 0644 root file", errno, syscall.EACCES)
	if string(e.ReadAll(readable.GFID)) != "r" {
		e.Errorf("file changed")
	}
	// Group and other bits are judged separately.
	grp := e.File(Root, "grp", 0o604, []byte("g"))
	_, errno = e.FS.SetAttr(e.Ctx, grp.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetGID, GID: staff})
	e.OK("chgrp", errno)
	_, errno = e.FS.Open(e.bob(), grp.GFID, syscall.O_RDONLY)
	e.Want("group bits deny a member", errno, syscall.EACCES)
	fh, errno = e.FS.Open(e.alice(), grp.GFID, syscall.O_RDONLY)
	e.OK("other bits allow a non-member", errno)
	e.FS.Release(ctx, grp.GFID, fh)
	// An owner with no permission bits is refused too.
	own := e.FileAs(e.alice(), e.Mkdir(Root, "pub", 0o777).GFID, "own", 0o000, nil)
	_, errno = e.FS.Open(ctx, own.GFID, syscall.O_RDONLY)
	e.Want("owner of a 0000 file", errno, syscall.EACCES)
	fh, errno = e.FS.Open(e.Ctx, own.GFID, syscall.O_RDWR)
	e.OK("root opens a 0000 file", errno)
	e.FS.Release(e.Ctx, own.GFID, fh)
}

// testPermAnonymousReadCached checks that reads without a handle (the NFS
// and 9P gateways' kind), which the bricks check against the caller's
// permission every time, are checked as well when a cache above could
// answer them: from content a lookup brought back (quick-read), from
// pages another caller's read or this client's own writes filled
// (io-cache, read-ahead), and after a chmod that takes a permission
// away from a caller who was allowed before.
func testPermAnonymousReadCached(e *Env) {
	secret := e.File(Root, "secret", 0o600, []byte("secret"))
	e.Lookup(Root, "secret")
	if got := string(e.ReadAll(secret.GFID)); got != "secret" {
		e.Errorf("root reads %q", got)
	}
	buf := make([]byte, 16)
	for _, who := range []struct {
		name string
		ctx  context.Context
	}{{"alice", e.alice()}, {"bob", e.bob()}} {
		for i := range 2 {
			n, errno := e.FS.Read(who.ctx, secret.GFID, 0, buf, 0)
			e.Want(fmt.Sprintf("%s's anonymous read %d of a cached 0600 root file (got %q)", who.name, i+1, buf[:n]), errno, syscall.EACCES)
		}
	}
	// Allowed, then chmod takes it away.
	shared := e.File(Root, "shared", 0o644, []byte("shared"))
	e.Lookup(Root, "shared")
	e.ReadAll(shared.GFID)
	for range 2 {
		n, errno := e.FS.Read(e.alice(), shared.GFID, 0, buf, 0)
		e.OK("alice's anonymous read of a 0644 file", errno)
		if string(buf[:n]) != "shared" {
			e.Errorf("alice reads %q", buf[:n])
		}
	}
	_, errno := e.FS.SetAttr(e.Ctx, shared.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600})
	e.OK("chmod 0600", errno)
	e.Lookup(Root, "shared")
	e.ReadAll(shared.GFID)
	n, errno := e.FS.Read(e.alice(), shared.GFID, 0, buf, 0)
	e.Want(fmt.Sprintf("alice's anonymous read after chmod 0600 (got %q)", buf[:n]), errno, syscall.EACCES)
	// And gives it back.
	_, errno = e.FS.SetAttr(e.Ctx, shared.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o604})
	e.OK("chmod 0604", errno)
	n, errno = e.FS.Read(e.alice(), shared.GFID, 0, buf, 0)
	e.OK("alice's anonymous read after chmod 0604", errno)
	if string(buf[:n]) != "shared" {
		e.Errorf("alice reads %q after chmod 0604", buf[:n])
	}
}

func testPermSticky(e *Env) {
	tmp := e.Mkdir(Root, "tmp", 0o1777)
	af := e.FileAs(e.alice(), tmp.GFID, "alice-file", 0o666, nil)
	_ = af
	e.Want("bob unlinks alice's file in a sticky dir", e.FS.Unlink(e.bob(), tmp.GFID, "alice-file"), syscall.EPERM, syscall.EACCES)
	e.Want("bob renames alice's file in a sticky dir", e.FS.Rename(e.bob(), tmp.GFID, "alice-file", tmp.GFID, "mine", 0), syscall.EPERM, syscall.EACCES)
	e.FileAs(e.bob(), tmp.GFID, "bob-file", 0o666, nil)
	e.Want("alice renames over bob's file in a sticky dir", e.FS.Rename(e.alice(), tmp.GFID, "alice-file", tmp.GFID, "bob-file", 0), syscall.EPERM, syscall.EACCES)
	e.Lookup(tmp.GFID, "alice-file")
	e.OK("alice unlinks her own file", e.FS.Unlink(e.alice(), tmp.GFID, "alice-file"))
	e.OK("root unlinks bob's file", e.FS.Unlink(e.Ctx, tmp.GFID, "bob-file"))
	// Without the sticky bit a writable directory lets anyone remove.
	pub := e.Mkdir(Root, "pub", 0o777)
	e.FileAs(e.alice(), pub.GFID, "f", 0o600, nil)
	e.OK("bob unlinks alice's file in a 0777 dir", e.FS.Unlink(e.bob(), pub.GFID, "f"))
}

func testPermSetAttr(e *Env) {
	pub := e.Mkdir(Root, "pub", 0o777)
	f := e.FileAs(e.alice(), pub.GFID, "f", 0o644, []byte("x"))
	_, errno := e.FS.SetAttr(e.bob(), f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o777})
	e.Want("chmod by a non-owner", errno, syscall.EPERM)
	a, errno := e.FS.SetAttr(e.alice(), f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600})
	e.OK("chmod by the owner", errno)
	if a.Mode&07777 != 0o600 {
		e.Errorf("chmod by owner gave %o", a.Mode&07777)
	}
	_, errno = e.FS.SetAttr(e.alice(), f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetUID, UID: bob})
	e.Want("give a file away", errno, syscall.EPERM)
	_, errno = e.FS.SetAttr(e.alice(), f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetGID, GID: staff})
	e.Want("chgrp to a group not held", errno, syscall.EPERM)
	b := e.FileAs(e.bob(), pub.GFID, "b", 0o644, nil)
	a, errno = e.FS.SetAttr(e.bob(), b.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetGID, GID: staff})
	e.OK("chgrp to a supplementary group", errno)
	if a.GID != staff {
		e.Errorf("chgrp gave %d", a.GID)
	}
	_, errno = e.FS.SetAttr(e.alice(), b.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetGID, GID: alice})
	e.Want("chgrp of another's file", errno, syscall.EPERM)
	// Times: explicit values need ownership, "now" write permission.
	_, errno = e.FS.SetAttr(e.bob(), f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMtime, Mtime: vfs.Timespec{Sec: 5}})
	e.Want("explicit mtime by a non-owner", errno, syscall.EPERM)
	_, errno = e.FS.SetAttr(e.bob(), f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMtimeNow | vfs.SetAtimeNow})
	e.Want("touch by a non-owner without write permission", errno, syscall.EACCES)
	w := e.FileAs(e.alice(), pub.GFID, "w", 0o666, nil)
	_, errno = e.FS.SetAttr(e.bob(), w.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMtimeNow | vfs.SetAtimeNow})
	e.OK("touch by a non-owner with write permission", errno)
	_, errno = e.FS.SetAttr(e.alice(), f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMtime, Mtime: vfs.Timespec{Sec: 5}})
	e.OK("explicit mtime by the owner", errno)
	// Clearing setgid on chmod by an owner outside the group.
	_, errno = e.FS.SetAttr(e.Ctx, f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetGID, GID: staff})
	e.OK("chgrp by root", errno)
	a, errno = e.FS.SetAttr(e.alice(), f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o2755})
	e.OK("chmod g+s outside the group", errno)
	if a.Mode&syscall.S_ISGID != 0 {
		e.Errorf("setgid kept by an owner outside the group: %o", a.Mode&07777)
	}
}

func testPermXattr(e *Env) {
	pub := e.Mkdir(Root, "pub", 0o777)
	f := e.FileAs(e.alice(), pub.GFID, "f", 0o644, nil)
	e.OK("user xattr by the owner", e.FS.SetXattr(e.alice(), f.GFID, "user.a", []byte("1"), 0))
	e.Want("user xattr without write permission", e.FS.SetXattr(e.bob(), f.GFID, "user.b", []byte("1"), 0), syscall.EACCES, syscall.EPERM)
	if v, errno := e.FS.GetXattr(e.bob(), f.GFID, "user.a"); errno != 0 || string(v) != "1" {
		e.Errorf("user xattr read by another user with read permission: %q %v", v, errno)
	}
	secret := e.FileAs(e.alice(), pub.GFID, "secret", 0o600, nil)
	e.OK("set", e.FS.SetXattr(e.alice(), secret.GFID, "user.a", []byte("1"), 0))
	_, errno := e.FS.GetXattr(e.bob(), secret.GFID, "user.a")
	e.Want("user xattr read without read permission", errno, syscall.EACCES)
	e.Want("trusted xattr by a user", e.FS.SetXattr(e.alice(), f.GFID, "trusted.x", []byte("1"), 0), syscall.EPERM)
	e.OK("trusted xattr by root", e.FS.SetXattr(e.Ctx, f.GFID, "trusted.x", []byte("1"), 0))
	_, errno = e.FS.GetXattr(e.alice(), f.GFID, "trusted.x")
	e.Want("trusted xattr read by a user", errno, syscall.ENODATA, syscall.EPERM)
	names, errno := e.FS.ListXattr(e.alice(), f.GFID)
	e.OK("listxattr by a user", errno)
	for _, n := range names {
		if len(n) >= 8 && n[:8] == "trusted." {
			e.Errorf("user sees %s", n)
		}
	}
}

func testPermKillSuid(e *Env) {
	pub := e.Mkdir(Root, "pub", 0o777)
	f := e.File(pub.GFID, "f", 0o6777, nil)
	_, errno := e.FS.Write(e.alice(), f.GFID, 0, []byte("x"), 0)
	e.OK("write by a user", errno)
	if m := e.GetAttr(f.GFID).Mode & 07777; m&(syscall.S_ISUID|syscall.S_ISGID) != 0 {
		e.Errorf("setuid/setgid survive a write by a non-root user: %o", m)
	}
	g := e.File(pub.GFID, "g", 0o4777, nil)
	_, errno = e.FS.Write(e.Ctx, g.GFID, 0, []byte("x"), 0)
	e.OK("write by root", errno)
	if m := e.GetAttr(g.GFID).Mode & 07777; m != 0o4777 {
		e.Errorf("a write by root changed the mode to %o", m)
	}
}

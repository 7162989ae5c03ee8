package vfstest

import (
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

func attrCases() []Case {
	return []Case{
		{Name: "SetAttrMode", Fn: testSetAttrMode},
		{Name: "SetAttrOwner", Fn: testSetAttrOwner},
		{Name: "SetAttrSize", Fn: testSetAttrSize},
		{Name: "SetAttrTimes", Fn: testSetAttrTimes},
		{Name: "SetAttrSymlink", Fn: testSetAttrSymlink},
		{Name: "CtimeChanges", Fn: testCtimeChanges},
	}
}

func testSetAttrMode(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	d := e.Mkdir(Root, "d", 0o755)
	for _, c := range []struct {
		g    vfs.GFID
		mode uint32
	}{
		{f.GFID, 0}, {f.GFID, 0o600}, {f.GFID, 0o4755}, {f.GFID, 0o2755}, {f.GFID, 0o6777},
		{d.GFID, 0o1777}, {d.GFID, 0o2775}, {d.GFID, 0o700},
	} {
		a, errno := e.FS.SetAttr(e.Ctx, c.g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: c.mode})
		e.OK("chmod", errno)
		if a.Mode&07777 != c.mode || e.GetAttr(c.g).Mode&07777 != c.mode {
			e.Errorf("chmod %o gave %o", c.mode, a.Mode&07777)
		}
		if a.Mode&syscall.S_IFMT != e.GetAttr(c.g).Mode&syscall.S_IFMT {
			e.Errorf("chmod changed the type")
		}
	}
	// Through a handle.
	fh, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_RDONLY)
	e.OK("open", errno)
	a, errno := e.FS.SetAttr(e.Ctx, f.GFID, fh, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o640})
	e.OK("fchmod", errno)
	e.FS.Release(e.Ctx, f.GFID, fh)
	if a.Mode&07777 != 0o640 {
		e.Errorf("fchmod gave %o", a.Mode&07777)
	}
}

func testSetAttrOwner(e *Env) {
	e.NeedRoot()
	f := e.File(Root, "f", 0o4755, nil)
	a, errno := e.FS.SetAttr(e.Ctx, f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetUID | vfs.SetGID, UID: 1000, GID: 2000})
	e.OK("chown", errno)
	if a.UID != 1000 || a.GID != 2000 {
		e.Errorf("chown gave %d:%d", a.UID, a.GID)
	}
	// A change of owner clears setuid, for root too, as Linux does (the
	// FUSE mount leaves it to the volume: handle_killpriv).
	if a.Mode&07777 != 0o755 || e.GetAttr(f.GFID).Mode&07777 != 0o755 {
		e.Errorf("chown of a 4755 file left mode %o, want 755", a.Mode&07777)
	}
	a, errno = e.FS.SetAttr(e.Ctx, f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetGID, GID: 3000})
	e.OK("chgrp", errno)
	if a.UID != 1000 || a.GID != 3000 {
		e.Errorf("chgrp gave %d:%d", a.UID, a.GID)
	}
	// chown and chmod in one request: the mode is applied after the owner,
	// so setuid survives (as cp -p and heal need).
	a, errno = e.FS.SetAttr(e.Ctx, f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetUID | vfs.SetGID | vfs.SetMode, UID: 5, GID: 6, Mode: 0o4755})
	e.OK("chown+chmod", errno)
	if a.UID != 5 || a.GID != 6 || a.Mode&07777 != 0o4755 {
		e.Errorf("chown+chmod gave %d:%d %o", a.UID, a.GID, a.Mode&07777)
	}
	s, errno := e.FS.Symlink(e.Ctx, Root, "s", "f", &vfs.CreateIn{})
	e.OK("symlink", errno)
	a, errno = e.FS.SetAttr(e.Ctx, s.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetUID | vfs.SetGID, UID: 7, GID: 8})
	e.OK("lchown", errno)
	if a.UID != 7 || a.GID != 8 || !a.IsSymlink() {
		e.Errorf("lchown gave %+v", a)
	}
	if g := e.GetAttr(f.GFID); g.UID != 5 {
		e.Errorf("lchown followed the symlink")
	}
}

func testSetAttrSize(e *Env) {
	f := e.File(Root, "f", 0o644, []byte("0123456789"))
	a, errno := e.FS.SetAttr(e.Ctx, f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 4})
	e.OK("truncate", errno)
	if a.Size != 4 || string(e.ReadAll(f.GFID)) != "0123" {
		e.Errorf("shrink: size %d", a.Size)
	}
	a, errno = e.FS.SetAttr(e.Ctx, f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 1 << 20})
	e.OK("extend", errno)
	got := e.ReadAll(f.GFID)
	if a.Size != 1<<20 || len(got) != 1<<20 || got[5] != 0 || string(got[:4]) != "0123" {
		e.Errorf("extend: size %d", a.Size)
	}
	fh, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_RDWR)
	e.OK("open", errno)
	a, errno = e.FS.SetAttr(e.Ctx, f.GFID, fh, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 0})
	e.OK("ftruncate", errno)
	e.FS.Release(e.Ctx, f.GFID, fh)
	if a.Size != 0 {
		e.Errorf("ftruncate size %d", a.Size)
	}
	d := e.Mkdir(Root, "d", 0o755)
	_, errno = e.FS.SetAttr(e.Ctx, d.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 0})
	e.Want("truncate of a directory", errno, syscall.EISDIR)
	_, errno = e.FS.SetAttr(e.Ctx, vfs.NewGFID(), 0, &vfs.SetAttrIn{Valid: vfs.SetSize})
	e.Want("truncate of an unknown gfid", errno, syscall.ESTALE, syscall.ENOENT)
}

func testSetAttrTimes(e *Env) {
	f := e.File(Root, "f", 0o644, []byte("x"))
	at := vfs.Timespec{Sec: 1000000000, Nsec: 123456789}
	mt := vfs.Timespec{Sec: 1200000000, Nsec: 987654321}
	a, errno := e.FS.SetAttr(e.Ctx, f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetAtime | vfs.SetMtime, Atime: at, Mtime: mt})
	e.OK("utimes", errno)
	if a.Atime != at || a.Mtime != mt {
		e.Errorf("utimes gave atime %v mtime %v", a.Atime, a.Mtime)
	}
	if g := e.GetAttr(f.GFID); g.Atime != at || g.Mtime != mt {
		e.Errorf("getattr after utimes: %v %v", g.Atime, g.Mtime)
	}
	// Omit: only mtime changes.
	mt2 := vfs.Timespec{Sec: 1300000000}
	a, errno = e.FS.SetAttr(e.Ctx, f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMtime, Mtime: mt2})
	e.OK("utimes mtime only", errno)
	if a.Atime != at || a.Mtime != mt2 {
		e.Errorf("atime omitted: atime %v mtime %v", a.Atime, a.Mtime)
	}
	// Now.
	before := time.Now().Add(-2 * time.Second)
	a, errno = e.FS.SetAttr(e.Ctx, f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetAtimeNow | vfs.SetMtimeNow})
	e.OK("utimes now", errno)
	after := time.Now().Add(2 * time.Second)
	for _, t := range []vfs.Timespec{a.Atime, a.Mtime} {
		if t.Time().Before(before) || t.Time().After(after) {
			e.Errorf("UTIME_NOW gave %v, now is %v", t.Time(), time.Now())
		}
	}
	// Now wins over an explicit value.
	a, errno = e.FS.SetAttr(e.Ctx, f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMtime | vfs.SetMtimeNow, Mtime: mt})
	e.OK("utimes now+explicit", errno)
	if a.Mtime == mt {
		e.Errorf("SetMtimeNow did not win over SetMtime")
	}
	d := e.Mkdir(Root, "d", 0o755)
	a, errno = e.FS.SetAttr(e.Ctx, d.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMtime, Mtime: mt})
	e.OK("utimes on a directory", errno)
	if a.Mtime != mt {
		e.Errorf("directory mtime %v", a.Mtime)
	}
	// Writes move mtime forward.
	e.FS.SetAttr(e.Ctx, f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMtime, Mtime: mt})
	_, errno = e.FS.Write(e.Ctx, f.GFID, 0, []byte("y"), 0)
	e.OK("write", errno)
	if g := e.GetAttr(f.GFID); g.Mtime == mt {
		e.Errorf("write did not update mtime")
	}
}

func testSetAttrSymlink(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	s, errno := e.FS.Symlink(e.Ctx, Root, "s", "f", &vfs.CreateIn{})
	e.OK("symlink", errno)
	mt := vfs.Timespec{Sec: 1100000000}
	a, errno := e.FS.SetAttr(e.Ctx, s.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMtime, Mtime: mt})
	e.OK("lutimes", errno)
	if a.Mtime != mt || e.GetAttr(f.GFID).Mtime == mt {
		e.Errorf("utimes of a symlink reached its target")
	}
	_, errno = e.FS.SetAttr(e.Ctx, s.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 0})
	e.Want("truncate of a symlink", errno, syscall.EINVAL, syscall.ELOOP, syscall.EPERM)
	if e.GetAttr(s.GFID).Size != 1 {
		e.Errorf("symlink changed")
	}
}

func testCtimeChanges(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	old := vfs.Timespec{Sec: 1000}
	// ctime cannot be set by clients; it moves on every change.
	a, errno := e.FS.SetAttr(e.Ctx, f.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMtime, Mtime: old})
	e.OK("utimes", errno)
	c1 := a.Ctime
	if c1.Sec < time.Now().Unix()-60 {
		e.Errorf("ctime %v is not recent", c1)
	}
}

package vfstest

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sync"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// gfidXattr is the brick's GFID xattr, which clients never see.
const gfidXattr = "trusted.cairn.gfid"

func xattrCases() []Case {
	return []Case{
		{Name: "Xattr", Fn: testXattr},
		{Name: "XattrFlags", Fn: testXattrFlags},
		{Name: "XattrTypes", Fn: testXattrTypes},
		{Name: "XattrGFIDHidden", Fn: testXattrGFIDHidden},
		{Name: "XattrOp", Fn: testXattrOp},
		{Name: "XattrOpConcurrent", Fn: testXattrOpConcurrent},
	}
}

func testXattr(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	d := e.Mkdir(Root, "d", 0o755)
	for _, g := range []vfs.GFID{f.GFID, d.GFID} {
		e.OK("setxattr", e.FS.SetXattr(e.Ctx, g, "user.a", []byte("value-a"), 0))
		e.OK("setxattr empty", e.FS.SetXattr(e.Ctx, g, "user.empty", nil, 0))
		// ext4 keeps all xattrs of an inode in one 4 KiB block, and a
		// replicated brick's own (trusted.cairn.gfid and one pending
		// counter per brick) take ~150 bytes of it: 3.5 KiB of user
		// value still fits beside them on every brick filesystem.
		big := bytes.Repeat([]byte("0123456789abcdef"), 219)
		e.OK("setxattr 3504 bytes", e.FS.SetXattr(e.Ctx, g, "user.big", big, 0))
		v, errno := e.FS.GetXattr(e.Ctx, g, "user.a")
		if errno != 0 || string(v) != "value-a" {
			e.Errorf("getxattr %q %v", v, errno)
		}
		v, errno = e.FS.GetXattr(e.Ctx, g, "user.empty")
		if errno != 0 || len(v) != 0 {
			e.Errorf("getxattr of an empty value %q %v", v, errno)
		}
		v, errno = e.FS.GetXattr(e.Ctx, g, "user.big")
		if errno != 0 || !bytes.Equal(v, big) {
			e.Errorf("getxattr big: %d bytes %v", len(v), errno)
		}
		names, errno := e.FS.ListXattr(e.Ctx, g)
		e.OK("listxattr", errno)
		for _, n := range []string{"user.a", "user.empty", "user.big"} {
			if !slices.Contains(names, n) {
				e.Errorf("listxattr %q lacks %s", names, n)
			}
		}
		e.OK("overwrite", e.FS.SetXattr(e.Ctx, g, "user.a", []byte("b"), 0))
		if v, _ := e.FS.GetXattr(e.Ctx, g, "user.a"); string(v) != "b" {
			e.Errorf("overwritten value %q", v)
		}
		e.OK("removexattr", e.FS.RemoveXattr(e.Ctx, g, "user.a"))
		_, errno = e.FS.GetXattr(e.Ctx, g, "user.a")
		e.Want("getxattr after remove", errno, syscall.ENODATA)
		e.Want("remove missing", e.FS.RemoveXattr(e.Ctx, g, "user.a"), syscall.ENODATA)
		names, _ = e.FS.ListXattr(e.Ctx, g)
		if slices.Contains(names, "user.a") {
			e.Errorf("removed xattr still listed")
		}
	}
	_, errno := e.FS.GetXattr(e.Ctx, f.GFID, "user.missing")
	e.Want("getxattr missing", errno, syscall.ENODATA)
	_, errno = e.FS.GetXattr(e.Ctx, vfs.NewGFID(), "user.a")
	e.Want("getxattr of an unknown gfid", errno, syscall.ESTALE, syscall.ENOENT)
	// trusted.cairn.pending.* travel through every stack: replicate needs them.
	e.OK("set pending", e.FS.SetXattr(e.Admin, f.GFID, "trusted.cairn.pending.b1", make([]byte, 12), 0))
	if v, errno := e.FS.GetXattr(e.Admin, f.GFID, "trusted.cairn.pending.b1"); errno != 0 || len(v) != 12 {
		e.Errorf("get pending %v %v", v, errno)
	}
	if names, _ := e.FS.ListXattr(e.Admin, f.GFID); !slices.Contains(names, "trusted.cairn.pending.b1") {
		e.Errorf("pending xattr not listed for root: %q", names)
	}
}

func testXattrFlags(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	e.Want("XATTR_REPLACE of a missing xattr", e.FS.SetXattr(e.Ctx, f.GFID, "user.x", []byte("1"), vfs.XattrReplace), syscall.ENODATA)
	e.OK("XATTR_CREATE of a missing xattr", e.FS.SetXattr(e.Ctx, f.GFID, "user.x", []byte("1"), vfs.XattrCreate))
	e.Want("XATTR_CREATE of an existing xattr", e.FS.SetXattr(e.Ctx, f.GFID, "user.x", []byte("2"), vfs.XattrCreate), syscall.EEXIST)
	e.OK("XATTR_REPLACE of an existing xattr", e.FS.SetXattr(e.Ctx, f.GFID, "user.x", []byte("3"), vfs.XattrReplace))
	if v, _ := e.FS.GetXattr(e.Ctx, f.GFID, "user.x"); string(v) != "3" {
		e.Errorf("value %q, want 3", v)
	}
	e.Want("unknown flags", e.FS.SetXattr(e.Ctx, f.GFID, "user.x", nil, 1<<5), syscall.EINVAL)
	e.Want("unknown namespace", e.FS.SetXattr(e.Ctx, f.GFID, "bogus.x", nil, 0), syscall.EOPNOTSUPP, syscall.ENOTSUP)
	e.Want("empty name", e.FS.SetXattr(e.Ctx, f.GFID, "", nil, 0), syscall.ERANGE, syscall.EINVAL)
}

func testXattrTypes(e *Env) {
	s, errno := e.FS.Symlink(e.Ctx, Root, "s", "/etc/passwd", &vfs.CreateIn{})
	e.OK("symlink", errno)
	// user.* is not allowed on symlinks (Linux), trusted.* is, and neither
	// ever reaches the target.
	e.Want("user xattr on a symlink", e.FS.SetXattr(e.Ctx, s.GFID, "user.x", []byte("1"), 0), syscall.EPERM)
	e.OK("trusted xattr on a symlink", e.FS.SetXattr(e.Admin, s.GFID, "trusted.cairn.pending.x", []byte{0, 0, 0, 1}, 0))
	v, errno := e.FS.GetXattr(e.Admin, s.GFID, "trusted.cairn.pending.x")
	if errno != 0 || !bytes.Equal(v, []byte{0, 0, 0, 1}) {
		e.Errorf("trusted xattr of a symlink %v %v", v, errno)
	}
	e.OK("remove", e.FS.RemoveXattr(e.Admin, s.GFID, "trusted.cairn.pending.x"))
}

func testXattrGFIDHidden(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	for _, g := range []vfs.GFID{Root, f.GFID} {
		names, errno := e.FS.ListXattr(e.Ctx, g)
		e.OK("listxattr", errno)
		if slices.Contains(names, gfidXattr) {
			e.Errorf("%s listed", gfidXattr)
		}
		e.Want("set the gfid xattr", e.FS.SetXattr(e.Ctx, g, gfidXattr, make([]byte, 16), 0), syscall.EPERM)
		e.Want("remove the gfid xattr", e.FS.RemoveXattr(e.Ctx, g, gfidXattr), syscall.EPERM)
		_, errno = e.FS.XattrOp(e.Ctx, g, vfs.XattrAddArray32, map[string][]byte{gfidXattr: make([]byte, 16)})
		e.Want("xattrop on the gfid xattr", errno, syscall.EPERM)
	}
	if e.GetAttr(f.GFID).GFID != f.GFID || e.Lookup(Root, "f").GFID != f.GFID {
		e.Errorf("gfid changed")
	}
}

func be32(v ...int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

func be64(v ...int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

func testXattrOp(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	const a, b = "trusted.cairn.pending.brick-0", "trusted.cairn.pending.brick-1"
	out, errno := e.FS.XattrOp(e.Ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{a: be32(1, 0, 2), b: be32(0, 0, 1)})
	e.OK("xattrop on missing xattrs", errno)
	if !bytes.Equal(out[a], be32(1, 0, 2)) || !bytes.Equal(out[b], be32(0, 0, 1)) {
		e.Errorf("xattrop result %v", out)
	}
	out, errno = e.FS.XattrOp(e.Ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{a: be32(5, -1, -2)})
	e.OK("xattrop add", errno)
	if !bytes.Equal(out[a], be32(6, -1, 0)) {
		e.Errorf("xattrop sum %v", out[a])
	}
	if v, _ := e.FS.GetXattr(e.Admin, f.GFID, a); !bytes.Equal(v, be32(6, -1, 0)) {
		e.Errorf("stored value %v", v)
	}
	if v, _ := e.FS.GetXattr(e.Admin, f.GFID, b); !bytes.Equal(v, be32(0, 0, 1)) {
		e.Errorf("untouched value %v", v)
	}
	// Overflow wraps as int32 arithmetic does.
	e.OK("set", e.FS.SetXattr(e.Admin, f.GFID, "trusted.cairn.pending.w", be32(2147483647), 0))
	out, errno = e.FS.XattrOp(e.Ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{"trusted.cairn.pending.w": be32(1)})
	e.OK("xattrop wrap", errno)
	if !bytes.Equal(out["trusted.cairn.pending.w"], be32(-2147483648)) {
		e.Errorf("wrap %v", out["trusted.cairn.pending.w"])
	}
	// 64-bit.
	const c = "trusted.cairn.pending.c64"
	out, errno = e.FS.XattrOp(e.Ctx, f.GFID, vfs.XattrAddArray64, map[string][]byte{c: be64(1 << 40)})
	e.OK("xattrop64", errno)
	out, errno = e.FS.XattrOp(e.Ctx, f.GFID, vfs.XattrAddArray64, map[string][]byte{c: be64(-(1 << 40) + 3)})
	e.OK("xattrop64 add", errno)
	if !bytes.Equal(out[c], be64(3)) {
		e.Errorf("xattrop64 %v", out[c])
	}
	// Errors.
	_, errno = e.FS.XattrOp(e.Ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{a: {1, 2, 3}})
	e.Want("operand not a multiple of 4", errno, syscall.EINVAL)
	_, errno = e.FS.XattrOp(e.Ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{a: be32(1)})
	e.Want("operand of another length", errno, syscall.EINVAL)
	_, errno = e.FS.XattrOp(e.Ctx, f.GFID, vfs.XattrOpKind(99), map[string][]byte{a: be32(1, 2, 3)})
	e.Want("unknown op", errno, syscall.EINVAL, syscall.EOPNOTSUPP)
	_, errno = e.FS.XattrOp(e.Ctx, vfs.NewGFID(), vfs.XattrAddArray32, map[string][]byte{a: be32(1)})
	e.Want("xattrop on an unknown gfid", errno, syscall.ESTALE, syscall.ENOENT)
	// On a directory too (entry changelog).
	d := e.Mkdir(Root, "d", 0o755)
	out, errno = e.FS.XattrOp(e.Ctx, d.GFID, vfs.XattrAddArray32, map[string][]byte{a: be32(0, 0, 1)})
	if errno != 0 || !bytes.Equal(out[a], be32(0, 0, 1)) {
		e.Errorf("xattrop on a directory %v %v", out, errno)
	}
}

func testXattrOpConcurrent(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	const name = "trusted.cairn.pending.race"
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, errno := e.FS.XattrOp(e.Ctx, f.GFID, vfs.XattrAddArray32, map[string][]byte{name: be32(1, -1, 2)}); errno != 0 {
					e.Errorf("xattrop: %v", errno)
					return
				}
			}
		}()
	}
	wg.Wait()
	v, errno := e.FS.GetXattr(e.Admin, f.GFID, name)
	e.OK("getxattr", errno)
	if n := int32(workers * each); !bytes.Equal(v, be32(n, -n, 2*n)) {
		e.Errorf("after %d concurrent adds: %v", workers*each, v)
	}
}

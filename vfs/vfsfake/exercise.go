package vfsfake

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Exercise calls every method of t once, in AllOps order, with small
// made-up arguments on GFID {9}, and returns the errnos. Tests of
// translators use it to check that every operation is forwarded (or
// counted, or bounded).
func Exercise(ctx context.Context, t vfs.Translator) []syscall.Errno {
	g := vfs.GFID{9}
	var out []syscall.Errno
	add := func(e syscall.Errno) { out = append(out, e) }
	_, e := t.Lookup(ctx, g, "n")
	add(e)
	_, e = t.GetAttr(ctx, g, 1)
	add(e)
	_, e = t.SetAttr(ctx, g, 1, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 3})
	add(e)
	_, _, e = t.Create(ctx, g, "n", &vfs.CreateIn{Mode: 0o644})
	add(e)
	_, e = t.Mknod(ctx, g, "n", &vfs.CreateIn{})
	add(e)
	_, e = t.Mkdir(ctx, g, "n", &vfs.CreateIn{})
	add(e)
	_, e = t.Symlink(ctx, g, "n", "target", &vfs.CreateIn{})
	add(e)
	_, e = t.Readlink(ctx, g)
	add(e)
	_, e = t.Link(ctx, g, g, "n2")
	add(e)
	add(t.Unlink(ctx, g, "n"))
	add(t.Rmdir(ctx, g, "n"))
	add(t.Rename(ctx, g, "a", g, "b", vfs.RenameNoReplace))
	_, e = t.Open(ctx, g, 0)
	add(e)
	_, e = t.Read(ctx, g, 1, make([]byte, 10), 5)
	add(e)
	_, e = t.Write(ctx, g, 1, []byte("abc"), 7)
	add(e)
	add(t.Flush(ctx, g, 1))
	add(t.Fsync(ctx, g, 1, true))
	add(t.Release(ctx, g, 1))
	add(t.Fallocate(ctx, g, 1, 0, 0, 10))
	_, e = t.Lseek(ctx, g, 1, 0, 3)
	add(e)
	_, e = t.OpenDir(ctx, g)
	add(e)
	_, _, e = t.ReadDir(ctx, g, 1, 0, 10, true)
	add(e)
	add(t.ReleaseDir(ctx, g, 1))
	add(t.FsyncDir(ctx, g, 1, false))
	_, e = t.StatFS(ctx, g)
	add(e)
	_, e = t.GetXattr(ctx, g, "user.x")
	add(e)
	add(t.SetXattr(ctx, g, "user.x", []byte("v"), 0))
	_, e = t.ListXattr(ctx, g)
	add(e)
	add(t.RemoveXattr(ctx, g, "user.x"))
	_, e = t.XattrOp(ctx, g, vfs.XattrAddArray32, map[string][]byte{"x": {0, 0, 0, 1}})
	add(e)
	_, e = t.GetLk(ctx, g, 1, vfs.PosixLock, vfs.Lock{Type: vfs.ReadLock})
	add(e)
	add(t.SetLk(ctx, g, 1, vfs.PosixLock, vfs.Lock{Type: vfs.ReadLock}, true))
	add(t.InodeLk(ctx, "d", g, vfs.Lock{Type: vfs.WriteLock}, false))
	add(t.EntryLk(ctx, "d", g, "n", vfs.WriteLock, 5, false))
	return out
}

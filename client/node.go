package client

import (
	"context"
	"encoding/binary"
	"log/slog"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cairnfs/cairn/vfs"
)

// mountState is what every node of one mount shares.
type mountState struct {
	stack  vfs.Translator
	opts   Options
	log    *slog.Logger
	groups groupsCache
}

// node is one file, directory, symlink or special file of the volume. Its
// identity is its GFID; names live in the parent's go-fuse Inode.
type node struct {
	fs.Inode
	m        *mountState
	gfid     vfs.GFID
	noXattrs noXattrs
}

// stableAttr derives go-fuse's identity of a file from its GFID: Ino from
// the low 8 bytes (vfs.GFID.Ino), Gen from the high 8, so two GFIDs that
// share an inode number still get distinct nodes, and the pair is the same
// on every client and after every remount.
func stableAttr(a *vfs.Attr) fs.StableAttr {
	return fs.StableAttr{
		Mode: a.Mode & syscall.S_IFMT,
		Ino:  a.GFID.Ino(),
		Gen:  gfidGen(a.GFID),
	}
}

func gfidGen(g vfs.GFID) uint64 {
	if g == vfs.RootGFID {
		return 0
	}
	return binary.BigEndian.Uint64(g[:8])
}

// fillAttr converts vfs attributes to FUSE's.
func fillAttr(a *vfs.Attr, out *fuse.Attr) {
	out.Ino = a.GFID.Ino()
	out.Size = a.Size
	out.Blocks = a.Blocks
	out.Atime = uint64(a.Atime.Sec)
	out.Atimensec = uint32(a.Atime.Nsec)
	out.Mtime = uint64(a.Mtime.Sec)
	out.Mtimensec = uint32(a.Mtime.Nsec)
	out.Ctime = uint64(a.Ctime.Sec)
	out.Ctimensec = uint32(a.Ctime.Nsec)
	out.Mode = a.Mode
	out.Nlink = a.Nlink
	out.Uid = a.UID
	out.Gid = a.GID
	out.Rdev = uint32(a.Rdev)
	out.Blksize = a.Blksize
}

// newChild returns the Inode for a file the stack just returned, filling
// out. go-fuse deduplicates by StableAttr, so a hard link or a second
// lookup of the same GFID yields the existing Inode.
func (n *node) newChild(ctx context.Context, a *vfs.Attr, out *fuse.EntryOut) *fs.Inode {
	fillAttr(a, &out.Attr)
	return n.NewInode(ctx, &node{m: n.m, gfid: a.GFID}, stableAttr(a))
}

// handleOf returns the stack handle behind a go-fuse file handle, or 0.
// Only regular-file handles are passed down: directory handles come from
// OpenDir and are not valid for attribute calls in every translator.
func handleOf(f fs.FileHandle) vfs.Handle {
	if fh, ok := f.(*fileHandle); ok {
		return fh.fh
	}
	return 0
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	a, e := n.m.stack.Lookup(n.m.opCtx(ctx), n.gfid, name)
	if e != 0 {
		return nil, errno(e)
	}
	return n.newChild(ctx, &a, out), 0
}

func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	a, e := n.m.stack.GetAttr(n.m.opCtx(ctx), n.gfid, handleOf(f))
	if e != 0 {
		return errno(e)
	}
	fillAttr(&a, &out.Attr)
	return 0
}

// Access answers access(2) (and chdir, exec probes) from the volume's
// attributes, because the translator interface has no access call: the
// bricks check permissions when an operation is done, not when asked
// about one. Unlike go-fuse's default it counts the caller's
// supplementary groups, as the bricks do. With default_permissions the
// kernel answers access(2) itself and this is not called.
func (n *node) Access(ctx context.Context, mask uint32) syscall.Errno {
	a, e := n.m.stack.GetAttr(n.m.opCtx(ctx), n.gfid, 0)
	if e != 0 {
		return errno(e)
	}
	return accessAllowed(n.m.caller(ctx), &a, mask)
}

// accessAllowed applies the POSIX permission rule (without ACLs) for
// R_OK/W_OK/X_OK in mask: owner, then group (primary or supplementary),
// then other bits; root may do anything except execute a file with no
// execute bit at all.
func accessAllowed(c *vfs.Caller, a *vfs.Attr, mask uint32) syscall.Errno {
	mask &= 7
	if c.UID == 0 {
		if mask&1 != 0 && !a.IsDir() && a.Mode&0o111 == 0 {
			return syscall.EACCES
		}
		return 0
	}
	perm := a.Mode & 7
	switch {
	case c.UID == a.UID:
		perm = a.Mode >> 6 & 7
	case c.InGroup(a.GID):
		perm = a.Mode >> 3 & 7
	}
	if perm&mask != mask {
		return syscall.EACCES
	}
	return 0
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	var sa vfs.SetAttrIn
	if m, ok := in.GetMode(); ok {
		sa.Valid |= vfs.SetMode
		sa.Mode = m & 07777
	}
	if uid, ok := in.GetUID(); ok {
		sa.Valid |= vfs.SetUID
		sa.UID = uid
	}
	if gid, ok := in.GetGID(); ok {
		sa.Valid |= vfs.SetGID
		sa.GID = gid
	}
	if size, ok := in.GetSize(); ok {
		sa.Valid |= vfs.SetSize
		sa.Size = size
	}
	// UTIME_NOW arrives as FATTR_xTIME|FATTR_xTIME_NOW; UTIME_OMIT as
	// neither bit.
	if in.Valid&fuse.FATTR_ATIME != 0 {
		if in.Valid&fuse.FATTR_ATIME_NOW != 0 {
			sa.Valid |= vfs.SetAtimeNow
		} else {
			sa.Valid |= vfs.SetAtime
			sa.Atime = vfs.Timespec{Sec: int64(in.Atime), Nsec: int64(in.Atimensec)}
		}
	}
	if in.Valid&fuse.FATTR_MTIME != 0 {
		if in.Valid&fuse.FATTR_MTIME_NOW != 0 {
			sa.Valid |= vfs.SetMtimeNow
		} else {
			sa.Valid |= vfs.SetMtime
			sa.Mtime = vfs.Timespec{Sec: int64(in.Mtime), Nsec: int64(in.Mtimensec)}
		}
	}
	// The bridge has already resolved in.Fh (ftruncate, futimens) into f.
	fh := handleOf(f)
	ctx2 := n.m.opCtx(ctx)
	var a vfs.Attr
	var e syscall.Errno
	if sa.Valid == 0 {
		// ctime-only or lock-owner-only requests: report current attributes.
		a, e = n.m.stack.GetAttr(ctx2, n.gfid, fh)
	} else {
		a, e = n.m.stack.SetAttr(ctx2, n.gfid, fh, &sa)
	}
	if e != 0 {
		return errno(e)
	}
	fillAttr(&a, &out.Attr)
	return 0
}

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	s, e := n.m.stack.StatFS(n.m.opCtx(ctx), n.gfid)
	if e != 0 {
		return errno(e)
	}
	out.Blocks = s.Blocks
	out.Bfree = s.Bfree
	out.Bavail = s.Bavail
	out.Files = s.Files
	out.Ffree = s.Ffree
	out.Bsize = s.Bsize
	out.NameLen = s.NameLen
	out.Frsize = s.Frsize
	if out.Frsize == 0 {
		out.Frsize = out.Bsize
	}
	return 0
}

func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	t, e := n.m.stack.Readlink(n.m.opCtx(ctx), n.gfid)
	if e != 0 {
		return nil, errno(e)
	}
	return []byte(t), 0
}

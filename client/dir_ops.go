package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cairnfs/cairn/vfs"
)

// Namespace operations. Modes arrive with the caller's umask already applied
// (go-fuse does not ask for FUSE_DONT_MASK).

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	a, e := n.m.stack.Mkdir(n.m.opCtx(ctx), n.gfid, name, &vfs.CreateIn{Mode: mode & 07777})
	if e != 0 {
		return nil, errno(e)
	}
	return n.newChild(ctx, &a, out), 0
}

func (n *node) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if mode&syscall.S_IFMT == 0 {
		mode |= syscall.S_IFREG // mknod(2): a zero type means a regular file
	}
	a, e := n.m.stack.Mknod(n.m.opCtx(ctx), n.gfid, name, &vfs.CreateIn{Mode: mode, Rdev: uint64(dev)})
	if e != 0 {
		return nil, errno(e)
	}
	return n.newChild(ctx, &a, out), 0
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	a, e := n.m.stack.Symlink(n.m.opCtx(ctx), n.gfid, name, target, &vfs.CreateIn{Mode: 0777})
	if e != 0 {
		return nil, errno(e)
	}
	return n.newChild(ctx, &a, out), 0
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	t, ok := target.(*node)
	if !ok {
		return nil, syscall.EXDEV
	}
	a, e := n.m.stack.Link(n.m.opCtx(ctx), t.gfid, n.gfid, name)
	if e != 0 {
		return nil, errno(e)
	}
	return n.newChild(ctx, &a, out), 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return errno(n.m.stack.Unlink(n.m.opCtx(ctx), n.gfid, name))
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return errno(n.m.stack.Rmdir(n.m.opCtx(ctx), n.gfid, name))
}

// renameFlags are the renameat2 flags the stack understands; RENAME_WHITEOUT
// (overlayfs) is not among them.
const renameFlags = vfs.RenameNoReplace | vfs.RenameExchange

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	if flags&^renameFlags != 0 || flags == renameFlags {
		return syscall.EINVAL
	}
	return errno(n.m.stack.Rename(n.m.opCtx(ctx), n.gfid, name, np.gfid, newName, flags))
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ctx2 := n.m.opCtx(ctx)
	a, fh, e := n.m.stack.Create(ctx2, n.gfid, name, &vfs.CreateIn{Mode: mode & 07777, Flags: flags})
	if e != 0 {
		return nil, nil, 0, errno(e)
	}
	child := n.newChild(ctx, &a, out)
	n.m.freshFile(child)
	return child, &fileHandle{gfid: a.GFID, m: n.m, fh: fh}, n.m.openFlags(flags), 0
}

// freshFile notes that a file this mount just created has no file
// capabilities, so the kernel's security.capability probe before each of
// the writes that usually follow a create is answered here, within the
// attribute timeout like any cached attribute.
func (m *mountState) freshFile(child *fs.Inode) {
	if c, ok := child.Operations().(*node); ok {
		c.noXattrs.add("security.capability", m.opts.AttrTimeout)
	}
}

// Tmpfile emulates O_TMPFILE, which the translator interface has no call
// for: the file is created under a random hidden name and unlinked at once.
// The stack keeps unlinked files alive while a handle is open, and
// linkat(AT_EMPTY_PATH) later gives it a name through Link.
func (n *node) Tmpfile(ctx context.Context, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	name := ".cairn-tmpfile-" + hex.EncodeToString(rnd[:])
	ctx2 := n.m.opCtx(ctx)
	flags = flags&^uint32(syscall.O_TRUNC) | syscall.O_CREAT | syscall.O_EXCL
	a, fh, e := n.m.stack.Create(ctx2, n.gfid, name, &vfs.CreateIn{Mode: mode & 07777, Flags: flags})
	if e != 0 {
		return nil, nil, 0, errno(e)
	}
	if e := n.m.stack.Unlink(ctx2, n.gfid, name); e != 0 {
		n.m.stack.Release(ctx2, a.GFID, fh)
		return nil, nil, 0, errno(e)
	}
	a.Nlink = 0
	child := n.newChild(ctx, &a, out)
	n.m.freshFile(child)
	return child, &fileHandle{gfid: a.GFID, m: n.m, fh: fh}, n.m.openFlags(flags), 0
}

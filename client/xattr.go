package client

import (
	"context"
	"strings"
	"syscall"
)

// internalXattrPrefix names cairn's own bookkeeping (GFID, replicate
// changelogs). It is not user data: it is hidden from listings and cannot
// be changed through a mount, whatever a brick would allow.
const internalXattrPrefix = "trusted.cairn."

func internalXattr(name string) bool { return strings.HasPrefix(name, internalXattrPrefix) }

// Getxattr follows getxattr(2): a zero-length dest asks for the size.
func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if internalXattr(attr) {
		return 0, syscall.ENODATA
	}
	v, e := n.m.stack.GetXattr(n.m.opCtx(ctx), n.gfid, attr)
	if e != 0 {
		return 0, errno(e)
	}
	if len(dest) == 0 {
		return uint32(len(v)), 0
	}
	if len(dest) < len(v) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if internalXattr(attr) {
		return syscall.EPERM
	}
	return errno(n.m.stack.SetXattr(n.m.opCtx(ctx), n.gfid, attr, data, flags))
}

func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if internalXattr(attr) {
		return syscall.EPERM
	}
	return errno(n.m.stack.RemoveXattr(n.m.opCtx(ctx), n.gfid, attr))
}

// Listxattr returns NUL-terminated names, as listxattr(2).
func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	names, e := n.m.stack.ListXattr(n.m.opCtx(ctx), n.gfid)
	if e != 0 {
		return 0, errno(e)
	}
	size := 0
	for _, name := range names {
		if !internalXattr(name) {
			size += len(name) + 1
		}
	}
	if len(dest) == 0 {
		return uint32(size), 0
	}
	if len(dest) < size {
		return uint32(size), syscall.ERANGE
	}
	off := 0
	for _, name := range names {
		if !internalXattr(name) {
			off += copy(dest[off:], name)
			dest[off] = 0
			off++
		}
	}
	return uint32(off), 0
}

package memfs

import (
	"context"
	"encoding/binary"
	"slices"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Limits of Linux xattrs.
const (
	xattrNameMax = 255
	xattrSizeMax = 65536
)

func (fs *FS) GetXattr(ctx context.Context, gfid vfs.GFID, name string) ([]byte, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.nodes[gfid]
	if n == nil {
		return nil, syscall.ENOENT
	}
	if e := xattrAccess(n, vfs.CallerFrom(ctx), name, false); e != 0 {
		return nil, e
	}
	v, ok := n.xattrs[name]
	if !ok {
		return nil, syscall.ENODATA
	}
	return slices.Clone(v), 0
}

func (fs *FS) SetXattr(ctx context.Context, gfid vfs.GFID, name string, value []byte, flags uint32) syscall.Errno {
	if len(value) > xattrSizeMax {
		return syscall.E2BIG
	}
	if flags&^(vfs.XattrCreate|vfs.XattrReplace) != 0 {
		return syscall.EINVAL
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.nodes[gfid]
	if n == nil {
		return syscall.ENOENT
	}
	if e := xattrAccess(n, vfs.CallerFrom(ctx), name, true); e != 0 {
		return e
	}
	_, exists := n.xattrs[name]
	switch {
	case flags&vfs.XattrCreate != 0 && exists:
		return syscall.EEXIST
	case flags&vfs.XattrReplace != 0 && !exists:
		return syscall.ENODATA
	}
	if n.xattrs == nil {
		n.xattrs = make(map[string][]byte)
	}
	n.xattrs[name] = slices.Clone(value)
	n.attr.Ctime = fs.now()
	return 0
}

func (fs *FS) ListXattr(ctx context.Context, gfid vfs.GFID) ([]string, syscall.Errno) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.nodes[gfid]
	if n == nil {
		return nil, syscall.ENOENT
	}
	names := make([]string, 0, len(n.xattrs))
	c := vfs.CallerFrom(ctx)
	for k := range n.xattrs {
		if xattrAccess(n, c, k, false) != syscall.ENODATA { // hidden from c
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names, 0
}

func (fs *FS) RemoveXattr(ctx context.Context, gfid vfs.GFID, name string) syscall.Errno {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.nodes[gfid]
	if n == nil {
		return syscall.ENOENT
	}
	if e := xattrAccess(n, vfs.CallerFrom(ctx), name, true); e != 0 {
		return e
	}
	if _, ok := n.xattrs[name]; !ok {
		return syscall.ENODATA
	}
	delete(n.xattrs, name)
	n.attr.Ctime = fs.now()
	return 0
}

// XattrOp adds each operand, element-wise, to the stored value (missing
// counts as zeros) and returns the new values. All operands are checked
// before any is applied, so a bad one changes nothing.
func (fs *FS) XattrOp(ctx context.Context, gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	var width int
	switch op {
	case vfs.XattrAddArray32:
		width = 4
	case vfs.XattrAddArray64:
		width = 8
	default:
		return nil, syscall.EINVAL
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := fs.nodes[gfid]
	if n == nil {
		return nil, syscall.ENOENT
	}
	c := vfs.CallerFrom(ctx)
	for name, v := range operands {
		if e := xattrAccess(n, c, name, true); e != 0 {
			return nil, e
		}
		if len(v)%width != 0 {
			return nil, syscall.EINVAL
		}
		if old, ok := n.xattrs[name]; ok && len(old) != len(v) {
			return nil, syscall.EINVAL
		}
	}
	if n.xattrs == nil {
		n.xattrs = make(map[string][]byte)
	}
	out := make(map[string][]byte, len(operands))
	for name, v := range operands {
		sum := make([]byte, len(v))
		copy(sum, n.xattrs[name])
		for i := 0; i < len(v); i += width {
			if width == 4 {
				binary.BigEndian.PutUint32(sum[i:], binary.BigEndian.Uint32(sum[i:])+binary.BigEndian.Uint32(v[i:]))
			} else {
				binary.BigEndian.PutUint64(sum[i:], binary.BigEndian.Uint64(sum[i:])+binary.BigEndian.Uint64(v[i:]))
			}
		}
		n.xattrs[name] = sum
		out[name] = slices.Clone(sum)
	}
	if len(operands) > 0 {
		n.attr.Ctime = fs.now()
	}
	return out, 0
}

package replicate

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// GetXattr reads from a good copy. cairn's own trusted.cairn.* xattrs are
// invisible through replicate (ENODATA).
func (r *Replicate) GetXattr(ctx context.Context, gfid vfs.GFID, name string) ([]byte, syscall.Errno) {
	r.awaitQueuedEnd(ctx, gfid)
	if r.isReservedXattr(name) {
		return nil, syscall.ENODATA
	}
	var exclude uint64
	for {
		c, _, e := r.readChild(ctx, gfid, metaKind, exclude)
		if e != 0 {
			return nil, e
		}
		v, e := r.children[c].t.GetXattr(ctx, gfid, name)
		if e == 0 || !isDown(e) {
			return v, e
		}
		exclude |= 1 << c
	}
}

// ListXattr lists from a good copy, without cairn's own xattrs.
func (r *Replicate) ListXattr(ctx context.Context, gfid vfs.GFID) ([]string, syscall.Errno) {
	r.awaitQueuedEnd(ctx, gfid)
	var exclude uint64
	for {
		c, _, e := r.readChild(ctx, gfid, metaKind, exclude)
		if e != 0 {
			return nil, e
		}
		names, e := r.children[c].t.ListXattr(ctx, gfid)
		if isDown(e) {
			exclude |= 1 << c
			continue
		}
		if e != 0 {
			return nil, e
		}
		out := names[:0]
		for _, n := range names {
			if !r.isReservedXattr(n) {
				out = append(out, n)
			}
		}
		return out, 0
	}
}

// SetXattr sets an xattr on every copy in a metadata transaction.
func (r *Replicate) SetXattr(ctx context.Context, gfid vfs.GFID, name string, value []byte, flags uint32) syscall.Errno {
	r.awaitQueuedEnd(ctx, gfid)
	if r.isReservedXattr(name) {
		return syscall.EPERM
	}
	_, e := r.inodeTxn(ctx, gfid, metaKind, wholeFile, func(i int) syscall.Errno {
		return r.children[i].t.SetXattr(ctx, gfid, name, value, flags)
	})
	return e
}

// RemoveXattr removes an xattr from every copy in a metadata transaction.
func (r *Replicate) RemoveXattr(ctx context.Context, gfid vfs.GFID, name string) syscall.Errno {
	r.awaitQueuedEnd(ctx, gfid)
	if r.isReservedXattr(name) {
		return syscall.EPERM
	}
	_, e := r.inodeTxn(ctx, gfid, metaKind, wholeFile, func(i int) syscall.Errno {
		return r.children[i].t.RemoveXattr(ctx, gfid, name)
	})
	return e
}

// XattrOp applies an atomic xattr update on every copy in a metadata
// transaction (for translators stacked above replicate). The changelog
// xattrs are refused.
func (r *Replicate) XattrOp(ctx context.Context, gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	for name := range operands {
		if r.isReservedXattr(name) {
			return nil, syscall.EPERM
		}
	}
	res := make([]map[string][]byte, len(r.children))
	good, e := r.inodeTxn(ctx, gfid, metaKind, wholeFile, func(i int) syscall.Errno {
		var e syscall.Errno
		res[i], e = r.children[i].t.XattrOp(ctx, gfid, op, operands)
		return e
	})
	if e != 0 {
		return nil, e
	}
	return res[first(good)], 0
}

package posix

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"syscall"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

// xattrSizeMax is XATTR_SIZE_MAX.
const xattrSizeMax = 64 << 10

// checkXattr applies the kernel's xattr namespace rules for caller c on
// the file st (the brick itself runs as root and would pass them all), and
// hides the GFID xattr: reading it gives ENODATA, writing it EPERM.
func checkXattr(c *vfs.Caller, st *sys.Stat_t, name string, write bool) syscall.Errno {
	if name == "" || len(name) > 255 {
		return syscall.ERANGE
	}
	if name == XattrGFID {
		if write {
			return syscall.EPERM
		}
		return syscall.ENODATA
	}
	typ := st.Mode & syscall.S_IFMT
	switch {
	case strings.HasPrefix(name, "trusted."):
		if !c.IsRoot() {
			if write {
				return syscall.EPERM
			}
			return syscall.ENODATA
		}
	case strings.HasPrefix(name, "security."):
		if write && !c.IsRoot() {
			return syscall.EPERM
		}
	case strings.HasPrefix(name, "system."):
		if write && !isOwner(c, st) {
			return syscall.EPERM
		}
	case strings.HasPrefix(name, "user."):
		if typ != syscall.S_IFREG && typ != syscall.S_IFDIR {
			if write {
				return syscall.EPERM
			}
			return syscall.ENODATA
		}
		if write {
			if typ == syscall.S_IFDIR && st.Mode&syscall.S_ISVTX != 0 && !isOwner(c, st) {
				return syscall.EPERM
			}
			return access(c, st, mayWrite)
		}
		return access(c, st, mayRead)
	default:
		return syscall.EOPNOTSUPP
	}
	return 0
}

// GetXattr reads one xattr.
func (p *Posix) GetXattr(ctx context.Context, gfid vfs.GFID, name string) ([]byte, syscall.Errno) {
	if gfid == vfs.RootGFID && name == XattrIndexDirty {
		return p.dirtyIndexXattr(ctx)
	}
	o, e := p.resolve(gfid)
	if e != 0 {
		return nil, e
	}
	defer o.close()
	if e := checkXattr(vfs.CallerFrom(ctx), &o.st, name, false); e != 0 {
		return nil, e
	}
	v, err := sys.GetxattrFD(o.fd, name)
	if err != nil {
		return nil, errno(err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, 0
}

// SetXattr sets one xattr (flags XattrCreate or XattrReplace). Setting a
// changelog counter (trusted.cairn.pending.*, trusted.cairn.dirty)
// updates the dirty index.
func (p *Posix) SetXattr(ctx context.Context, gfid vfs.GFID, name string, value []byte, flags uint32) syscall.Errno {
	if flags&^(vfs.XattrCreate|vfs.XattrReplace) != 0 {
		return syscall.EINVAL
	}
	if len(value) > xattrSizeMax {
		return syscall.E2BIG
	}
	o, e := p.resolve(gfid)
	if e != 0 {
		return e
	}
	defer o.close()
	if e := checkXattr(vfs.CallerFrom(ctx), &o.st, name, true); e != 0 {
		return e
	}
	pending := isChangelog(name)
	if pending {
		unlock := p.lockG(gfid)
		defer unlock()
	}
	if err := sys.SetxattrFD(o.fd, name, value, int(flags)); err != nil {
		return errno(err)
	}
	if pending {
		p.maskInternalCtime(o)
		p.updateDirty(o, gfid, map[string][]byte{name: value})
	}
	return 0
}

// ListXattr lists xattr names, without the GFID xattr, and without trusted.*
// for non-root callers (as the kernel hides them).
func (p *Posix) ListXattr(ctx context.Context, gfid vfs.GFID) ([]string, syscall.Errno) {
	o, e := p.resolve(gfid)
	if e != 0 {
		return nil, e
	}
	defer o.close()
	names, err := sys.ListxattrFD(o.fd)
	if err != nil {
		return nil, errno(err)
	}
	root := vfs.CallerFrom(ctx).IsRoot()
	out := names[:0]
	for _, n := range names {
		if n == XattrGFID || (!root && strings.HasPrefix(n, "trusted.")) {
			continue
		}
		out = append(out, n)
	}
	return out, 0
}

// RemoveXattr removes one xattr.
func (p *Posix) RemoveXattr(ctx context.Context, gfid vfs.GFID, name string) syscall.Errno {
	o, e := p.resolve(gfid)
	if e != 0 {
		return e
	}
	defer o.close()
	if e := checkXattr(vfs.CallerFrom(ctx), &o.st, name, true); e != 0 {
		return e
	}
	pending := isChangelog(name)
	if pending {
		unlock := p.lockG(gfid)
		defer unlock()
	}
	if err := sys.RemovexattrFD(o.fd, name); err != nil {
		return errno(err)
	}
	if pending {
		p.maskInternalCtime(o)
		p.updateDirty(o, gfid, map[string][]byte{name: nil})
	}
	return 0
}

// XattrOp adds each operand, element-wise as big-endian int32 or int64, to
// the stored value (missing counts as zeros) under g's stripe lock, and
// returns the new values. It is replicate's changelog primitive and so is
// not permission checked; the GFID xattr cannot be touched (EPERM).
func (p *Posix) XattrOp(ctx context.Context, gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	var width int
	switch op {
	case vfs.XattrAddArray32:
		width = 4
	case vfs.XattrAddArray64:
		width = 8
	default:
		return nil, syscall.EINVAL
	}
	names := make([]string, 0, len(operands))
	pending := false
	for name, v := range operands {
		if name == "" || len(name) > 255 {
			return nil, syscall.ERANGE
		}
		if name == XattrGFID {
			return nil, syscall.EPERM
		}
		if len(v)%width != 0 || len(v) > xattrSizeMax {
			return nil, syscall.EINVAL
		}
		pending = pending || isChangelog(name)
		names = append(names, name)
	}
	sort.Strings(names)
	// The stripe first: resolveOpen may lend an open handle, whose
	// release (dropHandle) takes the stripe before the handle.
	unlock := p.lockG(gfid)
	defer unlock()
	o, e := p.resolveOpen(gfid)
	if e != 0 {
		return nil, e
	}
	defer o.close()
	out := make(map[string][]byte, len(names))
	changed := false
	for _, name := range names {
		v := operands[name]
		cur, err := o.getxattr(name)
		switch {
		case err == syscall.ENODATA:
			cur = make([]byte, len(v))
		case err != nil:
			return nil, errno(err)
		case len(cur) != len(v):
			return nil, syscall.EINVAL
		}
		if allZero(v) {
			// Adding zeros is a read (replicate reads its changelog so):
			// no write, so no ctime change.
			out[name] = cur
			continue
		}
		changed = true
		for i := 0; i+width <= len(v); i += width {
			if width == 4 {
				s := int32(binary.BigEndian.Uint32(cur[i:])) + int32(binary.BigEndian.Uint32(v[i:]))
				binary.BigEndian.PutUint32(cur[i:], uint32(s))
			} else {
				s := int64(binary.BigEndian.Uint64(cur[i:])) + int64(binary.BigEndian.Uint64(v[i:]))
				binary.BigEndian.PutUint64(cur[i:], uint64(s))
			}
		}
		if err := o.setxattr(name, cur, 0); err != nil {
			return nil, errno(err)
		}
		out[name] = cur
	}
	if changed {
		p.maskInternalCtime(o)
	}
	if pending {
		p.updateDirty(o, gfid, out)
	}
	return out, 0
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// updateDirty keeps indices/dirty in step with g's pending counters:
// listed while any changelog counter is non-zero. known holds values
// just written (nil: removed). Callers hold g's stripe.
func (p *Posix) updateDirty(o *obj, g vfs.GFID, known map[string][]byte) {
	for name, v := range known {
		if isChangelog(name) && !allZero(v) {
			p.markDirty(g)
			return
		}
	}
	names, err := o.listxattr()
	if err != nil {
		return
	}
	for _, name := range names {
		if _, ok := known[name]; ok || !isChangelog(name) {
			continue
		}
		if v, err := o.getxattr(name); err == nil && !allZero(v) {
			p.markDirty(g)
			return
		}
	}
	p.clearDirty(g)
}

// markDirty lists g in indices/dirty as a hard link of one base file
// (GlusterFS's xattrop-<uuid> scheme), not a new inode each time: every
// write's pre-op marks and its post-op clears, and allocating and freeing an
// inode per operation made later allocations in the block group scan the
// recently freed inodes (ext4's recently_deleted()).
func (p *Posix) markDirty(g vfs.GFID) {
	err := p.linkDirtyBase(g)
	if err == syscall.EMLINK || err == syscall.ENOENT {
		// The base reached the filesystem's link limit (ext4: 65,000), or
		// was removed: start a new one; existing entries keep the old inode.
		if err = p.newDirtyBase(); err == nil {
			err = p.linkDirtyBase(g)
		}
	}
	if err != nil && err != syscall.EEXIST {
		p.log.Warn("recording a dirty GFID failed", "gfid", g, "err", err)
	}
}

func (p *Posix) linkDirtyBase(g vfs.GFID) error {
	return sys.Linkat(p.indicesFD, dirtyBase, p.dirtyFD, g.String())
}

// newDirtyBase (re)creates indices/dirty-base, atomically replacing an old
// one so that concurrent markDirty calls always find a base.
func (p *Posix) newDirtyBase() error {
	tmp := dirtyBase + "." + vfs.NewGFID().String()
	fd, err := sys.Openat(p.indicesFD, tmp, syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	sys.Close(fd)
	if err := sys.Renameat2(p.indicesFD, tmp, p.indicesFD, dirtyBase, 0); err != nil {
		_ = sys.Unlinkat(p.indicesFD, tmp, 0)
		return err
	}
	return nil
}

func (p *Posix) clearDirty(g vfs.GFID) {
	err := sys.Unlinkat(p.dirtyFD, g.String(), 0)
	if err != nil && err != syscall.ENOENT {
		p.log.Warn("clearing a dirty GFID failed", "gfid", g, "err", err)
	}
}

// DirtyGFIDs lists the GFIDs with a non-zero changelog counter (the
// self-heal daemon's work list), in no particular order.
func (p *Posix) DirtyGFIDs() ([]vfs.GFID, error) {
	ents, err := p.listMeta(p.dirtyFD)
	if err != nil {
		return nil, fmt.Errorf("posix: listing %s/indices/%s: %w", vfs.ReservedName, metaDirty, err)
	}
	out := make([]vfs.GFID, 0, len(ents))
	for _, d := range ents {
		if g, err := vfs.ParseGFID(d.Name); err == nil && d.Name == g.String() {
			out = append(out, g)
		}
	}
	return out, nil
}

// XattrIndexDirty is a virtual xattr of the root: its value is the
// concatenation of the 16-byte GFIDs in the brick's dirty index. It is how
// a remote heal daemon (cluster/replicate over protocol/client) walks the
// index without a protocol call of its own; it is never stored on disk.
const XattrIndexDirty = "trusted.cairn.index.dirty"

func (p *Posix) dirtyIndexXattr(ctx context.Context) ([]byte, syscall.Errno) {
	if !vfs.CallerFrom(ctx).IsRoot() {
		return nil, syscall.EPERM // trusted.* is root's, as in the kernel
	}
	gfids, err := p.DirtyGFIDs()
	if err != nil {
		p.log.Warn("listing dirty index", "err", err)
		return nil, syscall.EIO
	}
	out := make([]byte, 0, 16*len(gfids))
	for _, g := range gfids {
		out = append(out, g[:]...)
	}
	return out, 0
}

// maskInternalCtime records that o's ctime moved only because of an
// internal xattr change since o was resolved (see ctimeMask).
func (p *Posix) maskInternalCtime(o *obj) {
	var st sys.Stat_t
	if err := sys.Fstat(o.fd, &st); err == nil {
		p.ctime.record(o.gfid, o.st.Ctim, st.Ctim)
	}
}

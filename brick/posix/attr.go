package posix

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

// GetAttr stats gfid, through the handle fh when given (fstat of an
// unlinked open file).
func (p *Posix) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	if fh != 0 {
		h, e := p.getHandle(gfid, fh)
		if e != 0 {
			return vfs.Attr{}, e
		}
		defer h.mu.RUnlock()
		var st sys.Stat_t
		if err := sys.Fstat(h.fd, &st); err != nil {
			return vfs.Attr{}, errno(err)
		}
		return p.attr(gfid, &st), 0
	}
	o, e := p.resolveOpen(gfid)
	if e != 0 {
		return vfs.Attr{}, e
	}
	defer o.close()
	return p.attr(o.gfid, &o.st), 0
}

// SetAttr applies chown, chmod, truncate and utimes, in that order (chown
// clears setuid/setgid, so a mode given with it must be applied after),
// with the kernel's permission rules for non-root callers.
func (p *Posix) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	if in == nil {
		in = &vfs.SetAttrIn{}
	}
	fd := -1
	writable := false
	if fh != 0 {
		h, e := p.getHandle(gfid, fh)
		if e != 0 {
			return vfs.Attr{}, e
		}
		defer h.mu.RUnlock()
		fd = h.fd
		writable = h.flags&syscall.O_ACCMODE != syscall.O_RDONLY
	} else {
		o, e := p.resolve(gfid)
		if e != 0 {
			return vfs.Attr{}, e
		}
		defer o.close()
		fd = o.fd
	}
	var st sys.Stat_t
	if err := sys.Fstat(fd, &st); err != nil {
		return vfs.Attr{}, errno(err)
	}
	c := vfs.CallerFrom(ctx)
	typ := st.Mode & syscall.S_IFMT
	v := in.Valid

	if v&(vfs.SetUID|vfs.SetGID) != 0 {
		uid, gid := -1, -1
		if v&vfs.SetUID != 0 {
			uid = int(in.UID)
		}
		if v&vfs.SetGID != 0 {
			gid = int(in.GID)
		}
		if !c.IsRoot() {
			// Only root gives files away; the owner may change the group
			// to one of its own groups.
			if uid >= 0 && uint32(uid) != st.Uid {
				return vfs.Attr{}, syscall.EPERM
			}
			if (uid >= 0 || gid >= 0) && c.UID != st.Uid {
				return vfs.Attr{}, syscall.EPERM
			}
			if gid >= 0 && uint32(gid) != st.Gid && !c.InGroup(uint32(gid)) {
				return vfs.Attr{}, syscall.EPERM
			}
		}
		if err := sys.FchownFD(fd, uid, gid); err != nil {
			return vfs.Attr{}, errno(err)
		}
		if err := sys.Fstat(fd, &st); err != nil {
			return vfs.Attr{}, errno(err)
		}
	}
	if v&vfs.SetMode != 0 {
		if typ == syscall.S_IFLNK {
			return vfs.Attr{}, syscall.EOPNOTSUPP // Linux has no symlink modes
		}
		if !isOwner(c, &st) {
			return vfs.Attr{}, syscall.EPERM
		}
		mode := in.Mode & 07777
		if !c.IsRoot() && mode&syscall.S_ISGID != 0 && !c.InGroup(st.Gid) {
			mode &^= syscall.S_ISGID
		}
		if err := sys.FchmodFD(fd, mode); err != nil {
			return vfs.Attr{}, errno(err)
		}
		st.Mode = st.Mode&syscall.S_IFMT | mode
	}
	if v&vfs.SetSize != 0 {
		switch typ {
		case syscall.S_IFREG:
		case syscall.S_IFDIR:
			return vfs.Attr{}, syscall.EISDIR
		default:
			return vfs.Attr{}, syscall.EINVAL
		}
		if in.Size > 1<<63-1 {
			return vfs.Attr{}, syscall.EFBIG
		}
		if !writable {
			if e := access(c, &st, mayWrite); e != 0 {
				return vfs.Attr{}, e
			}
		}
		if err := sys.TruncateFD(fd, int64(in.Size)); err != nil {
			return vfs.Attr{}, errno(err)
		}
		killPriv(c, fd, &st)
	}
	if v&(vfs.SetAtime|vfs.SetMtime|vfs.SetAtimeNow|vfs.SetMtimeNow) != 0 {
		ts := [2]sys.Timespec{{Nsec: sys.UTIME_OMIT}, {Nsec: sys.UTIME_OMIT}}
		explicit := false
		switch {
		case v&vfs.SetAtimeNow != 0:
			ts[0] = sys.Timespec{Nsec: sys.UTIME_NOW}
		case v&vfs.SetAtime != 0:
			ts[0] = sys.Timespec{Sec: in.Atime.Sec, Nsec: in.Atime.Nsec}
			explicit = true
		}
		switch {
		case v&vfs.SetMtimeNow != 0:
			ts[1] = sys.Timespec{Nsec: sys.UTIME_NOW}
		case v&vfs.SetMtime != 0:
			ts[1] = sys.Timespec{Sec: in.Mtime.Sec, Nsec: in.Mtime.Nsec}
			explicit = true
		}
		for _, t := range ts {
			if t.Nsec != sys.UTIME_NOW && t.Nsec != sys.UTIME_OMIT && (t.Nsec < 0 || t.Nsec > 999999999) {
				return vfs.Attr{}, syscall.EINVAL
			}
		}
		// Explicit times need ownership; "now" also write permission
		// (utimensat(2)).
		if !isOwner(c, &st) {
			if explicit {
				return vfs.Attr{}, syscall.EPERM
			}
			if e := access(c, &st, mayWrite); e != 0 {
				return vfs.Attr{}, e
			}
		}
		if err := sys.UtimensFD(fd, ts); err != nil {
			return vfs.Attr{}, errno(err)
		}
	}
	if err := sys.Fstat(fd, &st); err != nil {
		return vfs.Attr{}, errno(err)
	}
	return p.attr(gfid, &st), 0
}

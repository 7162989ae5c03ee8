package protocol

import (
	"errors"
	"strconv"
	"strings"
	"syscall"

	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
)

// GFID converts wire bytes to a GFID; ok is false unless b is exactly 16
// bytes long.
func GFID(b []byte) (g vfs.GFID, ok bool) {
	if len(b) != len(g) {
		return g, false
	}
	copy(g[:], b)
	return g, true
}

// GFIDBytes returns the wire form of g. The slice is fresh: messages may be
// retained by gRPC after the call returns.
func GFIDBytes(g vfs.GFID) []byte {
	b := make([]byte, len(g))
	copy(b, g[:])
	return b
}

// ErrnoOf converts a wire errno. Values no Linux errno can have become EIO,
// so a misbehaving peer cannot produce nonsense errors.
func ErrnoOf(e uint32) syscall.Errno {
	if e >= 4096 {
		return syscall.EIO
	}
	return syscall.Errno(e)
}

// AttrToPB converts attributes to their wire form.
func AttrToPB(a *vfs.Attr) *brickpb.Attr {
	return &brickpb.Attr{
		Gfid:      GFIDBytes(a.GFID),
		Mode:      a.Mode,
		Nlink:     a.Nlink,
		Uid:       a.UID,
		Gid:       a.GID,
		Rdev:      a.Rdev,
		Size:      a.Size,
		Blocks:    a.Blocks,
		Blksize:   a.Blksize,
		AtimeSec:  a.Atime.Sec,
		AtimeNsec: a.Atime.Nsec,
		MtimeSec:  a.Mtime.Sec,
		MtimeNsec: a.Mtime.Nsec,
		CtimeSec:  a.Ctime.Sec,
		CtimeNsec: a.Ctime.Nsec,
	}
}

// AttrFromPB converts wire attributes; nil gives the zero Attr, and a GFID
// of the wrong length is left zero.
func AttrFromPB(p *brickpb.Attr) vfs.Attr {
	if p == nil {
		return vfs.Attr{}
	}
	g, _ := GFID(p.Gfid)
	return vfs.Attr{
		GFID:    g,
		Mode:    p.Mode,
		Nlink:   p.Nlink,
		UID:     p.Uid,
		GID:     p.Gid,
		Rdev:    p.Rdev,
		Size:    p.Size,
		Blocks:  p.Blocks,
		Blksize: p.Blksize,
		Atime:   vfs.Timespec{Sec: p.AtimeSec, Nsec: p.AtimeNsec},
		Mtime:   vfs.Timespec{Sec: p.MtimeSec, Nsec: p.MtimeNsec},
		Ctime:   vfs.Timespec{Sec: p.CtimeSec, Nsec: p.CtimeNsec},
	}
}

// SetAttrInToPB converts a setattr request.
func SetAttrInToPB(in *vfs.SetAttrIn) *brickpb.SetAttrIn {
	if in == nil {
		return &brickpb.SetAttrIn{}
	}
	return &brickpb.SetAttrIn{
		Valid:     uint32(in.Valid),
		Mode:      in.Mode,
		Uid:       in.UID,
		Gid:       in.GID,
		Size:      in.Size,
		AtimeSec:  in.Atime.Sec,
		AtimeNsec: in.Atime.Nsec,
		MtimeSec:  in.Mtime.Sec,
		MtimeNsec: in.Mtime.Nsec,
		CtimeSec:  in.Ctime.Sec,
		CtimeNsec: in.Ctime.Nsec,
	}
}

// SetAttrInFromPB converts a wire setattr request; nil means "change
// nothing".
func SetAttrInFromPB(p *brickpb.SetAttrIn) vfs.SetAttrIn {
	if p == nil {
		return vfs.SetAttrIn{}
	}
	return vfs.SetAttrIn{
		Valid: vfs.SetAttrMask(p.Valid),
		Mode:  p.Mode,
		UID:   p.Uid,
		GID:   p.Gid,
		Size:  p.Size,
		Atime: vfs.Timespec{Sec: p.AtimeSec, Nsec: p.AtimeNsec},
		Mtime: vfs.Timespec{Sec: p.MtimeSec, Nsec: p.MtimeNsec},
		Ctime: vfs.Timespec{Sec: p.CtimeSec, Nsec: p.CtimeNsec},
	}
}

// CreateInToPB converts a creation request. A zero GFID is sent empty.
func CreateInToPB(in *vfs.CreateIn) *brickpb.CreateIn {
	if in == nil {
		return &brickpb.CreateIn{}
	}
	p := &brickpb.CreateIn{Mode: in.Mode, Flags: in.Flags, Rdev: in.Rdev}
	if !in.GFID.IsZero() {
		p.Gfid = GFIDBytes(in.GFID)
	}
	return p
}

// CreateInFromPB converts a wire creation request; ok is false when the
// GFID is neither empty nor 16 bytes.
func CreateInFromPB(p *brickpb.CreateIn) (in vfs.CreateIn, ok bool) {
	if p == nil {
		return in, true
	}
	in = vfs.CreateIn{Mode: p.Mode, Flags: p.Flags, Rdev: p.Rdev}
	if len(p.Gfid) != 0 {
		if in.GFID, ok = GFID(p.Gfid); !ok {
			return in, false
		}
	}
	return in, true
}

// LockToPB converts a byte-range lock.
func LockToPB(l vfs.Lock) *brickpb.Lock {
	return &brickpb.Lock{Type: uint32(l.Type), Start: l.Start, End: l.End, Pid: l.Pid, Owner: l.Owner}
}

// LockFromPB converts a wire lock; nil is the zero Lock (type 0, which is
// F_RDLCK on Linux, so servers must validate Type).
func LockFromPB(p *brickpb.Lock) vfs.Lock {
	if p == nil {
		return vfs.Lock{}
	}
	return vfs.Lock{Type: vfs.LockType(p.Type), Start: p.Start, End: p.End, Pid: p.Pid, Owner: p.Owner}
}

// ValidLockType reports whether t is F_RDLCK, F_WRLCK or F_UNLCK.
func ValidLockType(t vfs.LockType) bool {
	return t == vfs.ReadLock || t == vfs.WriteLock || t == vfs.Unlock
}

// StatFSToPB converts statfs results.
func StatFSToPB(s *vfs.StatFS) *brickpb.StatFS {
	return &brickpb.StatFS{
		Bsize: s.Bsize, Frsize: s.Frsize, Blocks: s.Blocks, Bfree: s.Bfree,
		Bavail: s.Bavail, Files: s.Files, Ffree: s.Ffree, NameLen: s.NameLen,
	}
}

// StatFSFromPB converts wire statfs results.
func StatFSFromPB(p *brickpb.StatFS) vfs.StatFS {
	if p == nil {
		return vfs.StatFS{}
	}
	return vfs.StatFS{
		Bsize: p.Bsize, Frsize: p.Frsize, Blocks: p.Blocks, Bfree: p.Bfree,
		Bavail: p.Bavail, Files: p.Files, Ffree: p.Ffree, NameLen: p.NameLen,
	}
}

// DirEntryToPB converts a directory entry.
func DirEntryToPB(e *vfs.DirEntry) *brickpb.DirEntry {
	p := &brickpb.DirEntry{Name: []byte(e.Name), Gfid: GFIDBytes(e.GFID), Type: e.Type, Cookie: e.Cookie}
	if e.Attr != nil {
		p.Attr = AttrToPB(e.Attr)
	}
	return p
}

// DirEntryFromPB converts a wire directory entry.
func DirEntryFromPB(p *brickpb.DirEntry) vfs.DirEntry {
	g, _ := GFID(p.Gfid)
	e := vfs.DirEntry{Name: string(p.Name), GFID: g, Type: p.Type, Cookie: p.Cookie}
	if p.Attr != nil {
		a := AttrFromPB(p.Attr)
		e.Attr = &a
	}
	return e
}

// XattrsToPB converts a name → value map (XattrOp operands and results).
func XattrsToPB(m map[string][]byte) []*brickpb.Xattr {
	out := make([]*brickpb.Xattr, 0, len(m))
	for k, v := range m {
		out = append(out, &brickpb.Xattr{Name: []byte(k), Value: v})
	}
	return out
}

// XattrsFromPB converts wire xattrs to a map; a repeated name keeps its last
// value.
func XattrsFromPB(xs []*brickpb.Xattr) map[string][]byte {
	m := make(map[string][]byte, len(xs))
	for _, x := range xs {
		if x != nil {
			m[string(x.Name)] = x.Value
		}
	}
	return m
}

// EncodeCaller renders c for the MDCaller metadata key:
// "uid:gid:pid" followed by ":g1,g2,..." when there are supplementary
// groups (at most MaxGroups are sent). Caller.Client is not sent: the
// server names the connection itself.
func EncodeCaller(c *vfs.Caller) string {
	b := make([]byte, 0, 32)
	b = strconv.AppendUint(b, uint64(c.UID), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(c.GID), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(c.Pid), 10)
	groups := c.Groups
	if len(groups) > MaxGroups {
		groups = groups[:MaxGroups]
	}
	for i, g := range groups {
		if i == 0 {
			b = append(b, ':')
		} else {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(g), 10)
	}
	return string(b)
}

var errBadCaller = errors.New("malformed " + MDCaller + " metadata")

// DecodeCaller parses EncodeCaller's form. An empty string is root (the
// identity vfs.CallerFrom gives in-process callers).
func DecodeCaller(s string) (*vfs.Caller, error) {
	c := &vfs.Caller{}
	if s == "" {
		return c, nil
	}
	parts := strings.SplitN(s, ":", 4)
	if len(parts) < 3 {
		return nil, errBadCaller
	}
	var err error
	if c.UID, err = parseU32(parts[0]); err != nil {
		return nil, err
	}
	if c.GID, err = parseU32(parts[1]); err != nil {
		return nil, err
	}
	if c.Pid, err = parseU32(parts[2]); err != nil {
		return nil, err
	}
	if len(parts) == 4 {
		gs := strings.Split(parts[3], ",")
		if len(gs) > MaxGroups {
			return nil, errBadCaller
		}
		c.Groups = make([]uint32, len(gs))
		for i, g := range gs {
			if c.Groups[i], err = parseU32(g); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

func parseU32(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errBadCaller
	}
	return uint32(v), nil
}

// ChangeToPB converts a vfs.Change; zero GFIDs are left out.
func ChangeToPB(c *vfs.Change) *brickpb.Change {
	p := &brickpb.Change{All: c.All}
	if !c.GFID.IsZero() {
		p.Gfid = GFIDBytes(c.GFID)
	}
	if !c.Parent.IsZero() {
		p.Parent = GFIDBytes(c.Parent)
		p.Name = []byte(c.Name)
	}
	return p
}

// ChangeFromPB converts a Change from the wire. A malformed one (a GFID
// that is not 16 bytes, a name without a parent) becomes a Change with All
// set: the receiver cannot tell what changed, so anything may have.
func ChangeFromPB(p *brickpb.Change) vfs.Change {
	var c vfs.Change
	if p.All {
		return vfs.Change{All: true}
	}
	ok := true
	if len(p.Gfid) > 0 {
		c.GFID, ok = GFID(p.Gfid)
	}
	if ok && len(p.Parent) > 0 {
		c.Parent, ok = GFID(p.Parent)
		c.Name = string(p.Name)
	}
	if !ok || (c.Parent.IsZero() && len(p.Name) > 0) || (c.GFID.IsZero() && c.Parent.IsZero()) {
		return vfs.Change{All: true}
	}
	return c
}

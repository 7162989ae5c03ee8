package server

import (
	"strings"
	"syscall"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// allSetAttr is every SetAttrMask bit vfs defines.
const allSetAttr = vfs.SetMode | vfs.SetUID | vfs.SetGID | vfs.SetSize | vfs.SetAtime |
	vfs.SetMtime | vfs.SetAtimeNow | vfs.SetMtimeNow | vfs.SetCtime

// validate checks what a translator may assume of a decoded operation:
// names are single components, sizes and counts are within the protocol's
// limits, enumerations hold known values. It does not check handles (see
// session.checkOp) nor anything that needs the file system.
func validate(op *compound.Op) syscall.Errno {
	if len(op.Keys) > 0 {
		if (op.Kind != compound.OpLookup && op.Kind != compound.OpGetAttr) || len(op.Keys) > protocol.MaxXattrOpOperands {
			return syscall.EINVAL
		}
		for _, k := range op.Keys {
			if e := checkXattrName(k); e != 0 {
				return e
			}
		}
	}
	if op.ReadMax != 0 && (op.Kind != compound.OpLookup || op.ReadMax < 0 || op.ReadMax > protocol.MaxIOSize) {
		return syscall.EINVAL
	}
	switch op.Kind {
	case compound.OpLookup, compound.OpUnlink, compound.OpRmdir:
		return vfs.CheckName(op.Name)
	case compound.OpCreate, compound.OpMknod, compound.OpMkdir:
		return vfs.CheckName(op.Name)
	case compound.OpSymlink:
		if e := vfs.CheckName(op.Name); e != 0 {
			return e
		}
		switch {
		case op.Target == "":
			return syscall.ENOENT // symlink(2) with an empty target
		case len(op.Target) > protocol.MaxSymlinkLen:
			return syscall.ENAMETOOLONG
		case strings.IndexByte(op.Target, 0) >= 0:
			return syscall.EINVAL
		}
	case compound.OpLink:
		return vfs.CheckName(op.NewName)
	case compound.OpRename:
		if e := vfs.CheckName(op.Name); e != 0 {
			return e
		}
		if e := vfs.CheckName(op.NewName); e != 0 {
			return e
		}
		if op.Flags&^(vfs.RenameNoReplace|vfs.RenameExchange) != 0 ||
			op.Flags == vfs.RenameNoReplace|vfs.RenameExchange {
			return syscall.EINVAL
		}
	case compound.OpSetAttr:
		if op.SetAttr.Valid&^allSetAttr != 0 || !validTime(op.SetAttr.Atime) ||
			!validTime(op.SetAttr.Mtime) || !validTime(op.SetAttr.Ctime) {
			return syscall.EINVAL
		}
	case compound.OpRead:
		if op.Off < 0 || op.Len < 0 || op.Len > protocol.MaxIOSize {
			return syscall.EINVAL
		}
	case compound.OpWrite:
		if op.Off < 0 || len(op.Data) > protocol.MaxIOSize {
			return syscall.EINVAL
		}
	case compound.OpFallocate:
		if op.Off < 0 || op.Len <= 0 {
			return syscall.EINVAL
		}
	case compound.OpGetXattr, compound.OpRemoveXattr:
		return checkXattrName(op.Name)
	case compound.OpSetXattr:
		if e := checkXattrName(op.Name); e != 0 {
			return e
		}
		if len(op.Data) > protocol.MaxXattrSize {
			return syscall.E2BIG
		}
		if op.Flags&^(vfs.XattrCreate|vfs.XattrReplace) != 0 {
			return syscall.EINVAL
		}
	case compound.OpXattrOp:
		if op.XattrOp != vfs.XattrAddArray32 && op.XattrOp != vfs.XattrAddArray64 {
			return syscall.EINVAL
		}
		if len(op.Xattrs) == 0 || len(op.Xattrs) > protocol.MaxXattrOpOperands {
			return syscall.EINVAL
		}
		for name, v := range op.Xattrs {
			if e := checkXattrName(name); e != 0 {
				return e
			}
			if len(v) > protocol.MaxXattrSize {
				return syscall.E2BIG
			}
		}
	case compound.OpInodeLk:
		if e := checkDomain(op.Domain); e != 0 {
			return e
		}
		return checkLock(op.Lock)
	case compound.OpEntryLk:
		if e := checkDomain(op.Domain); e != 0 {
			return e
		}
		if op.Name != "" {
			if e := vfs.CheckName(op.Name); e != 0 {
				return e
			}
		}
		if !protocol.ValidLockType(op.Lock.Type) {
			return syscall.EINVAL
		}
	case compound.OpOpen, compound.OpGetAttr, compound.OpFlush, compound.OpFsync, compound.OpRelease:
	default:
		return syscall.EINVAL
	}
	return 0
}

func validTime(t vfs.Timespec) bool { return t.Nsec >= 0 && t.Nsec < 1e9 }

func checkXattrName(name string) syscall.Errno {
	switch {
	case name == "":
		return syscall.EINVAL
	case len(name) > protocol.MaxXattrNameLen:
		return syscall.ERANGE
	case strings.IndexByte(name, 0) >= 0:
		return syscall.EINVAL
	}
	return 0
}

func checkDomain(d string) syscall.Errno {
	if d == "" || len(d) > protocol.MaxDomainLen {
		return syscall.EINVAL
	}
	return 0
}

func checkLock(l vfs.Lock) syscall.Errno {
	if !protocol.ValidLockType(l.Type) || l.Start > l.End {
		return syscall.EINVAL
	}
	return 0
}

// checkOp verifies the handle op names, if any (see checkHandle).
func (ss *session) checkOp(op *compound.Op) (syscall.Errno, error) {
	switch op.Kind {
	case compound.OpGetAttr, compound.OpSetAttr:
		// fstat/fchmod/ftruncate: directories may be open too.
		return ss.checkHandle(op.Fh, op.GFID, wantAny)
	case compound.OpRead, compound.OpWrite, compound.OpFlush, compound.OpFsync,
		compound.OpRelease, compound.OpFallocate:
		return ss.checkHandle(op.Fh, op.GFID, wantFile)
	}
	return 0, nil
}

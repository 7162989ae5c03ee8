package protocol

import (
	"syscall"

	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
	"google.golang.org/protobuf/proto"
)

// DecodeOp converts one of the request messages that may appear in a
// compound (LookupRequest … EntryLkRequest) to a compound.Op. ok is false
// for a malformed request (a GFID that is not 16 bytes, a missing required
// field) or a message of another type; the caller answers EINVAL. Names
// and sizes are not checked here: that is the server's job (its validate).
func DecodeOp(m proto.Message) (op compound.Op, ok bool) {
	var g1, g2 bool
	switch r := m.(type) {
	case *brickpb.LookupRequest:
		op = compound.Op{Kind: compound.OpLookup, Name: string(r.Name), Keys: keysFromPB(r.Xattrs), ReadMax: int64(r.ReadMax)}
		op.GFID, g1 = GFID(r.Parent)
		return op, g1
	case *brickpb.GetAttrRequest:
		op = compound.Op{Kind: compound.OpGetAttr, Fh: vfs.Handle(r.Fh), Keys: keysFromPB(r.Xattrs)}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.SetAttrRequest:
		op = compound.Op{Kind: compound.OpSetAttr, Fh: vfs.Handle(r.Fh), SetAttr: SetAttrInFromPB(r.In)}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.CreateRequest:
		return decodeMake(compound.OpCreate, r.Parent, r.Name, nil, r.In)
	case *brickpb.MknodRequest:
		return decodeMake(compound.OpMknod, r.Parent, r.Name, nil, r.In)
	case *brickpb.MkdirRequest:
		return decodeMake(compound.OpMkdir, r.Parent, r.Name, nil, r.In)
	case *brickpb.SymlinkRequest:
		return decodeMake(compound.OpSymlink, r.Parent, r.Name, r.Target, r.In)
	case *brickpb.LinkRequest:
		op = compound.Op{Kind: compound.OpLink, NewName: string(r.NewName)}
		op.GFID, g1 = GFID(r.Gfid)
		op.NewParent, g2 = GFID(r.NewParent)
		return op, g1 && g2
	case *brickpb.UnlinkRequest:
		op = compound.Op{Kind: compound.OpUnlink, Name: string(r.Name), Flags: r.Flags}
		op.GFID, g1 = GFID(r.Parent)
		return op, g1
	case *brickpb.RmdirRequest:
		op = compound.Op{Kind: compound.OpRmdir, Name: string(r.Name)}
		op.GFID, g1 = GFID(r.Parent)
		return op, g1
	case *brickpb.RenameRequest:
		op = compound.Op{Kind: compound.OpRename, Name: string(r.OldName), NewName: string(r.NewName), Flags: r.Flags}
		op.GFID, g1 = GFID(r.OldParent)
		op.NewParent, g2 = GFID(r.NewParent)
		return op, g1 && g2
	case *brickpb.OpenRequest:
		op = compound.Op{Kind: compound.OpOpen, Flags: r.Flags}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.ReadRequest:
		op = compound.Op{Kind: compound.OpRead, Fh: vfs.Handle(r.Fh), Off: r.Offset, Len: int64(r.Size)}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.WriteRequest:
		op = compound.Op{Kind: compound.OpWrite, Fh: vfs.Handle(r.Fh), Off: r.Offset, Data: r.Data}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.FlushRequest:
		op = compound.Op{Kind: compound.OpFlush, Fh: vfs.Handle(r.Fh)}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.FsyncRequest:
		op = compound.Op{Kind: compound.OpFsync, Fh: vfs.Handle(r.Fh), Datasync: r.Datasync}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.ReleaseRequest:
		op = compound.Op{Kind: compound.OpRelease, Fh: vfs.Handle(r.Fh)}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.FallocateRequest:
		op = compound.Op{Kind: compound.OpFallocate, Fh: vfs.Handle(r.Fh), Mode: r.Mode, Off: r.Offset, Len: r.Length}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.GetXattrRequest:
		op = compound.Op{Kind: compound.OpGetXattr, Name: string(r.Name)}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.SetXattrRequest:
		op = compound.Op{Kind: compound.OpSetXattr, Name: string(r.Name), Data: r.Value, Flags: r.Flags}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.RemoveXattrRequest:
		op = compound.Op{Kind: compound.OpRemoveXattr, Name: string(r.Name)}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.XattrOpRequest:
		if len(r.Operands) > MaxXattrOpOperands {
			return op, false
		}
		op = compound.Op{Kind: compound.OpXattrOp, XattrOp: vfs.XattrOpKind(r.Op), Xattrs: XattrsFromPB(r.Operands)}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.InodeLkRequest:
		if r.Lock == nil {
			return op, false
		}
		op = compound.Op{Kind: compound.OpInodeLk, Domain: string(r.Domain), Lock: LockFromPB(r.Lock), Wait: r.Wait}
		op.GFID, g1 = GFID(r.Gfid)
		return op, g1
	case *brickpb.EntryLkRequest:
		op = compound.Op{Kind: compound.OpEntryLk, Domain: string(r.Domain), Name: string(r.Name),
			Lock: vfs.Lock{Type: vfs.LockType(r.Type), Owner: r.Owner}, Wait: r.Wait}
		op.GFID, g1 = GFID(r.Parent)
		return op, g1
	}
	return op, false
}

func decodeMake(k compound.Kind, parent, name, target []byte, in *brickpb.CreateIn) (compound.Op, bool) {
	op := compound.Op{Kind: k, Name: string(name), Target: string(target)}
	var ok1, ok2 bool
	op.GFID, ok1 = GFID(parent)
	op.Create, ok2 = CreateInFromPB(in)
	return op, ok1 && ok2
}

// DecodeSubRequest is DecodeOp for a compound member.
func DecodeSubRequest(s *brickpb.SubRequest) (compound.Op, bool) {
	if s == nil {
		return compound.Op{}, false
	}
	var m proto.Message
	switch o := s.Op.(type) {
	case *brickpb.SubRequest_Lookup:
		m = o.Lookup
	case *brickpb.SubRequest_Getattr:
		m = o.Getattr
	case *brickpb.SubRequest_Setattr:
		m = o.Setattr
	case *brickpb.SubRequest_Create:
		m = o.Create
	case *brickpb.SubRequest_Mknod:
		m = o.Mknod
	case *brickpb.SubRequest_Mkdir:
		m = o.Mkdir
	case *brickpb.SubRequest_Symlink:
		m = o.Symlink
	case *brickpb.SubRequest_Link:
		m = o.Link
	case *brickpb.SubRequest_Unlink:
		m = o.Unlink
	case *brickpb.SubRequest_Rmdir:
		m = o.Rmdir
	case *brickpb.SubRequest_Rename:
		m = o.Rename
	case *brickpb.SubRequest_Open:
		m = o.Open
	case *brickpb.SubRequest_Read:
		m = o.Read
	case *brickpb.SubRequest_Write:
		m = o.Write
	case *brickpb.SubRequest_Flush:
		m = o.Flush
	case *brickpb.SubRequest_Fsync:
		m = o.Fsync
	case *brickpb.SubRequest_Release:
		m = o.Release
	case *brickpb.SubRequest_Fallocate:
		m = o.Fallocate
	case *brickpb.SubRequest_Getxattr:
		m = o.Getxattr
	case *brickpb.SubRequest_Setxattr:
		m = o.Setxattr
	case *brickpb.SubRequest_Removexattr:
		m = o.Removexattr
	case *brickpb.SubRequest_Xattrop:
		m = o.Xattrop
	case *brickpb.SubRequest_Inodelk:
		m = o.Inodelk
	case *brickpb.SubRequest_Entrylk:
		m = o.Entrylk
	default:
		return compound.Op{}, false
	}
	// A oneof member set to a nil message decodes as a typed nil pointer;
	// reject it rather than dereference it.
	if m == nil || !m.ProtoReflect().IsValid() {
		return compound.Op{}, false
	}
	return DecodeOp(m)
}

// EncodeSubRequest converts op to a compound member. op.Fh must already be
// the brick's handle. It returns nil for an unknown Kind.
func EncodeSubRequest(op *compound.Op) *brickpb.SubRequest {
	g := GFIDBytes(op.GFID)
	fh := uint64(op.Fh)
	s := &brickpb.SubRequest{}
	switch op.Kind {
	case compound.OpLookup:
		readMax := uint32(0)
		if op.ReadMax > 0 {
			readMax = uint32(min(op.ReadMax, MaxIOSize+1)) // over the limit: refused by the brick
		}
		s.Op = &brickpb.SubRequest_Lookup{Lookup: &brickpb.LookupRequest{Parent: g, Name: []byte(op.Name), Xattrs: keysToPB(op.Keys), ReadMax: readMax}}
	case compound.OpGetAttr:
		s.Op = &brickpb.SubRequest_Getattr{Getattr: &brickpb.GetAttrRequest{Gfid: g, Fh: fh, Xattrs: keysToPB(op.Keys)}}
	case compound.OpSetAttr:
		s.Op = &brickpb.SubRequest_Setattr{Setattr: &brickpb.SetAttrRequest{Gfid: g, Fh: fh, In: SetAttrInToPB(&op.SetAttr)}}
	case compound.OpCreate:
		s.Op = &brickpb.SubRequest_Create{Create: &brickpb.CreateRequest{Parent: g, Name: []byte(op.Name), In: CreateInToPB(&op.Create)}}
	case compound.OpMknod:
		s.Op = &brickpb.SubRequest_Mknod{Mknod: &brickpb.MknodRequest{Parent: g, Name: []byte(op.Name), In: CreateInToPB(&op.Create)}}
	case compound.OpMkdir:
		s.Op = &brickpb.SubRequest_Mkdir{Mkdir: &brickpb.MkdirRequest{Parent: g, Name: []byte(op.Name), In: CreateInToPB(&op.Create)}}
	case compound.OpSymlink:
		s.Op = &brickpb.SubRequest_Symlink{Symlink: &brickpb.SymlinkRequest{Parent: g, Name: []byte(op.Name), Target: []byte(op.Target), In: CreateInToPB(&op.Create)}}
	case compound.OpLink:
		s.Op = &brickpb.SubRequest_Link{Link: &brickpb.LinkRequest{Gfid: g, NewParent: GFIDBytes(op.NewParent), NewName: []byte(op.NewName)}}
	case compound.OpUnlink:
		s.Op = &brickpb.SubRequest_Unlink{Unlink: &brickpb.UnlinkRequest{Parent: g, Name: []byte(op.Name), Flags: op.Flags}}
	case compound.OpRmdir:
		s.Op = &brickpb.SubRequest_Rmdir{Rmdir: &brickpb.RmdirRequest{Parent: g, Name: []byte(op.Name)}}
	case compound.OpRename:
		s.Op = &brickpb.SubRequest_Rename{Rename: &brickpb.RenameRequest{OldParent: g, OldName: []byte(op.Name),
			NewParent: GFIDBytes(op.NewParent), NewName: []byte(op.NewName), Flags: op.Flags}}
	case compound.OpOpen:
		s.Op = &brickpb.SubRequest_Open{Open: &brickpb.OpenRequest{Gfid: g, Flags: op.Flags}}
	case compound.OpRead:
		size := op.Len
		if size < 0 {
			size = 0
		}
		if size > MaxIOSize {
			size = MaxIOSize + 1 // refused by the brick, rather than silently truncated
		}
		s.Op = &brickpb.SubRequest_Read{Read: &brickpb.ReadRequest{Gfid: g, Fh: fh, Offset: op.Off, Size: uint32(size)}}
	case compound.OpWrite:
		s.Op = &brickpb.SubRequest_Write{Write: &brickpb.WriteRequest{Gfid: g, Fh: fh, Offset: op.Off, Data: op.Data}}
	case compound.OpFlush:
		s.Op = &brickpb.SubRequest_Flush{Flush: &brickpb.FlushRequest{Gfid: g, Fh: fh}}
	case compound.OpFsync:
		s.Op = &brickpb.SubRequest_Fsync{Fsync: &brickpb.FsyncRequest{Gfid: g, Fh: fh, Datasync: op.Datasync}}
	case compound.OpRelease:
		s.Op = &brickpb.SubRequest_Release{Release: &brickpb.ReleaseRequest{Gfid: g, Fh: fh}}
	case compound.OpFallocate:
		s.Op = &brickpb.SubRequest_Fallocate{Fallocate: &brickpb.FallocateRequest{Gfid: g, Fh: fh, Mode: op.Mode, Offset: op.Off, Length: op.Len}}
	case compound.OpGetXattr:
		s.Op = &brickpb.SubRequest_Getxattr{Getxattr: &brickpb.GetXattrRequest{Gfid: g, Name: []byte(op.Name)}}
	case compound.OpSetXattr:
		s.Op = &brickpb.SubRequest_Setxattr{Setxattr: &brickpb.SetXattrRequest{Gfid: g, Name: []byte(op.Name), Value: op.Data, Flags: op.Flags}}
	case compound.OpRemoveXattr:
		s.Op = &brickpb.SubRequest_Removexattr{Removexattr: &brickpb.RemoveXattrRequest{Gfid: g, Name: []byte(op.Name)}}
	case compound.OpXattrOp:
		s.Op = &brickpb.SubRequest_Xattrop{Xattrop: &brickpb.XattrOpRequest{Gfid: g, Op: uint32(op.XattrOp), Operands: XattrsToPB(op.Xattrs)}}
	case compound.OpInodeLk:
		s.Op = &brickpb.SubRequest_Inodelk{Inodelk: &brickpb.InodeLkRequest{Domain: []byte(op.Domain), Gfid: g, Lock: LockToPB(op.Lock), Wait: op.Wait}}
	case compound.OpEntryLk:
		s.Op = &brickpb.SubRequest_Entrylk{Entrylk: &brickpb.EntryLkRequest{Domain: []byte(op.Domain), Parent: g, Name: []byte(op.Name),
			Type: uint32(op.Lock.Type), Owner: op.Lock.Owner, Wait: op.Wait}}
	default:
		return nil
	}
	return s
}

// EncodeResult converts the result of an operation of kind k to a compound
// reply member. r.Fh must already be the handle the peer will use.
func EncodeResult(k compound.Kind, r *compound.Result) *brickpb.SubReply {
	e := uint32(r.Errno)
	s := &brickpb.SubReply{}
	switch k {
	case compound.OpLookup, compound.OpGetAttr, compound.OpSetAttr, compound.OpMknod,
		compound.OpMkdir, compound.OpSymlink, compound.OpLink:
		rep := &brickpb.AttrReply{Errno: e}
		if e == 0 {
			rep.Attr = AttrToPB(&r.Attr)
			if len(r.Xattrs) > 0 {
				rep.Xattrs = XattrsToPB(r.Xattrs)
			}
			rep.Data, rep.HasData = r.Data, r.HasData
		}
		s.Reply = &brickpb.SubReply_Attr{Attr: rep}
	case compound.OpCreate:
		rep := &brickpb.CreateReply{Errno: e}
		if e == 0 {
			rep.Attr, rep.Fh = AttrToPB(&r.Attr), uint64(r.Fh)
		}
		s.Reply = &brickpb.SubReply_Create{Create: rep}
	case compound.OpOpen:
		s.Reply = &brickpb.SubReply_Handle{Handle: &brickpb.HandleReply{Errno: e, Fh: uint64(r.Fh)}}
	case compound.OpRead:
		s.Reply = &brickpb.SubReply_Read{Read: &brickpb.ReadReply{Errno: e, Data: r.Data}}
	case compound.OpWrite:
		s.Reply = &brickpb.SubReply_Write{Write: &brickpb.WriteReply{Errno: e, Size: uint32(r.N)}}
	case compound.OpGetXattr:
		s.Reply = &brickpb.SubReply_Getxattr{Getxattr: &brickpb.GetXattrReply{Errno: e, Value: r.Data}}
	case compound.OpXattrOp:
		rep := &brickpb.XattrOpReply{Errno: e}
		if e == 0 {
			rep.Values = XattrsToPB(r.Xattrs)
		}
		s.Reply = &brickpb.SubReply_Xattrop{Xattrop: rep}
	default:
		s.Reply = &brickpb.SubReply_Errno{Errno: &brickpb.ErrnoReply{Errno: e}}
	}
	return s
}

// DecodeResult converts a compound reply member back; r.Fh is the brick's
// handle. A member of the wrong shape for k gives EIO.
func DecodeResult(k compound.Kind, s *brickpb.SubReply) compound.Result {
	var r compound.Result
	if s == nil {
		r.Errno = syscall.EIO
		return r
	}
	bad := false
	switch rep := s.Reply.(type) {
	case *brickpb.SubReply_Attr:
		r.Errno = ErrnoOf(rep.Attr.GetErrno())
		r.Attr = AttrFromPB(rep.Attr.GetAttr())
		if xs := rep.Attr.GetXattrs(); len(xs) > 0 {
			r.Xattrs = XattrsFromPB(xs)
		}
		if rep.Attr.GetHasData() {
			r.HasData, r.Data = true, rep.Attr.GetData()
			if r.Data == nil {
				r.Data = []byte{}
			}
		}
	case *brickpb.SubReply_Create:
		r.Errno = ErrnoOf(rep.Create.GetErrno())
		r.Attr = AttrFromPB(rep.Create.GetAttr())
		r.Fh = vfs.Handle(rep.Create.GetFh())
		bad = k != compound.OpCreate
	case *brickpb.SubReply_Handle:
		r.Errno = ErrnoOf(rep.Handle.GetErrno())
		r.Fh = vfs.Handle(rep.Handle.GetFh())
		bad = k != compound.OpOpen
	case *brickpb.SubReply_Read:
		r.Errno = ErrnoOf(rep.Read.GetErrno())
		r.Data = rep.Read.GetData()
		bad = k != compound.OpRead
	case *brickpb.SubReply_Write:
		r.Errno = ErrnoOf(rep.Write.GetErrno())
		r.N = int(rep.Write.GetSize())
		bad = k != compound.OpWrite
	case *brickpb.SubReply_Getxattr:
		r.Errno = ErrnoOf(rep.Getxattr.GetErrno())
		r.Data = rep.Getxattr.GetValue()
		bad = k != compound.OpGetXattr
	case *brickpb.SubReply_Xattrop:
		r.Errno = ErrnoOf(rep.Xattrop.GetErrno())
		r.Xattrs = XattrsFromPB(rep.Xattrop.GetValues())
		bad = k != compound.OpXattrOp
	case *brickpb.SubReply_Errno:
		r.Errno = ErrnoOf(rep.Errno.GetErrno())
	default:
		bad = true
	}
	if bad {
		return compound.Result{Errno: syscall.EIO}
	}
	return r
}

func keysToPB(keys []string) [][]byte {
	if len(keys) == 0 {
		return nil
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}

func keysFromPB(keys [][]byte) []string {
	if len(keys) == 0 {
		return nil
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k)
	}
	return out
}

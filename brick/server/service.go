package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// intercept admits every call but GetVolfile to its subvolume (auth, once
// per connection), puts the session and the caller into the context, and
// counts the call in flight so that disconnect cleanup waits for it.
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if info.FullMethod == brickpb.Brick_GetVolfile_FullMethodName {
		return handler(ctx, req)
	}
	c, _ := ctx.Value(connKey{}).(*conn)
	if c == nil {
		return nil, status.Error(codes.Internal, "protocol/server: call without connection state")
	}
	ss, err := s.session(c, mdValue(ctx, protocol.MDSubvolume))
	if err != nil {
		return nil, err
	}
	caller, err := protocol.DecodeCaller(mdValue(ctx, protocol.MDCaller))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	caller.Client = c.id
	if !c.enter() {
		return nil, status.Error(codes.Unavailable, "protocol/server: connection closing")
	}
	defer c.leave()
	if v := mdValue(ctx, protocol.MDWaitID); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "malformed %s metadata", protocol.MDWaitID)
		}
		var done func()
		ctx, done = c.withWait(ctx, id)
		defer done()
	}
	ctx = vfs.WithCaller(context.WithValue(ctx, sessionKey{}, ss), caller)
	return handler(ctx, req)
}

func mdValue(ctx context.Context, key string) string {
	if v := metadata.ValueFromIncomingContext(ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

var errNoSession = status.Error(codes.Internal, "protocol/server: call without a session")

func sessionFrom(ctx context.Context) (*session, error) {
	if ss, ok := ctx.Value(sessionKey{}).(*session); ok {
		return ss, nil
	}
	return nil, errNoSession
}

// service implements brickpb.BrickServer on a Server's subvolumes.
type service struct {
	brickpb.UnimplementedBrickServer
	s *Server
}

// run decodes, validates and executes one compound-capable request.
func (h *service) run(ctx context.Context, m proto.Message) (compound.Result, compound.Kind, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return compound.Result{}, 0, err
	}
	op, ok := protocol.DecodeOp(m)
	if !ok {
		return compound.Result{Errno: syscall.EINVAL}, op.Kind, nil
	}
	if e := validate(&op); e != 0 {
		return compound.Result{Errno: e}, op.Kind, nil
	}
	if e, err := ss.checkOp(&op); err != nil || e != 0 {
		return compound.Result{Errno: e}, op.Kind, err
	}
	return ss.exec(ctx, &op), op.Kind, nil
}

// exec runs a validated op on the subvolume and keeps the connection's
// handle table in step.
func (ss *session) exec(ctx context.Context, op *compound.Op) compound.Result {
	r := compound.Do(ctx, ss.sv.xl, op)
	switch op.Kind {
	case compound.OpCreate:
		if r.Errno == 0 {
			ss.addHandle(r.Fh, r.Attr.GFID, false)
		}
	case compound.OpOpen:
		if r.Errno == 0 {
			ss.addHandle(r.Fh, op.GFID, false)
		}
	case compound.OpRelease:
		ss.delHandle(op.Fh)
	}
	if r.Errno == 0 {
		ss.sv.changed(ss.c, op, &r)
	}
	return r
}

func attrReply(r *compound.Result) *brickpb.AttrReply {
	rep := &brickpb.AttrReply{Errno: uint32(r.Errno)}
	if r.Errno == 0 {
		rep.Attr = protocol.AttrToPB(&r.Attr)
		if len(r.Xattrs) > 0 {
			rep.Xattrs = protocol.XattrsToPB(r.Xattrs)
		}
		rep.Data, rep.HasData = r.Data, r.HasData
	}
	return rep
}

func (h *service) attr(ctx context.Context, m proto.Message) (*brickpb.AttrReply, error) {
	r, _, err := h.run(ctx, m)
	if err != nil {
		return nil, err
	}
	return attrReply(&r), nil
}

func (h *service) errno(ctx context.Context, m proto.Message) (*brickpb.ErrnoReply, error) {
	r, _, err := h.run(ctx, m)
	if err != nil {
		return nil, err
	}
	return &brickpb.ErrnoReply{Errno: uint32(r.Errno)}, nil
}

func (h *service) Lookup(ctx context.Context, r *brickpb.LookupRequest) (*brickpb.AttrReply, error) {
	return h.attr(ctx, r)
}
func (h *service) GetAttr(ctx context.Context, r *brickpb.GetAttrRequest) (*brickpb.AttrReply, error) {
	return h.attr(ctx, r)
}
func (h *service) SetAttr(ctx context.Context, r *brickpb.SetAttrRequest) (*brickpb.AttrReply, error) {
	return h.attr(ctx, r)
}
func (h *service) Mknod(ctx context.Context, r *brickpb.MknodRequest) (*brickpb.AttrReply, error) {
	return h.attr(ctx, r)
}
func (h *service) Mkdir(ctx context.Context, r *brickpb.MkdirRequest) (*brickpb.AttrReply, error) {
	return h.attr(ctx, r)
}
func (h *service) Symlink(ctx context.Context, r *brickpb.SymlinkRequest) (*brickpb.AttrReply, error) {
	return h.attr(ctx, r)
}
func (h *service) Link(ctx context.Context, r *brickpb.LinkRequest) (*brickpb.AttrReply, error) {
	return h.attr(ctx, r)
}

func (h *service) Create(ctx context.Context, r *brickpb.CreateRequest) (*brickpb.CreateReply, error) {
	res, _, err := h.run(ctx, r)
	if err != nil {
		return nil, err
	}
	rep := &brickpb.CreateReply{Errno: uint32(res.Errno)}
	if res.Errno == 0 {
		rep.Attr, rep.Fh = protocol.AttrToPB(&res.Attr), uint64(res.Fh)
	}
	return rep, nil
}

func (h *service) Unlink(ctx context.Context, r *brickpb.UnlinkRequest) (*brickpb.ErrnoReply, error) {
	return h.errno(ctx, r)
}
func (h *service) Rmdir(ctx context.Context, r *brickpb.RmdirRequest) (*brickpb.ErrnoReply, error) {
	return h.errno(ctx, r)
}
func (h *service) Rename(ctx context.Context, r *brickpb.RenameRequest) (*brickpb.ErrnoReply, error) {
	return h.errno(ctx, r)
}
func (h *service) Flush(ctx context.Context, r *brickpb.FlushRequest) (*brickpb.ErrnoReply, error) {
	return h.errno(ctx, r)
}
func (h *service) Fsync(ctx context.Context, r *brickpb.FsyncRequest) (*brickpb.ErrnoReply, error) {
	return h.errno(ctx, r)
}
func (h *service) Release(ctx context.Context, r *brickpb.ReleaseRequest) (*brickpb.ErrnoReply, error) {
	return h.errno(ctx, r)
}
func (h *service) Fallocate(ctx context.Context, r *brickpb.FallocateRequest) (*brickpb.ErrnoReply, error) {
	return h.errno(ctx, r)
}
func (h *service) SetXattr(ctx context.Context, r *brickpb.SetXattrRequest) (*brickpb.ErrnoReply, error) {
	if string(r.Name) == XattrClients {
		return &brickpb.ErrnoReply{Errno: uint32(syscall.EPERM)}, nil
	}
	return h.errno(ctx, r)
}
func (h *service) RemoveXattr(ctx context.Context, r *brickpb.RemoveXattrRequest) (*brickpb.ErrnoReply, error) {
	return h.errno(ctx, r)
}
func (h *service) InodeLk(ctx context.Context, r *brickpb.InodeLkRequest) (*brickpb.ErrnoReply, error) {
	return h.errno(ctx, r)
}
func (h *service) EntryLk(ctx context.Context, r *brickpb.EntryLkRequest) (*brickpb.ErrnoReply, error) {
	return h.errno(ctx, r)
}

func (h *service) Open(ctx context.Context, r *brickpb.OpenRequest) (*brickpb.HandleReply, error) {
	res, _, err := h.run(ctx, r)
	if err != nil {
		return nil, err
	}
	return &brickpb.HandleReply{Errno: uint32(res.Errno), Fh: uint64(res.Fh)}, nil
}

// Read reads into a pooled buffer that the codec takes back once the reply
// is marshalled.
func (h *service) Read(ctx context.Context, r *brickpb.ReadRequest) (*brickpb.ReadReply, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return nil, err
	}
	op, ok := protocol.DecodeOp(r)
	if !ok {
		return &brickpb.ReadReply{Errno: uint32(syscall.EINVAL)}, nil
	}
	if e := validate(&op); e != 0 {
		return &brickpb.ReadReply{Errno: uint32(e)}, nil
	}
	if e, err := ss.checkOp(&op); err != nil || e != 0 {
		return &brickpb.ReadReply{Errno: uint32(e)}, err
	}
	bp := h.s.getBuf()
	n, e := ss.sv.xl.Read(ctx, op.GFID, op.Fh, (*bp)[:op.Len], op.Off)
	if e != 0 || n < 0 || n > int(op.Len) {
		h.s.putBuf(bp)
		if e == 0 {
			e = syscall.EIO // a translator claiming more than it was given
		}
		return &brickpb.ReadReply{Errno: uint32(e)}, nil
	}
	return &brickpb.ReadReply{Data: (*bp)[:n]}, nil
}

// Write gives the data buffer (pooled by the codec) back once the
// translator has returned: translators do not keep write buffers.
func (h *service) Write(ctx context.Context, r *brickpb.WriteRequest) (*brickpb.WriteReply, error) {
	res, _, err := h.run(ctx, r)
	h.s.releaseData(r.Data)
	r.Data = nil
	if err != nil {
		return nil, err
	}
	return &brickpb.WriteReply{Errno: uint32(res.Errno), Size: uint32(res.N)}, nil
}

func (h *service) Readlink(ctx context.Context, r *brickpb.ReadlinkRequest) (*brickpb.ReadlinkReply, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return nil, err
	}
	g, ok := protocol.GFID(r.Gfid)
	if !ok {
		return &brickpb.ReadlinkReply{Errno: uint32(syscall.EINVAL)}, nil
	}
	target, e := ss.sv.xl.Readlink(ctx, g)
	return &brickpb.ReadlinkReply{Errno: uint32(e), Target: []byte(target)}, nil
}

func (h *service) Lseek(ctx context.Context, r *brickpb.LseekRequest) (*brickpb.LseekReply, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return nil, err
	}
	g, ok := protocol.GFID(r.Gfid)
	if !ok {
		return &brickpb.LseekReply{Errno: uint32(syscall.EINVAL)}, nil
	}
	if e, err := ss.checkHandle(vfs.Handle(r.Fh), g, wantFile); err != nil || e != 0 {
		return &brickpb.LseekReply{Errno: uint32(e)}, err
	}
	off, e := ss.sv.xl.Lseek(ctx, g, vfs.Handle(r.Fh), r.Offset, int(r.Whence))
	return &brickpb.LseekReply{Errno: uint32(e), Offset: off}, nil
}

func (h *service) OpenDir(ctx context.Context, r *brickpb.OpenDirRequest) (*brickpb.HandleReply, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return nil, err
	}
	g, ok := protocol.GFID(r.Gfid)
	if !ok {
		return &brickpb.HandleReply{Errno: uint32(syscall.EINVAL)}, nil
	}
	fh, e := ss.sv.xl.OpenDir(ctx, g)
	if e == 0 {
		ss.addHandle(fh, g, true)
	}
	return &brickpb.HandleReply{Errno: uint32(e), Fh: uint64(fh)}, nil
}

func (h *service) ReadDir(ctx context.Context, r *brickpb.ReadDirRequest) (*brickpb.ReadDirReply, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return nil, err
	}
	g, ok := protocol.GFID(r.Gfid)
	if !ok {
		return &brickpb.ReadDirReply{Errno: uint32(syscall.EINVAL)}, nil
	}
	if e, err := ss.checkHandle(vfs.Handle(r.Fh), g, wantDir); err != nil || e != 0 {
		return &brickpb.ReadDirReply{Errno: uint32(e)}, err
	}
	max := int(r.Max)
	if max <= 0 || max > protocol.MaxReadDirEntries {
		max = protocol.MaxReadDirEntries
	}
	ents, eof, e := ss.sv.xl.ReadDir(ctx, g, vfs.Handle(r.Fh), r.Cookie, max, r.Plus)
	if e != 0 {
		return &brickpb.ReadDirReply{Errno: uint32(e)}, nil
	}
	if len(ents) > max {
		// The cookies let the client resume where this reply ends.
		ents, eof = ents[:max], false
	}
	rep := &brickpb.ReadDirReply{Eof: eof, Entries: make([]*brickpb.DirEntry, len(ents))}
	for i := range ents {
		rep.Entries[i] = protocol.DirEntryToPB(&ents[i])
	}
	return rep, nil
}

func (h *service) ReleaseDir(ctx context.Context, r *brickpb.ReleaseDirRequest) (*brickpb.ErrnoReply, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return nil, err
	}
	g, ok := protocol.GFID(r.Gfid)
	if !ok {
		return &brickpb.ErrnoReply{Errno: uint32(syscall.EINVAL)}, nil
	}
	fh := vfs.Handle(r.Fh)
	if e, err := ss.checkHandle(fh, g, wantDir); err != nil || e != 0 {
		return &brickpb.ErrnoReply{Errno: uint32(e)}, err
	}
	e := ss.sv.xl.ReleaseDir(ctx, g, fh)
	ss.delHandle(fh)
	return &brickpb.ErrnoReply{Errno: uint32(e)}, nil
}

func (h *service) FsyncDir(ctx context.Context, r *brickpb.FsyncDirRequest) (*brickpb.ErrnoReply, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return nil, err
	}
	g, ok := protocol.GFID(r.Gfid)
	if !ok {
		return &brickpb.ErrnoReply{Errno: uint32(syscall.EINVAL)}, nil
	}
	if e, err := ss.checkHandle(vfs.Handle(r.Fh), g, wantDir); err != nil || e != 0 {
		return &brickpb.ErrnoReply{Errno: uint32(e)}, err
	}
	return &brickpb.ErrnoReply{Errno: uint32(ss.sv.xl.FsyncDir(ctx, g, vfs.Handle(r.Fh), r.Datasync))}, nil
}

func (h *service) StatFS(ctx context.Context, r *brickpb.StatFSRequest) (*brickpb.StatFSReply, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return nil, err
	}
	g, ok := protocol.GFID(r.Gfid)
	if !ok {
		return &brickpb.StatFSReply{Errno: uint32(syscall.EINVAL)}, nil
	}
	st, e := ss.sv.xl.StatFS(ctx, g)
	if e != 0 {
		return &brickpb.StatFSReply{Errno: uint32(e)}, nil
	}
	return &brickpb.StatFSReply{Statfs: protocol.StatFSToPB(&st)}, nil
}

func (h *service) GetXattr(ctx context.Context, r *brickpb.GetXattrRequest) (*brickpb.GetXattrReply, error) {
	if string(r.Name) == XattrClients && bytes.Equal(r.Gfid, vfs.RootGFID[:]) {
		ss, err := sessionFrom(ctx)
		if err != nil {
			return nil, err
		}
		return &brickpb.GetXattrReply{Value: h.s.clients(ss.sv.name)}, nil
	}
	res, _, err := h.run(ctx, r)
	if err != nil {
		return nil, err
	}
	return &brickpb.GetXattrReply{Errno: uint32(res.Errno), Value: res.Data}, nil
}

func (h *service) ListXattr(ctx context.Context, r *brickpb.ListXattrRequest) (*brickpb.ListXattrReply, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return nil, err
	}
	g, ok := protocol.GFID(r.Gfid)
	if !ok {
		return &brickpb.ListXattrReply{Errno: uint32(syscall.EINVAL)}, nil
	}
	names, e := ss.sv.xl.ListXattr(ctx, g)
	if e != 0 {
		return &brickpb.ListXattrReply{Errno: uint32(e)}, nil
	}
	rep := &brickpb.ListXattrReply{Names: make([][]byte, len(names))}
	for i, n := range names {
		rep.Names[i] = []byte(n)
	}
	return rep, nil
}

func (h *service) XattrOp(ctx context.Context, r *brickpb.XattrOpRequest) (*brickpb.XattrOpReply, error) {
	res, _, err := h.run(ctx, r)
	if err != nil {
		return nil, err
	}
	rep := &brickpb.XattrOpReply{Errno: uint32(res.Errno)}
	if res.Errno == 0 {
		rep.Values = protocol.XattrsToPB(res.Xattrs)
	}
	return rep, nil
}

// lockArgs validates the common part of GetLk/SetLk.
func lockArgs(ss *session, gfid []byte, fh uint64, kind uint32, lk *brickpb.Lock) (vfs.GFID, vfs.Lock, syscall.Errno, error) {
	g, ok := protocol.GFID(gfid)
	if !ok || lk == nil || (vfs.LockKind(kind) != vfs.PosixLock && vfs.LockKind(kind) != vfs.FlockLock) {
		return g, vfs.Lock{}, syscall.EINVAL, nil
	}
	l := protocol.LockFromPB(lk)
	if e := checkLock(l); e != 0 {
		return g, l, e, nil
	}
	e, err := ss.checkHandle(vfs.Handle(fh), g, wantAny)
	return g, l, e, err
}

func (h *service) GetLk(ctx context.Context, r *brickpb.GetLkRequest) (*brickpb.LockReply, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return nil, err
	}
	g, l, e, err := lockArgs(ss, r.Gfid, r.Fh, r.Kind, r.Lock)
	if err != nil || e != 0 {
		return &brickpb.LockReply{Errno: uint32(e)}, err
	}
	out, e := ss.sv.xl.GetLk(ctx, g, vfs.Handle(r.Fh), vfs.LockKind(r.Kind), l)
	if e != 0 {
		return &brickpb.LockReply{Errno: uint32(e)}, nil
	}
	return &brickpb.LockReply{Lock: protocol.LockToPB(out)}, nil
}

func (h *service) SetLk(ctx context.Context, r *brickpb.SetLkRequest) (*brickpb.ErrnoReply, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return nil, err
	}
	g, l, e, err := lockArgs(ss, r.Gfid, r.Fh, r.Kind, r.Lock)
	if err != nil || e != 0 {
		return &brickpb.ErrnoReply{Errno: uint32(e)}, err
	}
	e = ss.sv.xl.SetLk(ctx, g, vfs.Handle(r.Fh), vfs.LockKind(r.Kind), l, r.Wait)
	return &brickpb.ErrnoReply{Errno: uint32(e)}, nil
}

func (h *service) Ping(ctx context.Context, _ *brickpb.PingRequest) (*brickpb.PingReply, error) {
	if _, err := sessionFrom(ctx); err != nil {
		return nil, err
	}
	return &brickpb.PingReply{}, nil
}

// CancelWait cancels the waiting call of this connection with the given id.
func (h *service) CancelWait(ctx context.Context, r *brickpb.CancelWaitRequest) (*brickpb.ErrnoReply, error) {
	if _, err := sessionFrom(ctx); err != nil {
		return nil, err
	}
	c, _ := ctx.Value(connKey{}).(*conn)
	if c == nil {
		return nil, errNoSession
	}
	c.cancelWait(r.WaitId)
	return &brickpb.ErrnoReply{}, nil
}

// GetVolfile serves a configured client volfile. Only names configured in
// Config.Volfiles are served; the request cannot name a path.
func (h *service) GetVolfile(ctx context.Context, r *brickpb.GetVolfileRequest) (*brickpb.GetVolfileReply, error) {
	path, ok := h.s.cfg.Volfiles[string(r.Name)]
	if !ok {
		return &brickpb.GetVolfileReply{Errno: uint32(syscall.ENOENT)}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		h.s.log.Warn("cannot read served volfile", "name", string(r.Name), "path", path, "err", err)
		return &brickpb.GetVolfileReply{Errno: uint32(errnoOf(err))}, nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, protocol.MaxVolfileSize+1))
	switch {
	case err != nil:
		return &brickpb.GetVolfileReply{Errno: uint32(errnoOf(err))}, nil
	case len(data) > protocol.MaxVolfileSize:
		return &brickpb.GetVolfileReply{Errno: uint32(syscall.EFBIG)}, nil
	}
	return &brickpb.GetVolfileReply{Content: data}, nil
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, fs.ErrNotExist) {
		return syscall.ENOENT
	}
	return syscall.EIO
}

// Compound decodes and validates every member and checks every handle
// before running the first, so a malformed or stale request does nothing;
// then it runs them in order and stops at the first failure.
func (h *service) Compound(ctx context.Context, r *brickpb.CompoundRequest) (*brickpb.CompoundReply, error) {
	rep, _, err := h.compound(ctx, r, false)
	return rep, err
}

// compound runs a compound request. With pooled, Read members read into
// buffers of the server's pool, returned for the caller to give back (with
// putBuf) once the reply has been sent.
func (h *service) compound(ctx context.Context, r *brickpb.CompoundRequest, pooled bool) (*brickpb.CompoundReply, []*[]byte, error) {
	ss, err := sessionFrom(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(r.Ops) > protocol.MaxCompoundOps {
		return &brickpb.CompoundReply{Errno: uint32(syscall.EINVAL)}, nil, nil
	}
	ops := make([]compound.Op, len(r.Ops))
	for i, sub := range r.Ops {
		op, ok := protocol.DecodeSubRequest(sub)
		if !ok {
			return &brickpb.CompoundReply{Errno: uint32(syscall.EINVAL)}, nil, nil
		}
		if e := validate(&op); e != 0 {
			return &brickpb.CompoundReply{Errno: uint32(e)}, nil, nil
		}
		if e, err := ss.checkOp(&op); err != nil || e != 0 {
			return &brickpb.CompoundReply{Errno: uint32(e)}, nil, err
		}
		ops[i] = op
	}
	var bufs []*[]byte
	if pooled {
		for i := range ops {
			if ops[i].Kind == compound.OpRead {
				bp := h.s.getBuf()
				bufs = append(bufs, bp)
				ops[i].Data = (*bp)[:0]
			}
		}
	}
	rep := &brickpb.CompoundReply{Replies: make([]*brickpb.SubReply, 0, len(ops))}
	for i := range ops {
		res := ss.exec(ctx, &ops[i])
		rep.Replies = append(rep.Replies, protocol.EncodeResult(ops[i].Kind, &res))
		if res.Errno != 0 {
			rep.Errno = uint32(res.Errno)
			break
		}
	}
	return rep, bufs, nil
}

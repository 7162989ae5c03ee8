package client

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// The operations below travel on the brick's Channel stream as one-member
// compounds: a small call costs one message each way instead of a unary
// gRPC call (see channel.go). Bulk Read and Write (ops.go) join them on a
// side connection with raw payloads, and otherwise keep their unary
// calls, whose codec moves data without copies.

// one runs op on the brick. of is the open file whose brick handle goes
// into op.Fh (nil: op.Fh is sent as is); a stale handle is reopened and the
// call retried once, as call does.
func (c *Client) one(ctx context.Context, of *openFile, op compound.Op) compound.Result {
	return c.oneRaw(ctx, of, op, nil)
}

// oneRaw is one whose Write data or Read destination may travel as a raw
// payload (rio.op is 0: the only op).
func (c *Client) oneRaw(ctx context.Context, of *openFile, op compound.Op, rio *rawIO) compound.Result {
	blocking := (op.Kind == compound.OpInodeLk || op.Kind == compound.OpEntryLk) && op.Wait
	caller := protocol.EncodeCaller(vfs.CallerFrom(ctx))
	for attempt := 0; ; attempt++ {
		cctx, ep, done, waitID, e := c.beginChannelCall(ctx, blocking)
		if e != 0 {
			return compound.Result{Errno: e}
		}
		if of != nil {
			op.Fh = vfs.Handle(of.remote.Load())
		}
		sub := c.encode(&op)
		if sub == nil {
			done()
			return compound.Result{Errno: syscall.EINVAL}
		}
		rep, err := c.viaChannel(cctx, ep, &brickpb.CompoundRequest{Ops: []*brickpb.SubRequest{sub}}, caller, waitID, rio)
		if err == nil {
			done()
			c.alive()
			if len(rep.Replies) == 0 {
				// Refused before it ran (validation).
				if e := protocol.ErrnoOf(rep.Errno); e != 0 {
					return compound.Result{Errno: e}
				}
				return compound.Result{Errno: syscall.EIO}
			}
			return protocol.DecodeResult(op.Kind, rep.Replies[0])
		}
		if of != nil && attempt == 0 {
			if stale, ok := staleHandle(err); ok && stale == uint64(op.Fh) {
				done()
				c.alive()
				if e := c.reopen(ctx, of, stale); e != 0 {
					return compound.Result{Errno: e}
				}
				continue
			}
		}
		e = c.fail(ctx, cctx, err)
		done()
		return compound.Result{Errno: e}
	}
}

// oneFile is one for an operation on handle fh (0: anonymous).
func (c *Client) oneFile(ctx context.Context, fh vfs.Handle, op compound.Op) compound.Result {
	of, e := c.file(fh)
	if e != 0 {
		return compound.Result{Errno: e}
	}
	return c.one(ctx, of, op)
}

func (c *Client) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	r := c.one(ctx, nil, compound.Lookup(parent, name))
	return r.Attr, r.Errno
}

func (c *Client) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	r := c.oneFile(ctx, fh, compound.GetAttr(gfid, 0))
	return r.Attr, r.Errno
}

func (c *Client) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	var sin vfs.SetAttrIn
	if in != nil {
		sin = *in
	}
	r := c.oneFile(ctx, fh, compound.SetAttr(gfid, 0, sin))
	return r.Attr, r.Errno
}

func (c *Client) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	var cin vfs.CreateIn
	if in != nil {
		cin = *in
	}
	r := c.one(ctx, nil, compound.Create(parent, name, cin))
	if r.Errno != 0 {
		return vfs.Attr{}, 0, r.Errno
	}
	return r.Attr, c.addHandle(r.Attr.GFID, r.Fh, cin.Flags, false), 0
}

func (c *Client) Mknod(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	r := c.one(ctx, nil, compound.Mknod(parent, name, createIn(in)))
	return r.Attr, r.Errno
}

func (c *Client) Mkdir(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	r := c.one(ctx, nil, compound.Mkdir(parent, name, createIn(in)))
	return r.Attr, r.Errno
}

func (c *Client) Symlink(ctx context.Context, parent vfs.GFID, name, target string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	r := c.one(ctx, nil, compound.Symlink(parent, name, target, createIn(in)))
	return r.Attr, r.Errno
}

func createIn(in *vfs.CreateIn) vfs.CreateIn {
	if in == nil {
		return vfs.CreateIn{}
	}
	return *in
}

func (c *Client) Link(ctx context.Context, gfid vfs.GFID, newParent vfs.GFID, newName string) (vfs.Attr, syscall.Errno) {
	r := c.one(ctx, nil, compound.Link(gfid, newParent, newName))
	return r.Attr, r.Errno
}

func (c *Client) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	op := compound.Unlink(parent, name)
	op.Flags = vfs.UnlinkFlagsFrom(ctx) // hold/undo (cluster/replicate)
	return c.one(ctx, nil, op).Errno
}

func (c *Client) Rmdir(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	return c.one(ctx, nil, compound.Rmdir(parent, name)).Errno
}

func (c *Client) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	return c.one(ctx, nil, compound.Rename(oldParent, oldName, newParent, newName, flags)).Errno
}

// openRemote opens gfid on the brick and returns the brick's handle.
// encode encodes op for the brick, without O_DIRECT in the open flags of
// Open and Create when the client filters it (Config.FilterODirect).
func (c *Client) encode(op *compound.Op) *brickpb.SubRequest {
	if c.cfg.FilterODirect {
		switch op.Kind {
		case compound.OpOpen:
			op.Flags &^= syscall.O_DIRECT
		case compound.OpCreate:
			op.Create.Flags &^= syscall.O_DIRECT
		}
	}
	return protocol.EncodeSubRequest(op)
}

func (c *Client) openRemote(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	r := c.one(ctx, nil, compound.Open(gfid, flags))
	return r.Fh, r.Errno
}

func (c *Client) Flush(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	return c.oneFile(ctx, fh, compound.Flush(gfid, 0)).Errno
}

func (c *Client) Fsync(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	return c.oneFile(ctx, fh, compound.Fsync(gfid, 0, datasync)).Errno
}

func (c *Client) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	return c.oneFile(ctx, fh, compound.Fallocate(gfid, 0, mode, off, length)).Errno
}

func (c *Client) GetXattr(ctx context.Context, gfid vfs.GFID, name string) ([]byte, syscall.Errno) {
	r := c.one(ctx, nil, compound.GetXattr(gfid, name))
	if r.Errno != 0 {
		return nil, r.Errno
	}
	if r.Data == nil {
		return []byte{}, 0 // an empty value, not an absent one
	}
	return r.Data, 0
}

func (c *Client) SetXattr(ctx context.Context, gfid vfs.GFID, name string, value []byte, flags uint32) syscall.Errno {
	return c.one(ctx, nil, compound.SetXattr(gfid, name, value, flags)).Errno
}

func (c *Client) RemoveXattr(ctx context.Context, gfid vfs.GFID, name string) syscall.Errno {
	return c.one(ctx, nil, compound.RemoveXattr(gfid, name)).Errno
}

func (c *Client) XattrOp(ctx context.Context, gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	r := c.one(ctx, nil, compound.XattrOp(gfid, op, operands))
	if r.Errno != 0 {
		return nil, r.Errno
	}
	if r.Xattrs == nil {
		r.Xattrs = map[string][]byte{}
	}
	return r.Xattrs, 0
}

func (c *Client) InodeLk(ctx context.Context, domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) syscall.Errno {
	return c.one(ctx, nil, compound.InodeLk(domain, gfid, lk, wait)).Errno
}

func (c *Client) EntryLk(ctx context.Context, domain string, parent vfs.GFID, name string, typ vfs.LockType, owner uint64, wait bool) syscall.Errno {
	return c.one(ctx, nil, compound.EntryLk(domain, parent, name, typ, owner, wait)).Errno
}

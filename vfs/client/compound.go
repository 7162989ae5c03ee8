package client

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// Compound sends ops to the brick as one request (see package
// protocol/compound for the semantics). Handles in ops are this client's;
// handles in the results (Create, Open) are new handles of this client, and
// Release members drop theirs. At most protocol.MaxCompoundOps operations,
// and Read/Write members of at most protocol.MaxIOSize bytes, are accepted
// (EINVAL otherwise, with nothing sent). A batch with a lock request that
// waits is not bounded by CallTimeout.
func (c *Client) Compound(ctx context.Context, ops []compound.Op) ([]compound.Result, syscall.Errno) {
	if len(ops) == 0 {
		return nil, 0
	}
	if len(ops) > protocol.MaxCompoundOps {
		return nil, syscall.EINVAL
	}
	files := make([]*openFile, len(ops))
	blocking := false
	for i := range ops {
		op := &ops[i]
		if op.Fh != 0 {
			of, e := c.file(op.Fh)
			if e != 0 {
				return nil, e
			}
			files[i] = of
		}
		switch op.Kind {
		case compound.OpInodeLk, compound.OpEntryLk:
			blocking = blocking || op.Wait
		case compound.OpRead:
			if op.Len < 0 || op.Len > protocol.MaxIOSize {
				return nil, syscall.EINVAL
			}
		case compound.OpWrite:
			if len(op.Data) > protocol.MaxIOSize {
				return nil, syscall.EINVAL
			}
		}
	}
	// Each retry follows the reopening of one stale handle, so there are
	// at most as many as handles in the batch.
	for attempt := 0; attempt <= len(ops); attempt++ {
		req := &brickpb.CompoundRequest{Ops: make([]*brickpb.SubRequest, len(ops))}
		for i := range ops {
			op := ops[i]
			if files[i] != nil {
				op.Fh = vfs.Handle(files[i].remote.Load())
			}
			if req.Ops[i] = c.encode(&op); req.Ops[i] == nil {
				return nil, syscall.EINVAL
			}
		}
		cctx, ep, done, waitID, e := c.beginChannelCall(ctx, blocking)
		if e != 0 {
			return nil, e
		}
		rep, err := c.viaChannel(cctx, ep, req, protocol.EncodeCaller(vfs.CallerFrom(ctx)), waitID, nil)
		if err != nil {
			if stale, ok := staleHandle(err); ok {
				done()
				c.alive()
				if e := c.reopenStale(ctx, files, stale); e != 0 {
					return nil, e
				}
				continue
			}
			e := c.fail(ctx, cctx, err)
			done()
			return nil, e
		}
		done()
		c.alive()
		return c.compoundResults(ops, rep)
	}
	return nil, syscall.EBADF
}

// reopenStale reopens the batch's file whose brick handle is stale.
func (c *Client) reopenStale(ctx context.Context, files []*openFile, stale uint64) syscall.Errno {
	for _, of := range files {
		if of != nil && of.remote.Load() == stale {
			return c.reopen(ctx, of, stale)
		}
	}
	return syscall.EBADF // the brick named a handle we did not send
}

func (c *Client) compoundResults(ops []compound.Op, rep *brickpb.CompoundReply) ([]compound.Result, syscall.Errno) {
	if len(rep.Replies) > len(ops) {
		return nil, syscall.EIO
	}
	results := make([]compound.Result, len(rep.Replies))
	for i, sub := range rep.Replies {
		op := &ops[i]
		r := protocol.DecodeResult(op.Kind, sub)
		switch op.Kind {
		case compound.OpCreate:
			if r.Errno == 0 {
				r.Fh = c.addHandle(r.Attr.GFID, r.Fh, op.Create.Flags, false)
			}
		case compound.OpOpen:
			if r.Errno == 0 {
				r.Fh = c.addHandle(op.GFID, r.Fh, op.Flags, false)
			}
		case compound.OpRelease:
			c.dropHandle(op.Fh)
		}
		results[i] = r
	}
	e := protocol.ErrnoOf(rep.Errno)
	if e == 0 && len(results) < len(ops) {
		e = syscall.EIO // the brick stopped without saying why
	}
	return results, e
}

// viaChannel runs a compound call on ep's channel (rio: see channel.call).
func (c *Client) viaChannel(ctx context.Context, ep *epoch, req *brickpb.CompoundRequest, caller string, waitID uint64, rio *rawIO) (*brickpb.CompoundReply, error) {
	ch, err := c.channel(ep)
	if err != nil {
		return nil, err
	}
	return ch.call(ctx, req, caller, waitID, rio)
}

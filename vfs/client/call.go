package client

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// openFile is a client handle: what the brick handle refers to, so that it
// can be reopened on a new connection.
type openFile struct {
	gfid  vfs.GFID
	flags uint32 // open flags for reopening
	dir   bool
	// remote is the brick's current handle. Calls read it without a
	// lock; reopen replaces it under mu.
	remote atomic.Uint64
	mu     sync.Mutex
}

// addHandle registers a brick handle and returns the client's handle for it.
func (c *Client) addHandle(gfid vfs.GFID, remote vfs.Handle, flags uint32, dir bool) vfs.Handle {
	of := &openFile{gfid: gfid, flags: flags &^ (syscall.O_CREAT | syscall.O_EXCL | syscall.O_TRUNC), dir: dir}
	of.remote.Store(uint64(remote))
	c.hmu.Lock()
	c.nextFh++
	fh := c.nextFh
	c.handles[fh] = of
	c.hmu.Unlock()
	return fh
}

// file returns the open file of a client handle: nil for the anonymous
// handle 0, EBADF for a handle this client did not give out.
func (c *Client) file(fh vfs.Handle) (*openFile, syscall.Errno) {
	if fh == 0 {
		return nil, 0
	}
	c.hmu.RLock()
	of := c.handles[fh]
	c.hmu.RUnlock()
	if of == nil {
		return nil, syscall.EBADF
	}
	return of, 0
}

func (c *Client) dropHandle(fh vfs.Handle) *openFile {
	c.hmu.Lock()
	of := c.handles[fh]
	delete(c.handles, fh)
	c.hmu.Unlock()
	return of
}

// begin prepares a call: it fails fast while the brick is down or refuses
// us, and otherwise derives a context that is cancelled when the brick is
// declared down, bounded by CallTimeout unless the call may block (lock
// waits), and carrying the subvolume and the caller's identity.
//
// A call that may block is not cancelled with its caller's context: the
// brick is asked to cancel it (CancelWait) and the call returns the brick's
// verdict, EINTR or granted, so that no lock is left behind unknown.
func (c *Client) begin(ctx context.Context, blocking bool) (context.Context, *epoch, func(), syscall.Errno) {
	cctx, ep, done, _, e := c.beginCall(ctx, blocking, true)
	return cctx, ep, done, e
}

// beginCall is begin; with metadata false the call's identity is not put
// into the context's gRPC metadata (the channel sends it in the message),
// and the wait id of a blocking call is returned instead.
func (c *Client) beginCall(ctx context.Context, blocking, md bool) (context.Context, *epoch, func(), uint64, syscall.Errno) {
	ep, e := c.ready()
	if e != 0 {
		return nil, nil, nil, 0, e
	}
	base := ctx
	if blocking {
		base = context.WithoutCancel(ctx)
	}
	cctx, cancel := context.WithCancelCause(base)
	stop := context.AfterFunc(ep.ctx, func() { cancel(context.Cause(ep.ctx)) })
	var tcancel context.CancelFunc
	if c.cfg.CallTimeout > 0 && !blocking {
		cctx, tcancel = context.WithTimeout(cctx, c.cfg.CallTimeout)
	}
	var stopWait func() bool
	var waitID uint64
	if blocking {
		waitID = c.waitSeq.Add(1)
		id := waitID
		stopWait = context.AfterFunc(ctx, func() { c.cancelWait(ep, id) })
	}
	if md {
		kv := []string{
			protocol.MDSubvolume, c.cfg.RemoteSubvolume,
			protocol.MDCaller, protocol.EncodeCaller(vfs.CallerFrom(ctx)),
		}
		if blocking {
			kv = append(kv, protocol.MDWaitID, strconv.FormatUint(waitID, 10))
		}
		cctx = metadata.AppendToOutgoingContext(cctx, kv...)
	}
	done := func() {
		stop()
		if stopWait != nil {
			stopWait()
		}
		if tcancel != nil {
			tcancel()
		}
		cancel(nil)
	}
	return cctx, ep, done, waitID, 0
}

// beginChannelCall is beginCall for a call on the channel (no gRPC
// metadata). A call that cannot block runs with the caller's context: the
// channel fails its calls when the brick is declared down (its connection
// closes with the epoch) and bails out those left unanswered past
// CallTimeout (channel.bail), so it needs no context of its own. Deriving
// one per call (cancellation, the epoch's end, the deadline) cost a few
// percent of a mount's CPU in small-file work.
func (c *Client) beginChannelCall(ctx context.Context, blocking bool) (context.Context, *epoch, func(), uint64, syscall.Errno) {
	if blocking {
		return c.beginCall(ctx, true, false)
	}
	ep, e := c.ready()
	if e != 0 {
		return nil, nil, nil, 0, e
	}
	return ctx, ep, noop, 0, 0
}

func noop() {}

// ready fails fast while the brick is down or refuses us, and otherwise
// returns the current epoch.
func (c *Client) ready() (*epoch, syscall.Errno) {
	switch c.state.Load() {
	case stateDown, stateClosed:
		return nil, syscall.ENOTCONN
	case stateRefused:
		if p := c.connErr.Load(); p != nil && errors.Is(*p, syscall.EACCES) {
			return nil, syscall.EACCES
		}
		return nil, syscall.ENOTCONN
	}
	return c.ep.Load(), 0
}

// cancelWait asks the brick to cancel the waiting call tagged id.
func (c *Client) cancelWait(ep *epoch, id uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.PingTimeout)
	defer cancel()
	stop := context.AfterFunc(ep.ctx, cancel)
	defer stop()
	ctx = metadata.AppendToOutgoingContext(ctx, protocol.MDSubvolume, c.cfg.RemoteSubvolume)
	if _, err := ep.rpc.CancelWait(ctx, &brickpb.CancelWaitRequest{WaitId: id}); err != nil {
		c.log.Debug("cancel of a lock wait not delivered", "err", err)
	}
}

// fail maps a failed RPC to an errno (see the package doc). cctx is the
// context the call ran with (the caller's own for a channel call that
// cannot block: see beginChannelCall).
func (c *Client) fail(ctx, cctx context.Context, err error) syscall.Errno {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded:
		if ctx.Err() != nil {
			// The caller's own context ended (FUSE interrupt, a lock
			// wait's deadline): EINTR, as the vfs contract says. Only
			// our deadlines (CallTimeout) and a brick declared down
			// are ENOTCONN.
			return syscall.EINTR
		}
		if cause := context.Cause(cctx); !errors.Is(cause, errBrickDown) && !errors.Is(cause, errClosed) {
			c.kick() // a slow brick (or a call bailed out): let a ping judge it
		}
		return syscall.ENOTCONN
	case codes.Unavailable:
		c.kick()
		return syscall.ENOTCONN
	case codes.PermissionDenied:
		c.kick() // the monitor records the refusal and its message
		return syscall.EACCES
	case codes.NotFound:
		c.kick()
		return syscall.ENOTCONN
	case codes.Unimplemented:
		return syscall.ENOSYS
	case codes.InvalidArgument:
		return syscall.EINVAL
	case codes.ResourceExhausted:
		return syscall.EMSGSIZE
	case codes.FailedPrecondition:
		return syscall.EBADF
	}
	c.log.Warn("call failed", "err", err)
	return syscall.EIO
}

// staleHandle returns the brick handle a "stale handle" status names.
func staleHandle(err error) (uint64, bool) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return 0, false
	}
	for _, d := range st.Details() {
		if s, ok := d.(*brickpb.StaleHandle); ok {
			return s.Fh, true
		}
	}
	return 0, false
}

// reopen gives of a new brick handle after the brick said stale was
// unknown; concurrent callers that saw the same stale handle reopen once.
func (c *Client) reopen(ctx context.Context, of *openFile, stale uint64) syscall.Errno {
	of.mu.Lock()
	defer of.mu.Unlock()
	if of.remote.Load() != stale {
		return 0
	}
	var fh vfs.Handle
	var e syscall.Errno
	if of.dir {
		fh, e = c.openDirRemote(ctx, of.gfid)
	} else {
		fh, e = c.openRemote(ctx, of.gfid, of.flags)
	}
	switch e {
	case 0:
	case syscall.ENOTCONN, syscall.EACCES, syscall.EINTR:
		return e
	default:
		c.log.Warn("cannot reopen file after reconnect", "gfid", of.gfid.String(), "errno", e.Error())
		return syscall.EBADF
	}
	of.remote.Store(uint64(fh))
	c.log.Debug("reopened file after reconnect", "gfid", of.gfid.String())
	return 0
}

// call runs one RPC. fn gets the call context, the epoch, and the brick
// handle of of (0 when of is nil). A stale handle is reopened and the call
// retried once.
func call[R any](c *Client, ctx context.Context, of *openFile, blocking bool,
	fn func(ctx context.Context, ep *epoch, fh uint64) (R, error)) (R, syscall.Errno) {
	var zero R
	for attempt := 0; ; attempt++ {
		cctx, ep, done, e := c.begin(ctx, blocking)
		if e != 0 {
			return zero, e
		}
		var fh uint64
		if of != nil {
			fh = of.remote.Load()
		}
		r, err := fn(cctx, ep, fh)
		if err == nil {
			done()
			c.alive()
			return r, 0
		}
		if of != nil && attempt == 0 {
			if stale, ok := staleHandle(err); ok && stale == fh {
				done()
				c.alive()
				if e := c.reopen(ctx, of, fh); e != 0 {
					return zero, e
				}
				continue
			}
		}
		e = c.fail(ctx, cctx, err)
		done()
		return zero, e
	}
}

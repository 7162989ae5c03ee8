package server

import (
	"context"
	"runtime"
	"sync"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Channel serves compound calls on one stream (see brick.proto): admission
// is decided once for the stream, as intercept does per unary call; each
// call then runs in its own goroutine, because a call may wait for a lock
// while later ones must go on, and its reply is sent when it is done.
func (h *service) Channel(stream brickpb.Brick_ChannelServer) error {
	ctx := stream.Context()
	c, _ := ctx.Value(connKey{}).(*conn)
	if c == nil {
		return status.Error(codes.Internal, "protocol/server: call without connection state")
	}
	ss, err := h.s.session(c, mdValue(ctx, protocol.MDSubvolume))
	if err != nil {
		return err
	}
	sctx := context.WithValue(ctx, sessionKey{}, ss)

	var sendMu sync.Mutex // grpc: one SendMsg at a time per stream
	var sendErr error
	send := func(rep *brickpb.ChannelReply) {
		sendMu.Lock()
		defer sendMu.Unlock()
		if sendErr == nil {
			sendErr = stream.Send(rep)
		}
	}
	var sub *subscriber
	defer func() {
		if sub != nil {
			sub.stop()
		}
	}()
	var calls sync.WaitGroup
	defer calls.Wait()
	for {
		call, err := stream.Recv()
		if err != nil {
			// io.EOF: the client closed its side; otherwise the stream
			// broke. Calls in flight finish (their replies are dropped
			// if the stream is gone) before the handler returns.
			return nil
		}
		if call.Subscribe {
			if sub == nil {
				sub = ss.sv.subscribe(c, send, h.s.changeQueue)
			}
			continue
		}
		if !c.enter() {
			send(&brickpb.ChannelReply{Id: call.Id, Code: uint32(codes.Unavailable), Message: "protocol/server: connection closing"})
			continue
		}
		calls.Add(1)
		h.s.dispatch(func() {
			defer calls.Done()
			defer c.leave()
			rep, _ := h.channelCall(sctx, c, call, false)
			send(rep)
		})
	}
}

// channelCall runs one call of a Channel as Compound runs a unary one.
// With pooled, Read members read into pool buffers, returned for the
// caller to give back once the reply is sent.
func (h *service) channelCall(ctx context.Context, c *conn, call *brickpb.ChannelCall, pooled bool) (*brickpb.ChannelReply, []*[]byte) {
	caller, err := protocol.DecodeCaller(string(call.Caller))
	if err != nil {
		return &brickpb.ChannelReply{Id: call.Id, Code: uint32(codes.InvalidArgument), Message: err.Error()}, nil
	}
	caller.Client = c.id
	if id := call.WaitId; id != 0 {
		var done func()
		ctx, done = c.withWait(ctx, id)
		defer done()
	}
	req := call.Call
	if req == nil {
		req = &brickpb.CompoundRequest{}
	}
	rep, bufs, err := h.compound(vfs.WithCaller(ctx, caller), req, pooled)
	if err != nil {
		st := status.Convert(err)
		out := &brickpb.ChannelReply{Id: call.Id, Code: uint32(st.Code()), Message: st.Message()}
		if out.Code == 0 {
			out.Code = uint32(codes.Unknown)
		}
		for _, d := range st.Details() {
			if s, ok := d.(*brickpb.StaleHandle); ok {
				out.StaleFh = s.Fh
			}
		}
		return out, bufs
	}
	return &brickpb.ChannelReply{Id: call.Id, Reply: rep}, bufs
}

// dispatch runs fn on an idle worker, or on a new goroutine when every
// worker is busy (calls may wait for locks for as long as they like, so
// the pool must never make a call wait for another). Workers outlive the
// calls: their stacks have grown to what a call through the brick's
// translators needs, which a fresh goroutine per call pays for again and
// again (runtime.copystack showed in the profiles).
func (s *Server) dispatch(fn func()) {
	s.workOnce.Do(func() {
		s.work = make(chan func())
		s.workersDone = make(chan struct{})
		for range max(8, 4*runtime.NumCPU()) {
			go s.worker()
		}
	})
	select {
	case s.work <- fn:
	default:
		go fn()
	}
}

func (s *Server) worker() {
	for {
		select {
		case fn := <-s.work:
			fn()
		case <-s.workersDone:
			return
		}
	}
}

func (s *Server) stopWorkers() {
	s.stopOnce.Do(func() {
		s.workOnce.Do(func() {}) // no pool may start after this
		if s.workersDone != nil {
			close(s.workersDone)
		}
	})
}

// ChannelToken names this connection for side connections (see
// protocol/fastpath.go). The token is made once per connection.
func (h *service) ChannelToken(ctx context.Context, _ *brickpb.ChannelTokenRequest) (*brickpb.ChannelTokenReply, error) {
	c, _ := ctx.Value(connKey{}).(*conn)
	if c == nil {
		return nil, status.Error(codes.Internal, "protocol/server: call without connection state")
	}
	tok, err := h.s.tokenOf(c)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &brickpb.ChannelTokenReply{Token: tok, LocalSocket: h.s.localSocket(), LocalChannel: h.s.localChannel()}, nil
}

package client

import (
	"context"
	"sync"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// channel is the Channel stream of an epoch (see brick.proto): compound
// calls travel on it as single messages, matched with their replies by id.
// A unary gRPC call costs a new HTTP/2 stream, headers, trailers and
// several goroutine hand-offs on each side; on this path a small call is
// one frame each way. The stream lives as long as its epoch: it is
// cancelled when the brick is declared down.
type channel struct {
	stream brickpb.Brick_ChannelClient
	cancel context.CancelFunc

	sendMu sync.Mutex // gRPC allows one Send at a time

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan *brickpb.ChannelReply
	err     error // why the stream broke; nil while it works
}

// channel returns ep's channel, opening it on first use or after it broke.
func (c *Client) channel(ep *epoch) (*channel, error) {
	ep.chMu.Lock()
	defer ep.chMu.Unlock()
	if ch := ep.ch; ch != nil {
		ch.mu.Lock()
		err := ch.err
		ch.mu.Unlock()
		if err == nil {
			return ch, nil
		}
	}
	if err := ep.ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	sctx, cancel := context.WithCancel(ep.ctx)
	sctx = metadata.AppendToOutgoingContext(sctx, protocol.MDSubvolume, c.cfg.RemoteSubvolume)
	stream, err := ep.rpc.Channel(sctx)
	if err != nil {
		cancel()
		return nil, err
	}
	ch := &channel{stream: stream, cancel: cancel, pending: map[uint64]chan *brickpb.ChannelReply{}}
	ep.ch = ch
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ch.receive()
	}()
	return ch, nil
}

// receive hands each reply to its caller until the stream ends, then fails
// the calls still waiting with the stream's error.
func (ch *channel) receive() {
	for {
		rep, err := ch.stream.Recv()
		if err != nil {
			if _, ok := status.FromError(err); !ok { // io.EOF: the brick ended the stream
				err = status.Error(codes.Unavailable, "brick channel closed: "+err.Error())
			}
			ch.mu.Lock()
			ch.err = err
			pending := ch.pending
			ch.pending = nil
			ch.mu.Unlock()
			for _, p := range pending {
				close(p)
			}
			ch.cancel()
			return
		}
		ch.mu.Lock()
		p := ch.pending[rep.Id]
		delete(ch.pending, rep.Id)
		ch.mu.Unlock()
		if p != nil {
			p <- rep // buffered: never blocks
		}
	}
}

// call sends req and waits for its reply or for ctx. The error is a gRPC
// status as a unary Compound call would return, so that Client.fail and
// staleHandle judge both paths alike.
func (ch *channel) call(ctx context.Context, req *brickpb.CompoundRequest, caller string, waitID uint64) (*brickpb.CompoundReply, error) {
	p := make(chan *brickpb.ChannelReply, 1)
	ch.mu.Lock()
	if ch.err != nil {
		err := ch.err
		ch.mu.Unlock()
		return nil, err
	}
	ch.next++
	id := ch.next
	ch.pending[id] = p
	ch.mu.Unlock()

	ch.sendMu.Lock()
	err := ch.stream.Send(&brickpb.ChannelCall{Id: id, Call: req, Caller: []byte(caller), WaitId: waitID})
	ch.sendMu.Unlock()
	if err != nil {
		// The stream broke; Recv reports why and fails the others.
		ch.forget(id)
		return nil, status.Error(codes.Unavailable, "brick channel: "+err.Error())
	}
	select {
	case rep, ok := <-p:
		if !ok {
			ch.mu.Lock()
			err := ch.err
			ch.mu.Unlock()
			return nil, err
		}
		if rep.Code != 0 {
			st := status.New(codes.Code(rep.Code), rep.Message)
			if rep.StaleFh != 0 {
				if d, err := st.WithDetails(&brickpb.StaleHandle{Fh: rep.StaleFh}); err == nil {
					st = d
				}
			}
			return nil, st.Err()
		}
		if rep.Reply == nil {
			return &brickpb.CompoundReply{}, nil
		}
		return rep.Reply, nil
	case <-ctx.Done():
		ch.forget(id)
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

func (ch *channel) forget(id uint64) {
	ch.mu.Lock()
	delete(ch.pending, id)
	ch.mu.Unlock()
}

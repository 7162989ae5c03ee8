package client

import (
	"bufio"
	"context"
	"sync"
	"time"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
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
	// send and recv move one message; side is true on a side connection.
	send   func(*brickpb.ChannelCall) error
	recv   func() (*brickpb.ChannelReply, error)
	cancel func()
	side   bool

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
	ch, err := c.openSide(ep)
	if err != nil {
		c.log.Debug("no side connection, channel on gRPC", "err", err)
		if ch, err = c.openStream(ep); err != nil {
			return nil, err
		}
	}
	ep.ch = ch
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ch.receive()
	}()
	return ch, nil
}

// openStream opens the Channel as a gRPC stream.
func (c *Client) openStream(ep *epoch) (*channel, error) {
	sctx, cancel := context.WithCancel(ep.ctx)
	sctx = metadata.AppendToOutgoingContext(sctx, protocol.MDSubvolume, c.cfg.RemoteSubvolume)
	stream, err := ep.rpc.Channel(sctx)
	if err != nil {
		cancel()
		return nil, err
	}
	return &channel{send: stream.Send, recv: stream.Recv, cancel: cancel,
		pending: map[uint64]chan *brickpb.ChannelReply{}}, nil
}

// openSide opens the Channel on a side connection (protocol/fastpath.go):
// a token from the brick over gRPC, then a plain TCP connection presenting
// it. It is closed when ep ends.
func (c *Client) openSide(ep *epoch) (*channel, error) {
	ctx, cancel := context.WithTimeout(ep.ctx, c.cfg.PingTimeout)
	defer cancel()
	tctx := metadata.AppendToOutgoingContext(ctx, protocol.MDSubvolume, c.cfg.RemoteSubvolume,
		protocol.MDCaller, protocol.EncodeCaller(&vfs.Caller{}))
	tok, err := ep.rpc.ChannelToken(tctx, &brickpb.ChannelTokenRequest{})
	if err != nil {
		return nil, err
	}
	nc, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*channel, error) {
		nc.Close()
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if _, err := nc.Write([]byte(protocol.FastPathMagic)); err != nil {
		return fail(err)
	}
	if err := protocol.WriteFrame(nc, &brickpb.ChannelHello{Token: tok.Token, Subvolume: c.cfg.RemoteSubvolume}); err != nil {
		return fail(err)
	}
	r := bufio.NewReaderSize(nc, 64<<10)
	var answer brickpb.ChannelReply
	if _, err := protocol.ReadFrame(r, &answer, nil); err != nil {
		return fail(err)
	}
	if answer.Code != 0 {
		return fail(status.Error(codes.Code(answer.Code), answer.Message))
	}
	nc.SetDeadline(time.Time{})
	stop := context.AfterFunc(ep.ctx, func() { nc.Close() })
	var buf []byte
	return &channel{
		send: func(m *brickpb.ChannelCall) error { return protocol.WriteFrame(nc, m) },
		recv: func() (*brickpb.ChannelReply, error) {
			rep := new(brickpb.ChannelReply)
			var err error
			buf, err = protocol.ReadFrame(r, rep, buf)
			if err != nil {
				return nil, err
			}
			return rep, nil
		},
		cancel:  func() { stop(); nc.Close() },
		side:    true,
		pending: map[uint64]chan *brickpb.ChannelReply{},
	}, nil
}

// receive hands each reply to its caller until the stream ends, then fails
// the calls still waiting with the stream's error.
func (ch *channel) receive() {
	for {
		rep, err := ch.recv()
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
	err := ch.send(&brickpb.ChannelCall{Id: id, Call: req, Caller: []byte(caller), WaitId: waitID})
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

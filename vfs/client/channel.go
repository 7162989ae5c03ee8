package client

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
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
	// send writes raw (may be nil) after the message; readRaw reads the
	// raw payload that follows a reply. Both only on a side connection
	// with raw payloads agreed (raw true).
	send    func(m *brickpb.ChannelCall, raw []byte) error
	recv    func() (*brickpb.ChannelReply, error)
	readRaw func([]byte) error
	cancel  func()
	side    bool
	raw     bool
	// network is the side connection's: "tcp", or "unix" for a brick's
	// local channel socket (dialSide).
	network string
	// c and ep are the client and epoch the channel belongs to.
	c  *Client
	ep *epoch

	sendMu sync.Mutex // gRPC allows one Send at a time

	mu      sync.Mutex
	next    uint64
	pending map[uint64]*pendingCall
	err     error // why the stream broke; nil while it works
	subSent bool  // the subscription to changes was sent (upcall.go)
	// retired is set when another channel replaced this one in its
	// epoch (upgradeSide): calls go there, and this one closes when idle.
	retired bool
	// ended is closed when receive returns (the channel broke).
	ended chan struct{}
}

// pendingCall is a call waiting for its reply.
type pendingCall struct {
	reply chan *brickpb.ChannelReply // buffered; closed if the channel breaks
	// dest receives a raw Read payload when it is large enough.
	dest []byte
	// claimed is set (under channel.mu) when the receiver took the call
	// and may be writing into dest: the caller must then wait for the
	// reply even if its context ends, or dest could change under it.
	claimed bool
	// expires is when bail gives up on the call (zero: never), and err
	// what the call then returns (reply is closed).
	expires time.Time
	err     error
}

// rawIO names the bulk data of a call that may travel as a raw payload:
// the data of the Write at op, or the destination of the Read at op.
type rawIO struct {
	op   int
	data []byte
	dest []byte
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
	fellBack := err != nil
	if fellBack {
		c.log.Debug("no side connection, channel on gRPC", "err", err)
		if ch, err = c.openStream(ep); err != nil {
			return nil, err
		}
	}
	c.install(ep, ch)
	if fellBack {
		// A side connection refused now (typically while gRPC is still
		// on a connection the restarted brick has closed) may open in a
		// moment; without it every call of this epoch would pay the
		// stream's cost.
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.upgradeSide(ep, ch)
		}()
	}
	return ch, nil
}

// install makes ch ep's channel and starts its receiver. The caller holds
// ep.chMu.
func (c *Client) install(ep *epoch, ch *channel) {
	ch.c, ch.ep = c, ep
	ch.ended = make(chan struct{})
	ep.ch = ch
	c.rawBulk.Store(ch.raw)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(ch.ended)
		ch.receive()
	}()
	if t := c.cfg.CallTimeout; t > 0 {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			ch.bailLoop(t)
		}()
	}
	if c.watchFn.Load() != nil {
		c.kickSub() // subscribe the new channel
	}
}

// Spacing of the attempts to move a channel that fell back to a gRPC
// stream onto a side connection.
const (
	sideRetryFirst = 100 * time.Millisecond
	sideRetryMax   = 5 * time.Second
)

// upgradeSide retries the side connection for ep while its channel is the
// gRPC stream old, and once one opens makes it the channel: new calls go
// there, and old is closed when the calls already on it have their
// replies (retire). It gives up when old breaks (the next channel tries a
// side connection first anyway) or ep ends.
func (c *Client) upgradeSide(ep *epoch, old *channel) {
	delay := sideRetryFirst
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-ep.ctx.Done():
			return
		case <-c.closed:
			return
		case <-t.C:
		}
		old.mu.Lock()
		broken := old.err != nil
		old.mu.Unlock()
		if broken {
			return
		}
		side, err := c.openSide(ep)
		if err != nil {
			c.log.Debug("side connection still refused", "err", err)
			delay = min(2*delay, sideRetryMax)
			t.Reset(delay)
			continue
		}
		ep.chMu.Lock()
		if ep.ch != old || ep.ctx.Err() != nil {
			ep.chMu.Unlock()
			side.cancel()
			return
		}
		c.install(ep, side)
		ep.chMu.Unlock()
		c.log.Debug("channel moved to a side connection")
		old.retire(ep)
		return
	}
}

// retire closes ch once no call waits on it. New calls that still reach
// ch (they fetched it before it was replaced) go to the epoch's current
// channel instead (see call), so the wait ends.
func (ch *channel) retire(ep *epoch) {
	ch.mu.Lock()
	ch.retired = true
	ch.mu.Unlock()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		ch.mu.Lock()
		idle := len(ch.pending) == 0
		ch.mu.Unlock()
		if idle {
			ch.cancel()
			return
		}
		select {
		case <-ep.ctx.Done():
			return // the epoch's end closes every channel
		case <-t.C:
		}
	}
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
	send := func(m *brickpb.ChannelCall, _ []byte) error { return stream.Send(m) }
	return &channel{send: send, recv: stream.Recv, cancel: cancel,
		pending: map[uint64]*pendingCall{}}, nil
}

// openSide opens the Channel on a side connection (protocol/fastpath.go):
// a token from the brick over gRPC, then a plain TCP connection (or, to a
// brick on this host, a Unix one: dialSide) presenting it. It is closed
// when ep ends.
func (c *Client) openSide(ep *epoch) (*channel, error) {
	ctx, cancel := context.WithTimeout(ep.ctx, c.cfg.PingTimeout)
	defer cancel()
	tctx := metadata.AppendToOutgoingContext(ctx, protocol.MDSubvolume, c.cfg.RemoteSubvolume,
		protocol.MDCaller, protocol.EncodeCaller(&vfs.Caller{}))
	tok, err := ep.rpc.ChannelToken(tctx, &brickpb.ChannelTokenRequest{})
	if err != nil {
		return nil, err
	}
	if c.cfg.LocalRead && tok.LocalSocket != "" && ep.local.Load() == nil {
		ep.local.CompareAndSwap(nil, newLocalFDs(c, ep, tok.LocalSocket, tok.Token))
	}
	nc, err := c.dialSide(ctx, tok.LocalChannel)
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
	hello := &brickpb.ChannelHello{Token: tok.Token, Subvolume: c.cfg.RemoteSubvolume, RawPayloads: true}
	if err := protocol.WriteFrame(nc, hello); err != nil {
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
	fw := protocol.NewFrameWriter(nc) // under the channel's sendMu
	return &channel{
		send: func(m *brickpb.ChannelCall, raw []byte) error { return fw.Write(m, raw) },
		readRaw: func(b []byte) error {
			_, err := io.ReadFull(r, b)
			return err
		},
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
		raw:     answer.RawPayloads,
		network: nc.RemoteAddr().Network(),
		pending: map[uint64]*pendingCall{},
	}, nil
}

// dialSide connects a side connection: to the brick's local channel
// socket when it names one and this host has it (the name is abstract, so
// a brick elsewhere names one that does not exist here), else to its TCP
// port.
func (c *Client) dialSide(ctx context.Context, local string) (net.Conn, error) {
	if c.cfg.LocalChannel && local != "" {
		// Without the TCP source address (transport.socket.bind-address),
		// which a Unix dial refuses: the token, not an address, admits it.
		unix := net.Dialer{Control: c.dialer.Control}
		nc, err := unix.DialContext(ctx, "unix", local)
		if err == nil {
			nc.(*net.UnixConn).SetWriteBuffer(protocol.LocalChannelBuffer)
			return nc, nil
		}
		c.log.Debug("local channel socket not reachable; side connection over TCP", "socket", local, "err", err)
	}
	return c.dialer.DialContext(ctx, "tcp", c.addr)
}

// receive hands each reply to its caller until the stream ends, then fails
// the calls still waiting with the stream's error.
func (ch *channel) receive() {
	for {
		rep, err := ch.recv()
		var p *pendingCall
		if err == nil && rep.Id == 0 {
			// Unsolicited: the subscription's answer or changes.
			if rep.RawLen == 0 && rep.RawOp == 0 {
				ch.control(rep)
				continue
			}
			err = fmt.Errorf("malformed raw payload on a reply of id 0")
		}
		if err == nil {
			ch.mu.Lock()
			if p = ch.pending[rep.Id]; p != nil {
				delete(ch.pending, rep.Id)
				p.claimed = true
			}
			ch.mu.Unlock()
			if rep.RawLen > 0 || rep.RawOp > 0 {
				err = ch.receiveRaw(rep, p)
			}
		}
		if err != nil {
			if _, ok := status.FromError(err); !ok { // io.EOF: the brick ended the stream
				err = status.Error(codes.Unavailable, "brick channel closed: "+err.Error())
			}
			ch.mu.Lock()
			ch.err = err
			pending := ch.pending
			ch.pending = nil
			ch.mu.Unlock()
			if p != nil {
				close(p.reply)
			}
			for _, p := range pending {
				close(p.reply)
			}
			ch.cancel()
			ch.c.channelEnded(ch)
			return
		}
		if p != nil {
			p.reply <- rep // buffered: never blocks
		}
	}
}

// receiveRaw reads the raw payload following rep into p's destination
// when it fits (a read straight into the caller's buffer), and makes it
// the data of the Read reply it belongs to. Any inconsistency breaks the
// channel: the byte stream can no longer be trusted.
func (ch *channel) receiveRaw(rep *brickpb.ChannelReply, p *pendingCall) error {
	n := int(rep.RawLen)
	k := int(rep.RawOp) - 1
	replies := rep.GetReply().GetReplies()
	if !ch.raw || n > protocol.MaxIOSize || k < 0 || k >= len(replies) || replies[k].GetRead() == nil {
		return fmt.Errorf("malformed raw payload (op %d, %d bytes)", rep.RawOp, rep.RawLen)
	}
	var dst []byte
	if p != nil && cap(p.dest) >= n {
		dst = p.dest[:n]
	} else {
		dst = make([]byte, n) // the caller gave up, or lent too little
	}
	if err := ch.readRaw(dst); err != nil {
		return err
	}
	replies[k].GetRead().Data = dst
	return nil
}

// call sends req and waits for its reply or for ctx. The error is a gRPC
// status as a unary Compound call would return, so that Client.fail and
// staleHandle judge both paths alike. With rio on a channel that carries
// raw payloads, the Write data named there goes as one (req's copy of it
// is taken out while sending) and a Read reply's data lands in rio.dest;
// elsewhere the data travels inside the messages as usual.
func (ch *channel) call(ctx context.Context, req *brickpb.CompoundRequest, caller string, waitID uint64, rio *rawIO) (*brickpb.CompoundReply, error) {
	p := &pendingCall{reply: make(chan *brickpb.ChannelReply, 1)}
	if t := ch.c.cfg.CallTimeout; t > 0 && waitID == 0 {
		p.expires = time.Now().Add(t)
	}
	msg := &brickpb.ChannelCall{Call: req, Caller: []byte(caller), WaitId: waitID}
	var raw []byte
	if rio != nil && ch.raw && rio.op >= 0 && rio.op < len(req.Ops) {
		if w := req.Ops[rio.op].GetWrite(); w != nil && len(w.Data) > 0 {
			raw = w.Data
			w.Data = nil
			defer func() { w.Data = raw }()
			msg.RawOp, msg.RawLen = uint32(rio.op+1), uint32(len(raw))
		}
		if rio.dest != nil {
			p.dest = rio.dest
			msg.RawReply = true
		}
	}
	ch.mu.Lock()
	if ch.err != nil {
		err := ch.err
		ch.mu.Unlock()
		return nil, err
	}
	if ch.retired {
		ch.mu.Unlock()
		if raw != nil {
			req.Ops[rio.op].GetWrite().Data = raw
		}
		next, err := ch.c.channel(ch.ep)
		if err != nil {
			return nil, err
		}
		return next.call(ctx, req, caller, waitID, rio)
	}
	ch.next++
	msg.Id = ch.next
	ch.pending[msg.Id] = p
	ch.mu.Unlock()

	ch.sendMu.Lock()
	err := ch.send(msg, raw)
	ch.sendMu.Unlock()
	if err != nil {
		// The stream broke; Recv reports why and fails the others.
		ch.forget(msg.Id)
		return nil, status.Error(codes.Unavailable, "brick channel: "+err.Error())
	}
	var rep *brickpb.ChannelReply
	var ok bool
	select {
	case rep, ok = <-p.reply:
	case <-ctx.Done():
		ch.mu.Lock()
		claimed := p.claimed
		if !claimed {
			delete(ch.pending, msg.Id)
		}
		ch.mu.Unlock()
		if claimed {
			// The receiver may be filling p.dest: wait until it is
			// done (or the channel breaks) before giving dest back.
			<-p.reply
		}
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if !ok {
		ch.mu.Lock()
		err := ch.err
		if p.err != nil {
			err = p.err
		}
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
}

func (ch *channel) forget(id uint64) {
	ch.mu.Lock()
	delete(ch.pending, id)
	ch.mu.Unlock()
}

// bailLoop runs bail every tenth of the call timeout (between 10 ms and
// 10 s: GlusterFS's call-bail timer looks every 10 s for frames older than
// frame-timeout) until the channel ends.
func (ch *channel) bailLoop(timeout time.Duration) {
	tick := time.NewTicker(min(max(timeout/10, 10*time.Millisecond), 10*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ch.ended:
			return
		case now := <-tick.C:
			ch.bail(now)
		}
	}
}

// bail fails the calls that expired by now with DeadlineExceeded. A call
// the receiver already took (claimed) is left to finish.
func (ch *channel) bail(now time.Time) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for id, p := range ch.pending {
		if !p.claimed && !p.expires.IsZero() && now.After(p.expires) {
			delete(ch.pending, id)
			p.err = status.Error(codes.DeadlineExceeded, "no reply from the brick within the call timeout (frame-timeout)")
			close(p.reply)
		}
	}
}

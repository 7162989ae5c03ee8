package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"google.golang.org/grpc/codes"
)

// Side connections (protocol/fastpath.go): plain TCP connections on the
// brick's port that carry Channel messages for a gRPC connection.

// helloTimeout bounds how long an accepted connection may take to say
// which protocol it speaks and who it is.
const helloTimeout = 10 * time.Second

// tokenOf returns c's side-connection token, making it on first use.
func (s *Server) tokenOf(c *conn) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" {
		return []byte(c.token), nil
	}
	if c.closed {
		return nil, errors.New("connection closing")
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	c.token = string(b)
	s.connMu.Lock()
	if s.tokens == nil {
		s.tokens = map[string]*conn{}
	}
	s.tokens[c.token] = c
	s.connMu.Unlock()
	return b, nil
}

// demux is the listener gRPC serves: it passes on the connections that do
// not start with protocol.FastPathMagic and serves the others itself.
type demux struct {
	net.Listener
	s      *Server
	conns  chan net.Conn
	done   chan struct{}
	once   sync.Once
	accErr error
}

func (s *Server) newDemux(lis net.Listener) *demux {
	d := &demux{Listener: lis, s: s, conns: make(chan net.Conn), done: make(chan struct{})}
	go d.loop()
	return d
}

func (d *demux) loop() {
	for {
		nc, err := d.Listener.Accept()
		if err != nil {
			d.closeWith(err)
			return
		}
		go d.sort(nc)
	}
}

// readHead reads as many bytes from nc as protocol.FastPathMagic has
// (within helloTimeout) and says whether they are it: a side connection.
// It returns the bytes it read either way.
func readHead(nc net.Conn) ([]byte, bool) {
	nc.SetReadDeadline(time.Now().Add(helloTimeout))
	head := make([]byte, len(protocol.FastPathMagic))
	n, err := io.ReadFull(nc, head)
	nc.SetReadDeadline(time.Time{})
	return head[:n], err == nil && bytes.Equal(head, []byte(protocol.FastPathMagic))
}

// sort reads the first bytes of nc and routes it.
func (d *demux) sort(nc net.Conn) {
	head, side := readHead(nc)
	if side {
		// The side connection must come from the host of its gRPC
		// connection.
		d.s.serveSide(nc, d.s.sameHost(nc))
		return
	}
	if len(head) == 0 {
		nc.Close()
		return
	}
	pc := &prefixConn{Conn: nc, prefix: head}
	select {
	case d.conns <- pc:
	case <-d.done:
		nc.Close()
	}
}

func (d *demux) Accept() (net.Conn, error) {
	select {
	case nc := <-d.conns:
		return nc, nil
	case <-d.done:
		if d.accErr != nil {
			return nil, d.accErr
		}
		return nil, net.ErrClosed
	}
}

func (d *demux) Close() error { return d.closeWith(nil) }

// closeWith closes the listener; accErr (written before done is closed,
// so that Accept may read it after) is what Accept returns from then on.
func (d *demux) closeWith(accErr error) error {
	var err error
	d.once.Do(func() {
		d.accErr = accErr
		close(d.done)
		err = d.Listener.Close()
	})
	return err
}

// prefixConn replays the bytes sort read before handing a connection to
// gRPC.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// admitSide admits a connection that presents the token of a gRPC
// connection (a side connection, or one to the local descriptor socket):
// the token must be live, vet (if not nil) must pass, and the gRPC
// connection must be admitted to the subvolume. The admitted connection is
// registered to close with its gRPC connection; the caller calls
// c.delSide(nc) when done. A code other than OK refuses, with msg.
func (s *Server) admitSide(nc net.Conn, hello *brickpb.ChannelHello, vet func(*conn) (codes.Code, string)) (*conn, *session, codes.Code, string) {
	s.connMu.Lock()
	c := s.tokens[string(hello.Token)]
	s.connMu.Unlock()
	if c == nil || len(hello.Token) == 0 {
		return nil, nil, codes.Unauthenticated, "protocol/server: unknown channel token"
	}
	if vet != nil {
		if code, msg := vet(c); code != codes.OK {
			return nil, nil, code, msg
		}
	}
	ss, err := s.session(c, hello.Subvolume)
	if err != nil {
		return nil, nil, codes.PermissionDenied, err.Error()
	}
	if !c.addSide(nc) {
		return nil, nil, codes.Unavailable, "protocol/server: connection closing"
	}
	return c, ss, codes.OK, ""
}

// sameHost returns the vet of a TCP side connection: it must come from
// the address of its gRPC connection, which passed the auth rules.
func (s *Server) sameHost(nc net.Conn) func(c *conn) (codes.Code, string) {
	return func(c *conn) (codes.Code, string) {
		if ip, _ := peerIP(nc.RemoteAddr()); ip != c.ip {
			s.log.Warn("side connection from another address than its connection", "client", c.id, "from", nc.RemoteAddr().String())
			return codes.PermissionDenied, "protocol/server: side connection from another address"
		}
		return codes.OK, ""
	}
}

// serveSide serves one side connection (on the TCP port, or on the local
// channel socket) until it or its gRPC connection ends; vet, if not nil,
// may refuse it (admitSide).
func (s *Server) serveSide(nc net.Conn, vet func(*conn) (codes.Code, string)) {
	defer nc.Close()
	r := bufio.NewReaderSize(nc, 64<<10)
	var hello brickpb.ChannelHello
	nc.SetReadDeadline(time.Now().Add(helloTimeout))
	buf, err := protocol.ReadFrame(r, &hello, nil)
	nc.SetReadDeadline(time.Time{})
	if err != nil {
		return
	}
	refuse := func(code codes.Code, msg string) {
		protocol.WriteFrame(nc, &brickpb.ChannelReply{Code: uint32(code), Message: msg})
	}
	c, ss, code, msg := s.admitSide(nc, &hello, vet)
	if code != codes.OK {
		refuse(code, msg)
		return
	}
	defer c.delSide(nc)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), connKey{}, c))
	defer cancel()
	raw := hello.RawPayloads
	if err := protocol.WriteFrame(nc, &brickpb.ChannelReply{RawPayloads: raw}); err != nil {
		return
	}
	h := &service{s: s}
	sctx := context.WithValue(ctx, sessionKey{}, ss)
	var wmu sync.Mutex
	fw := protocol.NewFrameWriter(nc) // under wmu
	send := func(rep *brickpb.ChannelReply, rawReply bool) {
		var data []byte
		if rawReply {
			data = detachReadData(rep)
		}
		wmu.Lock()
		defer wmu.Unlock()
		fw.Write(rep, data) // a broken connection fails the read loop too
	}
	var sub *subscriber
	defer func() {
		if sub != nil {
			// The calls are answered: closing first frees a writer
			// blocked on a client that stopped reading.
			nc.Close()
			sub.stop()
		}
	}()
	var calls sync.WaitGroup
	defer calls.Wait()
	defer cancel() // before Wait: calls waiting for locks give up
	for {
		call := new(brickpb.ChannelCall)
		if buf, err = protocol.ReadFrame(r, call, buf); err != nil {
			return
		}
		if call.Subscribe {
			if sub == nil {
				sub = ss.sv.subscribe(c, func(rep *brickpb.ChannelReply) { send(rep, false) }, s.changeQueue)
			}
			continue
		}
		var payload *[]byte
		if call.RawOp != 0 || call.RawLen != 0 {
			if !raw || call.RawLen > protocol.MaxIOSize {
				s.log.Warn("side connection: raw payload not agreed or too large; closing", "client", c.id, "len", call.RawLen)
				return
			}
			payload = s.getWriteBuf(int(call.RawLen))
			if _, err := io.ReadFull(r, (*payload)[:call.RawLen]); err != nil {
				s.putBuf(payload)
				return
			}
			if !attachWriteData(call, (*payload)[:call.RawLen]) {
				s.putBuf(payload)
				send(&brickpb.ChannelReply{Id: call.Id, Code: uint32(codes.InvalidArgument),
					Message: "protocol/server: raw payload must belong to a Write sent without data"}, false)
				continue
			}
		}
		if !c.enter() {
			if payload != nil {
				s.putBuf(payload)
			}
			send(&brickpb.ChannelReply{Id: call.Id, Code: uint32(codes.Unavailable), Message: "protocol/server: connection closing"}, false)
			continue
		}
		rawReply := raw && call.RawReply
		calls.Add(1)
		s.dispatch(func() {
			defer calls.Done()
			defer c.leave()
			rep, bufs := h.channelCall(sctx, c, call, rawReply)
			if payload != nil {
				// Translators do not keep write buffers.
				s.putBuf(payload)
			}
			send(rep, rawReply)
			for _, bp := range bufs {
				s.putBuf(bp)
			}
		})
	}
}

// attachWriteData makes data the data of the call's raw_op-th operation,
// which must be a Write sent without data.
func attachWriteData(call *brickpb.ChannelCall, data []byte) bool {
	ops := call.GetCall().GetOps()
	k := int(call.RawOp) - 1
	if k < 0 || k >= len(ops) {
		return false
	}
	w := ops[k].GetWrite()
	if w == nil || len(w.Data) != 0 {
		return false
	}
	w.Data = data
	return true
}

// detachReadData takes the data of the first Read reply out of rep,
// marking where it belongs, to be sent after the frame.
func detachReadData(rep *brickpb.ChannelReply) []byte {
	for k, sub := range rep.GetReply().GetReplies() {
		if rd := sub.GetRead(); rd != nil && len(rd.Data) > 0 {
			data := rd.Data
			rd.Data = nil
			rep.RawOp, rep.RawLen = uint32(k+1), uint32(len(data))
			return data
		}
	}
	return nil
}

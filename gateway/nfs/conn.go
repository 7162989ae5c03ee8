package nfs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// conn is one client TCP connection. Its reader decodes RPC records and
// dispatches them: NFSv3 calls to cairn's procedures, concurrently (up to
// MaxInflight), and MOUNT calls (plus any procedure listed in GoNFSProcs)
// to go-nfs, through an in-memory pipe that go-nfs serves as if it were
// the client's connection. Replies from both are written whole, one
// record at a time, under wmu.
type conn struct {
	srv    *Server
	nc     net.Conn
	raw    syscall.RawConn // nc's socket, for spliced READ replies; nil if none
	client string
	sem    chan struct{}
	calls  sync.WaitGroup

	wmu  sync.Mutex
	werr error

	// pipe is our end of the connection go-nfs serves; created on the
	// first call that goes to go-nfs.
	pipe     net.Conn
	pumpDone chan struct{}
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		srv:    s,
		nc:     nc,
		raw:    rawOf(nc),
		client: "nfs:" + nc.RemoteAddr().String(),
		sem:    make(chan struct{}, s.cfg.MaxInflight),
	}
}

func (c *conn) serve() {
	defer c.nc.Close()
	if tc, ok := c.nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	br := bufio.NewReaderSize(c.nc, 256<<10)
	// Records are read into a pooled buffer. A small one is copied out
	// of it (most calls are a few hundred bytes and may wait in flight),
	// a large one (a WRITE's data) keeps the buffer until its call is
	// answered, and the next record gets another.
	spare := c.srv.recBuf()
	defer func() { c.srv.recBufs.Put(spare) }()
	for {
		rec, err := readRecord(br, (*spare)[:0])
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.srv.log.Debug("nfs: read", "client", c.client, "err", err)
			}
			break
		}
		var owned *[]byte
		if len(rec) <= smallRecord {
			rec = bytes.Clone(rec)
		} else {
			owned, spare = spare, c.srv.recBuf()
		}
		call, err := parseCall(rec)
		if err != nil {
			c.srv.log.Debug("nfs: bad record", "client", c.client, "err", err)
			c.srv.putRecBuf(owned)
			break
		}
		if !c.dispatch(call, rec, owned) {
			break
		}
	}
	c.calls.Wait()
	if c.pipe != nil {
		c.pipe.Close()
		<-c.pumpDone
	}
}

// smallRecord is the largest call record copied out of the pooled buffer
// it was read into.
const smallRecord = 64 << 10

// recBuf returns an empty record buffer of capacity maxRecord.
func (s *Server) recBuf() *[]byte {
	if bp, ok := s.recBufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, maxRecord)
	return &b
}

// putRecBuf gives back a record buffer once nothing refers to its record;
// nil is ignored.
func (s *Server) putRecBuf(bp *[]byte) {
	if bp != nil {
		*bp = (*bp)[:0]
		s.recBufs.Put(bp)
	}
}

// dispatch routes one call; false means the connection must be dropped.
// owned, if not nil, is the pooled buffer rec lies in: it is given back
// once the call no longer needs rec, unless the volume took it (handle),
// which then gives it back itself.
func (c *conn) dispatch(call *rpcCall, rec []byte, owned *[]byte) bool {
	handedOff := false
	defer func() {
		if !handedOff {
			c.srv.putRecBuf(owned)
		}
	}()
	if call.rpcvers != rpcVersion {
		return c.send(deniedReply(call.xid, rejectRPCMismatch, rpcVersion, rpcVersion))
	}
	switch call.prog {
	case progMount:
		if call.vers != 3 {
			return c.send(acceptedReply(call.xid, acceptProgMismatch, 3, 3))
		}
		if r := c.srv.mountProc(call); r != nil {
			return c.send(r)
		}
		return c.forward(rec)
	case progNFS:
		if call.vers != 3 {
			return c.send(acceptedReply(call.xid, acceptProgMismatch, 3, 3))
		}
		if c.srv.gonfs[call.proc] {
			return c.forward(rec)
		}
	default:
		return c.send(acceptedReply(call.xid, acceptProgUnavail))
	}
	caller, ok := c.caller(call)
	if !ok {
		return c.send(deniedReply(call.xid, rejectAuthError, authBadCred))
	}
	c.sem <- struct{}{}
	c.calls.Add(1)
	handedOff = true
	go func() {
		given := false
		defer func() {
			if !given {
				c.srv.putRecBuf(owned)
			}
			<-c.sem
			c.calls.Done()
		}()
		given = c.handle(call, caller, owned)
	}()
	return true
}

// caller turns the call's credential into the identity the volume sees.
// AUTH_NULL calls are anonymous; other flavors (Kerberos) are refused.
func (c *conn) caller(call *rpcCall) (*vfs.Caller, bool) {
	switch call.credFlavor {
	case authNull:
		return c.srv.squash.Anonymous(c.client), true
	case authUnix:
		cred, err := parseAuthUnix(call.cred)
		if err != nil {
			return nil, false
		}
		return c.srv.squash.Map(cred.uid, cred.gid, cred.gids, c.client), true
	}
	return nil, false
}

// handle serves one call. rec, if not nil, is the pooled buffer the call's
// record lies in; handle reports whether the volume took it (a WRITE's
// data kept by write-behind, which gives it back to the pool itself).
func (c *conn) handle(call *rpcCall, caller *vfs.Caller, rec *[]byte) (recGiven bool) {
	var reply []byte
	var q *request
	defer func() {
		recGiven = q != nil && q.gift != nil && q.gift.Taken()
		if q != nil && q.pipe != nil {
			c.srv.pipes.discard(q.pipe) // not sent: a panic after the procedure filled it
		}
		if p := recover(); p != nil {
			c.srv.log.Error("nfs: panic in procedure", "proc", call.proc, "panic", p, "stack", string(debug.Stack()))
			c.send(acceptedReply(call.xid, acceptSystemErr))
		}
	}()
	proc := procTable(call.proc)
	if proc == nil {
		c.send(acceptedReply(call.xid, acceptProcUnavail))
		return
	}
	q = &request{
		ctx:    vfs.WithCaller(c.srv.ctx, caller),
		srv:    c.srv,
		conn:   c,
		caller: caller,
		r:      xdrReader{b: call.args},
		rec:    rec,
	}
	replyHeader(&q.w, call.xid, acceptSuccess)
	err := proc(q)
	if err != nil {
		reply = acceptedReply(call.xid, acceptGarbageArgs)
	} else {
		reply = q.w.b
	}
	if q.pipe != nil && err == nil {
		if c.sendSpliced(reply, q.pipe, q.pipeN) {
			c.srv.pipes.put(q.pipe)
		} else {
			c.srv.pipes.discard(q.pipe)
		}
		q.pipe = nil
	} else {
		c.send(reply)
	}
	if q.pooled != nil {
		*q.pooled = q.w.b[:0]
		c.srv.readBufs.Put(q.pooled)
	}
	return // recGiven is set by the deferred function
}

// send writes one reply record. Errors close the connection (the reader
// then stops) and are remembered so later sends do nothing.
func (c *conn) send(rec []byte) bool {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(rec))|0x80000000)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return false
	}
	bufs := net.Buffers{hdr[:], rec}
	if _, err := bufs.WriteTo(c.nc); err != nil {
		c.werr = err
		c.nc.Close()
		return false
	}
	return true
}

// forward hands a whole record to go-nfs. go-nfs serves one call at a
// time per connection, which is fine for MOUNT.
func (c *conn) forward(rec []byte) bool {
	if c.pipe == nil {
		ours, theirs := net.Pipe()
		c.pipe = ours
		c.pumpDone = make(chan struct{})
		if !c.srv.goL.push(&addrConn{Conn: theirs, local: c.nc.LocalAddr(), remote: c.nc.RemoteAddr()}) {
			return false
		}
		go c.pump()
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(rec))|0x80000000)
	bufs := net.Buffers{hdr[:], rec}
	if _, err := bufs.WriteTo(c.pipe); err != nil {
		return false
	}
	return true
}

// pump copies go-nfs's reply records to the client.
func (c *conn) pump() {
	defer close(c.pumpDone)
	br := bufio.NewReader(c.pipe)
	for {
		rec, err := readRecord(br, nil)
		if err != nil {
			c.pipe.Close()
			return
		}
		if !c.send(rec) {
			c.pipe.Close()
			return
		}
	}
}

// request is one NFSv3 call being served.
type request struct {
	ctx    context.Context
	srv    *Server
	conn   *conn
	caller *vfs.Caller
	r      xdrReader
	w      xdrWriter
	// pooled is the Server.readBufs buffer q.w writes into, returned
	// once the reply is sent.
	pooled *[]byte
	// rec is the Server.recBufs buffer the call's record lies in (nil
	// for small records, which are copied out); gift is its offer to the
	// volume, if made (offerRec).
	rec  *[]byte
	gift *vfs.DataGift
	// pipe, if not nil, holds the reply's last pipeN bytes (a spliced
	// READ); the reply is sent with them by sendSpliced.
	pipe  *readPipe
	pipeN int
}

// offerRec returns q's context offering the record buffer data lies in to
// the volume (vfs.DataGift): write-behind then keeps that buffer instead
// of copying the data, and puts it back in the pool once its write is
// done. Without a pooled record it returns q's context as is.
func (q *request) offerRec(data []byte) context.Context {
	if q.rec == nil || q.gift != nil || len(data) == 0 {
		return q.ctx
	}
	rec, srv := q.rec, q.srv
	ctx, gift := vfs.OfferData(q.ctx, data, func() { srv.putRecBuf(rec) })
	q.gift = gift
	return ctx
}

// readBufSize fits a READ reply of maxIO bytes with its RPC header.
const readBufSize = maxIO + 512

// reserve makes room for n more reply bytes, moving the reply into a
// pooled buffer when it fits one, and returns the reply's length before
// the room (the room's start).
func (q *request) reserve(n int) int {
	base := len(q.w.b)
	if base+n > cap(q.w.b) {
		if base+n <= readBufSize && q.pooled == nil {
			bp, _ := q.srv.readBufs.Get().(*[]byte)
			if bp == nil {
				b := make([]byte, 0, readBufSize)
				bp = &b
			}
			q.pooled = bp
			q.w.b = append((*bp)[:0], q.w.b...)
		} else {
			q.w.b = append(q.w.b, make([]byte, n)...)
			return base
		}
	}
	q.w.b = q.w.b[:base+n]
	return base
}

// pipeListener hands the connections that go-nfs should serve to its
// Serve loop.
type pipeListener struct {
	ch     chan net.Conn
	mu     sync.Mutex
	closed bool
	done   chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		c.Close()
		return false
	}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.done)
	}
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "go-nfs" }

// addrConn reports the client's real addresses to go-nfs's Mount.
type addrConn struct {
	net.Conn
	local, remote net.Addr
}

func (a *addrConn) LocalAddr() net.Addr  { return a.local }
func (a *addrConn) RemoteAddr() net.Addr { return a.remote }

// MOUNT procedures go-nfs lacks (it serves NULL, MNT and UMNT).
const (
	mountProcDump    = 2
	mountProcUmntAll = 4
	mountProcExport  = 5
)

// mountProc answers DUMP (an empty list: no mount state is kept), UMNTALL
// and EXPORT (the volumes, open to every host the --allow list admits),
// which libnfs and showmount call; nil means go-nfs serves the call.
func (s *Server) mountProc(call *rpcCall) []byte {
	w := &xdrWriter{}
	switch call.proc {
	case mountProcDump:
		replyHeader(w, call.xid, acceptSuccess)
		w.bool(false)
	case mountProcUmntAll:
		replyHeader(w, call.xid, acceptSuccess)
	case mountProcExport:
		replyHeader(w, call.xid, acceptSuccess)
		for _, ex := range s.exports {
			w.bool(true)
			w.string("/" + ex.name)
			w.bool(false) // no group list: every admitted host
		}
		w.bool(false)
	default:
		return nil
	}
	return w.b
}

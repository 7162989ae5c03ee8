package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"syscall"

	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// conn is the server's state for one client transport connection: its
// identity (Caller.Client of every call on it), the subvolumes it was
// admitted to, and the handles it opened. When the connection ends, the
// handles are released and the subvolumes are told to drop the client's
// locks, as GlusterFS's server_connection_cleanup does.
type conn struct {
	id     string
	remote net.Addr
	local  string
	ip     netip.Addr
	ipText string

	mu       sync.Mutex
	closed   bool
	inflight int
	idle     chan struct{} // closed when closed and inflight reaches 0
	sessions map[string]*session
	// waits holds the cancel functions of calls tagged with a wait id;
	// cancelled holds ids whose CancelWait arrived before the call.
	waits     map[uint64]context.CancelFunc
	cancelled map[uint64]struct{}
	// token names the connection to its side connections (ChannelToken);
	// sides are those open.
	token string
	sides map[net.Conn]struct{}
}

// addSide records a side connection; false when c is closing.
func (c *conn) addSide(nc net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if c.sides == nil {
		c.sides = map[net.Conn]struct{}{}
	}
	c.sides[nc] = struct{}{}
	return true
}

func (c *conn) delSide(nc net.Conn) {
	c.mu.Lock()
	delete(c.sides, nc)
	c.mu.Unlock()
}

// maxEarlyCancels bounds the CancelWaits remembered for calls that have not
// arrived (and may never: the client gave up before sending them).
const maxEarlyCancels = 1024

// addWait registers the cancel function of a waiting call; false when its
// CancelWait already came, so the caller cancels at once.
func (c *conn) addWait(id uint64, cancel context.CancelFunc) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cancelled[id]; ok {
		delete(c.cancelled, id)
		return false
	}
	if c.waits == nil {
		c.waits = map[uint64]context.CancelFunc{}
	}
	c.waits[id] = cancel
	return true
}

// withWait returns ctx made cancellable by a CancelWait for id on c, and
// the function that ends the registration (and the context).
func (c *conn) withWait(ctx context.Context, id uint64) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	if !c.addWait(id, cancel) {
		cancel() // its CancelWait came first
		return ctx, cancel
	}
	return ctx, func() { c.delWait(id); cancel() }
}

func (c *conn) delWait(id uint64) {
	c.mu.Lock()
	delete(c.waits, id)
	c.mu.Unlock()
}

// cancelWait cancels the call tagged id, or remembers to when it arrives.
func (c *conn) cancelWait(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cancel, ok := c.waits[id]; ok {
		cancel()
		return
	}
	if c.cancelled == nil || len(c.cancelled) >= maxEarlyCancels {
		c.cancelled = map[uint64]struct{}{}
	}
	c.cancelled[id] = struct{}{}
}

// session is a connection's admission to one subvolume.
type session struct {
	c  *conn
	sv *subvol
	// handles maps the subvolume's handles opened on this connection to
	// what they refer to; guarded by c.mu.
	handles map[vfs.Handle]handleInfo
	// refused is the status error returned to every call when the
	// connection was refused access (auth), cached so that it is decided
	// and logged once per connection.
	refused error
}

type handleInfo struct {
	gfid vfs.GFID
	dir  bool
}

type connKey struct{}
type sessionKey struct{}

// enter registers an in-flight call; false when the connection is closing.
func (c *conn) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.inflight++
	return true
}

func (c *conn) leave() {
	c.mu.Lock()
	c.inflight--
	if c.closed && c.inflight == 0 {
		close(c.idle)
	}
	c.mu.Unlock()
}

// session returns the connection's admission to the named subvolume,
// deciding (and logging) it on first use.
func (s *Server) session(c *conn, name string) (*session, error) {
	c.mu.Lock()
	ss := c.sessions[name]
	c.mu.Unlock()
	if ss != nil {
		return ss, ss.refused
	}
	sv := s.subvols[name]
	if sv == nil {
		// Not cached: a client must not grow the map with made-up names.
		s.log.Warn("client asked for an unknown subvolume", "client", c.id, "subvolume", name)
		return nil, status.Errorf(codes.NotFound,
			"brick %s has no subvolume %q (check the client's remote-subvolume)", c.local, name)
	}
	ss = &session{c: c, sv: sv, handles: map[vfs.Handle]handleInfo{}}
	if reason := sv.authorize(c.ip, c.ipText); reason != "" {
		ss.refused = status.Errorf(codes.PermissionDenied,
			"brick %s refused connection from %s to subvolume %s: %s", c.local, c.ipText, name, reason)
		s.log.Warn("refused client", "client", c.id, "subvolume", name, "reason", reason)
	} else {
		s.log.Info("accepted client", "client", c.id, "subvolume", name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, status.Error(codes.Unavailable, "protocol/server: connection closing")
	}
	if old := c.sessions[name]; old != nil {
		return old, old.refused
	}
	c.sessions[name] = ss
	return ss, ss.refused
}

// staleHandle is the status of a call naming a handle this connection does
// not hold: the client reopens the file and retries.
func staleHandle(fh vfs.Handle) error {
	st := status.New(codes.FailedPrecondition, fmt.Sprintf("stale handle %d", uint64(fh)))
	if d, err := st.WithDetails(&brickpb.StaleHandle{Fh: uint64(fh)}); err == nil {
		st = d
	}
	return st.Err()
}

// Handle kinds a call may require.
const (
	wantFile = iota
	wantDir
	wantAny
)

// checkHandle verifies that fh (unless 0, the anonymous fd) was opened on
// this connection, for gfid, as the kind of handle wanted. An unknown
// handle is a status error (stale); a mismatch is EBADF.
func (ss *session) checkHandle(fh vfs.Handle, gfid vfs.GFID, want int) (syscall.Errno, error) {
	if fh == 0 {
		return 0, nil
	}
	ss.c.mu.Lock()
	h, ok := ss.handles[fh]
	ss.c.mu.Unlock()
	switch {
	case !ok:
		return 0, staleHandle(fh)
	case h.gfid != gfid, want == wantFile && h.dir, want == wantDir && !h.dir:
		return syscall.EBADF, nil
	}
	return 0, nil
}

func (ss *session) addHandle(fh vfs.Handle, gfid vfs.GFID, dir bool) {
	if fh == 0 {
		return
	}
	ss.c.mu.Lock()
	ss.handles[fh] = handleInfo{gfid: gfid, dir: dir}
	ss.c.mu.Unlock()
}

func (ss *session) delHandle(fh vfs.Handle) {
	ss.c.mu.Lock()
	delete(ss.handles, fh)
	ss.c.mu.Unlock()
}

// ReleaseClienter is implemented by subvolumes that keep per-client state
// (brick/locks): ReleaseClient drops everything held by the client id,
// which is the Caller.Client of that client's calls.
type ReleaseClienter interface {
	ReleaseClient(client string)
}

// closeConn runs when the transport ends: once the connection's in-flight
// calls have returned (their contexts are cancelled by then, so blocked lock
// waits end), it releases the handles it left open, lets the subvolumes drop
// its locks and calls OnDisconnect.
func (s *Server) closeConn(c *conn) {
	s.connMu.Lock()
	delete(s.conns, c)
	s.connMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if c.inflight == 0 {
		close(c.idle)
	}
	// Side connections end with their connection; closing them cancels
	// their calls (lock waits included), which lets inflight reach 0.
	for nc := range c.sides {
		nc.Close()
	}
	token := c.token
	c.mu.Unlock()
	if token != "" {
		s.connMu.Lock()
		delete(s.tokens, token)
		s.connMu.Unlock()
	}
	s.cleanups.Add(1)
	go func() {
		defer s.cleanups.Done()
		<-c.idle
		ctx := vfs.WithCaller(context.Background(), &vfs.Caller{Client: c.id})
		// Closed with no calls in flight: nothing adds sessions or
		// handles any more, but take them under the lock all the same.
		type open struct {
			ss *session
			fh vfs.Handle
			h  handleInfo
		}
		var sessions []*session
		var opens []open
		c.mu.Lock()
		for _, ss := range c.sessions {
			if ss.refused != nil {
				continue
			}
			sessions = append(sessions, ss)
			for fh, h := range ss.handles {
				opens = append(opens, open{ss, fh, h})
			}
			ss.handles = map[vfs.Handle]handleInfo{}
		}
		c.mu.Unlock()
		for _, o := range opens {
			if o.h.dir {
				o.ss.sv.xl.ReleaseDir(ctx, o.h.gfid, o.fh)
			} else {
				o.ss.sv.xl.Release(ctx, o.h.gfid, o.fh)
			}
		}
		for _, ss := range sessions {
			if r, ok := ss.sv.xl.(ReleaseClienter); ok {
				r.ReleaseClient(c.id)
			}
		}
		if len(sessions) > 0 {
			s.log.Info("client disconnected", "client", c.id, "released_handles", len(opens))
		} else {
			s.log.Debug("connection closed", "client", c.id)
		}
		if s.cfg.OnDisconnect != nil {
			s.cfg.OnDisconnect(c.id)
		}
	}()
}

// statsHandler gives every transport connection its conn and learns when it
// ends; gRPC offers no other per-connection hook on the server.
type statsHandler struct{ s *Server }

func (h statsHandler) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	c := h.s.newConn(info.RemoteAddr, info.LocalAddr)
	return context.WithValue(ctx, connKey{}, c)
}

func (h statsHandler) HandleConn(ctx context.Context, st stats.ConnStats) {
	if _, ok := st.(*stats.ConnEnd); ok {
		if c, ok := ctx.Value(connKey{}).(*conn); ok {
			h.s.closeConn(c)
		}
	}
}

func (statsHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (statsHandler) HandleRPC(context.Context, stats.RPCStats)                       {}

func (s *Server) newConn(remote, local net.Addr) *conn {
	ip, text := peerIP(remote)
	ls := "unknown"
	if local != nil {
		ls = local.String()
	}
	id := fmt.Sprintf("%s-%d", remote, s.connSeq.Add(1))
	s.log.Debug("connection", "client", id, "local", ls)
	c := &conn{
		id: id, remote: remote, local: ls, ip: ip, ipText: text,
		idle: make(chan struct{}), sessions: map[string]*session{},
	}
	s.connMu.Lock()
	s.conns[c] = struct{}{}
	s.connMu.Unlock()
	return c
}

// XattrClients is a virtual xattr of every subvolume's root: GetXattr
// returns the ids of the clients connected to the subvolume (and admitted),
// one per line, for `cairn status` (gluster volume status … clients).
const XattrClients = "trusted.cairn.brick.clients"

// clients lists the admitted, connected clients of a subvolume.
func (s *Server) clients(subvol string) []byte {
	s.connMu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.connMu.Unlock()
	var ids []string
	for _, c := range conns {
		c.mu.Lock()
		if ss := c.sessions[subvol]; ss != nil && ss.refused == nil && !c.closed {
			ids = append(ids, c.id)
		}
		c.mu.Unlock()
	}
	sort.Strings(ids)
	var b []byte
	for _, id := range ids {
		b = append(append(b, id...), '\n')
	}
	return b
}

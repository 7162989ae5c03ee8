package ninep

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hugelgupf/p9/p9"

	"github.com/cairnfs/cairn/gateway/internal/ident"
	"github.com/cairnfs/cairn/vfs"
)

// Export is one volume served over 9P.
type Export struct {
	// Name is the attach name ("aname") of the volume.
	Name string
	// FS is the top of the volume's translator stack.
	FS vfs.Translator
	// ReadOnly makes every modifying operation fail with EROFS.
	ReadOnly bool
}

// Config configures a Server.
type Config struct {
	Exports []Export
	// NoRootSquash lets uid 0 act as root; by default it is mapped to
	// AnonUID/AnonGID, as for NFS.
	NoRootSquash bool
	// AnonUID and AnonGID are used for squashed root and for attaches that
	// name no user; zero values mean 65534.
	AnonUID, AnonGID uint32
	// Logger receives connection-level errors; nil discards them.
	Logger *slog.Logger
	// LockWait bounds how long a blocking lock request (F_SETLKW) waits on
	// the server before answering "blocked"; the Linux client then retries
	// after its own timeout (30 s). Default 20 s.
	LockWait time.Duration
	// MaxMessageSize is the largest msize the server agrees to in
	// Tversion (a client asking for more gets this); 0 means
	// DefaultMaxMessageSize. At least MinMessageSize, at most 4 MiB.
	MaxMessageSize uint32
}

// DefaultMaxMessageSize is the msize the server offers a client that asks
// for more: the Linux TCP transport's own limit. Smaller is steadier in a
// QEMU guest under TCG, where the kernel client at 1 MiB falls, file by
// file, into a slow mode (writes 20 vs 33 MiB/s, reads 27 vs 64) that
// 256 KiB mostly avoids, but 1 MiB was as fast or faster on average there
// (bench-like runs: writes 13.9 vs 13.7 MiB/s, reads 16.9 vs 16.5) and is
// what the client asks for. See docs/NOTES.md, twenty-third session.
const DefaultMaxMessageSize = 1 << 20

// MinMessageSize is the smallest MaxMessageSize accepted: a Linux client
// needs room for a 4 KiB page and the I/O header.
const MinMessageSize = 8 << 10

// Server is a 9P2000.L server for one or more volumes.
type Server struct {
	cfg     Config
	log     *slog.Logger
	squash  ident.Squash
	exports []*export
	byName  map[string]*export
	ctx     context.Context
	cancel  context.CancelFunc
	connSeq atomic.Uint64

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

type export struct {
	name string
	fs   vfs.Translator
	ro   bool
}

// New validates cfg and returns a Server; call Serve to accept clients.
func New(cfg Config) (*Server, error) {
	if len(cfg.Exports) == 0 {
		return nil, errors.New("ninep: no exports")
	}
	if cfg.AnonUID == 0 {
		cfg.AnonUID = ident.Nobody
	}
	if cfg.AnonGID == 0 {
		cfg.AnonGID = ident.Nobody
	}
	if cfg.LockWait <= 0 {
		cfg.LockWait = 20 * time.Second
	}
	switch {
	case cfg.MaxMessageSize == 0:
		cfg.MaxMessageSize = DefaultMaxMessageSize
	case cfg.MaxMessageSize < MinMessageSize || cfg.MaxMessageSize > MaxMessageSizeLimit:
		return nil, fmt.Errorf("ninep: message size %d out of range (%d to %d bytes)", cfg.MaxMessageSize, MinMessageSize, MaxMessageSizeLimit)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:       cfg,
		log:       log,
		squash:    ident.Squash{Root: !cfg.NoRootSquash, AnonUID: cfg.AnonUID, AnonGID: cfg.AnonGID},
		byName:    map[string]*export{},
		listeners: map[net.Listener]struct{}{},
		conns:     map[net.Conn]struct{}{},
	}
	for _, e := range cfg.Exports {
		if e.Name == "" || strings.ContainsAny(e.Name, "/\x00") {
			return nil, fmt.Errorf("ninep: bad export name %q", e.Name)
		}
		if e.FS == nil {
			return nil, fmt.Errorf("ninep: export %q has no volume", e.Name)
		}
		if s.byName[e.Name] != nil {
			return nil, fmt.Errorf("ninep: duplicate export %q", e.Name)
		}
		ex := &export{name: e.Name, fs: e.FS, ro: e.ReadOnly}
		s.exports = append(s.exports, ex)
		s.byName[e.Name] = ex
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Serve accepts connections on l until l fails or the server is closed.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return net.ErrClosed
			}
			return err
		}
		delay = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return net.ErrClosed
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(nc)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
		}()
	}
}

// Close stops the listeners and drops every connection (their fids are
// clunked and their locks released).
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// conn is the state of one client connection. p9's Attacher interface
// gives Attach no arguments, so the connection's reader (sniffer) decodes
// each Tattach on its way to p9 and queues its user and attach name for
// the Attach call that the message causes. p9.Server keeps a single
// attacher, hence one p9.Server per connection.
type conn struct {
	srv     *Server
	id      uint64
	client  string
	attachQ chan attachInfo

	mu    sync.Mutex
	locks map[lockKey]struct{} // locks taken through this connection
}

type lockKey struct {
	ex    *export
	gfid  vfs.GFID
	owner uint64
	cl    string
}

type attachInfo struct {
	uname, aname string
	uid          uint32
}

func (s *Server) serveConn(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := &conn{
		srv:     s,
		id:      s.connSeq.Add(1),
		attachQ: make(chan attachInfo, 1),
		locks:   map[lockKey]struct{}{},
	}
	c.client = fmt.Sprintf("9p:%s#%d", nc.RemoteAddr(), c.id)
	ps := p9.NewServer(c)
	sn := &sniffer{br: bufio.NewReaderSize(nc, 64<<10), nc: nc, c: c, maxMsize: s.cfg.MaxMessageSize}
	func() {
		// Safety net for the race described at sniffer.Read: the panic
		// happens in this goroutine, after the connection is done.
		defer func() {
			if p := recover(); p != nil {
				s.log.Warn("ninep: p9 connection teardown", "client", c.client, "panic", p)
			}
		}()
		if err := ps.Handle(sn, nc); err != nil {
			s.log.Debug("ninep: connection", "client", c.client, "err", err)
		}
	}()
	c.releaseLocks()
}

// Attach implements p9.Attacher: it returns the root of the export the
// queued Tattach names, acting as the user it names.
func (c *conn) Attach() (p9.File, error) {
	var ai attachInfo
	select {
	case ai = <-c.attachQ:
	default:
		ai = attachInfo{uid: uint32(p9.NoUID)}
	}
	caller := c.identity(ai)
	name := strings.Trim(ai.aname, "/")
	if name == "" {
		if len(c.srv.exports) != 1 {
			return &exportsDir{c: c, caller: caller}, nil
		}
		return newRoot(c, c.srv.exports[0], caller)
	}
	// p9 walks the attach name from what Attach returns, one component
	// at a time: a directory whose children are the exports.
	return &exportsDir{c: c, caller: caller}, nil
}

// identity maps an attach's numeric uid (or, without one, its user
// name) to a caller. The primary group and supplementary groups come from
// the gateway host's user database when it knows the uid; otherwise the
// caller has the anonymous gid and no groups. Files are created with the
// gid each create request carries, whatever this says.
func (c *conn) identity(ai attachInfo) *vfs.Caller {
	uid := ai.uid
	if uid == uint32(p9.NoUID) {
		if ai.uname == "" {
			return c.srv.squash.Anonymous(c.client)
		}
		u, err := user.Lookup(ai.uname)
		if err != nil {
			return c.srv.squash.Anonymous(c.client)
		}
		v, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			return c.srv.squash.Anonymous(c.client)
		}
		uid = uint32(v)
	}
	gid := c.srv.cfg.AnonGID
	var groups []uint32
	if uid == 0 {
		gid = 0
	} else if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		if v, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
			gid = uint32(v)
		}
		if ids, err := u.GroupIds(); err == nil {
			for _, g := range ids {
				if v, err := strconv.ParseUint(g, 10, 32); err == nil {
					groups = append(groups, uint32(v))
				}
			}
		}
	}
	return c.srv.squash.Map(uid, gid, groups, c.client)
}

// releaseLocks drops every lock taken through the connection: a client
// that disconnects (or crashes) must not leave locks behind.
func (c *conn) releaseLocks() {
	c.mu.Lock()
	held := c.locks
	c.locks = map[lockKey]struct{}{}
	c.mu.Unlock()
	ctx := vfs.WithCaller(context.Background(), &vfs.Caller{Client: c.client})
	for k := range held {
		lctx := vfs.WithCaller(ctx, &vfs.Caller{Client: k.cl})
		_ = k.ex.fs.SetLk(lctx, k.gfid, 0, vfs.PosixLock,
			vfs.Lock{Type: vfs.Unlock, Start: 0, End: vfs.LockEOF, Owner: k.owner}, false)
	}
}

func (c *conn) noteLock(k lockKey, held bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if held {
		c.locks[k] = struct{}{}
	}
}

// 9P message types the sniffer decodes.
const (
	msgTversion = 100
	msgTattach  = 104
	noFID       = ^uint32(0)
)

// MaxMessageSizeLimit is the largest MaxMessageSize: p9's own limit on
// msize (its maximumLength).
const MaxMessageSizeLimit = 4 << 20

// sniffer passes the client's bytes to p9, decoding the Tattach messages
// on the way (see conn) and lowering the msize a Tversion asks for to
// maxMsize (p9 has no option for it; 0: unchanged). Nothing else changes.
type sniffer struct {
	br       *bufio.Reader
	nc       net.Conn
	c        *conn
	maxMsize uint32
	pending  []byte // bytes to hand out before reading more
	body     int    // bytes of the current message still to stream
	failed   bool
}

func (s *sniffer) Read(p []byte) (int, error) {
	n, err := s.read(p)
	if err != nil && !s.failed {
		// p9's Server.Handle races with itself when a connection ends:
		// each received message may start a receiving goroutine that calls
		// pendingWg.Add only when it gets to run, while the goroutine that
		// sees the end of the stream goes on to pendingWg.Wait, which
		// panics ("WaitGroup is reused") if that Add comes in between.
		// Holding the error back a moment lets every such goroutine reach
		// its Add first (it then blocks on the receive mutex this call
		// holds).
		s.failed = true
		time.Sleep(endOfStreamDelay)
	}
	return n, err
}

// endOfStreamDelay is how long the sniffer holds back the end of a
// connection's stream (see Read).
const endOfStreamDelay = 50 * time.Millisecond

func (s *sniffer) read(p []byte) (int, error) {
	if len(s.pending) > 0 {
		n := copy(p, s.pending)
		s.pending = s.pending[n:]
		return n, nil
	}
	if s.body > 0 {
		n, err := s.br.Read(p[:min(len(p), s.body)])
		s.body -= n
		return n, err
	}
	var hdr [7]byte
	if _, err := io.ReadFull(s.br, hdr[:]); err != nil {
		return 0, err
	}
	size := binary.LittleEndian.Uint32(hdr[:4])
	body := 0
	if size > 7 {
		body = int(size - 7)
	}
	tversion := hdr[4] == msgTversion && s.maxMsize > 0 && body >= 4
	if (tversion || hdr[4] == msgTattach) && body <= 16<<10 {
		// A small message the sniffer decodes: read it whole.
		msg := make([]byte, 7+body)
		copy(msg, hdr[:])
		if _, err := io.ReadFull(s.br, msg[7:]); err != nil {
			return 0, err
		}
		if tversion && binary.LittleEndian.Uint32(msg[7:]) > s.maxMsize {
			binary.LittleEndian.PutUint32(msg[7:], s.maxMsize)
		}
		if hdr[4] == msgTattach {
			if ai, ok := parseTattach(msg[7:]); ok {
				s.c.queueAttach(ai)
			}
		}
		s.pending = msg
	} else {
		s.pending = append([]byte(nil), hdr[:]...)
		s.body = body
	}
	return s.read(p)
}

func (s *sniffer) Close() error { return s.nc.Close() }

// queueAttach hands an attach's identity to the Attach call it causes.
// The queue holds one entry, so the reader waits until the previous
// Tattach has reached Attach, keeping them in order; an entry that no
// Attach took (the message failed earlier in p9) is dropped after a while.
func (c *conn) queueAttach(ai attachInfo) {
	for {
		select {
		case c.attachQ <- ai:
			return
		case <-time.After(2 * time.Second):
			select {
			case <-c.attachQ:
			default:
			}
		}
	}
}

// parseTattach decodes fid[4] afid[4] uname[s] aname[s] n_uname[4].
func parseTattach(b []byte) (attachInfo, bool) {
	var ai attachInfo
	if len(b) < 8 {
		return ai, false
	}
	afid := binary.LittleEndian.Uint32(b[4:8])
	b = b[8:]
	str := func() (string, bool) {
		if len(b) < 2 {
			return "", false
		}
		n := int(binary.LittleEndian.Uint16(b))
		if len(b) < 2+n {
			return "", false
		}
		v := string(b[2 : 2+n])
		b = b[2+n:]
		return v, true
	}
	var ok bool
	if ai.uname, ok = str(); !ok {
		return ai, false
	}
	if ai.aname, ok = str(); !ok {
		return ai, false
	}
	if len(b) < 4 {
		return ai, false
	}
	ai.uid = binary.LittleEndian.Uint32(b)
	// p9 refuses attaches with an authentication fid before calling
	// Attach; those must not be queued.
	return ai, afid == noFID
}

// Package client is cairn's protocol/client translator: the bottom of a
// client-side stack, it sends every vfs.Translator operation over gRPC to
// one subvolume of one brick (package brick/server), as GlusterFS's
// protocol/client does.
//
// # Liveness (ping-timeout)
//
// The client pings the brick every PingTimeout/3 (GlusterFS's
// network.ping-timeout, default 42s). When nothing has come back from the
// brick for PingTimeout (a SIGSTOPped brick, a silent network), the brick
// is declared down: every call in flight fails at once with ENOTCONN, the
// connection is replaced, and new calls fail fast with ENOTCONN until a
// ping is answered again. A brick whose process is gone is noticed at once
// (the connection breaks), with the same effect. While down the client
// keeps probing, at least every 500ms, and reconnects within about two
// seconds of the brick coming back (gRPC backoff capped at 2s). Up reports
// the state and OnStateChange notifies transitions, for cluster/replicate
// (GlusterFS's CHILD_UP/CHILD_DOWN); WaitConnect waits for the first verdict.
//
// # Errors
//
// Operations return the brick's errno unchanged. Transport failures
// (unavailable, CallTimeout exceeded, brick declared down, client closed)
// are ENOTCONN; a call whose own context ends (cancelled, or past the
// caller's deadline) is EINTR. If the brick refuses this client (auth.addr
// rules, see brick/server) calls fail with EACCES, and Err returns the
// brick's explanation ("brick 127.0.0.1:7000 refused connection from
// 127.0.0.2 to subvolume X: not allowed by auth.addr.X.allow"), which is
// also logged; an unknown remote-subvolume gives ENOTCONN with an
// explanation the same way.
//
// A lock request that waits (SetLk, InodeLk, EntryLk with wait, or a
// compound holding one) is not abandoned when its context ends: the client
// asks the brick to cancel the wait (the CancelWait RPC) and returns the
// brick's verdict, EINTR, or success if the lock was granted first. So a
// cancelled wait never leaves a lock on the brick that the caller does not
// know it holds. Such requests are not bounded by CallTimeout.
//
// # Handles
//
// Handles returned by Create, Open and OpenDir are the client's own; it maps
// them to the brick's. The brick forgets a connection's handles when the
// connection ends (brick restart, ping timeout); the next call on such a
// handle is answered "stale", and the client reopens the file by GFID (with
// the original flags minus O_CREAT|O_EXCL|O_TRUNC) and retries once, as
// GlusterFS reopens fds after a reconnect. If the file cannot be reopened
// the call fails with EBADF. Locks held through the old connection are
// lost, as in GlusterFS.
//
// # Compound operations
//
// Client implements compound.Compounder (package protocol/compound): a
// batch of operations, for example replicate's pre-op xattrop + write +
// post-op xattrop, travels in one round trip and is executed in order on
// the brick, stopping at the first failure. Use compound.Run(ctx, child,
// ops), which falls back to one call per operation for children that are
// not Compounders.
//
// # Change reports
//
// Client implements vfs.ChangeWatcher (GlusterFS's upcall cache
// invalidation): after WatchChanges it subscribes on its channel to the
// changes other clients make on the brick, again after every reconnect,
// and reports a Change with All set whenever a subscription ends or
// begins, since changes in between went unreported (see upcall.go).
//
// Large reads and writes are split into protocol.MaxIOSize (1 MiB) chunks.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
)

// Config configures a Client; the fields are protocol/client's volfile
// options.
type Config struct {
	// RemoteHost and RemotePort locate the brick (remote-host,
	// remote-port; the port defaults to protocol.DefaultPort, 6996).
	RemoteHost string
	RemotePort int
	// RemoteSubvolume names the brick's exported subvolume
	// (remote-subvolume).
	RemoteSubvolume string
	// PingTimeout is GlusterFS's ping-timeout: how long the brick may stay
	// silent before it is declared down. Default 42s.
	PingTimeout time.Duration
	// CallTimeout bounds each call (GlusterFS's frame-timeout), except lock
	// requests that wait. Default 1800s; negative means no bound.
	CallTimeout time.Duration
	// LocalAddr, if set, is the source IP address of the connection (for
	// hosts with several addresses, and for tests of auth rules).
	LocalAddr string
	// FilterODirect drops O_DIRECT from the flags of opens and creates
	// sent to the brick (GlusterFS option filter-O_DIRECT, volume option
	// network.remote-dio): the application's O_DIRECT still bypasses the
	// client's caches, but the brick reads and writes through its page
	// cache, as an NFS server does. Off by default, as in GlusterFS.
	FilterODirect bool
	// LocalRead reads files through descriptors the brick hands over when
	// it runs on this host (localfd.go; option local-read), instead of
	// having the brick send the data.
	LocalRead bool
	// LocalChannel opens the side connection on the brick's abstract Unix
	// socket when the brick names one that this host has (channel.go;
	// option local-channel), instead of on its TCP port: the same calls
	// for less than half the CPU per byte.
	LocalChannel bool
	// Name identifies the translator in logs (its volfile name).
	Name string
	// Logger receives state changes; nil discards them.
	Logger *slog.Logger

	// sideDialControl, for tests, vets each side connection's socket
	// before it connects (net.Dialer.Control); an error fails that dial.
	sideDialControl func(network, address string, c syscall.RawConn) error
}

const (
	defaultPingTimeout = 42 * time.Second
	defaultCallTimeout = 1800 * time.Second
	// maxDownProbe is the longest pause between probes of a down brick.
	maxDownProbe = 500 * time.Millisecond
	// maxPingsInFlight bounds the pings outstanding to a silent brick.
	maxPingsInFlight = 3
)

// Transport tuning (see bench_test.go).
const (
	ioBufferSize = 512 << 10
	streamWindow = 8 << 20
	connWindow   = 16 << 20
)

// Brick states.
const (
	stateUnknown int32 = iota // no ping answered or failed yet
	stateUp
	stateDown
	stateRefused // the brick refuses this client (auth, unknown subvolume)
	stateClosed
)

// Client is the protocol/client translator. Create it with New; it is safe
// for concurrent use.
type Client struct {
	cfg      Config
	log      *slog.Logger
	addr     string
	dialOpts []grpc.DialOption
	dialer   *net.Dialer // side connections (channel.go)

	state   atomic.Int32
	ep      atomic.Pointer[epoch]
	lastAck atomic.Int64 // unix nanoseconds of the last reply from the brick
	connErr atomic.Pointer[error]

	kickCh    chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
	firstDone chan struct{}
	firstOnce sync.Once
	monDone   chan struct{} // closed when the monitor, the only writer of ep, has exited
	wg        sync.WaitGroup

	hookMu sync.Mutex
	hooks  []func(up bool)

	waitSeq atomic.Uint64 // ids of calls that may wait (protocol.MDWaitID)
	// rawBulk says the newest channel is a side connection with raw
	// payloads: bulk reads and writes then go there (channel.go).
	rawBulk atomic.Bool

	hmu     sync.RWMutex
	handles map[vfs.Handle]*openFile
	nextFh  vfs.Handle

	// Change reports (upcall.go). watchFn is the watcher; liveCh the
	// channel whose subscription the brick accepted, while it lasts.
	watchFn     atomic.Pointer[func(vfs.Change)]
	liveCh      atomic.Pointer[channel]
	subKick     chan struct{}
	watchMu     sync.Mutex
	watching    bool // the subscriber goroutine runs
	watchClosed bool // Close began: no goroutine may start
}

// epoch is one period of trust in one gRPC connection: its context is
// cancelled when the brick is declared down, which fails every call that
// was started under it.
type epoch struct {
	conn   *grpc.ClientConn
	rpc    brickpb.BrickClient
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   context.CancelFunc // stops the connection's state watcher

	chMu sync.Mutex
	ch   *channel // compound calls' stream, opened on first use

	// local is the epoch's local read descriptors (localfd.go), set
	// when a side connection learns the brick's local socket.
	local atomic.Pointer[localFDs]
}

var (
	errBrickDown = errors.New("brick declared down")
	errClosed    = errors.New("client closed")
)

// New creates a client and starts connecting and pinging in the background;
// it does not wait for the brick (see WaitConnect).
// Config returns the configuration the client was built with (defaults
// filled in).
func (c *Client) Config() Config { return c.cfg }

func New(cfg Config) (*Client, error) {
	if cfg.RemoteHost == "" {
		return nil, errors.New("protocol/client: remote-host is required")
	}
	if cfg.RemoteSubvolume == "" {
		return nil, errors.New("protocol/client: remote-subvolume is required")
	}
	if cfg.RemotePort == 0 {
		cfg.RemotePort = protocol.DefaultPort
	}
	if cfg.RemotePort < 0 || cfg.RemotePort > 65535 {
		return nil, fmt.Errorf("protocol/client: remote-port %d out of range", cfg.RemotePort)
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = defaultPingTimeout
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = defaultCallTimeout
	}
	var local net.Addr
	if cfg.LocalAddr != "" {
		ip := net.ParseIP(cfg.LocalAddr)
		if ip == nil {
			return nil, fmt.Errorf("protocol/client: local address %q is not an IP address", cfg.LocalAddr)
		}
		local = &net.TCPAddr{IP: ip}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	addr := net.JoinHostPort(cfg.RemoteHost, strconv.Itoa(cfg.RemotePort))
	log = log.With("xlator", cfg.Name, "brick", addr, "subvolume", cfg.RemoteSubvolume)
	c := &Client{
		cfg:       cfg,
		log:       log,
		addr:      addr,
		dialOpts:  dialOptions(local, cfg.PingTimeout),
		dialer:    &net.Dialer{LocalAddr: local, Control: cfg.sideDialControl},
		kickCh:    make(chan struct{}, 1),
		closed:    make(chan struct{}),
		firstDone: make(chan struct{}),
		monDone:   make(chan struct{}),
		handles:   map[vfs.Handle]*openFile{},
		subKick:   make(chan struct{}, 1),
	}
	ep, err := c.newEpoch(nil)
	if err != nil {
		return nil, err
	}
	c.ep.Store(ep)
	go c.monitor()
	return c, nil
}

// dialOptions are the gRPC options of every connection to a brick.
func dialOptions(local net.Addr, pingTimeout time.Duration) []grpc.DialOption {
	connectTimeout := min(pingTimeout, 20*time.Second)
	dialer := &net.Dialer{LocalAddr: local}
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", addr)
		}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  100 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   2 * time.Second,
			},
			MinConnectTimeout: connectTimeout,
		}),
		grpc.WithReadBufferSize(ioBufferSize),
		grpc.WithWriteBufferSize(ioBufferSize),
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(connWindow),
		grpc.WithDefaultCallOptions(
			grpc.ForceCodecV2(codec{}),
			grpc.MaxCallRecvMsgSize(protocol.MaxMessageSize),
			grpc.MaxCallSendMsgSize(protocol.MaxMessageSize),
		),
	}
}

// newEpoch starts a period of trust: on conn when given, else on a new
// connection.
func (c *Client) newEpoch(conn *grpc.ClientConn) (*epoch, error) {
	if conn == nil {
		// passthrough: the dialer resolves the host at each connection
		// attempt, so a brick that moved is found again.
		var err error
		conn, err = grpc.NewClient("passthrough:///"+c.addr, c.dialOpts...)
		if err != nil {
			return nil, fmt.Errorf("protocol/client %s: %w", c.addr, err)
		}
		wctx, stop := context.WithCancel(context.Background())
		c.wg.Add(1)
		go c.watch(wctx, conn)
		ep := &epoch{conn: conn, rpc: brickpb.NewBrickClient(conn), stop: stop}
		ep.ctx, ep.cancel = context.WithCancelCause(context.Background())
		return ep, nil
	}
	old := c.ep.Load()
	ep := &epoch{conn: conn, rpc: old.rpc, stop: old.stop}
	ep.ctx, ep.cancel = context.WithCancelCause(context.Background())
	return ep, nil
}

// Close stops pinging, fails calls in flight with ENOTCONN and closes the
// connection.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.watchMu.Lock()
		c.watchClosed = true // WatchChanges starts no goroutine after Wait
		c.watchMu.Unlock()
		c.state.Store(stateClosed)
		close(c.closed)
		<-c.monDone
		ep := c.ep.Load()
		ep.cancel(errClosed)
		// A channel being opened (Client.channel, under chMu) may have
		// checked the epoch just before it was cancelled: let it finish
		// its wg.Add before Wait below. Later ones see the cancellation.
		ep.chMu.Lock()
		ep.chMu.Unlock()
		ep.stop()
		ep.conn.Close()
		c.firstOnce.Do(func() { close(c.firstDone) })
	})
	c.wg.Wait()
	return nil
}

// Up reports whether the brick answered the last ping (and accepts us).
func (c *Client) Up() bool { return c.state.Load() == stateUp }

// OnStateChange registers fn to be called, from the client's monitor
// goroutine, each time the brick goes up or down, including the first
// verdict after New. fn must not block. Call Up after registering to learn
// a state reached before.
func (c *Client) OnStateChange(fn func(up bool)) {
	c.hookMu.Lock()
	c.hooks = append(c.hooks, fn)
	c.hookMu.Unlock()
}

// Err explains why the brick is not usable: nil while it is up or not yet
// tried; an error wrapping EACCES (refused by auth) or ENOTCONN (down,
// unknown subvolume) otherwise, with the brick's message.
func (c *Client) Err() error {
	if c.state.Load() == stateUp {
		return nil
	}
	if p := c.connErr.Load(); p != nil {
		return *p
	}
	return nil
}

// WaitConnect waits for the first ping verdict (or ctx) and returns Err.
// Mounts use it to fail early with the brick's explanation.
func (c *Client) WaitConnect(ctx context.Context) error {
	select {
	case <-c.firstDone:
	case <-ctx.Done():
		return fmt.Errorf("protocol/client %s: %w (%v)", c.addr, syscall.ENOTCONN, ctx.Err())
	}
	return c.Err()
}

// Addr returns the brick's host:port.
func (c *Client) Addr() string { return c.addr }

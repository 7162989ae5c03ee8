// Package server is cairn's protocol/server: it exports brick-side
// translator stacks (subvolumes, typically locks → posix) over the gRPC
// brick protocol of package protocol, to protocol/client translators
// (package vfs/client) on clients.
//
// Every call names its subvolume in the "cairn-subvol" metadata key (the
// client's remote-subvolume option). The server admits a connection to a
// subvolume once, on its first call, by the peer's address and the
// subvolume's AuthRules (GlusterFS auth.addr semantics, see AuthRules); a
// refusal is a PERMISSION_DENIED status whose message says which brick
// refused whom and why, for the client to show. GetVolfile needs neither a
// subvolume nor auth, like GlusterFS's getspec.
//
// The caller's uid, gid, pid and groups arrive in "cairn-caller" metadata
// and are trusted, as GlusterFS trusts its clients' credentials; the server
// sets Caller.Client to an id of the transport connection, so locks are
// owned per connection. Handles are per connection too: a call may only use
// handles opened on its own connection (another one's, or one from before a
// reconnect, is reported stale so the client reopens). When a connection
// ends, its handles are released, subvolumes implementing ReleaseClienter
// drop its locks, and Config.OnDisconnect is called.
//
// A client may subscribe on its Channel to the changes the other clients
// make to the subvolume (upcall cache invalidation, see upcall.go): every
// successful modifying operation is then reported to it, unless it came
// through the subscriber's own connection.
//
// Every request is validated before a translator sees it: GFIDs are 16
// bytes, names pass vfs.CheckName, sizes and counts are bounded by the
// protocol limits, and handles belong to the connection. Invalid requests
// get EINVAL (or EBADF for handle misuse) in the reply's errno.
package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairnfs/cairn/internal/hugebuf"
	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Config configures a Server.
type Config struct {
	// Subvolumes are the exported translator stacks by name (the volfile
	// names of protocol/server's subvolumes).
	Subvolumes map[string]vfs.Translator
	// Auth holds the address rules of each subvolume; a subvolume without
	// an Allow rule refuses every client (see AuthRules).
	Auth map[string]AuthRules
	// Volfiles maps a name to the path of a client volfile served by
	// GetVolfile (option volume-filename.<name>). The file is read on each
	// request, so edits are served without a restart.
	Volfiles map[string]string
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// OnDisconnect, if set, is called with a client id (the Caller.Client
	// of its calls) after its connection ended and its handles and locks
	// were released.
	OnDisconnect func(client string)
	// KeepaliveTime and KeepaliveTimeout make the server probe idle
	// clients with HTTP/2 pings, so that a vanished client (host down, no
	// RST) is noticed and its locks released; defaults 20s and 20s.
	KeepaliveTime    time.Duration
	KeepaliveTimeout time.Duration
	// LocalReadFDs lets clients on this host fetch read-only descriptors
	// of files and read them without the brick (protocol/localfd.go;
	// option local-read-fds).
	LocalReadFDs bool
	// LocalChannels lets clients on this host open their side
	// connections on an abstract Unix socket instead of the TCP port
	// (localchannel.go; option local-channels).
	LocalChannels bool
}

// Transport tuning, shared with vfs/client's values: see the benchmarks
// in vfs/client.
const (
	ioBufferSize = 512 << 10
	streamWindow = 8 << 20
	connWindow   = 16 << 20
)

// hugeBufs is how many MaxIOSize buffers come from the huge-page mapping
// (32 MiB of address space; only the pages buffers touch are memory).
// Beyond them buffers come from the heap: enough for the writes in flight
// from a few clients' write-behind windows. Only writes of hugeWriteMin
// bytes or more arrive in them: storage/posix writes those with O_DIRECT
// (o-direct-min-size, 256 KB by default), smaller ones through the page
// cache.
const (
	hugeBufs     = 32
	hugeWriteMin = 128 << 10
)

// Server serves the brick protocol. Create it with New, then call Serve.
type Server struct {
	cfg     Config
	log     *slog.Logger
	subvols map[string]*subvol
	grpc    *grpc.Server
	connSeq atomic.Uint64
	connMu  sync.Mutex
	conns   map[*conn]struct{}
	tokens  map[string]*conn // side-connection tokens (ChannelToken); under connMu
	// local is the local descriptor socket (localfd.go) and localName its
	// abstract name; nil and "" when there is none.
	// localCh and localChName are the same for the local side-connection
	// socket (localchannel.go).
	localMu     sync.Mutex
	local       *net.UnixListener
	localName   string
	localCh     *net.UnixListener
	localChName string
	cleanups    sync.WaitGroup
	// bufs holds the MaxIOSize buffers requests' data arrives in and
	// reads are read into; large writes get huge-page backed ones, so
	// that a write the brick makes with O_DIRECT goes to the disk as one
	// request (getWriteBuf, hugebuf).
	bufs *hugebuf.Pool
	// changeQueue bounds each subscriber's queue of changes (upcall.go);
	// tests make it small.
	changeQueue int

	// Channel calls run on long-lived workers (see dispatch).
	workOnce    sync.Once
	work        chan func()
	workersDone chan struct{}
	stopOnce    sync.Once
}

type subvol struct {
	name   string
	xl     vfs.Translator
	allow  []matcher
	reject []matcher

	// subs are the channels subscribed to changes (upcall.go); nsubs
	// lets operations skip the lock when there are none.
	subMu sync.RWMutex
	subs  map[*subscriber]struct{}
	nsubs atomic.Int32
}

// New checks cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if len(cfg.Subvolumes) == 0 {
		return nil, errors.New("protocol/server: no subvolumes to export")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{cfg: cfg, log: log, subvols: map[string]*subvol{}, conns: map[*conn]struct{}{},
		changeQueue: defaultChangeQueue}
	s.bufs = hugebuf.New(protocol.MaxIOSize, hugeBufs)
	for name, xl := range cfg.Subvolumes {
		if name == "" || xl == nil {
			return nil, fmt.Errorf("protocol/server: subvolume %q: empty name or nil translator", name)
		}
		s.subvols[name] = &subvol{name: name, xl: xl}
	}
	for name, r := range cfg.Auth {
		sv := s.subvols[name]
		if sv == nil {
			return nil, fmt.Errorf("protocol/server: auth.addr.%s.*: no subvolume %q is exported", name, name)
		}
		var err error
		if sv.allow, err = compilePatterns("auth.addr."+name+".allow", r.Allow); err != nil {
			return nil, err
		}
		if sv.reject, err = compilePatterns("auth.addr."+name+".reject", r.Reject); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(s.subvols))
	for name := range s.subvols {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if len(s.subvols[name].allow) == 0 {
			log.Warn("subvolume has no auth.addr.<subvolume>.allow option: every client will be refused",
				"subvolume", name)
		}
	}
	kt, kto := cfg.KeepaliveTime, cfg.KeepaliveTimeout
	if kt <= 0 {
		kt = 20 * time.Second
	}
	if kto <= 0 {
		kto = 20 * time.Second
	}
	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(protocol.MaxMessageSize),
		grpc.MaxSendMsgSize(protocol.MaxMessageSize),
		grpc.StatsHandler(statsHandler{s}),
		grpc.UnaryInterceptor(s.intercept),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: kt, Timeout: kto}),
		// Clients ping with the Ping RPC, not HTTP/2 pings, but allow
		// those too rather than GOAWAY a client that enables them.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
		grpc.ForceServerCodecV2(&codec{s: s}),
		// Reuse handler goroutines (whose stacks have already grown)
		// instead of starting one per call; when all are busy, for
		// example in lock waits, gRPC starts extra goroutines anyway.
		grpc.ReadBufferSize(ioBufferSize),
		grpc.WriteBufferSize(ioBufferSize),
		grpc.InitialWindowSize(streamWindow),
		grpc.InitialConnWindowSize(connWindow),
		grpc.NumStreamWorkers(uint32(max(4, runtime.NumCPU()))),
	)
	brickpb.RegisterBrickServer(s.grpc, &service{s: s})
	return s, nil
}

// Serve accepts connections on lis until Stop or GracefulStop.
func (s *Server) Serve(lis net.Listener) error {
	s.log.Info("brick serving", "addr", lis.Addr().String())
	if s.cfg.LocalReadFDs {
		if err := s.listenLocal(); err != nil {
			// Local clients read over the network instead.
			s.log.Warn("no local descriptor socket", "err", err)
		} else {
			defer s.closeLocal()
		}
	}
	if s.cfg.LocalChannels {
		if err := s.listenLocalChannel(); err != nil {
			// Local clients open side connections on the port instead.
			s.log.Warn("no local channel socket", "err", err)
		} else {
			defer s.closeLocal()
		}
	}
	// The port also takes side connections (protocol/fastpath.go).
	return s.grpc.Serve(s.newDemux(lis))
}

// Stop closes every connection, cancelling calls in flight, and returns
// once the disconnected clients' handles and locks have been released.
func (s *Server) Stop() {
	s.closeLocal()
	s.grpc.Stop()
	s.cleanups.Wait()
	s.stopWorkers()
}

// GracefulStop stops accepting connections, waits for calls in flight
// (blocked lock waits included), then closes and cleans up as Stop.
func (s *Server) GracefulStop() {
	s.closeLocal()
	s.grpc.GracefulStop()
	s.cleanups.Wait()
	s.stopWorkers()
}

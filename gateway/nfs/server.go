package nfs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	gonfs "github.com/willscott/go-nfs"

	"github.com/cairnfs/cairn/gateway/internal/ident"
	"github.com/cairnfs/cairn/vfs"
)

// Export is one volume served by the gateway.
type Export struct {
	// Name is the volume name; clients mount "/Name" (or "/" when the
	// server has a single export).
	Name string
	// FS is the top of the volume's translator stack.
	FS vfs.Translator
	// ReadOnly makes every modifying procedure fail with NFS3ERR_ROFS.
	ReadOnly bool
	// ID identifies the volume in file handles; zero means
	// VolumeIDOf(Name).
	ID VolumeID
}

// Config configures a Server.
type Config struct {
	Exports []Export
	// NoRootSquash lets uid 0 act as root. By default uid/gid 0 are
	// mapped to AnonUID/AnonGID, as NFS servers do.
	NoRootSquash bool
	// AnonUID and AnonGID are used for squashed root and for AUTH_NULL
	// calls; zero values mean 65534.
	AnonUID, AnonGID uint32
	// Logger receives connection-level errors; nil discards them.
	Logger *slog.Logger
	// MaxInflight bounds the calls one connection may have in progress
	// (default 32). The connection's reader stops when it is reached.
	MaxInflight int
	// GoNFSProcs lists NFSv3 procedure numbers that are handed to go-nfs
	// (through the billy adapter) instead of cairn's own implementation.
	// It exists to test the adapter; see the package doc for what go-nfs
	// gets wrong in each procedure.
	GoNFSProcs []uint32
	// OpenIdle is how long an open handle the gateway keeps for READ and
	// WRITE stays unused before it is released (default 5 s).
	OpenIdle time.Duration
}

// Server is an NFSv3 + MOUNT server for one or more volumes.
type Server struct {
	cfg     Config
	log     *slog.Logger
	squash  ident.Squash
	exports []*export
	byID    map[VolumeID]*export
	// verf is the write verifier: it changes with every Server, so a
	// client resends UNSTABLE writes it has not committed when the
	// gateway restarts.
	verf   [8]byte
	gonfs  map[uint32]bool
	opens  *openCache
	ctx    context.Context
	cancel context.CancelFunc

	goServer *gonfs.Server
	goL      *pipeListener

	// readBufs holds READ reply buffers (*[]byte of readBufSize): a
	// fresh zeroed MiB per READ was a third of the gateway's time per
	// call in a sequential nfs-cp read.
	readBufs sync.Pool
	// recBufs holds buffers for large call records (*[]byte of capacity
	// maxRecord; see conn.serve): a fresh MiB per WRITE, zeroed by the
	// allocator and handed back to the OS by the scavenger, was a quarter
	// of the gateway's CPU in a sequential nfs-cp write.
	recBufs sync.Pool
	// pipes holds the pipes spliced READs pass through (splice.go).
	pipes pipePool
	// dirLocks serializes changes to a directory (dirlock.go).
	dirLocks dirLocks

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup
}

type export struct {
	name  string
	fs    vfs.Translator
	ro    bool
	id    VolumeID
	srv   *Server
	billy *billyFS
}

// New validates cfg and returns a Server; call Serve to accept clients.
func New(cfg Config) (*Server, error) {
	if len(cfg.Exports) == 0 {
		return nil, errors.New("nfs: no exports")
	}
	if cfg.AnonUID == 0 {
		cfg.AnonUID = ident.Nobody
	}
	if cfg.AnonGID == 0 {
		cfg.AnonGID = ident.Nobody
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 32
	}
	if cfg.OpenIdle <= 0 {
		cfg.OpenIdle = 5 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:       cfg,
		log:       log,
		squash:    ident.Squash{Root: !cfg.NoRootSquash, AnonUID: cfg.AnonUID, AnonGID: cfg.AnonGID},
		byID:      map[VolumeID]*export{},
		gonfs:     map[uint32]bool{},
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
	}
	if _, err := io.ReadFull(rand.Reader, s.verf[:]); err != nil {
		return nil, err
	}
	for _, e := range cfg.Exports {
		if e.Name == "" || strings.ContainsAny(e.Name, "/\x00") {
			return nil, fmt.Errorf("nfs: bad export name %q", e.Name)
		}
		if e.FS == nil {
			return nil, fmt.Errorf("nfs: export %q has no volume", e.Name)
		}
		id := e.ID
		if id == (VolumeID{}) {
			id = VolumeIDOf(e.Name)
		}
		if _, dup := s.byID[id]; dup {
			return nil, fmt.Errorf("nfs: export %q: duplicate volume id", e.Name)
		}
		ex := &export{name: e.Name, fs: e.FS, ro: e.ReadOnly, id: id, srv: s}
		ex.billy = newBillyFS(ex)
		s.exports = append(s.exports, ex)
		s.byID[id] = ex
	}
	for _, p := range cfg.GoNFSProcs {
		s.gonfs[p] = true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.opens = newOpenCache(cfg.OpenIdle)
	s.goL = newPipeListener()
	s.goServer = &gonfs.Server{Handler: newGoHandler(s), ID: s.verf, Context: s.ctx}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.goServer.Serve(s.goL)
	}()
	go func() {
		defer s.wg.Done()
		s.opens.reap(s.ctx)
	}()
	return s, nil
}

// Serve accepts connections on l until l fails or the server is closed.
// It may be called for several listeners.
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
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return net.ErrClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close stops the listeners, drops every connection, waits for calls in
// progress and releases the open handles the server kept.
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
		c.nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.goL.Close()
	s.wg.Wait()
	s.opens.releaseAll()
	s.pipes.close()
	return nil
}

// exportByPath finds the export a MOUNT path names: "/NAME" or "NAME",
// or "/" when there is a single export.
func (s *Server) exportByPath(p string) *export {
	p = strings.TrimRight(p, "/")
	name := strings.TrimPrefix(p, "/")
	if name == "" && len(s.exports) == 1 {
		return s.exports[0]
	}
	for _, ex := range s.exports {
		if ex.name == name {
			return ex
		}
	}
	return nil
}

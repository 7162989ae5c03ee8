// Package gateway serves one cairn volume over NFSv3 (gateway/nfs) and
// 9P2000.L (gateway/ninep) for hosts that cannot use the FUSE client:
// legacy NFS hosts mount /NAME, containers attach NAME over 9P. Both
// protocols reach the same translator stack as FUSE clients do, so all
// three see the same mirrored volume.
//
// cairn gateway builds the volume's stack from its volfile and runs
//
//	g, err := gateway.New(gateway.Config{Volume: name, FS: top, NFSAddr: ":2049", NinePAddr: ":5640"})
//	...
//	err = g.Serve(ctx) // until ctx ends or a listener fails
//
// Access control: Allow lists the networks that may connect (others are
// refused at accept, before a byte is read); ReadOnly makes every change
// fail with EROFS / NFS3ERR_ROFS; callers act with their own uid/gid (NFS
// AUTH_UNIX, 9P attach) with root squashed to AnonUID/AnonGID unless
// NoRootSquash.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/cairnfs/cairn/gateway/nfs"
	"github.com/cairnfs/cairn/gateway/ninep"
	"github.com/cairnfs/cairn/vfs"
)

// Default listen addresses of cairn gateway.
const (
	DefaultNFSAddr   = ":2049"
	DefaultNinePAddr = ":5640"
)

// Config configures a Gateway.
type Config struct {
	// Volume is the volume name: the NFS export "/Volume" and the 9P attach
	// name "Volume" (the empty attach name works too). It also fixes the
	// volume id in NFS file handles, so every gateway of a volume hands out
	// the same handles.
	Volume string
	// FS is the top of the volume's translator stack.
	FS vfs.Translator
	// NFSAddr and NinePAddr are the listen addresses; empty disables that
	// protocol (at least one is needed).
	NFSAddr, NinePAddr string
	// Allow lists the client networks admitted; empty admits everyone.
	Allow []netip.Prefix
	// ReadOnly refuses every change.
	ReadOnly bool
	// NoRootSquash lets uid 0 of clients act as root on the volume. By
	// default root is mapped to AnonUID/AnonGID, as NFS servers do.
	NoRootSquash bool
	// AnonUID and AnonGID are the identity of squashed root and of
	// clients that send no credentials; zero means 65534.
	AnonUID, AnonGID uint32
	// NinePMaxMessageSize is the largest 9P msize agreed to; 0 means
	// ninep.DefaultMaxMessageSize.
	NinePMaxMessageSize uint32
	// Logger receives connection errors and refusals; nil discards them.
	Logger *slog.Logger
}

// Gateway is a running NFS and/or 9P server of one volume. New binds the
// listeners, so a port in use is an error of New.
type Gateway struct {
	cfg   Config
	log   *slog.Logger
	nfs   *nfs.Server
	ninep *ninep.Server
	nfsL  net.Listener
	nineL net.Listener

	closeOnce sync.Once
}

// ParseAllow parses a comma-separated list of networks ("10.0.0.0/8",
// "192.168.1.7", "fd00::/8") as given to --allow.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("--allow %q: %v", f, err)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("--allow %q: %v", f, err)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// New checks cfg, builds the servers and binds their listeners.
func New(cfg Config) (*Gateway, error) {
	if cfg.FS == nil {
		return nil, errors.New("gateway: no volume")
	}
	if cfg.Volume == "" || strings.ContainsAny(cfg.Volume, "/\x00") {
		return nil, fmt.Errorf("gateway: bad volume name %q", cfg.Volume)
	}
	if cfg.NFSAddr == "" && cfg.NinePAddr == "" {
		return nil, errors.New("gateway: neither NFS nor 9P address given")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, log: log}
	var err error
	if cfg.NFSAddr != "" {
		g.nfs, err = nfs.New(nfs.Config{
			Exports:      []nfs.Export{{Name: cfg.Volume, FS: cfg.FS, ReadOnly: cfg.ReadOnly}},
			NoRootSquash: cfg.NoRootSquash, AnonUID: cfg.AnonUID, AnonGID: cfg.AnonGID,
			Logger: log.With("gateway", "nfs"),
		})
		if err != nil {
			return nil, err
		}
		if g.nfsL, err = g.listen(cfg.NFSAddr, "nfs"); err != nil {
			g.Close()
			return nil, err
		}
	}
	if cfg.NinePAddr != "" {
		g.ninep, err = ninep.New(ninep.Config{
			Exports:      []ninep.Export{{Name: cfg.Volume, FS: cfg.FS, ReadOnly: cfg.ReadOnly}},
			NoRootSquash: cfg.NoRootSquash, AnonUID: cfg.AnonUID, AnonGID: cfg.AnonGID,
			MaxMessageSize: cfg.NinePMaxMessageSize,
			Logger:         log.With("gateway", "9p"),
		})
		if err != nil {
			g.Close()
			return nil, err
		}
		if g.nineL, err = g.listen(cfg.NinePAddr, "9p"); err != nil {
			g.Close()
			return nil, err
		}
	}
	return g, nil
}

func (g *Gateway) listen(addr, proto string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: %s: %w", proto, err)
	}
	if len(g.cfg.Allow) == 0 {
		return l, nil
	}
	return &allowListener{Listener: l, allow: g.cfg.Allow, log: g.log, proto: proto}, nil
}

// NFSAddr is the address the NFS server listens on (nil without NFS).
func (g *Gateway) NFSAddr() net.Addr {
	if g.nfsL == nil {
		return nil
	}
	return g.nfsL.Addr()
}

// NinePAddr is the address the 9P server listens on (nil without 9P).
func (g *Gateway) NinePAddr() net.Addr {
	if g.nineL == nil {
		return nil
	}
	return g.nineL.Addr()
}

// MountCommands returns Linux mount command lines for clients, with host
// as the gateway's address as the clients see it.
func (g *Gateway) MountCommands(host string) []string {
	var out []string
	if a, ok := g.NFSAddr().(*net.TCPAddr); ok {
		out = append(out, fmt.Sprintf("mount -t nfs -o vers=3,proto=tcp,port=%d,mountport=%d,mountproto=tcp,nolock %s:/%s /mnt/%s",
			a.Port, a.Port, host, g.cfg.Volume, g.cfg.Volume))
	}
	if a, ok := g.NinePAddr().(*net.TCPAddr); ok {
		out = append(out, fmt.Sprintf("mount -t 9p -o trans=tcp,port=%d,version=9p2000.L,aname=%s,access=user,msize=1048576 %s /mnt/%s",
			a.Port, g.cfg.Volume, host, g.cfg.Volume))
	}
	return out
}

// Serve serves until ctx ends (then it returns nil) or a listener fails
// (then it returns the error). Either way the gateway is closed on return.
func (g *Gateway) Serve(ctx context.Context) error {
	errc := make(chan error, 2)
	n := 0
	if g.nfs != nil {
		n++
		go func() { errc <- g.nfs.Serve(g.nfsL) }()
	}
	if g.ninep != nil {
		n++
		go func() { errc <- g.ninep.Serve(g.nineL) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		n--
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	}
	g.Close()
	for ; n > 0; n-- {
		<-errc
	}
	return err
}

// Close stops both servers and drops their connections.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		if g.nfsL != nil {
			g.nfsL.Close()
		}
		if g.nineL != nil {
			g.nineL.Close()
		}
		if g.nfs != nil {
			g.nfs.Close()
		}
		if g.ninep != nil {
			g.ninep.Close()
		}
	})
	return nil
}

// allowListener refuses connections from outside the allowed networks at
// accept time.
type allowListener struct {
	net.Listener
	allow []netip.Prefix
	log   *slog.Logger
	proto string
}

func (l *allowListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if allowed(c.RemoteAddr(), l.allow) {
			return c, nil
		}
		l.log.Warn("gateway: connection refused by --allow", "proto", l.proto, "client", c.RemoteAddr().String())
		c.Close()
	}
}

func allowed(a net.Addr, allow []netip.Prefix) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, p := range allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

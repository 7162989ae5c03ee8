package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
	"google.golang.org/grpc/codes"
)

// Local read descriptors (protocol/localfd.go): an abstract Unix socket on
// which clients of this host fetch read-only descriptors of files.

// listenAbstract listens on an abstract Unix socket of network ("unix"
// or "unixpacket") named prefix and 24 random hex digits: unguessable, and
// unique among the bricks of a host.
func listenAbstract(network, prefix string) (*net.UnixListener, string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return nil, "", err
	}
	name := "@" + prefix + hex.EncodeToString(b)
	lis, err := net.ListenUnix(network, &net.UnixAddr{Name: name, Net: network})
	if err != nil {
		return nil, "", err
	}
	return lis, name, nil
}

// listenLocal opens the abstract socket under a random name. Its name is
// given out by ChannelToken.
func (s *Server) listenLocal() error {
	lis, name, err := listenAbstract("unixpacket", "cairn-brick-")
	if err != nil {
		return err
	}
	s.localMu.Lock()
	s.local, s.localName = lis, name
	s.localMu.Unlock()
	go s.acceptLocal(lis)
	return nil
}

// localSocket returns the name ChannelToken gives out, "" when there is
// no local socket.
func (s *Server) localSocket() string {
	s.localMu.Lock()
	defer s.localMu.Unlock()
	return s.localName
}

// closeLocal closes the local descriptor and side-connection sockets.
func (s *Server) closeLocal() {
	s.localMu.Lock()
	lis, ch := s.local, s.localCh
	s.local, s.localName = nil, ""
	s.localCh, s.localChName = nil, ""
	s.localMu.Unlock()
	if lis != nil {
		lis.Close()
	}
	if ch != nil {
		ch.Close()
	}
}

func (s *Server) acceptLocal(lis *net.UnixListener) {
	for {
		uc, err := lis.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("local descriptor socket: accept failed; local reads go over the network from now on", "err", err)
			}
			return
		}
		go s.serveLocal(uc)
	}
}

// peerAllowed says whether the process at the other end of uc may receive
// descriptors: root, or the brick's own user. Others could read the
// brick's files with them whatever the files' owners.
func peerAllowed(uc *net.UnixConn) (bool, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return false, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return false, err
	}
	if cerr != nil {
		return false, cerr
	}
	return cred.Uid == 0 || int(cred.Uid) == os.Geteuid(), nil
}

// serveLocal serves one local descriptor connection until it or its gRPC
// connection ends.
func (s *Server) serveLocal(uc *net.UnixConn) {
	defer uc.Close()
	uc.SetReadDeadline(time.Now().Add(helloTimeout))
	magic := make([]byte, len(protocol.LocalFDMagic)+1)
	n, err := uc.Read(magic)
	if err != nil || string(magic[:n]) != protocol.LocalFDMagic {
		return
	}
	var hello brickpb.ChannelHello
	if _, err := protocol.ReadPacket(uc, &hello); err != nil {
		return
	}
	uc.SetReadDeadline(time.Time{})
	refuse := func(code codes.Code, msg string) {
		protocol.WritePacket(uc, &brickpb.ChannelReply{Code: uint32(code), Message: msg}, -1)
	}
	if ok, err := peerAllowed(uc); err != nil || !ok {
		s.log.Warn("local descriptor socket: peer is neither root nor the brick's user; refused", "err", err)
		refuse(codes.PermissionDenied, "protocol/server: local descriptors are for root or the brick's own user")
		return
	}
	// Registered as a side connection: it is closed with c.
	c, ss, code, msg := s.admitSide(uc, &hello, nil)
	if code != codes.OK {
		refuse(code, msg)
		return
	}
	defer c.delSide(uc)
	if err := protocol.WritePacket(uc, &brickpb.ChannelReply{}, -1); err != nil {
		return
	}
	ctx := context.WithValue(context.Background(), connKey{}, c)
	for {
		var req brickpb.LocalFDRequest
		fd, err := protocol.ReadPacket(uc, &req)
		if fd >= 0 {
			sys.Close(fd) // a client has nothing to send
		}
		if err != nil {
			return
		}
		fd, e := s.shareReadFD(ctx, ss, c, &req)
		err = protocol.WritePacket(uc, &brickpb.LocalFDReply{Errno: uint32(e)}, fd)
		if fd >= 0 {
			sys.Close(fd)
		}
		if err != nil {
			return
		}
	}
}

func (s *Server) shareReadFD(ctx context.Context, ss *session, c *conn, req *brickpb.LocalFDRequest) (int, syscall.Errno) {
	g, ok := protocol.GFID(req.Gfid)
	if !ok {
		return -1, syscall.EINVAL
	}
	caller, err := protocol.DecodeCaller(req.Caller)
	if err != nil {
		return -1, syscall.EINVAL
	}
	caller.Client = c.id
	if !c.enter() {
		return -1, syscall.ENOTCONN
	}
	defer c.leave()
	return vfs.ShareReadFD(vfs.WithCaller(ctx, caller), ss.sv.xl, g)
}

package client

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FetchVolfile asks the brick at host:port (port 0: protocol.DefaultPort)
// for the client volfile it serves as name (its volume-filename.<name>
// option), as mount.glusterfs fetches a volfile from its volfile server.
// Errors wrap ENOENT (no such volfile), ENOTCONN (brick unreachable) or
// another errno, and say which brick and name were tried, so a mount can
// fall back to its backupvolfile-server and report both.
func FetchVolfile(ctx context.Context, host string, port int, name string) ([]byte, error) {
	if port == 0 {
		port = protocol.DefaultPort
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	conn, err := grpc.NewClient("passthrough:///"+addr, dialOptions(nil, defaultPingTimeout)...)
	if err != nil {
		return nil, fmt.Errorf("fetch volfile %q from %s: %w (%v)", name, addr, syscall.EINVAL, err)
	}
	defer conn.Close()
	rep, err := brickpb.NewBrickClient(conn).GetVolfile(ctx, &brickpb.GetVolfileRequest{Name: []byte(name)})
	if err != nil {
		e := syscall.ENOTCONN
		switch status.Code(err) {
		case codes.Unimplemented:
			e = syscall.ENOSYS
		case codes.Canceled:
			if ctx.Err() != nil {
				e = syscall.EINTR
			}
		}
		return nil, fmt.Errorf("fetch volfile %q from %s: %w (%s)", name, addr, e, status.Convert(err).Message())
	}
	if e := protocol.ErrnoOf(rep.Errno); e != 0 {
		if e == syscall.ENOENT {
			return nil, fmt.Errorf("fetch volfile %q from %s: %w (the brick serves no volume-filename.%s)", name, addr, e, name)
		}
		return nil, fmt.Errorf("fetch volfile %q from %s: %w", name, addr, e)
	}
	return rep.Content, nil
}

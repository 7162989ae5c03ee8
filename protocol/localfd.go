package protocol

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"google.golang.org/protobuf/proto"
)

// Local read descriptors (brick.proto: ChannelTokenReply.local_socket).
//
// A client on the brick's own host need not have file data copied through
// the brick process and two loopback socket copies: the brick may hand it
// a read-only descriptor of the file, and the client preads it itself (as
// HDFS's short-circuit local reads do). Writes, and every other operation,
// still go to the brick.
//
// The brick listens on an abstract Unix socket of type SOCK_SEQPACKET
// (abstract names belong to the network namespace, so only clients on the
// brick's host and namespace reach it) and names it in ChannelToken's
// reply. Each message (packet) is the byte 'M' and one protobuf message:
//
//	client: a packet of LocalFDMagic alone, then a ChannelHello (the token of its gRPC
//	        connection and the subvolume)
//	brick:  a ChannelReply with id 0: code 0 accepts, otherwise code and
//	        message say why not (the connection closes). The brick also
//	        refuses peers whose SO_PEERCRED uid is neither 0 nor its own.
//	then:   LocalFDRequest one way, LocalFDReply the other (one at a
//	        time), the descriptor attached to a reply of errno 0.
//
// The connection lives and dies with the gRPC connection whose token it
// presented. What a descriptor may be used for, and when a client must
// stop using it, is the client's business (vfs/client/localfd.go): the
// brick's part is that it opens the file exactly as an anonymous read
// would, permission check included.
const LocalFDMagic = "CAIRNFD1"

// maxLocalFDMessage bounds one message on the local descriptor socket.
const maxLocalFDMessage = 4096

// packetPrefix starts every message after the magic: a protobuf message
// may be empty (a LocalFDReply of errno 0), and an empty packet reads as
// end of file.
const packetPrefix = 'M'

// WritePacket marshals m as one message, with the descriptor fd attached
// when fd >= 0.
func WritePacket(c *net.UnixConn, m proto.Message, fd int) error {
	b, err := proto.MarshalOptions{}.MarshalAppend([]byte{packetPrefix}, m)
	if err != nil {
		return err
	}
	if len(b) > maxLocalFDMessage {
		return fmt.Errorf("message of %d bytes is over the limit of %d", len(b)-1, maxLocalFDMessage-1)
	}
	var oob []byte
	if fd >= 0 {
		oob = syscall.UnixRights(fd)
	}
	_, _, err = c.WriteMsgUnix(b, oob, nil)
	return err
}

// ReadPacket reads one message into m and returns the descriptor that came
// with it, or -1. The caller owns the descriptor. More than one descriptor
// is an error (and all are closed).
func ReadPacket(c *net.UnixConn, m proto.Message) (int, error) {
	buf := make([]byte, maxLocalFDMessage+1)
	oob := make([]byte, syscall.CmsgSpace(4*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return -1, err
	}
	fds, perr := parseRights(oob[:oobn])
	fail := func(err error) (int, error) {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return -1, err
	}
	if perr != nil {
		return fail(perr)
	}
	if flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0 || n > maxLocalFDMessage {
		return fail(errors.New("local descriptor message truncated"))
	}
	if n == 0 || buf[0] != packetPrefix {
		return fail(errors.New("malformed local descriptor message"))
	}
	if len(fds) > 1 {
		return fail(fmt.Errorf("%d descriptors on one message", len(fds)))
	}
	if err := proto.Unmarshal(buf[1:n], m); err != nil {
		return fail(err)
	}
	if len(fds) == 1 {
		return fds[0], nil
	}
	return -1, nil
}

func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != syscall.SOL_SOCKET || msgs[i].Header.Type != syscall.SCM_RIGHTS {
			continue
		}
		got, err := syscall.ParseUnixRights(&msgs[i])
		if err != nil {
			return fds, err
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

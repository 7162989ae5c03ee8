// Package protocol is the wire form of the brick protocol: the .proto
// (brick.proto), its generated Go (package brickpb), and the conversions
// between those messages and the vfs types, shared by protocol/client
// (vfs/client) and protocol/server (brick/server) so that both ends agree on
// every field.
//
// Conventions, beyond those written in brick.proto:
//
//   - A GFID on the wire is exactly 16 bytes; anything else is EINVAL at the
//     server, before a translator sees it. CreateIn.gfid may also be empty
//     (the brick chooses).
//   - Errno values travel as uint32 in every reply; ErrnoOf turns one back
//     into a syscall.Errno (out-of-range values become EIO).
//   - The caller's identity (uid, gid, pid, groups) travels in the
//     MDCaller metadata key, encoded by EncodeCaller; the subvolume in
//     MDSubvolume. The server fills Caller.Client itself.
//   - The limits below bound every count and buffer a brick accepts, so a
//     request can never make it allocate more than about MaxMessageSize.
package protocol

//go:generate make -C .. -f Makefile.proto proto

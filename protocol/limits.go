package protocol

import "github.com/cairnfs/cairn/protocol/compound"

const (
	// DefaultPort is the brick's TCP port when a volfile names none
	// (GlusterFS 3.x's 6996).
	DefaultPort = 6996

	// MaxIOSize is the largest Read or Write payload in one message. The
	// client splits larger requests; FUSE and NFS never send more anyway.
	MaxIOSize = 1 << 20

	// MaxMessageSize is the receive and send limit configured on both ends:
	// room for a few MiB of compound writes plus header slack.
	MaxMessageSize = 4<<20 + 64<<10

	// MaxCompoundOps bounds the operations of one Compound request.
	MaxCompoundOps = compound.MaxOps

	// MaxReadDirEntries caps the entries of one ReadDir reply, whatever the
	// client asks, so that a reply with attributes and 255-byte names stays
	// far below MaxMessageSize.
	MaxReadDirEntries = 1024

	// MaxXattrNameLen and MaxXattrSize are Linux's XATTR_NAME_MAX and
	// XATTR_SIZE_MAX.
	MaxXattrNameLen = 255
	MaxXattrSize    = 64 << 10

	// MaxXattrOpOperands bounds the xattrs of one XattrOp.
	MaxXattrOpOperands = 64

	// MaxSymlinkLen is PATH_MAX-1, the longest symlink target.
	MaxSymlinkLen = 4095

	// MaxDomainLen bounds lock domain names.
	MaxDomainLen = 255

	// MaxGroups bounds the supplementary groups sent with a call; more are
	// truncated by the client (metadata must stay small) and refused by the
	// server.
	MaxGroups = 256

	// MaxVolfileSize bounds a served volfile.
	MaxVolfileSize = 1 << 20
)

// Metadata keys of every call.
const (
	// MDSubvolume names the brick subvolume the call is for (the client's
	// option remote-subvolume).
	MDSubvolume = "cairn-subvol"
	// MDCaller carries the caller's identity, see EncodeCaller.
	MDCaller = "cairn-caller"
	// MDWaitID tags a call that may wait for a lock with an id, unique
	// per connection, that CancelWait can name.
	MDWaitID = "cairn-wait-id"
)

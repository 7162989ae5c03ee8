package vfs

import "context"

type callerKey struct{}

// WithCaller returns a context that carries the caller's identity.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller carried by ctx, or root (uid 0, gid 0) when
// none is, because in-process callers without an identity are trusted.
func CallerFrom(ctx context.Context) *Caller {
	if c, ok := ctx.Value(callerKey{}).(*Caller); ok && c != nil {
		return c
	}
	return &Caller{}
}

type unlinkFlagsKey struct{}

// Flags of an Unlink, carried by its context (WithUnlinkFlags) so that no
// translator between the caller and storage/posix needs to know them;
// compound.Op carries them over the wire.
const (
	// UnlinkHold marks an Unlink as the first half of a transaction that
	// may still be undone: the brick keeps an object whose last name it
	// removes reachable for a while instead of freeing it at once, and
	// remembers which object the name was. cluster/replicate sends its
	// unlinks with their name locks in one request per brick this way.
	UnlinkHold uint32 = 1 << iota
	// UnlinkUndo makes an Unlink the undo of an earlier held one of the
	// same name: the object is linked back under that name. Replicate
	// sends it to the bricks where its unlink went through when another
	// client held the name's lock on some other brick.
	UnlinkUndo
	// UnlinkCommit says that an earlier held Unlink of the same name will
	// not be undone: the brick may free the object now rather than when
	// the hold ends. It removes nothing and always succeeds.
	UnlinkCommit
)

// WithUnlinkFlags returns a context carrying Unlink flags.
func WithUnlinkFlags(ctx context.Context, flags uint32) context.Context {
	return context.WithValue(ctx, unlinkFlagsKey{}, flags)
}

// UnlinkFlagsFrom returns the Unlink flags ctx carries (0 without any).
func UnlinkFlagsFrom(ctx context.Context) uint32 {
	v, _ := ctx.Value(unlinkFlagsKey{}).(uint32)
	return v
}

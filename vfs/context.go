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

type attrsGuessKey struct{}

// WithAttrsGuessNote returns a context in which a translator below can say
// that the attributes it answers with were computed, not read from a
// brick (MarkAttrsGuessed), and the flag it will set. performance/md-cache
// must not keep such attributes: write-behind answers a setattr it holds
// with what the file will look like once it is applied, and fields such
// as ctime and blocks are only close to what the brick will have. Each
// call makes a new flag; a translator that learns of a guess passes it on
// to its own caller's note with MarkAttrsGuessed.
func WithAttrsGuessNote(ctx context.Context) (context.Context, *bool) {
	p := new(bool)
	return context.WithValue(ctx, attrsGuessKey{}, p), p
}

// MarkAttrsGuessed records, in a context made by WithAttrsGuessNote, that
// the attributes being answered were computed rather than read.
func MarkAttrsGuessed(ctx context.Context) {
	if p, ok := ctx.Value(attrsGuessKey{}).(*bool); ok {
		*p = true
	}
}

type releaseAttrsKey struct{}

// ReleaseAttrs asks the translators below a Release for the file's
// attributes once the release is done, without a request of its own:
// performance/md-cache wants them for a file written through this client
// (its writes dropped what it had), and cluster/replicate can fetch them
// in the request that already carries the file's deferred post-op and
// unlock. A translator that takes the request sets Taken before Release
// returns, and later calls Deliver at most once, from any goroutine, with
// the attributes as a brick reported them after the post-op. When no
// translator takes it the asker fetches them itself.
type ReleaseAttrs struct {
	Taken   bool
	Deliver func(Attr)
}

// WithReleaseAttrs returns a context carrying a request for the
// attributes after a Release, delivered to deliver.
func WithReleaseAttrs(ctx context.Context, deliver func(Attr)) (context.Context, *ReleaseAttrs) {
	ra := &ReleaseAttrs{Deliver: deliver}
	return context.WithValue(ctx, releaseAttrsKey{}, ra), ra
}

// ReleaseAttrsFrom returns the request ctx carries, or nil.
func ReleaseAttrsFrom(ctx context.Context) *ReleaseAttrs {
	ra, _ := ctx.Value(releaseAttrsKey{}).(*ReleaseAttrs)
	return ra
}

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

package vfs

// Change is a change another client made on a brick, as the brick reports
// it to the clients that asked (GlusterFS's upcall cache invalidation,
// features.cache-invalidation). Caches that hold metadata for longer than
// a second rely on these reports to stay coherent across clients.
type Change struct {
	// GFID names a file or directory whose attributes, extended
	// attributes or data changed; zero if none.
	GFID GFID
	// Parent names a directory one of whose entries (Name) was added,
	// removed or replaced; zero if none. Its own attributes (mtime,
	// nlink) changed too.
	Parent GFID
	Name   string
	// All means that anything may have changed: reports were lost (a
	// connection broke, a queue overflowed, a brick went down or came
	// back). Everything cached must be dropped.
	All bool
}

// ChangeWatcher is implemented by translators that can report the changes
// other clients make (protocol/client, and the translators above it that
// forward the reports).
type ChangeWatcher interface {
	// WatchChanges asks for every change made by other clients from now
	// on to be passed to fn, and reports whether they will be: false
	// means no reports come (caches must then rely on their timeouts).
	// fn is called from the translator's own goroutines, must not block,
	// and may be called concurrently with operations. Only one fn is
	// kept: a second call replaces the first.
	WatchChanges(fn func(Change)) bool
	// ChangesLive reports whether changes are being reported right now:
	// false while a connection that carries them is down or not yet
	// subscribed. A cache may keep what it fetches past its short
	// timeout only while this is true; reports lost while it was false
	// are announced by a Change with All set once it is true again.
	ChangesLive() bool
}

// WatchChanges forwards to Child when it reports changes.
func (p Passthrough) WatchChanges(fn func(Change)) bool {
	if w, ok := p.Child.(ChangeWatcher); ok {
		return w.WatchChanges(fn)
	}
	return false
}

// ChangesLive forwards to Child when it reports changes.
func (p Passthrough) ChangesLive() bool {
	if w, ok := p.Child.(ChangeWatcher); ok {
		return w.ChangesLive()
	}
	return false
}

// AttrHinter is implemented by translators that can use attributes a
// translator above them holds and served without asking them (io-cache
// validates its pages with them instead of fetching the attributes
// itself). HintAttr says that a is current now.
type AttrHinter interface {
	HintAttr(a Attr)
}

// HintAttr forwards to Child when it takes hints.
func (p Passthrough) HintAttr(a Attr) {
	if h, ok := p.Child.(AttrHinter); ok {
		h.HintAttr(a)
	}
}

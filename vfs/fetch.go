package vfs

import (
	"context"
	"syscall"
)

// Fetched is what FetchLookup returns: the object found, those of the asked
// xattrs it has, and, when asked for and small enough, its whole content.
type Fetched struct {
	Attr   Attr
	Xattrs map[string][]byte
	// Data is the content of a regular file of at most readMax bytes;
	// HasData tells it apart from an empty file's nil.
	Data    []byte
	HasData bool
}

// LookupFetcher is implemented by translators that answer a lookup together
// with xattrs and small content in one step: storage/posix opens the object
// once for all of them instead of once per key and again for the read. A
// brick's lookup from cluster/replicate asks for the changelog keys and, under
// quick-read, the content; it is the most frequent request of small-file work.
// Translators between the protocol server and storage/posix forward it.
type LookupFetcher interface {
	// LookupFetch has FetchLookup's semantics.
	LookupFetch(ctx context.Context, parent GFID, name string, keys []string, readMax int64) (Fetched, syscall.Errno)
}

// FetchLookup looks name up in parent and reads the xattrs keys of what it
// finds (a key the object lacks is left out) and, when readMax > 0, the
// content of a regular file of at most readMax bytes. The content is best
// effort: a file that changed size meanwhile, or that the caller may not
// read, comes without it. It uses t's LookupFetch when t has one, and
// Lookup, GetXattr and Read otherwise.
func FetchLookup(ctx context.Context, t Translator, parent GFID, name string, keys []string, readMax int64) (Fetched, syscall.Errno) {
	if f, ok := t.(LookupFetcher); ok {
		return f.LookupFetch(ctx, parent, name, keys, readMax)
	}
	a, e := t.Lookup(ctx, parent, name)
	if e != 0 {
		return Fetched{}, e
	}
	return CompleteFetch(ctx, t, a, keys, readMax)
}

// CompleteFetch is FetchLookup after the lookup found a: the xattrs keys
// by GetXattr and the content by an anonymous Read of t. Translators whose
// LookupFetch cannot take their own shortcut for some object use it.
func CompleteFetch(ctx context.Context, t Translator, a Attr, keys []string, readMax int64) (Fetched, syscall.Errno) {
	r := Fetched{Attr: a}
	if len(keys) > 0 {
		var e syscall.Errno
		if r.Xattrs, e = GetXattrs(ctx, t, a.GFID, keys); e != 0 {
			return Fetched{}, e
		}
	}
	if readMax > 0 && a.IsRegular() && int64(a.Size) <= readMax {
		buf := make([]byte, a.Size)
		if n, e := t.Read(ctx, a.GFID, 0, buf, 0); e == 0 && n == len(buf) {
			r.Data, r.HasData = buf, true
		}
	}
	return r, 0
}

// GetXattrs reads the xattrs keys of gfid; a name the object lacks is left
// out.
func GetXattrs(ctx context.Context, t Translator, gfid GFID, keys []string) (map[string][]byte, syscall.Errno) {
	m := make(map[string][]byte, len(keys))
	for _, k := range keys {
		v, e := t.GetXattr(ctx, gfid, k)
		switch e {
		case 0:
			m[k] = v
		case syscall.ENODATA:
		default:
			return nil, e
		}
	}
	return m, 0
}

package iostats

import (
	"context"
	"slices"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// debug/io-stats may sit anywhere in a graph, so it must not change what
// the translators around it see. Besides the operations it forwards the
// optional interfaces its neighbours look for: batches for
// protocol/client (compound.Compounder: without it cluster/replicate
// would send its lock, changelog and operation requests one by one),
// brick state for cluster/replicate (Up), lookups with content for
// performance/quick-read (LookupContent) and lookups with xattrs and
// content for a brick's storage/posix (LookupFetch, fetch.go). Each
// behaves as if io-stats were absent when the child lacks it.

var _ compound.Compounder = (*IOStats)(nil)

// opOfKind maps the operations of a batch to io-stats' operations.
var opOfKind = func() map[compound.Kind]op {
	m := map[compound.Kind]op{}
	for k := compound.OpLookup; k <= compound.OpEntryLk; k++ {
		if i := slices.Index(Ops[:], k.String()); i >= 0 {
			m[k] = op(i)
		}
	}
	return m
}()

// Compound runs a batch: in one round trip when the child can, otherwise
// one operation after the other through io-stats' own methods. A
// forwarded batch counts each of its operations once, with the latency of
// the whole batch (they all waited for it), and as failed when it has an
// errno.
func (s *IOStats) Compound(ctx context.Context, ops []compound.Op) ([]compound.Result, syscall.Errno) {
	c, ok := s.Child.(compound.Compounder)
	if !ok {
		return compound.Exec(ctx, s, ops)
	}
	start := time.Now()
	res, errno := c.Compound(ctx, ops)
	for i := range ops {
		o, known := opOfKind[ops[i].Kind]
		if !known {
			continue
		}
		failed := i >= len(res) || res[i].Errno != 0
		s.done(o, start, failed)
	}
	return res, errno
}

// Up reports the child's connection state (protocol/client); a child that
// does not say is up.
func (s *IOStats) Up() bool {
	if u, ok := s.Child.(interface{ Up() bool }); ok {
		return u.Up()
	}
	return true
}

// contentLooker is quickread.ContentLooker (not imported: quick-read sits
// above io-stats, not below).
type contentLooker interface {
	LookupContent(ctx context.Context, parent vfs.GFID, name string, readMax int64) (vfs.Attr, []byte, bool, syscall.Errno)
}

// LookupContent forwards a lookup that may carry a small file's content,
// counted as a lookup; over a child without it, it is a plain lookup
// without content.
func (s *IOStats) LookupContent(ctx context.Context, parent vfs.GFID, name string, readMax int64) (vfs.Attr, []byte, bool, syscall.Errno) {
	l, ok := s.Child.(contentLooker)
	if !ok {
		a, errno := s.Lookup(ctx, parent, name)
		return a, nil, false, errno
	}
	start := time.Now()
	a, data, has, errno := l.LookupContent(ctx, parent, name, readMax)
	s.done(opLookup, start, errno != 0)
	return a, data, has, errno
}

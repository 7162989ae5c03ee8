// Package readahead is cairn's performance/read-ahead translator: when a
// reader goes through a file sequentially, it reads the next pages before
// they are asked for, in the background, so that the reader finds them
// here instead of waiting a network round trip per read.
//
// A stream is one reader: an open handle of a file, or, for the anonymous
// handle 0 that the NFS gateway uses, one caller of a file (pages read
// with one caller's permission are never served to another). A read is
// sequential when it starts where the stream's previous reads ended (a
// page of slack either way, because FUSE may deliver its own read-ahead
// out of order). On a sequential read the translator serves what it can
// from the stream's pages, reads the rest from the child, and then makes
// sure the pages that follow are being read: one after the first
// sequential read, up to PageCount as the run goes on (GlusterFS's
// page-count). A read that is not sequential drops the stream's pages and
// goes to the child alone, so random readers cost nothing extra. Pages
// behind the reader are dropped; a short page marks end of file, and
// nothing is read ahead past it.
//
// Memory: a stream holds at most PageCount+1 pages of PageSize bytes (the
// one being consumed and those ahead), and at most MaxStreams streams are
// tracked (the least recently used is dropped), so read-ahead never holds
// more than MaxStreams × (PageCount+1) × PageSize bytes, plus pages in
// flight when their stream was dropped.
//
// Coherence: this client's own changes — Write, Fallocate, a truncating
// SetAttr, an Open or Create with O_TRUNC — drop every page of the file,
// and a page being read when the file changes is thrown away when it
// arrives (a generation number per stream). Changes made by other clients
// are seen once the reader has consumed the pages read before them, as in
// GlusterFS. Unlink and Rename drop the anonymous streams of the file they
// remove, so that its GFID turns stale at once (streams of open handles
// stay: an unlinked open file is still readable). Handles opened with
// O_DIRECT bypass read-ahead, and so do reads that the child serves from
// a file on this host (vfs.LocalReader: protocol/client's local reads).
//
// Locking: one mutex guards all state; child calls are made without it.
package readahead

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Defaults, as GlusterFS's where it has the option.
const (
	DefaultPageCount  = 4
	DefaultPageSize   = 128 << 10
	DefaultMaxStreams = 64
	// MaxPageCount is the largest page-count GlusterFS accepts.
	MaxPageCount = 16
)

// Config configures a ReadAhead translator; fields left 0 take their
// default.
type Config struct {
	// PageCount is how many pages are read ahead of a sequential reader
	// (GlusterFS option page-count; 0 means 4; 1..16).
	PageCount int
	// PageSize is the unit of read-ahead (GlusterFS option page-size;
	// 0 means 128 KiB).
	PageSize int
	// MaxStreams bounds the readers tracked at once (no GlusterFS option,
	// which keeps state per open fd; 0 means 64).
	MaxStreams int
}

// ReadAhead is the read-ahead translator.
type ReadAhead struct {
	vfs.Passthrough
	count      int
	pageSize   int64
	maxStreams int

	mu      sync.Mutex
	streams map[key]*stream
	lru     list.List // of *stream, most recently used first
	direct  map[vfs.Handle]struct{}
	stats   Stats
}

// key names a stream: a handle of a file, or a caller's anonymous reads of
// it.
type key struct {
	gfid vfs.GFID
	fh   vfs.Handle
	who  string // the caller of anonymous reads
}

type stream struct {
	key
	next  int64 // where the last read ended
	run   int   // sequential reads in a row
	pages map[int64]*page
	eof   int64  // index of a page known to end the file, -1 when unknown
	gen   uint64 // bumped when the file changes
	elem  *list.Element
}

type page struct {
	idx  int64
	gen  uint64 // the stream's gen when the read started
	done chan struct{}
	// Set before done is closed.
	data []byte
	err  syscall.Errno
	used bool // served to a reader at least once
}

// Stats are the translator's counters.
type Stats struct {
	Hits          uint64 // reads served wholly from pages
	Partial       uint64 // reads served partly from pages
	Misses        uint64 // reads that went to the child
	Prefetched    uint64 // pages read ahead
	Wasted        uint64 // pages dropped without being used
	Invalidations uint64 // times the pages of a file were dropped because it changed
	Bypassed      uint64 // streams dropped because their reads became local (vfs.LocalReader)
	Streams       int    // streams tracked now
	Pages         int    // pages held or in flight now
}

// New returns a read-ahead translator over child.
func New(cfg Config, child vfs.Translator) (*ReadAhead, error) {
	t := &ReadAhead{
		Passthrough: vfs.Passthrough{Child: child},
		count:       cfg.PageCount,
		pageSize:    int64(cfg.PageSize),
		maxStreams:  cfg.MaxStreams,
		streams:     make(map[key]*stream),
		direct:      make(map[vfs.Handle]struct{}),
	}
	if t.count == 0 {
		t.count = DefaultPageCount
	}
	if t.pageSize == 0 {
		t.pageSize = DefaultPageSize
	}
	if t.maxStreams == 0 {
		t.maxStreams = DefaultMaxStreams
	}
	switch {
	case t.count < 1 || t.count > MaxPageCount:
		return nil, fmt.Errorf("read-ahead: page-count %d out of range 1..%d", cfg.PageCount, MaxPageCount)
	case t.pageSize < 4096:
		return nil, fmt.Errorf("read-ahead: page-size %d is below 4096", cfg.PageSize)
	case t.maxStreams < 1:
		return nil, fmt.Errorf("read-ahead: max streams %d is below 1", cfg.MaxStreams)
	}
	return t, nil
}

// Stats returns the counters.
func (t *ReadAhead) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Streams = len(t.streams)
	for _, st := range t.streams {
		s.Pages += len(st.pages)
	}
	return s
}

func keyOf(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) key {
	k := key{gfid: gfid, fh: fh}
	if fh == 0 {
		k.who = vfs.CallerFrom(ctx).IdentityKey()
	}
	return k
}

// streamFor returns k's stream, creating it and dropping the least
// recently used one beyond the limit. Called with mu held.
func (t *ReadAhead) streamFor(k key) *stream {
	if s := t.streams[k]; s != nil {
		t.lru.MoveToFront(s.elem)
		return s
	}
	for len(t.streams) >= t.maxStreams {
		t.drop(t.lru.Back().Value.(*stream))
	}
	s := &stream{key: k, pages: make(map[int64]*page), eof: -1}
	s.elem = t.lru.PushFront(s)
	t.streams[k] = s
	return s
}

// forget drops k's stream, if any: its reads go past this translator.
func (t *ReadAhead) forget(k key) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.streams[k]; s != nil {
		t.stats.Bypassed++
		t.drop(s)
	}
}

// drop forgets a stream. Called with mu held.
func (t *ReadAhead) drop(s *stream) {
	t.dropPages(s, -1)
	s.gen++ // pages in flight are thrown away when they arrive
	t.lru.Remove(s.elem)
	delete(t.streams, s.key)
}

// dropPages drops the pages of s before index below, or all of them when
// below is negative. Called with mu held.
func (t *ReadAhead) dropPages(s *stream, below int64) {
	for idx, p := range s.pages {
		if below < 0 || idx < below {
			if !p.used {
				t.stats.Wasted++
			}
			delete(s.pages, idx)
		}
	}
}

// Invalidate drops the pages of gfid read so far and those in flight.
// Front ends call it when they learn of a change this translator cannot
// see.
func (t *ReadAhead) Invalidate(gfid vfs.GFID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hit := false
	for _, s := range t.streams {
		if s.gfid == gfid {
			hit = true
			t.dropPages(s, -1)
			s.gen++
			s.eof = -1
		}
	}
	if hit {
		t.stats.Invalidations++
	}
}

// fetch reads page p of s from the child.
func (t *ReadAhead) fetch(ctx context.Context, s *stream, p *page) {
	buf := make([]byte, t.pageSize)
	n, errno := t.Child.Read(ctx, s.gfid, s.fh, buf, p.idx*t.pageSize)
	t.mu.Lock()
	p.data, p.err = buf[:n], errno
	if errno == 0 && int64(n) < t.pageSize && p.gen == s.gen && (s.eof < 0 || p.idx < s.eof) {
		s.eof = p.idx
	}
	t.mu.Unlock()
	close(p.done)
}

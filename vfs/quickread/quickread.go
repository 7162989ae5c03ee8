// Package quickread is cairn's performance/quick-read translator: the
// lookup of a small regular file brings its content back in the same round
// trip, and reads of the file within cache-timeout are served from it.
// Reading a small file whole then costs the lookup only, instead of a
// lookup and a read (GlusterFS's quick-read).
//
// It sits directly above cluster/replicate, whose LookupContent reads the
// content on a brick holding a good copy in the lookup's request; over any
// other child it passes everything through. Content is dropped when this
// client changes the file (write, truncate, fallocate, an open with
// O_TRUNC), when cache-timeout passes, and in LRU order beyond cache-size.
// A change made by another client is seen when the content expires, as
// with io-cache.
package quickread

import (
	"container/list"
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// ContentLooker is implemented by translators whose lookups can carry the
// content of small files (cluster/replicate).
type ContentLooker interface {
	LookupContent(ctx context.Context, parent vfs.GFID, name string, readMax int64) (vfs.Attr, []byte, bool, syscall.Errno)
}

// Config holds the GlusterFS options.
type Config struct {
	MaxFileSize  int64         // max-file-size: larger files are not fetched
	CacheSize    int64         // cache-size: bytes of content kept
	CacheTimeout time.Duration // cache-timeout: how long content is trusted
	Clock        func() time.Time
}

// DefaultConfig is GlusterFS's defaults: 64 KiB files, 128 MiB, 1 s.
func DefaultConfig() Config {
	return Config{MaxFileSize: 64 << 10, CacheSize: 128 << 20, CacheTimeout: time.Second}
}

// QuickRead is the translator; safe for concurrent use.
type QuickRead struct {
	vfs.Passthrough
	cfg    Config
	looker ContentLooker // nil: pass-through

	mu    sync.Mutex
	files map[vfs.GFID]*list.Element // of *entry
	lru   list.List                  // most recent first
	bytes int64
	gen   map[vfs.GFID]uint64 // bumped by local changes; a lookup started before one is not stored
	seq   uint64
}

type entry struct {
	gfid  vfs.GFID
	data  []byte
	asked time.Time
}

// New returns a quick-read translator over child.
func New(cfg Config, child vfs.Translator) *QuickRead {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	q := &QuickRead{Passthrough: vfs.Passthrough{Child: child}, cfg: cfg,
		files: map[vfs.GFID]*list.Element{}, gen: map[vfs.GFID]uint64{}}
	if l, ok := child.(ContentLooker); ok && cfg.MaxFileSize > 0 && cfg.CacheSize > 0 && cfg.CacheTimeout > 0 {
		q.looker = l
	}
	return q
}

func (q *QuickRead) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	if q.looker == nil {
		return q.Child.Lookup(ctx, parent, name)
	}
	asked := q.cfg.Clock()
	q.mu.Lock()
	seq := q.seq
	q.mu.Unlock()
	a, data, ok, e := q.looker.LookupContent(ctx, parent, name, q.cfg.MaxFileSize)
	if e == 0 && ok {
		q.store(a.GFID, data, asked, seq)
	}
	return a, e
}

// store keeps data unless the file was changed here since the lookup
// began (seq: the change counter then).
func (q *QuickRead) store(g vfs.GFID, data []byte, asked time.Time, seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.gen[g] > seq || int64(len(data)) > q.cfg.CacheSize {
		return
	}
	q.dropLocked(g)
	for q.bytes+int64(len(data)) > q.cfg.CacheSize && q.lru.Len() > 0 {
		q.dropLocked(q.lru.Back().Value.(*entry).gfid)
	}
	q.files[g] = q.lru.PushFront(&entry{gfid: g, data: data, asked: asked})
	q.bytes += int64(len(data))
}

func (q *QuickRead) dropLocked(g vfs.GFID) {
	if el := q.files[g]; el != nil {
		q.bytes -= int64(len(el.Value.(*entry).data))
		q.lru.Remove(el)
		delete(q.files, g)
	}
}

// changed drops g's content and keeps lookups in flight from storing what
// they read before the change.
func (q *QuickRead) changed(g vfs.GFID) {
	if q.looker == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	q.gen[g] = q.seq
	if len(q.gen) > 4096 {
		// Old marks only matter to lookups in flight; a fresh counter
		// base keeps every earlier lookup from storing.
		q.gen = map[vfs.GFID]uint64{}
		q.seq++
		for g := range q.files {
			q.gen[g] = q.seq
		}
		q.gen[g] = q.seq
	}
	q.dropLocked(g)
}

// Read serves the cached content while it is fresh.
func (q *QuickRead) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	if q.looker != nil && off >= 0 {
		q.mu.Lock()
		if el := q.files[gfid]; el != nil {
			en := el.Value.(*entry)
			if q.cfg.Clock().Sub(en.asked) < q.cfg.CacheTimeout {
				q.lru.MoveToFront(el)
				n := 0
				if off < int64(len(en.data)) {
					n = copy(dest, en.data[off:])
				}
				q.mu.Unlock()
				return n, 0
			}
			q.dropLocked(gfid)
		}
		q.mu.Unlock()
	}
	return q.Child.Read(ctx, gfid, fh, dest, off)
}

func (q *QuickRead) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	q.changed(gfid)
	n, e := q.Child.Write(ctx, gfid, fh, data, off)
	q.changed(gfid)
	return n, e
}

func (q *QuickRead) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	q.changed(gfid)
	a, e := q.Child.SetAttr(ctx, gfid, fh, in)
	q.changed(gfid)
	return a, e
}

func (q *QuickRead) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	q.changed(gfid)
	e := q.Child.Fallocate(ctx, gfid, fh, mode, off, length)
	q.changed(gfid)
	return e
}

func (q *QuickRead) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	if flags&syscall.O_TRUNC != 0 {
		q.changed(gfid)
		defer q.changed(gfid)
	}
	return q.Child.Open(ctx, gfid, flags)
}

func (q *QuickRead) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	a, fh, e := q.Child.Create(ctx, parent, name, in)
	if e == 0 {
		q.changed(a.GFID) // may have opened and truncated an existing file
	}
	return a, fh, e
}

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
//
// A read on an open handle was allowed when the handle was opened; a read
// without one (handle 0: the NFS and 9P gateways' reads) is checked by the
// bricks against the caller's permission every time, so the content is
// served to it only if the mode and owner the lookup returned allow the
// caller to read (as the bricks judge: mode bits, root always); anyone
// else's read goes to the child, which refuses it. Those attributes are as
// fresh as the content: a chmod or chown through this client drops both.
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
	// names maps the name each entry was looked up by to its GFID, so that
	// an unlink or a rename over that name drops the content: a removed
	// file's GFID must turn stale, not keep serving reads.
	names map[dentry]vfs.GFID
}

type dentry struct {
	parent vfs.GFID
	name   string
}

type entry struct {
	gfid  vfs.GFID
	name  dentry
	data  []byte
	asked time.Time
	attr  vfs.Attr // as the lookup returned it: who may read without a handle
}

// New returns a quick-read translator over child.
func New(cfg Config, child vfs.Translator) *QuickRead {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	q := &QuickRead{Passthrough: vfs.Passthrough{Child: child}, cfg: cfg,
		files: map[vfs.GFID]*list.Element{}, gen: map[vfs.GFID]uint64{}, names: map[dentry]vfs.GFID{}}
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
		q.store(&a, dentry{parent, name}, data, asked, seq)
	}
	return a, e
}

// store keeps data, the content of the file with attributes a, unless the
// file was changed here since the lookup began (seq: the change counter
// then).
func (q *QuickRead) store(a *vfs.Attr, name dentry, data []byte, asked time.Time, seq uint64) {
	g := a.GFID
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.gen[g] > seq || q.gen[vfs.GFID{}] > seq || int64(len(data)) > q.cfg.CacheSize {
		return
	}
	q.dropLocked(g)
	if old, ok := q.names[name]; ok {
		q.dropLocked(old)
	}
	for q.bytes+int64(len(data)) > q.cfg.CacheSize && q.lru.Len() > 0 {
		q.dropLocked(q.lru.Back().Value.(*entry).gfid)
	}
	q.files[g] = q.lru.PushFront(&entry{gfid: g, name: name, data: data, asked: asked, attr: *a})
	q.names[name] = g
	q.bytes += int64(len(data))
}

func (q *QuickRead) dropLocked(g vfs.GFID) {
	if el := q.files[g]; el != nil {
		en := el.Value.(*entry)
		q.bytes -= int64(len(en.data))
		q.lru.Remove(el)
		delete(q.files, g)
		if q.names[en.name] == g {
			delete(q.names, en.name)
		}
	}
}

// nameChanged drops the content of the file cached under (parent, name),
// if any, and keeps lookups in flight from storing (they may have found
// the file that is going away).
func (q *QuickRead) nameChanged(parent vfs.GFID, name string) {
	if q.looker == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	q.gen[vfs.GFID{}] = q.seq // every lookup in flight: which file it found is unknown
	if g, ok := q.names[dentry{parent, name}]; ok {
		q.gen[g] = q.seq
		q.dropLocked(g)
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
		// Marks only matter to lookups in flight: start afresh, refusing
		// every lookup begun before now (the zero GFID stands for all).
		q.gen = map[vfs.GFID]uint64{{}: q.seq}
	}
	q.dropLocked(g)
}

// Read serves the cached content while it is fresh, to reads without a
// handle only when the caller may read the file.
func (q *QuickRead) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	if q.looker != nil && off >= 0 {
		q.mu.Lock()
		if el := q.files[gfid]; el != nil {
			en := el.Value.(*entry)
			if fh == 0 && !vfs.CallerFrom(ctx).ModeAllows(&en.attr, 4) {
				q.mu.Unlock()
				return q.Child.Read(ctx, gfid, fh, dest, off)
			}
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

// WriteSetAttr drops the cached content as Write and SetAttr do; the
// child does both in one operation if it can.
func (q *QuickRead) WriteSetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64, in *vfs.SetAttrIn) (int, vfs.Attr, syscall.Errno) {
	q.changed(gfid)
	n, a, e := vfs.WriteThenSetAttr(ctx, q.Child, gfid, fh, data, off, in)
	q.changed(gfid)
	return n, a, e
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

func (q *QuickRead) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	q.nameChanged(parent, name)
	e := q.Child.Unlink(ctx, parent, name)
	q.nameChanged(parent, name)
	return e
}

func (q *QuickRead) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	// Both names change what they refer to (the target is replaced, or
	// exchanged); the content of the files themselves does not, but it is
	// simplest to let the next lookup fetch it again.
	q.nameChanged(oldParent, oldName)
	q.nameChanged(newParent, newName)
	e := q.Child.Rename(ctx, oldParent, oldName, newParent, newName, flags)
	q.nameChanged(oldParent, oldName)
	q.nameChanged(newParent, newName)
	return e
}

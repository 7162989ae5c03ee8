// Package iocache is cairn's performance/io-cache translator: a client-side
// cache of file data, so that rereading a file does not cross the network.
//
// Data is cached in pages of PageSize bytes keyed by GFID and page index,
// in one LRU list whose total size never exceeds CacheSize: the bytes of
// every cached page are counted exactly, and pages are evicted before a new
// one is added. A read is served from the cache for the pages present; each
// run of missing pages costs one page-aligned read of the child, whose
// result is cached. A page shorter than PageSize marks end of file.
//
// Coherence follows GlusterFS's io-cache. Pages are trusted for
// CacheTimeout after the file's attributes were last checked; the first read
// after that asks the child for the attributes (GetAttr) and drops the
// file's pages if its mtime or size differ from the ones recorded when the
// pages were cached. Attributes that pass through this translator anyway
// (Lookup, GetAttr, SetAttr, ReadDir with attributes) are checked the same
// way for free. So a change made by another client is seen at the latest
// CacheTimeout after it (sooner if anything looks at the file's
// attributes), and a change that keeps both mtime and size (two writes
// within one mtime tick of a coarse-timestamp brick filesystem) is missed
// until the pages age out of the LRU — the same limits as GlusterFS.
//
// This client's own changes drop the file's pages as soon as the child has
// done them: Write, Fallocate, SetAttr of the size or mtime, an Open or
// Create with O_TRUNC. (While the bricks report other clients' changes,
// writes into small files created here are copied in instead: through.go.) A read that raced with such a change never caches
// what it read: pages are only added to the file entry that was current
// when the read started, and a change retires that entry. Unlink and
// Rename need nothing: pages are keyed by GFID, which names one file for
// ever, and the data of an unlinked or replaced file does not change (open
// descriptors may still read it); its pages simply age out of the LRU.
//
// Handles opened with O_DIRECT bypass the cache, as in GlusterFS.
//
// Scans: once a file has been read sequentially for more bytes than the
// cache holds (FUSE delivers the kernel's read-ahead in parallel, so one
// request may overtake the one before it: see sequential), the rest of that run is read past the cache (pages already
// cached still serve it). LRU caching of such a scan only evicts
// everything else, its own start included, before any of it is read again,
// and costs a copy and an eviction per page (a 1 GiB nfs-cp read through
// the gateway: 528 MiB/s with the cache in the stack, 611 without). The
// scan's first cache-size bytes stay cached, and reads that are not
// sequential are cached as always. (GlusterFS's io-cache caches scans;
// this is cairn's.)
package iocache

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// Defaults, as GlusterFS's.
const (
	DefaultCacheSize    = 32 << 20
	DefaultCacheTimeout = time.Second
	DefaultPageSize     = 128 << 10
)

// Config configures an IOCache.
type Config struct {
	// CacheSize bounds the bytes of cached data (GlusterFS option
	// cache-size; 0 means 32 MiB).
	CacheSize int64
	// CacheTimeout is how long cached pages are trusted before the file's
	// attributes are checked again (GlusterFS option cache-timeout,
	// seconds there). 0 means the default, 1s; a negative value checks on
	// every read, which is GlusterFS's cache-timeout 0.
	CacheTimeout time.Duration
	// PageSize is the unit of caching and of reads from the child
	// (GlusterFS option page-size; 0 means 128 KiB).
	PageSize int
	// Clock returns the current time; nil means time.Now. Tests inject
	// one to age the cache without sleeping.
	Clock func() time.Time
}

// IOCache is the io-cache translator.
type IOCache struct {
	vfs.Passthrough
	size     int64
	timeout  time.Duration
	pageSize int64
	clock    func() time.Time

	mu     sync.Mutex
	files  map[vfs.GFID]*file
	lru    list.List // of *page, most recently used first
	bytes  int64
	direct map[vfs.Handle]struct{} // open with O_DIRECT
	stats  Stats
	// hints are attributes of regular files without an entry, seen in
	// Lookup and GetAttr replies: a first read within the timeout takes
	// its entry's attributes from there instead of asking the child
	// (the GetAttr before every first read was half the cost of reading
	// a small file).
	hints map[vfs.GFID]hint
	// names maps the name each cached file was last looked up by (or
	// listed under) to its GFID; unnamed counts cached files whose name
	// is not known (read by GFID alone, as the NFS gateway may). Unlink
	// and Rename find the pages of the file they remove here, and look
	// the name up in the child only while an unnamed file is cached: the
	// lookup before every unlink was a quarter of a small-file delete.
	// Invariant: a file in files has name nil and is counted in unnamed,
	// or names[*name] is its GFID.
	names   map[dentry]vfs.GFID
	unnamed int
	// spare holds page buffers of dropped pages for reuse (at most
	// maxSpare): a streaming reader replaces the whole cache every
	// cache-size bytes, and fresh buffers cost more than the copy (Go
	// zeroes them, and on the VMs measured here first touching memory
	// is expensive).
	spare [][]byte
	// watcher reports other clients' changes once a translator above
	// watches them (through.go); nil before.
	watcher vfs.ChangeWatcher
}

// maxSpare bounds IOCache.spare, so that the cache's memory stays within
// cache-size plus at most this many pages.
const maxSpare = 16

// hint is what observe saw of a file: its attributes as of asked (the
// time the call that returned them started). Pages read after asked are
// at least as new as these attributes, so a later change shows as a
// mismatch and retires them, as with attributes from GetAttr.
type hint struct {
	mtime vfs.Timespec
	size  uint64
	asked time.Time
	name  *dentry // the name it was seen under, if any
}

// dentry names a directory entry.
type dentry struct {
	parent vfs.GFID
	name   string
}

// maxHints bounds the hints kept; when full they are all dropped.
const maxHints = 4096

var _ vfs.Translator = (*IOCache)(nil)

// file is the cache entry of one file: its pages and the attributes they
// were read under. An entry is retired (dead, and out of files) when the
// file changes; a retired entry accepts no pages.
type file struct {
	gfid      vfs.GFID
	pages     map[int64]*page
	mtime     vfs.Timespec
	size      uint64
	validated time.Time
	dead      bool
	readers   int     // reads in progress, which may yet add pages
	name      *dentry // see IOCache.names
	// next is where the furthest read of the current run ended and run
	// how many bytes the run covers: a scan longer than the cache (run >
	// size) is not cached (see Read). holes are the ranges reads jumped
	// over to start past next, not read yet (see sequential).
	next, run int64
	holes     []span
	// Write-through (through.go): whole means every page of the file is
	// cached since it was created empty; writing counts writes in flight
	// and tangled notes that two overlapped; gen changes with each write
	// copied in (a read begun before it caches nothing); ownWrite means
	// mtime is not known since such a write (the next attributes seen
	// supply it).
	whole, tangled, ownWrite bool
	writing                  int
	gen                      uint64
	// allowed are the identities that may be served the pages without a
	// handle (anonymous.go); allowedGen changes whenever they are
	// forgotten, and ctime is the file's as last seen (zero: not yet).
	allowed    []string
	allowedGen uint64
	ctime      vfs.Timespec
}

type page struct {
	f    *file
	idx  int64
	data []byte
	elem *list.Element
}

// Stats are the cache's counters.
type Stats struct {
	Hits           uint64 // pages served from the cache
	Misses         uint64 // pages read from the child
	Revalidations  uint64 // attribute checks made by reads
	Invalidations  uint64 // files whose pages were dropped because their attributes changed
	Evictions      uint64 // pages evicted to make room
	Scanned        uint64 // reads of a sequential scan longer than the cache, not cached
	WrittenThrough uint64 // writes copied into the cache (see through.go)
	Bytes          int64  // bytes cached now
	Pages          int    // pages cached now
	Files          int    // files with cache entries now
}

// New returns an io-cache translator over child.
func New(cfg Config, child vfs.Translator) (*IOCache, error) {
	c := &IOCache{
		Passthrough: vfs.Passthrough{Child: child},
		size:        cfg.CacheSize,
		timeout:     cfg.CacheTimeout,
		pageSize:    int64(cfg.PageSize),
		clock:       cfg.Clock,
		files:       make(map[vfs.GFID]*file),
		direct:      make(map[vfs.Handle]struct{}),
		names:       make(map[dentry]vfs.GFID),
	}
	if c.size == 0 {
		c.size = DefaultCacheSize
	}
	if c.timeout == 0 {
		c.timeout = DefaultCacheTimeout
	}
	if c.pageSize == 0 {
		c.pageSize = DefaultPageSize
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	switch {
	case c.size < 0:
		return nil, fmt.Errorf("io-cache: cache-size %d is negative", cfg.CacheSize)
	case c.pageSize < 512:
		return nil, fmt.Errorf("io-cache: page-size %d is below 512", cfg.PageSize)
	case c.size < c.pageSize:
		return nil, fmt.Errorf("io-cache: cache-size %d is smaller than page-size %d", c.size, c.pageSize)
	}
	return c, nil
}

// Stats returns the counters.
func (c *IOCache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Bytes, s.Pages, s.Files = c.bytes, c.lru.Len(), len(c.files)
	return s
}

// Invalidate drops the cached pages of gfid. Front ends call it when they
// learn of a change the cache cannot see (an upcall, a heal).
func (c *IOCache) Invalidate(gfid vfs.GFID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.hints, gfid)
	if f := c.files[gfid]; f != nil {
		c.retire(f)
	}
}

// retire drops f's pages and takes it out of use. Called with mu held.
func (c *IOCache) retire(f *file) {
	for _, p := range f.pages {
		c.lru.Remove(p.elem)
		c.bytes -= int64(len(p.data))
		c.recycle(p)
	}
	f.pages = nil
	f.dead = true
	if c.files[f.gfid] == f {
		delete(c.files, f.gfid)
		if f.name != nil {
			delete(c.names, *f.name)
		} else {
			c.unnamed--
		}
	}
}

// admit puts a new entry in the index, under name when known. Called with
// mu held.
func (c *IOCache) admit(f *file, name *dentry) {
	c.files[f.gfid] = f
	c.unnamed++
	if name != nil {
		c.setName(f, *name)
	}
}

// setName records that the live entry f is named d, taking the name from
// any other entry that had it. Called with mu held.
func (c *IOCache) setName(f *file, d dentry) {
	if f.name != nil {
		if *f.name == d {
			return
		}
		delete(c.names, *f.name)
		f.name = nil
		c.unnamed++
	}
	if old, ok := c.names[d]; ok {
		c.files[old].name = nil
		c.unnamed++
	}
	c.names[d] = f.gfid
	f.name = &d
	c.unnamed--
}

// evict drops one page to make room for a page of keep. Called with mu
// held.
func (c *IOCache) evict(p *page, keep *file) {
	c.stats.Evictions++
	p.f.whole = false
	c.lru.Remove(p.elem)
	c.bytes -= int64(len(p.data))
	delete(p.f.pages, p.idx)
	c.recycle(p)
	if len(p.f.pages) == 0 && p.f != keep && p.f.readers == 0 {
		// Forget files without pages, so that the index follows the
		// cache's size rather than the number of files ever read.
		c.retire(p.f)
	}
}

// observe checks attributes seen in passing against the cache entry; asked
// is when the operation that returned them started.
// name, when not nil, is the entry a was found under (Lookup, ReadDir).
func (c *IOCache) observe(a *vfs.Attr, asked time.Time, name *dentry) {
	if a == nil || !a.IsRegular() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.checkLocked(a, asked); f != nil {
		if name != nil {
			c.setName(f, *name)
		}
		return
	}
	if c.files[a.GFID] == nil && c.timeout > 0 {
		if c.hints == nil || len(c.hints) >= maxHints {
			c.hints = make(map[vfs.GFID]hint)
		}
		c.hints[a.GFID] = hint{mtime: a.Mtime, size: a.Size, asked: asked, name: name}
	}
}

// checkLocked compares a with the entry of its file: a change retires the
// entry, a match renews its validity. It returns the live entry or nil.
func (c *IOCache) checkLocked(a *vfs.Attr, now time.Time) *file {
	f := c.files[a.GFID]
	if f == nil {
		return nil
	}
	if f.ownWrite && f.size == a.Size {
		// The first attributes after this client's own writes, which
		// were copied in: they give the mtime those writes set. (A
		// change by anyone else is reported and drops the file.)
		f.mtime, f.ownWrite = a.Mtime, false
	}
	if f.mtime != a.Mtime || f.size != a.Size {
		c.stats.Invalidations++
		c.retire(f)
		return nil
	}
	if f.ctime != a.Ctime {
		// Mode or owner may have changed.
		f.ctime = a.Ctime
		forgetAllowedLocked(f)
	}
	if now.After(f.validated) {
		f.validated = now
	}
	return f
}

// entry returns the live cache entry of gfid, checking the file's
// attributes first when the entry has expired or does not exist, and
// counts the caller as a reader of it until done. nil means the file is
// not to be cached (not a regular file, or GetAttr failed), and the read
// goes straight to the child.
func (c *IOCache) entry(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) *file {
	now := c.clock()
	live := c.live()
	c.mu.Lock()
	if f := c.files[gfid]; f != nil && (live || c.timeout >= 0 && now.Sub(f.validated) < c.timeout) {
		f.readers++
		c.mu.Unlock()
		return f
	}
	if h, ok := c.hints[gfid]; ok {
		delete(c.hints, gfid)
		if c.files[gfid] == nil && now.Sub(h.asked) < c.timeout {
			f := &file{gfid: gfid, pages: make(map[int64]*page), mtime: h.mtime, size: h.size, validated: h.asked}
			c.admit(f, h.name)
			f.readers++
			c.mu.Unlock()
			return f
		}
	}
	c.stats.Revalidations++
	c.mu.Unlock()

	a, errno := c.Child.GetAttr(ctx, gfid, fh)
	if errno != 0 || !a.IsRegular() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.checkLocked(&a, now)
	if f == nil {
		f = &file{gfid: gfid, pages: make(map[int64]*page), mtime: a.Mtime, size: a.Size, ctime: a.Ctime, validated: now}
		c.admit(f, nil)
	}
	f.readers++
	return f
}

// done ends a read of f. An entry left without pages (an empty file, a
// read past the end, pages evicted) is forgotten, so that the index
// follows the cache's size rather than the number of files ever read.
func (c *IOCache) done(f *file) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.readers--
	if f.readers == 0 && len(f.pages) == 0 && !f.dead {
		c.retire(f)
	}
}

// insert caches data as page idx of f unless f was retired meanwhile.
// Called with mu held.
func (c *IOCache) insert(f *file, idx int64, data []byte) bool {
	n := int64(len(data))
	if !c.admissible(f, idx, n) {
		return false
	}
	buf, _ := c.newBuf(n, n)
	copy(buf, data)
	return c.replace(f, idx, buf)
}

// newBuf returns a page buffer of n bytes with room for room: a spare
// full page when n is the page size (reused: its old content is still in
// it, for the caller to overwrite or clear), otherwise a fresh, zeroed
// one. Called with mu held.
func (c *IOCache) newBuf(n, room int64) (buf []byte, reused bool) {
	if k := len(c.spare); k > 0 && n == c.pageSize {
		buf, c.spare = c.spare[k-1][:n], c.spare[:k-1]
		return buf, true
	}
	return make([]byte, n, room), false
}

// admissible reports whether n bytes may become page idx of f. Called
// with mu held.
func (c *IOCache) admissible(f *file, idx, n int64) bool {
	if f.dead || c.files[f.gfid] != f || n == 0 || n > c.size {
		return false
	}
	// A short page must end at the recorded size: otherwise the child
	// returned a short read that is not end of file, or the file grew
	// (the next check will notice), and the page would hide data.
	return n == c.pageSize || uint64(idx*c.pageSize+n) == f.size
}

// insertOwned is insert for a buffer the cache may keep as it is (its
// capacity beyond len(data) is room for the page to grow).
func (c *IOCache) insertOwned(f *file, idx int64, data []byte) bool {
	if !c.admissible(f, idx, int64(len(data))) {
		return false
	}
	return c.replace(f, idx, data)
}

// replace makes buf page idx of f in place of any old one, once
// admissible. Called with mu held.
func (c *IOCache) replace(f *file, idx int64, buf []byte) bool {
	if old := f.pages[idx]; old != nil {
		c.lru.Remove(old.elem)
		c.bytes -= int64(len(old.data))
		delete(f.pages, idx)
		c.recycle(old)
	}
	return c.place(f, idx, buf)
}

// place makes buf page idx of f, evicting what the cache's size needs.
// Called with mu held, once any old page idx is gone.
func (c *IOCache) place(f *file, idx int64, buf []byte) bool {
	n := int64(len(buf))
	for c.bytes+n > c.size {
		c.evict(c.lru.Back().Value.(*page), f)
	}
	p := &page{f: f, idx: idx, data: buf}
	p.elem = c.lru.PushFront(p)
	f.pages[idx] = p
	c.bytes += n
	return true
}

// recycle keeps the buffer of a dropped full page for reuse. Page data
// never leaves the cache (reads copy it under mu), so nothing else can
// hold it. Called with mu held.
func (c *IOCache) recycle(p *page) {
	if int64(cap(p.data)) == c.pageSize && len(c.spare) < maxSpare {
		c.spare = append(c.spare, p.data[:0])
	}
}

// HintAttr takes attributes a translator above (md-cache) answered from
// its cache as current: the first read of the file then needs no GetAttr
// of its own.
func (c *IOCache) HintAttr(a vfs.Attr) {
	c.observe(&a, c.clock(), nil)
}

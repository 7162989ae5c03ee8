// Package mdcache is cairn's performance/md-cache translator: it keeps the
// attributes and extended attributes of files, and the results of name
// lookups, for md-cache-timeout, so that the stat, lookup and getxattr
// storms of ls -l, of path resolution and of the kernel's
// security.capability check before every write do not each cost a round
// trip to the bricks.
//
// # What is cached
//
//   - Attributes by GFID, from GetAttr, Lookup, SetAttr, the creating
//     operations, Link, and ReadDir with attributes (readdirplus).
//   - Lookup results by (parent, name): the GFID found, whose attributes
//     must be cached too for a hit. With NegativeLookup, ENOENT as well.
//     A cached lookup is only served to a caller who may search the parent
//     (root, or the parent's cached mode bits grant execute); otherwise the
//     child judges. POSIX ACLs are not evaluated here: an ACL that denies
//     a search the mode bits allow is bypassed by a cached lookup.
//   - Extended attributes, per caller (what one may read is not what
//     another may): GetXattr values and ENODATA for the names chosen by
//     the configuration, and ListXattr with CacheXattrs. Other errors
//     (EACCES, ERANGE, ENOTSUP) are not cached.
//
// Everything cached expires Timeout after the call that fetched it began,
// and is then fetched again: changes made by other clients are seen at the
// latest Timeout after they happened, as with GlusterFS's md-cache without
// cache-invalidation upcalls.
//
// # Cache invalidation
//
// With CacheInvalidation (GlusterFS's cache-invalidation), the bricks
// report every change another client makes (vfs.ChangeWatcher, through
// protocol/client and replicate) and md-cache drops what each report
// names: a file's attributes and xattrs; a directory's attributes and the
// entry of the name that changed, with the attributes of the file it
// named. Timeout (GlusterFS users set 600 s with upcalls) then applies
// only while the reports flow; when a connection that carries them breaks
// everything is dropped, and until they flow again records last at most
// DefaultTimeout. The release of a file written through this client
// fetches its attributes again, so that what was just written can be
// stat'ed from the cache (see Release). A directory made here while the
// reports flow is known complete: every name in it is one this client
// made and caches, so a lookup of any other name is answered ENOENT here
// (the lookup the kernel makes before each create), until a report of a
// change in it or an eviction (GlusterFS's nl-cache does this).
//
// # This client's own changes
//
// Each modifying operation drops what it may change before returning:
// Write and Fallocate drop the file's attributes and its cached xattr
// values (a write may remove security.capability; a cached ENODATA
// stays); SetAttr replaces the attributes with those it returns, and drops
// the xattrs when mode or owner change (ACLs follow the mode); the xattr
// operations drop the file's xattrs and attributes (ctime); namespace
// operations drop the entries they touch, the attributes of the parents
// (mtime, nlink) and of the files named (nlink, ctime), and cache what the
// creating ones return; Release drops a file whose cached link count is 0,
// since its last release makes the GFID vanish. A fetch that was in flight
// while something was dropped never stores its older result (a generation
// number).
//
// Unlink, Rmdir and Rename look the victim up first when no entry names
// it, so that its GFID turns stale at once. A file changed by another
// client may show its old attributes until they expire.
//
// Memory: at most MaxEntries attribute, entry and xattr records together;
// beyond that an eighth of them is dropped, in Go's map order (no LRU:
// records live a second anyway).
//
// Locking: one mutex guards all state; child calls are made without it.
package mdcache

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// Defaults, as GlusterFS's.
const (
	DefaultTimeout    = time.Second
	DefaultMaxEntries = 1 << 16
	// MaxTimeout is the largest md-cache-timeout GlusterFS accepts.
	MaxTimeout = 600 * time.Second
)

// Config configures an MDCache. Numeric fields left 0 take their default;
// boolean fields are used as given, so start from DefaultConfig to get
// GlusterFS's defaults.
type Config struct {
	// Timeout is how long cached metadata is trusted (GlusterFS option
	// md-cache-timeout, seconds there, default 1, at most 600). 0 means
	// the default; a negative value disables caching, which is GlusterFS's
	// md-cache-timeout 0.
	Timeout time.Duration
	// NegativeLookup caches lookups that found nothing (no md-cache
	// option: GlusterFS does this in performance/nl-cache; default off).
	NegativeLookup bool
	// CacheXattrs caches every extended attribute read, and ListXattr
	// (cairn's option cache-xattrs, default on; GlusterFS caches only the
	// names chosen by the options below). The options below can still
	// exclude their own names.
	CacheXattrs bool
	// CacheCapabilityXattrs caches security.capability (GlusterFS option
	// cache-capability-xattrs, default on).
	CacheCapabilityXattrs bool
	// CacheIMAXattrs caches security.ima (GlusterFS option
	// cache-ima-xattrs, default on).
	CacheIMAXattrs bool
	// CachePosixACL caches system.posix_acl_access and _default
	// (GlusterFS option cache-posix-acl, default off).
	CachePosixACL bool
	// CacheSELinux caches security.selinux (GlusterFS option
	// cache-selinux, default off).
	CacheSELinux bool
	// XattrCacheList names more xattrs to cache, as shell patterns
	// (GlusterFS option xattr-cache-list, comma-separated there).
	XattrCacheList []string
	// CacheInvalidation subscribes to the changes other clients make, as
	// the bricks report them (GlusterFS option cache-invalidation, with
	// features.cache-invalidation on the bricks), and drops what they
	// change. Timeout then applies only while the reports flow
	// (vfs.ChangeWatcher.ChangesLive); otherwise at most DefaultTimeout.
	// Off, Timeout always applies and other clients' changes show when
	// it expires.
	CacheInvalidation bool
	// MaxEntries bounds the records held (no GlusterFS option; 0 means
	// 65536).
	MaxEntries int
	// Clock returns the current time; nil means time.Now. Tests inject
	// one to age the cache without sleeping.
	Clock func() time.Time
}

// DefaultConfig returns GlusterFS's defaults (and cairn's cache-xattrs on).
func DefaultConfig() Config {
	return Config{
		Timeout:               DefaultTimeout,
		CacheXattrs:           true,
		CacheCapabilityXattrs: true,
		CacheIMAXattrs:        true,
		MaxEntries:            DefaultMaxEntries,
	}
}

// MDCache is the md-cache translator.
type MDCache struct {
	vfs.Passthrough
	cfg     Config
	clock   func() time.Time
	enabled bool
	// watcher reports other clients' changes (CacheInvalidation and a
	// child that can); nil otherwise.
	watcher vfs.ChangeWatcher

	mu      sync.Mutex
	nodes   map[vfs.GFID]*node
	entries map[entKey]*entry
	// complete holds directories made here while the bricks' reports
	// flow, until when every name in them is known to be cached as an
	// entry: a lookup of any other name is answered ENOENT without
	// asking the bricks (what GlusterFS's nl-cache does for directories
	// it saw created). A report of a change in the directory, an entry
	// evicted, a lost report or a surprise ends it.
	complete map[vfs.GFID]time.Time
	records  int    // attrs, entries and xattr values held
	gen      uint64 // bumped by every drop
	missGen  uint64 // newest drop of a record not held (or evicted)
	stats    Stats
}

// node is what is cached of one GFID. inval is the generation of its last
// drop: results of fetches that began before it are not stored.
type node struct {
	attr    vfs.Attr
	attrExp time.Time // zero when attr is not cached
	inval   uint64
	xattrs  map[xkey]xval
	lists   map[string]xlist // by caller
	// written: a write went through since the attributes were last
	// fetched (cache invalidation only; see Release).
	written bool
}

type xkey struct{ who, name string }

type xval struct {
	value []byte
	errno syscall.Errno // ENODATA, or 0
	exp   time.Time
}

type xlist struct {
	names []string
	exp   time.Time
}

type entKey struct {
	parent vfs.GFID
	name   string
}

// entry is a cached lookup. An expired entry is kept until evicted: the
// GFID it names tells Unlink and Rename whose attributes to drop.
type entry struct {
	gfid  vfs.GFID
	neg   bool
	exp   time.Time
	inval uint64
}

// Stats are the cache's counters.
type Stats struct {
	AttrHits, AttrMisses     uint64 // GetAttr
	LookupHits, LookupMisses uint64 // Lookup (negative hits included)
	NegativeHits             uint64 // negative entries and names absent from a complete directory
	XattrHits, XattrMisses   uint64 // GetXattr and ListXattr
	Drops                    uint64 // records dropped by this client's changes
	Evictions                uint64
	Changes                  uint64 // other clients' changes reported (vfs.Change)
	Refreshes                uint64 // attributes fetched again after a written file's release
	ReleaseAttrs             uint64 // attributes after a release, fetched with it by a translator below (vfs.ReleaseAttrs)
	Records                  int    // held now
}

// New returns an md-cache translator over child.
func New(cfg Config, child vfs.Translator) (*MDCache, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	switch {
	case cfg.Timeout > MaxTimeout:
		return nil, fmt.Errorf("md-cache: md-cache-timeout %v is above %v", cfg.Timeout, MaxTimeout)
	case cfg.MaxEntries < 0:
		return nil, fmt.Errorf("md-cache: max entries %d is negative", cfg.MaxEntries)
	}
	for _, p := range cfg.XattrCacheList {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("md-cache: xattr-cache-list pattern %q: %v", p, err)
		}
	}
	t := &MDCache{
		Passthrough: vfs.Passthrough{Child: child},
		cfg:         cfg,
		clock:       cfg.Clock,
		enabled:     cfg.Timeout > 0,
		nodes:       make(map[vfs.GFID]*node),
		entries:     make(map[entKey]*entry),
		complete:    make(map[vfs.GFID]time.Time),
	}
	if t.clock == nil {
		t.clock = time.Now
	}
	if cfg.CacheInvalidation && t.enabled {
		if w, ok := child.(vfs.ChangeWatcher); ok && w.WatchChanges(t.changed) {
			t.watcher = w
		}
	}
	return t, nil
}

// expiry returns when a record fetched by a call that began at asked
// expires. With cache invalidation the long timeout holds only while the
// reports flow: a report lost meanwhile comes back as a Change with All,
// which drops every record, and a fetch that began before it stores
// nothing (the generation).
func (t *MDCache) expiry(asked time.Time) time.Time {
	if t.cfg.CacheInvalidation && (t.watcher == nil || !t.watcher.ChangesLive()) {
		return asked.Add(min(t.cfg.Timeout, DefaultTimeout))
	}
	return asked.Add(t.cfg.Timeout)
}

// longLived reports whether records now last longer than DefaultTimeout
// because other clients' changes are reported.
func (t *MDCache) longLived() bool {
	return t.watcher != nil && t.cfg.Timeout > DefaultTimeout && t.watcher.ChangesLive()
}

// changed drops what another client changed (vfs.ChangeWatcher).
func (t *MDCache) changed(c vfs.Change) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.Changes++
	if c.All {
		t.gen++
		t.missGen = t.gen
		t.stats.Drops += uint64(t.records)
		t.records = 0
		clear(t.nodes)
		clear(t.entries)
		clear(t.complete)
		return
	}
	if !c.GFID.IsZero() {
		t.dropNode(c.GFID, dropAll)
	}
	if !c.Parent.IsZero() {
		delete(t.complete, c.Parent)
		t.dropNode(c.Parent, dropAttr)
		// The file the name named lost a link or was renamed (ctime).
		if g, ok := t.dropEntry(c.Parent, c.Name); ok {
			t.dropNode(g, dropAttr)
		}
	}
}

// Stats returns the counters.
func (t *MDCache) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Records = t.records
	return s
}

// Invalidate drops everything cached about gfid. Front ends call it when
// they learn of a change this translator cannot see.
func (t *MDCache) Invalidate(gfid vfs.GFID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropNode(gfid, dropAll)
}

// what a drop removes
const (
	dropAttr        = 1 << iota // attributes
	dropXattrValues             // cached xattr values (not ENODATA)
	dropXattrs                  // every xattr record and list
	dropAll         = dropAttr | dropXattrs
)

// dropNode drops records of gfid. Called with mu held.
func (t *MDCache) dropNode(gfid vfs.GFID, what int) {
	t.gen++
	n := t.nodes[gfid]
	if n == nil {
		t.missGen = t.gen
		return
	}
	n.inval = t.gen
	if what&dropAttr != 0 && !n.attrExp.IsZero() {
		n.attrExp = time.Time{}
		t.records--
		t.stats.Drops++
	}
	switch {
	case what&dropXattrs != 0:
		t.records -= len(n.xattrs) + len(n.lists)
		t.stats.Drops += uint64(len(n.xattrs) + len(n.lists))
		n.xattrs, n.lists = nil, nil
	case what&dropXattrValues != 0:
		for k, v := range n.xattrs {
			if v.errno == 0 {
				delete(n.xattrs, k)
				t.records--
				t.stats.Drops++
			}
		}
		// A list names the xattrs, which a write does not change.
	}
}

// dropEntry drops the cached lookup of name in parent and returns the GFID
// it named, if known. Called with mu held.
func (t *MDCache) dropEntry(parent vfs.GFID, name string) (vfs.GFID, bool) {
	t.gen++
	k := entKey{parent, name}
	e := t.entries[k]
	if e == nil {
		t.missGen = t.gen
		return vfs.GFID{}, false
	}
	delete(t.entries, k)
	t.records--
	t.stats.Drops++
	return e.gfid, !e.neg
}

// nodeFor returns gfid's node, creating it. Called with mu held.
func (t *MDCache) nodeFor(gfid vfs.GFID) *node {
	n := t.nodes[gfid]
	if n == nil {
		n = &node{inval: t.missGen}
		t.nodes[gfid] = n
	}
	return n
}

// fresh reports whether a result fetched from generation start may be
// stored for gfid. Called with mu held.
func (t *MDCache) freshNode(gfid vfs.GFID, start uint64) bool {
	if n := t.nodes[gfid]; n != nil {
		return n.inval <= start
	}
	return t.missGen <= start
}

// storeAttr caches a, fetched by a call that began at generation start,
// until exp. Called with mu held.
func (t *MDCache) storeAttr(a *vfs.Attr, start uint64, exp time.Time) {
	if !t.enabled || a == nil || a.GFID.IsZero() || !t.freshNode(a.GFID, start) {
		return
	}
	n := t.nodeFor(a.GFID)
	if n.attrExp.IsZero() {
		t.records++
	}
	n.attr = *a
	n.attrExp = exp
	t.evict()
}

// storeEntry caches a lookup result. Called with mu held.
func (t *MDCache) storeEntry(parent vfs.GFID, name string, gfid vfs.GFID, neg bool, start uint64, exp time.Time) {
	if !t.enabled {
		return
	}
	k := entKey{parent, name}
	e := t.entries[k]
	if e == nil {
		if t.missGen > start {
			return
		}
		e = &entry{inval: t.missGen}
		t.entries[k] = e
		t.records++
	} else if e.inval > start {
		return
	}
	e.gfid, e.neg, e.exp = gfid, neg, exp
	t.evict()
}

// cachedAttr returns gfid's attributes if they are cached and fresh.
// Called with mu held.
func (t *MDCache) cachedAttr(gfid vfs.GFID, now time.Time) (vfs.Attr, bool) {
	if n := t.nodes[gfid]; n != nil && now.Before(n.attrExp) {
		return n.attr, true
	}
	return vfs.Attr{}, false
}

// evict drops records beyond MaxEntries: whole nodes and entries, in Go's
// map order. Called with mu held.
func (t *MDCache) evict() {
	if t.records <= t.cfg.MaxEntries {
		return
	}
	target := t.cfg.MaxEntries - t.cfg.MaxEntries/8
	clear(t.complete) // an entry evicted leaves a name unknown
	for k := range t.entries {
		if t.records <= target {
			break
		}
		delete(t.entries, k)
		t.records--
		t.stats.Evictions++
	}
	for g, n := range t.nodes {
		if t.records <= target {
			break
		}
		held := len(n.xattrs) + len(n.lists)
		if !n.attrExp.IsZero() {
			held++
		}
		delete(t.nodes, g)
		t.records -= held
		t.stats.Evictions += uint64(held)
	}
	// What was forgotten can no longer refuse stale results by itself.
	t.missGen = t.gen
}

// mayExec reports whether c may search a directory with attributes a, by
// its mode bits.
func mayExec(a *vfs.Attr, c *vfs.Caller) bool { return c.ModeAllows(a, 1) }

// whoOf names the caller for per-caller records.
func whoOf(ctx context.Context) string {
	c := vfs.CallerFrom(ctx)
	var b strings.Builder
	b.WriteString(strconv.FormatUint(uint64(c.UID), 10))
	b.WriteByte(':')
	b.WriteString(strconv.FormatUint(uint64(c.GID), 10))
	for _, g := range c.Groups {
		b.WriteByte(',')
		b.WriteString(strconv.FormatUint(uint64(g), 10))
	}
	return b.String()
}

// cacheable reports whether the xattr name is cached: named by
// xattr-cache-list, or by an option for its kind, or by cache-xattrs.
func (t *MDCache) cacheable(name string) bool {
	for _, p := range t.cfg.XattrCacheList {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	switch name {
	case "security.capability":
		return t.cfg.CacheCapabilityXattrs
	case "security.ima":
		return t.cfg.CacheIMAXattrs
	case "system.posix_acl_access", "system.posix_acl_default":
		return t.cfg.CachePosixACL
	case "security.selinux":
		return t.cfg.CacheSELinux
	}
	return t.cfg.CacheXattrs
}

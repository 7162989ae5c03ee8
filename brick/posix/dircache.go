package posix

import (
	"container/list"
	"sync"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

// dirCacheSize bounds the directory descriptors kept open.
const dirCacheSize = 4096

// dirCache keeps O_PATH descriptors of recently resolved directories, so
// that resolving a directory GFID costs an fstat instead of a walk up its
// chain of index links (one readlink and open per ancestor). A descriptor
// names the inode, not a path: it stays right when the directory or an
// ancestor is renamed, and a removed directory shows nlink 0, which
// resolve checks. Entries are dropped on rmdir and on eviction (LRU).
type dirCache struct {
	mu  sync.Mutex
	m   map[vfs.GFID]*list.Element
	lru list.List // of *dirEntry, most recent first
	max int
}

type dirEntry struct {
	g  vfs.GFID
	fd int
	c  *dirCache
	// refs counts the objs the descriptor is lent to; dead is set once
	// the entry left the cache, and the last of them closes it.
	refs int
	dead bool
}

func newDirCache(max int) *dirCache {
	return &dirCache{m: make(map[vfs.GFID]*list.Element), max: max}
}

// get lends g's descriptor: the caller must not close it, and gives it
// back with release (obj.close does). Lending rather than handing out a
// duplicate saves a dup and a close for every operation on a directory.
func (c *dirCache) get(g vfs.GFID) (*dirEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[g]
	if !ok {
		return nil, false
	}
	e := el.Value.(*dirEntry)
	e.refs++
	c.lru.MoveToFront(el)
	return e, true
}

// release gives back a descriptor lent by get.
func (c *dirCache) release(e *dirEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.dead && e.refs == 0 {
		sys.Close(e.fd)
	}
}

// put caches a duplicate of fd for g.
func (c *dirCache) put(g vfs.GFID, fd int) {
	dup, err := sys.Dup(fd)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[g]; ok {
		c.remove(el)
	}
	c.m[g] = c.lru.PushFront(&dirEntry{g: g, fd: dup, c: c})
	for c.lru.Len() > c.max {
		c.remove(c.lru.Back())
	}
}

// remove takes el out of the cache, closing its descriptor unless it is
// lent (the last release closes it then). c.mu is held.
func (c *dirCache) remove(el *list.Element) {
	e := el.Value.(*dirEntry)
	delete(c.m, e.g)
	c.lru.Remove(el)
	e.dead = true
	if e.refs == 0 {
		sys.Close(e.fd)
	}
}

// drop forgets g.
func (c *dirCache) drop(g vfs.GFID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[g]; ok {
		c.remove(el)
	}
}

// clear empties the cache; lent descriptors close at their release.
func (c *dirCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, el := range c.m {
		c.remove(el)
	}
	c.lru.Init()
}

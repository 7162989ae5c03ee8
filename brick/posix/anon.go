package posix

import (
	"container/list"
	"sync"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

// anonCacheSize bounds the descriptors kept for anonymous I/O.
const anonCacheSize = 256

// anonCache keeps descriptors of regular files recently read or written
// through the anonymous handle 0 (GlusterFS's anonymous fds), so that
// stateless clients such as the NFS gateway do not pay a resolve and an
// open per request. Permissions are still checked on every call (against
// a fresh fstat), and a file whose last link is gone is dropped: the cache
// never keeps a deleted file alive or reachable.
type anonCache struct {
	mu  sync.Mutex
	m   map[vfs.GFID]*list.Element
	lru list.List // of *anonFD, most recent first
	max int
}

type anonFD struct {
	g        vfs.GFID
	fd       int
	writable bool
	refs     int  // guarded by anonCache.mu
	dead     bool // evicted: close at the last put
}

func newAnonCache(max int) *anonCache {
	return &anonCache{m: make(map[vfs.GFID]*list.Element), max: max}
}

// get returns g's cached descriptor, referenced (call put), if it allows
// writing when write is set.
func (c *anonCache) get(g vfs.GFID, write bool) *anonFD {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[g]
	if !ok {
		return nil
	}
	a := el.Value.(*anonFD)
	if write && !a.writable {
		return nil
	}
	a.refs++
	c.lru.MoveToFront(el)
	return a
}

// add caches fd for g, replacing an older entry, and returns it referenced.
func (c *anonCache) add(g vfs.GFID, fd int, writable bool) *anonFD {
	a := &anonFD{g: g, fd: fd, writable: writable, refs: 1}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[g]; ok {
		c.evictLocked(el)
	}
	c.m[g] = c.lru.PushFront(a)
	for c.lru.Len() > c.max {
		c.evictLocked(c.lru.Back())
	}
	return a
}

// put releases a reference from get or add.
func (c *anonCache) put(a *anonFD) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a.refs--
	if a.refs == 0 && a.dead {
		sys.Close(a.fd)
	}
}

// drop forgets g (its last name is gone, or it was found deleted).
func (c *anonCache) drop(g vfs.GFID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[g]; ok {
		c.evictLocked(el)
	}
}

func (c *anonCache) evictLocked(el *list.Element) {
	a := el.Value.(*anonFD)
	delete(c.m, a.g)
	c.lru.Remove(el)
	a.dead = true
	if a.refs == 0 {
		sys.Close(a.fd)
	}
}

// clear evicts everything.
func (c *anonCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.lru.Len() > 0 {
		c.evictLocked(c.lru.Back())
	}
}

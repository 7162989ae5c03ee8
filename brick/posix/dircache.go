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
// that resolving a directory GFID costs a dup instead of a walk up its
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
}

func newDirCache(max int) *dirCache {
	return &dirCache{m: make(map[vfs.GFID]*list.Element), max: max}
}

// get returns a duplicate of g's descriptor (the caller owns it).
func (c *dirCache) get(g vfs.GFID) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[g]
	if !ok {
		return -1, false
	}
	fd, err := sys.Dup(el.Value.(*dirEntry).fd)
	if err != nil {
		return -1, false
	}
	c.lru.MoveToFront(el)
	return fd, true
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
		old := el.Value.(*dirEntry)
		sys.Close(old.fd)
		old.fd = dup
		c.lru.MoveToFront(el)
		return
	}
	c.m[g] = c.lru.PushFront(&dirEntry{g: g, fd: dup})
	for c.lru.Len() > c.max {
		el := c.lru.Back()
		e := el.Value.(*dirEntry)
		sys.Close(e.fd)
		delete(c.m, e.g)
		c.lru.Remove(el)
	}
}

// drop forgets g.
func (c *dirCache) drop(g vfs.GFID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[g]; ok {
		sys.Close(el.Value.(*dirEntry).fd)
		delete(c.m, g)
		c.lru.Remove(el)
	}
}

// clear closes every descriptor.
func (c *dirCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for g, el := range c.m {
		sys.Close(el.Value.(*dirEntry).fd)
		delete(c.m, g)
	}
	c.lru.Init()
}

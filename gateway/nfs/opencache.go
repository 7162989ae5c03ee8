package nfs

import (
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// openCache keeps the volume handles that READ and WRITE use, so that a
// stream of NFS calls on a file costs one Open, not one per call (the
// reason rclone's go-nfs based server is slow). A handle is opened with the
// caller's identity, so the volume checks permissions as it would for
// open(2); one is kept per (file, uid, gid, read or write) and released
// after it has been idle for a while, or when the file's last name is
// removed (see request.attrs).
type openCache struct {
	idle time.Duration
	mu   sync.Mutex
	m    map[openKey]*openEntry
}

type openKey struct {
	ex       *export
	gfid     vfs.GFID
	uid, gid uint32
	write    bool
}

type openEntry struct {
	h    vfs.Handle
	refs int
	last time.Time
}

// maxOpen bounds the cache; beyond it idle entries are released at once.
const maxOpen = 4096

func newOpenCache(idle time.Duration) *openCache {
	return &openCache{idle: idle, m: map[openKey]*openEntry{}}
}

func keyOf(ex *export, g vfs.GFID, c *vfs.Caller, write bool) openKey {
	return openKey{ex: ex, gfid: g, uid: c.UID, gid: c.GID, write: write}
}

// get returns an open handle for the caller and a function to call when
// the handle is no longer in use by this call.
func (oc *openCache) get(ctx context.Context, ex *export, g vfs.GFID, c *vfs.Caller, write bool) (vfs.Handle, func(), syscall.Errno) {
	k := keyOf(ex, g, c, write)
	oc.mu.Lock()
	if en := oc.m[k]; en != nil {
		en.refs++
		oc.mu.Unlock()
		return en.h, oc.doneFunc(en), 0
	}
	oc.mu.Unlock()

	a, e := ex.fs.GetAttr(ctx, g, 0)
	if e != 0 {
		return 0, nil, e
	}
	switch {
	case a.IsDir():
		return 0, nil, syscall.EISDIR
	case !a.IsRegular():
		// Never open devices or FIFOs on the bricks for a client.
		return 0, nil, syscall.EINVAL
	}
	flags := uint32(syscall.O_RDONLY)
	if write {
		flags = syscall.O_WRONLY
	}
	h, e := ex.fs.Open(ctx, g, flags)
	if e == syscall.EACCES && a.UID == c.UID {
		// Owner override (knfsd's NFSD_MAY_OWNER_OVERRIDE): the owner may
		// keep using a file whose mode it has since made stricter, e.g.
		// writing a file it created with mode 0444 (cp -p, tar).
		root := vfs.WithCaller(ctx, &vfs.Caller{Client: c.Client})
		h, e = ex.fs.Open(root, g, flags)
	}
	if e != 0 {
		return 0, nil, e
	}
	return oc.insert(k, h)
}

func (oc *openCache) insert(k openKey, h vfs.Handle) (vfs.Handle, func(), syscall.Errno) {
	oc.mu.Lock()
	if en := oc.m[k]; en != nil {
		// Another call opened it meanwhile; use theirs.
		en.refs++
		oc.mu.Unlock()
		_ = k.ex.fs.Release(context.Background(), k.gfid, h)
		return en.h, oc.doneFunc(en), 0
	}
	en := &openEntry{h: h, refs: 1, last: time.Now()}
	oc.m[k] = en
	var evict []evicted
	if len(oc.m) > maxOpen {
		evict = oc.collect(time.Now(), 0)
	}
	oc.mu.Unlock()
	release(evict)
	return h, oc.doneFunc(en), 0
}

// put adds a handle the gateway already holds (from CREATE).
func (oc *openCache) put(ctx context.Context, ex *export, g vfs.GFID, c *vfs.Caller, write bool, h vfs.Handle) {
	if h == 0 {
		return
	}
	_, done, _ := oc.insert(keyOf(ex, g, c, write), h)
	done()
}

func (oc *openCache) doneFunc(en *openEntry) func() {
	return func() {
		oc.mu.Lock()
		en.refs--
		en.last = time.Now()
		oc.mu.Unlock()
	}
}

// forget removes a handle the volume no longer accepts (EBADF).
func (oc *openCache) forget(ex *export, g vfs.GFID, c *vfs.Caller, write bool, h vfs.Handle) {
	k := keyOf(ex, g, c, write)
	oc.mu.Lock()
	if en := oc.m[k]; en != nil && en.h == h {
		delete(oc.m, k)
	}
	oc.mu.Unlock()
}

// anyWrite returns a write handle of g held for any caller, or 0.
func (oc *openCache) anyWrite(ex *export, g vfs.GFID) (vfs.Handle, func()) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	for k, en := range oc.m {
		if k.ex == ex && k.gfid == g && k.write {
			en.refs++
			return en.h, oc.doneFunc(en)
		}
	}
	return 0, func() {}
}

type evicted struct {
	ex *export
	g  vfs.GFID
	h  vfs.Handle
}

// collect removes idle entries unused for at least age; the caller holds mu.
func (oc *openCache) collect(now time.Time, age time.Duration) []evicted {
	var out []evicted
	for k, en := range oc.m {
		if en.refs == 0 && now.Sub(en.last) >= age {
			delete(oc.m, k)
			out = append(out, evicted{k.ex, k.gfid, en.h})
		}
	}
	return out
}

func release(ev []evicted) {
	for _, x := range ev {
		_ = x.ex.fs.Release(context.Background(), x.g, x.h)
	}
}

// drop releases the idle handles of g; it reports whether there were any.
func (oc *openCache) drop(ctx context.Context, ex *export, g vfs.GFID) bool {
	var ev []evicted
	oc.mu.Lock()
	for k, en := range oc.m {
		if k.ex == ex && k.gfid == g && en.refs == 0 {
			delete(oc.m, k)
			ev = append(ev, evicted{k.ex, k.gfid, en.h})
		}
	}
	oc.mu.Unlock()
	release(ev)
	return len(ev) > 0
}

// reap releases idle handles until ctx ends.
func (oc *openCache) reap(ctx context.Context) {
	t := time.NewTicker(max(oc.idle/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			oc.mu.Lock()
			ev := oc.collect(now, oc.idle)
			oc.mu.Unlock()
			release(ev)
		}
	}
}

// releaseAll releases every handle (server shutdown; no call is running).
func (oc *openCache) releaseAll() {
	oc.mu.Lock()
	var ev []evicted
	for k, en := range oc.m {
		delete(oc.m, k)
		ev = append(ev, evicted{k.ex, k.gfid, en.h})
	}
	oc.mu.Unlock()
	release(ev)
}

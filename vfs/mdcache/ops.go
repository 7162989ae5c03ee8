package mdcache

import (
	"context"
	"slices"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

func (t *MDCache) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	if !t.enabled {
		return t.Child.GetAttr(ctx, gfid, fh)
	}
	now := t.clock()
	t.mu.Lock()
	if a, ok := t.cachedAttr(gfid, now); ok {
		t.stats.AttrHits++
		t.mu.Unlock()
		t.hint(&a)
		return a, 0
	}
	t.stats.AttrMisses++
	start := t.gen
	t.mu.Unlock()

	a, errno := t.Child.GetAttr(ctx, gfid, fh)
	exp := t.expiry(now)
	t.mu.Lock()
	switch errno {
	case 0:
		t.storeAttr(&a, start, exp)
	case syscall.ENOENT, syscall.ESTALE:
		t.dropNode(gfid, dropAll)
	}
	t.mu.Unlock()
	return a, errno
}

// Lookup answers from a cached entry whose file's attributes are cached
// too, for a caller who may search the parent.
func (t *MDCache) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	if !t.enabled {
		return t.Child.Lookup(ctx, parent, name)
	}
	now := t.clock()
	if a, errno, ok := t.cachedLookup(ctx, parent, name, now); ok {
		if errno == 0 {
			t.hint(&a)
		}
		return a, errno
	}
	if t.absent(ctx, parent, name, now) {
		return vfs.Attr{}, syscall.ENOENT
	}
	t.mu.Lock()
	t.stats.LookupMisses++
	start := t.gen
	t.mu.Unlock()

	a, errno := t.Child.Lookup(ctx, parent, name)
	exp := t.expiry(now)
	t.mu.Lock()
	if errno == 0 {
		delete(t.complete, parent) // a name it did not know: not complete
	}
	switch {
	case errno == 0:
		t.storeEntry(parent, name, a.GFID, false, start, exp)
		t.storeAttr(&a, start, exp)
	case errno == syscall.ENOENT && t.cfg.NegativeLookup:
		t.storeEntry(parent, name, vfs.GFID{}, true, start, exp)
	case errno == syscall.ENOENT:
		if e := t.entries[entKey{parent, name}]; e != nil {
			t.dropEntry(parent, name)
		}
	}
	t.mu.Unlock()
	return a, errno
}

// cachedLookup answers a lookup from the cache if it can. For a caller
// other than root whose parent's attributes have expired, it fetches them
// (one call, which then serves every lookup in that directory for the
// timeout).
func (t *MDCache) cachedLookup(ctx context.Context, parent vfs.GFID, name string, now time.Time) (vfs.Attr, syscall.Errno, bool) {
	c := vfs.CallerFrom(ctx)
	t.mu.Lock()
	e := t.entries[entKey{parent, name}]
	if e == nil || !now.Before(e.exp) {
		t.mu.Unlock()
		return vfs.Attr{}, 0, false
	}
	if _, ok := t.cachedAttr(e.gfid, now); !e.neg && !ok {
		t.mu.Unlock()
		return vfs.Attr{}, 0, false
	}
	if !c.IsRoot() {
		pa, ok := t.cachedAttr(parent, now)
		if !ok {
			t.mu.Unlock()
			if pa, errno := t.GetAttr(ctx, parent, 0); errno != 0 || !mayExec(&pa, c) {
				return vfs.Attr{}, 0, false
			}
			// Check again: the entry may have been dropped meanwhile.
			return t.cachedLookupAs(parent, name, now, nil)
		}
		if !mayExec(&pa, c) {
			t.mu.Unlock()
			return vfs.Attr{}, 0, false
		}
	}
	t.mu.Unlock()
	return t.cachedLookupAs(parent, name, now, c)
}

// absent reports whether name is known to be absent from parent, a
// complete directory (see MDCache.complete) with no entry for it, for a
// caller who may search parent.
func (t *MDCache) absent(ctx context.Context, parent vfs.GFID, name string, now time.Time) bool {
	if !t.longLived() {
		return false
	}
	c := vfs.CallerFrom(ctx)
	t.mu.Lock()
	defer t.mu.Unlock()
	if exp, ok := t.complete[parent]; !ok || !now.Before(exp) {
		return false
	}
	if t.entries[entKey{parent, name}] != nil {
		return false // named: its attributes were not cached, ask
	}
	if !c.IsRoot() {
		if pa, ok := t.cachedAttr(parent, now); !ok || !mayExec(&pa, c) {
			return false
		}
	}
	t.stats.LookupHits++
	t.stats.NegativeHits++
	return true
}

// cachedLookupAs is the hit path of cachedLookup, once the caller's search
// permission is settled (c nil: checked by the caller).
func (t *MDCache) cachedLookupAs(parent vfs.GFID, name string, now time.Time, c *vfs.Caller) (vfs.Attr, syscall.Errno, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[entKey{parent, name}]
	if e == nil || !now.Before(e.exp) {
		return vfs.Attr{}, 0, false
	}
	if c != nil && !c.IsRoot() {
		if pa, ok := t.cachedAttr(parent, now); !ok || !mayExec(&pa, c) {
			return vfs.Attr{}, 0, false
		}
	}
	if e.neg {
		t.stats.LookupHits++
		t.stats.NegativeHits++
		return vfs.Attr{}, syscall.ENOENT, true
	}
	a, ok := t.cachedAttr(e.gfid, now)
	if !ok {
		return vfs.Attr{}, 0, false
	}
	t.stats.LookupHits++
	return a, 0, true
}

// SetAttr caches the attributes the child returns.
func (t *MDCache) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	now := t.clock()
	t.mu.Lock()
	start := t.gen
	t.mu.Unlock()
	cctx, guessed := vfs.WithAttrsGuessNote(ctx)
	a, errno := t.Child.SetAttr(cctx, gfid, fh, in)
	if *guessed {
		// Answered by a translator below that holds the setattr
		// (write-behind): right in what was set, not in ctime and
		// blocks, so not kept.
		vfs.MarkAttrsGuessed(ctx)
	}
	exp := t.expiry(now)
	t.mu.Lock()
	defer t.mu.Unlock()
	fresh := t.freshNode(gfid, start)
	what := dropAttr
	if in.Valid&(vfs.SetMode|vfs.SetUID|vfs.SetGID) != 0 {
		what = dropAll // ACLs follow the mode; chown drops capabilities
	}
	t.dropNode(gfid, what)
	if errno == 0 && fresh && !*guessed {
		t.storeAttr(&a, t.gen, exp)
	}
	return a, errno
}

func (t *MDCache) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	n, errno := t.Child.Write(ctx, gfid, fh, data, off)
	t.mu.Lock()
	t.dropNode(gfid, dropAttr|dropXattrValues)
	if t.watcher != nil {
		t.nodeFor(gfid).written = true
	}
	t.mu.Unlock()
	return n, errno
}

func (t *MDCache) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	errno := t.Child.Fallocate(ctx, gfid, fh, mode, off, length)
	t.drop(gfid, dropAttr|dropXattrValues)
	return errno
}

func (t *MDCache) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	fh, errno := t.Child.Open(ctx, gfid, flags)
	if flags&syscall.O_TRUNC != 0 && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		t.drop(gfid, dropAttr|dropXattrValues)
	}
	return fh, errno
}

// Release forgets the attributes of an unlinked file: its last release
// makes the GFID vanish.
//
// With cache invalidation, the release of a file written through this
// client fetches its attributes again: writes drop them (write-behind
// answers before the bricks know the new size and mtime), and only the
// bricks' answer after the last write can be kept for md-cache-timeout.
// Without it, the stat that follows a file's creation (ls -l, make, rsync,
// a second pass of a build) would always go to the bricks. The request
// travels down with the release (vfs.ReleaseAttrs): cluster/replicate
// fetches them in the request that carries the file's post-op and unlock,
// which costs a brick an fstat rather than a request (a new small file
// was three requests to the first brick, and is two). When nothing below
// takes it, the attributes are fetched here. FUSE sends RELEASE after
// close(2) has returned, so no caller waits for either.
func (t *MDCache) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	asked := t.clock()
	t.mu.Lock()
	start := t.gen
	n := t.nodes[gfid]
	want := n != nil && n.written && n.attrExp.IsZero() && t.longLived()
	t.mu.Unlock()
	cctx := ctx
	var ra *vfs.ReleaseAttrs
	if want {
		cctx, ra = vfs.WithReleaseAttrs(ctx, func(a vfs.Attr) {
			if a.GFID != gfid {
				return
			}
			t.mu.Lock()
			t.stats.ReleaseAttrs++
			t.storeAttr(&a, start, t.expiry(asked))
			t.mu.Unlock()
		})
	}
	errno := t.Child.Release(cctx, gfid, fh)
	t.mu.Lock()
	n = t.nodes[gfid]
	unlinked := n != nil && !n.attrExp.IsZero() && n.attr.Nlink == 0
	if unlinked {
		t.dropNode(gfid, dropAll)
	}
	refresh := n != nil && n.written && n.attrExp.IsZero() && !unlinked
	if n != nil {
		n.written = false
	}
	taken := ra != nil && ra.Taken
	if refresh && t.longLived() && !taken {
		t.stats.Refreshes++
	}
	t.mu.Unlock()
	if refresh && t.longLived() && !taken {
		t.GetAttr(ctx, gfid, 0)
	}
	return errno
}

func (t *MDCache) drop(gfid vfs.GFID, what int) {
	t.mu.Lock()
	t.dropNode(gfid, what)
	t.mu.Unlock()
}

// created accounts for an operation that made (or linked) name in parent:
// the parent changed, and the new entry and attributes are cached unless a
// drop raced with the call.
func (t *MDCache) created(parent vfs.GFID, name string, a *vfs.Attr, errno syscall.Errno, start uint64, asked time.Time) {
	exp := t.expiry(asked)
	t.mu.Lock()
	defer t.mu.Unlock()
	if errno != 0 {
		// Nothing changed, but a cached negative answer was wrong if
		// the name exists. A positive entry stays: it tells Unlink
		// whose attributes to drop.
		if e := t.entries[entKey{parent, name}]; e != nil && e.neg {
			t.dropEntry(parent, name)
		}
		if errno == syscall.EEXIST {
			delete(t.complete, parent)
		}
		return
	}
	freshNode := t.freshNode(a.GFID, start)
	freshEnt := t.missGen <= start
	if e := t.entries[entKey{parent, name}]; e != nil {
		freshEnt = e.inval <= start
	}
	t.dropNode(parent, dropAttr)
	t.dropEntry(parent, name)
	t.dropNode(a.GFID, dropAttr) // nlink of a link; size of a truncating create
	if freshNode {
		t.storeAttr(a, t.gen, exp)
	}
	if freshEnt {
		t.storeEntry(parent, name, a.GFID, false, t.gen, exp)
	}
	if !freshEnt || t.entries[entKey{parent, name}] == nil {
		delete(t.complete, parent) // the new name is not cached
	}
}

// hint passes attributes served from the cache down to a translator that
// would otherwise fetch them itself (io-cache, on the file's first read),
// when they are current: only while the bricks' reports flow. Without
// them a cached record may be a second old, which io-cache's own
// cache-timeout already allows for by fetching.
func (t *MDCache) hint(a *vfs.Attr) {
	if a.IsRegular() && t.longLived() {
		t.Passthrough.HintAttr(*a)
	}
}

// begin returns the generation and time an operation starts at.
func (t *MDCache) begin() (uint64, time.Time) {
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.gen, now
}

func (t *MDCache) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	start, now := t.begin()
	a, fh, errno := t.Child.Create(ctx, parent, name, in)
	t.created(parent, name, &a, errno, start, now)
	return a, fh, errno
}

func (t *MDCache) Mknod(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	start, now := t.begin()
	a, errno := t.Child.Mknod(ctx, parent, name, in)
	t.created(parent, name, &a, errno, start, now)
	return a, errno
}

// Mkdir makes a directory, known complete (empty) when the bricks'
// reports flow from before it was made until after: any name made in it
// later by another client is reported, and ends that.
func (t *MDCache) Mkdir(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	live := t.longLived()
	start, now := t.begin()
	t.mu.Lock()
	reports := t.stats.Changes
	t.mu.Unlock()
	a, errno := t.Child.Mkdir(ctx, parent, name, in)
	t.created(parent, name, &a, errno, start, now)
	if errno == 0 && live && t.longLived() {
		exp := t.expiry(now)
		t.mu.Lock()
		// Any report meanwhile may have been about the new directory
		// (another client making a name in it already): then it is not
		// known complete.
		if t.stats.Changes == reports {
			t.complete[a.GFID] = exp
		}
		t.mu.Unlock()
	}
	return a, errno
}

func (t *MDCache) Symlink(ctx context.Context, parent vfs.GFID, name, target string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	start, now := t.begin()
	a, errno := t.Child.Symlink(ctx, parent, name, target, in)
	t.created(parent, name, &a, errno, start, now)
	return a, errno
}

func (t *MDCache) Link(ctx context.Context, gfid vfs.GFID, newParent vfs.GFID, newName string) (vfs.Attr, syscall.Errno) {
	start, now := t.begin()
	a, errno := t.Child.Link(ctx, gfid, newParent, newName)
	t.created(newParent, newName, &a, errno, start, now)
	return a, errno
}

// removed accounts for the removal of name from parent: the entry, the
// parent's attributes and those of the file it named, if known. victim is
// the file looked up before the removal, if it was.
func (t *MDCache) removed(parent vfs.GFID, name string, what int, victim *vfs.GFID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g, ok := t.dropEntry(parent, name); ok {
		t.dropNode(g, what)
	}
	if victim != nil {
		t.dropNode(*victim, what)
	}
	t.dropNode(parent, dropAttr)
}

// victim returns the GFID that name in parent names, looking it up when
// no entry (even an expired one) tells: the removed file's cached
// attributes must go, so that its GFID turns stale at once (an NFS client
// holding its handle gets ESTALE, not cached attributes). Through FUSE the
// kernel has looked the name up already, so this costs nothing there.
func (t *MDCache) victim(ctx context.Context, parent vfs.GFID, name string) *vfs.GFID {
	if !t.enabled {
		return nil
	}
	t.mu.Lock()
	e := t.entries[entKey{parent, name}]
	t.mu.Unlock()
	if e != nil {
		return nil // removed() finds it
	}
	a, errno := t.Child.Lookup(ctx, parent, name)
	if errno != 0 {
		return nil
	}
	return &a.GFID
}

func (t *MDCache) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	v := t.victim(ctx, parent, name)
	errno := t.Child.Unlink(ctx, parent, name)
	t.removed(parent, name, dropAttr, v)
	return errno
}

func (t *MDCache) Rmdir(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	v := t.victim(ctx, parent, name)
	errno := t.Child.Rmdir(ctx, parent, name)
	t.removed(parent, name, dropAll, v)
	return errno
}

func (t *MDCache) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	v := t.victim(ctx, newParent, newName)
	errno := t.Child.Rename(ctx, oldParent, oldName, newParent, newName, flags)
	// The moved file's ctime changes, the replaced one's nlink.
	t.removed(oldParent, oldName, dropAttr, nil)
	t.removed(newParent, newName, dropAttr, v)
	// The new name (and with RENAME_EXCHANGE the old one) exists without
	// an entry here.
	t.mu.Lock()
	delete(t.complete, oldParent)
	delete(t.complete, newParent)
	t.mu.Unlock()
	return errno
}

// ReadDir with attributes fills the cache, as GlusterFS's readdirp does.
func (t *MDCache) ReadDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	if !plus || !t.enabled {
		return t.Child.ReadDir(ctx, gfid, fh, cookie, max, plus)
	}
	start, now := t.begin()
	ents, eof, errno := t.Child.ReadDir(ctx, gfid, fh, cookie, max, plus)
	if errno == 0 {
		exp := t.expiry(now)
		t.mu.Lock()
		for i := range ents {
			if d := &ents[i]; d.Attr != nil && !d.GFID.IsZero() {
				t.storeEntry(gfid, d.Name, d.GFID, false, start, exp)
				t.storeAttr(d.Attr, start, exp)
			}
		}
		t.mu.Unlock()
	}
	return ents, eof, errno
}

// GetXattr serves a cacheable name from the caller's cached values and
// ENODATA answers.
func (t *MDCache) GetXattr(ctx context.Context, gfid vfs.GFID, name string) ([]byte, syscall.Errno) {
	if !t.enabled || !t.cacheable(name) {
		return t.Child.GetXattr(ctx, gfid, name)
	}
	k := xkey{whoOf(ctx), name}
	now := t.clock()
	t.mu.Lock()
	if n := t.nodes[gfid]; n != nil {
		if v, ok := n.xattrs[k]; ok && now.Before(v.exp) {
			t.stats.XattrHits++
			t.mu.Unlock()
			return slices.Clone(v.value), v.errno
		}
	}
	t.stats.XattrMisses++
	start := t.gen
	t.mu.Unlock()

	value, errno := t.Child.GetXattr(ctx, gfid, name)
	if errno != 0 && errno != syscall.ENODATA {
		return value, errno
	}
	exp := t.expiry(now)
	t.mu.Lock()
	if t.freshNode(gfid, start) {
		n := t.nodeFor(gfid)
		if n.xattrs == nil {
			n.xattrs = make(map[xkey]xval)
		}
		if _, ok := n.xattrs[k]; !ok {
			t.records++
		}
		n.xattrs[k] = xval{value: slices.Clone(value), errno: errno, exp: exp}
		t.evict()
	}
	t.mu.Unlock()
	return value, errno
}

// ListXattr serves the caller's cached list, with cache-xattrs.
func (t *MDCache) ListXattr(ctx context.Context, gfid vfs.GFID) ([]string, syscall.Errno) {
	if !t.enabled || !t.cfg.CacheXattrs {
		return t.Child.ListXattr(ctx, gfid)
	}
	who := whoOf(ctx)
	now := t.clock()
	t.mu.Lock()
	if n := t.nodes[gfid]; n != nil {
		if l, ok := n.lists[who]; ok && now.Before(l.exp) {
			t.stats.XattrHits++
			t.mu.Unlock()
			return slices.Clone(l.names), 0
		}
	}
	t.stats.XattrMisses++
	start := t.gen
	t.mu.Unlock()

	names, errno := t.Child.ListXattr(ctx, gfid)
	if errno != 0 {
		return names, errno
	}
	exp := t.expiry(now)
	t.mu.Lock()
	if t.freshNode(gfid, start) {
		n := t.nodeFor(gfid)
		if n.lists == nil {
			n.lists = make(map[string]xlist)
		}
		if _, ok := n.lists[who]; !ok {
			t.records++
		}
		n.lists[who] = xlist{names: slices.Clone(names), exp: exp}
		t.evict()
	}
	t.mu.Unlock()
	return names, errno
}

func (t *MDCache) SetXattr(ctx context.Context, gfid vfs.GFID, name string, value []byte, flags uint32) syscall.Errno {
	errno := t.Child.SetXattr(ctx, gfid, name, value, flags)
	t.drop(gfid, dropAll)
	return errno
}

func (t *MDCache) RemoveXattr(ctx context.Context, gfid vfs.GFID, name string) syscall.Errno {
	errno := t.Child.RemoveXattr(ctx, gfid, name)
	t.drop(gfid, dropAll)
	return errno
}

func (t *MDCache) XattrOp(ctx context.Context, gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	out, errno := t.Child.XattrOp(ctx, gfid, op, operands)
	t.drop(gfid, dropAll)
	return out, errno
}

package replicate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// DirtyLister is implemented by children that can list their brick's
// index of dirty GFIDs (storage/posix's indices/dirty: every GFID with a
// non-zero trusted.cairn.pending.* counter). storage/posix implements it
// locally.
type DirtyLister interface {
	DirtyGFIDs() ([]vfs.GFID, error)
}

// XattrIndexDirty is the fallback for children that do not implement
// DirtyLister (a remote brick whose protocol/client has no call for it):
// GetXattr of this virtual xattr on the root GFID, which a brick should
// answer with the concatenation of the 16-byte GFIDs in its dirty index.
// A brick that does not know it answers ENODATA or EOPNOTSUPP, and the
// index heal of that brick falls back to a full crawl (HealIndex reports
// ErrNoIndex).
const XattrIndexDirty = "trusted.cairn.index.dirty"

// ErrNoIndex reports that a child offers no way to list its dirty index.
var ErrNoIndex = errors.New("cluster/replicate: brick offers no dirty index (neither DirtyLister nor " + XattrIndexDirty + ")")

// dirtyGFIDs lists child i's dirty index.
func (r *Replicate) dirtyGFIDs(ctx context.Context, i int) ([]vfs.GFID, error) {
	if dl, ok := r.children[i].t.(DirtyLister); ok {
		return dl.DirtyGFIDs()
	}
	v, e := r.children[i].t.GetXattr(internalCtx(ctx), vfs.RootGFID, XattrIndexDirty)
	switch {
	case e == syscall.ENODATA || e == syscall.EOPNOTSUPP || e == syscall.ENOSYS:
		return nil, ErrNoIndex
	case e != 0:
		return nil, e
	case len(v)%16 != 0:
		return nil, fmt.Errorf("cluster/replicate: %s of %s: %d bytes is not a list of GFIDs", XattrIndexDirty, r.children[i].name, len(v))
	}
	out := make([]vfs.GFID, 0, len(v)/16)
	for k := 0; k+16 <= len(v); k += 16 {
		var g vfs.GFID
		copy(g[:], v[k:])
		out = append(out, g)
	}
	return out, nil
}

// HealStats counts the work of a heal run.
type HealStats struct {
	Scanned    int64 // entries looked at
	Healed     int64 // heals that changed something
	Created    int64 // names created on sinks
	Removed    int64 // names removed from sinks
	Bytes      int64 // data bytes written to sinks
	SplitBrain int64 // entries left in split-brain
	Failed     int64 // entries whose heal failed or stays incomplete
	Pending    int64 // entries still dirty at the end
}

// HealIndex heals every GFID in the dirty indices of the reachable
// children (the self-heal daemon's job: it walks the index, never the
// tree). Directories go first so that the names of new files exist before
// their content heals; passes repeat while they make progress, since each
// pass can create work for the next (new objects are marked dirty).
func (r *Replicate) HealIndex(ctx context.Context) (HealStats, error) {
	var stats HealStats
	var firstErr error
	prev := -1
	for pass := 0; pass < 16; pass++ {
		dirty, err := r.dirtySet(ctx)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		dirty = slices.DeleteFunc(dirty, r.ownTxn)
		if len(dirty) == 0 {
			stats.Pending = 0
			return stats, firstErr
		}
		dirs, others := r.classify(ctx, dirty)
		left := 0
		for _, list := range [][]vfs.GFID{dirs, others} {
			for _, g := range list {
				if ctx.Err() != nil {
					return stats, ctx.Err()
				}
				stats.Scanned++
				o := healOpts{wait: true, force: -1, stats: &stats}
				switch r.healWithTimeout(ctx, g, &o) {
				case healSplitBrain, healPartial, healFailed, healBusy:
					left++
				}
			}
		}
		stats.Pending = int64(left)
		if left == 0 {
			// One more look: heals may have marked new objects.
			continue
		}
		if prev >= 0 && left >= prev {
			break
		}
		prev = left
	}
	if stats.Pending > 0 {
		stats.Failed = stats.Pending
	}
	return stats, firstErr
}

// healWithTimeout bounds one heal, so that a lock never released (a
// hung client) cannot stop the daemon.
func (r *Replicate) healWithTimeout(ctx context.Context, g vfs.GFID, o *healOpts) healOutcome {
	hctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return r.heal(hctx, g, o)
}

// dirtySet is the union of the reachable children's dirty indices.
func (r *Replicate) dirtySet(ctx context.Context) ([]vfs.GFID, error) {
	seen := map[vfs.GFID]bool{}
	var out []vfs.GFID
	var firstErr error
	each(r.upMask(), func(i int) {
		gs, err := r.dirtyGFIDs(ctx, i)
		if err != nil {
			if firstErr == nil && !isDownErr(err) {
				firstErr = fmt.Errorf("%s: %w", r.children[i].name, err)
			}
			return
		}
		for _, g := range gs {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	})
	return out, firstErr
}

// ownTxn reports whether this client has a changelog transaction on g
// open, or its end queued: g is in the dirty index because of it, and the
// post-op takes it out again, or blames a child that missed an operation
// (for the next pass, or a lookup, to heal). Healing it now would only
// wait for the transaction's locks, and cut its eager window short (an
// untar or a delete in a directory kept the directory's entry window
// open, and each pass re-read the whole directory on every brick).
func (r *Replicate) ownTxn(g vfs.GFID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range numKinds {
		if r.windows[winKey{g, windowKind(k)}] != nil {
			return true
		}
	}
	for _, ds := range r.deferred {
		for _, d := range ds {
			if w := d.txn.win; w != nil && w.key.gfid == g {
				return true
			}
		}
	}
	return false
}

func isDownErr(err error) bool {
	var e syscall.Errno
	return errors.As(err, &e) && isDown(e)
}

// classify splits GFIDs into directories and the rest (GFIDs no child
// has any more are dropped).
func (r *Replicate) classify(ctx context.Context, gs []vfs.GFID) (dirs, others []vfs.GFID) {
	ictx := internalCtx(ctx)
	for _, g := range gs {
		up := r.upMask()
		isDir, found := false, false
		for m := up; m != 0 && !found; m &= m - 1 {
			a, e := r.children[first(m)].t.GetAttr(ictx, g, 0)
			if e == 0 {
				isDir, found = a.IsDir(), true
			}
		}
		switch {
		case !found:
		case isDir:
			dirs = append(dirs, g)
		default:
			others = append(others, g)
		}
	}
	if len(dirs) > 1 {
		// The root first, as its names lead to everything else.
		sort.SliceStable(dirs, func(a, b int) bool { return dirs[a] == vfs.RootGFID && dirs[b] != vfs.RootGFID })
	}
	return dirs, others
}

// Progress reports a full heal's advance to its caller.
type Progress struct {
	HealStats
	// Path is the directory being crawled.
	Path string
	// EstEntries and EstBytes estimate the totals from the first
	// reachable brick's statfs (used inodes and blocks; the brick's
	// private index counts too, so they are upper bounds), for an ETA.
	EstEntries int64
	EstBytes   int64
	Started    time.Time
	Done       bool
}

// HealFull crawls the whole volume from the root and heals everything
// that differs, whether or not its changelog says so: names missing on
// some children (merged conservatively when nothing blames), and every
// dirty file. progress, if not nil, is called after every directory and
// every few MiB of data.
func (r *Replicate) HealFull(ctx context.Context, progress func(Progress)) (HealStats, error) {
	p := Progress{Started: time.Now()}
	if up := r.upMask(); up != 0 {
		if s, e := r.children[first(up)].t.StatFS(internalCtx(ctx), vfs.RootGFID); e == 0 {
			p.EstEntries = int64(s.Files - s.Ffree)
			p.EstBytes = int64((s.Blocks - s.Bfree) * uint64(s.Frsize))
		}
	}
	var lastReport time.Time
	report := func(force bool) {
		if progress != nil && (force || time.Since(lastReport) > 200*time.Millisecond) {
			lastReport = time.Now()
			progress(p)
		}
	}
	queue := []struct {
		g    vfs.GFID
		path string
	}{{vfs.RootGFID, "/"}}
	visited := map[vfs.GFID]bool{}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return p.HealStats, err
		}
		cur := queue[0]
		queue = queue[1:]
		if visited[cur.g] {
			continue
		}
		visited[cur.g] = true
		p.Path = cur.path
		o := healOpts{wait: true, force: -1, merge: true, stats: &p.HealStats,
			onBytes: func(n int64) { report(false) }}
		p.Scanned++
		switch r.healWithTimeout(ctx, cur.g, &o) {
		case healSplitBrain, healPartial, healFailed:
			p.Failed++
		}
		// Crawl the union of the children's listings, so that a name
		// only a sink has (removed by the heal above, or in a
		// split-brain) is still looked at.
		names := map[string]vfs.DirEntry{}
		each(r.upMask(), func(i int) {
			l, e := r.listDir(internalCtx(ctx), i, cur.g)
			if e != 0 {
				return
			}
			for n, d := range l {
				if _, ok := names[n]; !ok {
					names[n] = d
				}
			}
		})
		for _, n := range sortedNames(names) {
			a, e := r.Lookup(ctx, cur.g, n)
			if e != 0 {
				if e != syscall.ENOENT {
					p.Failed++
				}
				continue
			}
			child := strings.TrimSuffix(cur.path, "/") + "/" + n
			if a.IsDir() {
				queue = append(queue, struct {
					g    vfs.GFID
					path string
				}{a.GFID, child})
				continue
			}
			if visited[a.GFID] {
				continue // another hard link of a file already healed
			}
			visited[a.GFID] = true
			p.Scanned++
			p.Path = child
			fo := healOpts{wait: true, force: -1, stats: &p.HealStats,
				onBytes: func(n int64) { report(false) }}
			switch r.healWithTimeout(ctx, a.GFID, &fo) {
			case healSplitBrain, healPartial, healFailed:
				p.Failed++
			}
			report(false)
		}
		report(false)
	}
	// Objects created by the crawl were marked dirty: finish them.
	st, err := r.HealIndex(ctx)
	p.Healed += st.Healed
	p.Bytes += st.Bytes
	p.Created += st.Created
	p.Removed += st.Removed
	p.Pending = st.Pending
	p.Done = true
	report(true)
	if errors.Is(err, ErrNoIndex) {
		err = nil
	}
	return p.HealStats, err
}

// InfoEntry is one dirty GFID in a brick's index.
type InfoEntry struct {
	GFID vfs.GFID
	// Path is the file's path if it could be found, else "<gfid:...>".
	Path string
	// Kinds lists what is pending: "data", "metadata", "entry".
	Kinds []string
	// SplitBrain is set when the copies blame each other for some kind
	// and no favorite-child policy resolves it.
	SplitBrain bool
}

// BrickInfo is the heal information of one child.
type BrickInfo struct {
	Brick   string
	Up      bool
	Err     error
	Entries []InfoEntry
}

// Info lists the dirty entries of every child's index ("cairn heal info"),
// marking those in split-brain. Paths are found by crawling the volume
// when the client has not seen the files (only if some entry needs one).
func (r *Replicate) Info(ctx context.Context) ([]BrickInfo, error) {
	up := r.upMask()
	out := make([]BrickInfo, len(r.children))
	var need []vfs.GFID
	for i, c := range r.children {
		out[i].Brick = c.name
		out[i].Up = up&(1<<i) != 0
		if !out[i].Up {
			out[i].Err = syscall.ENOTCONN
			continue
		}
		gs, err := r.dirtyGFIDs(ctx, i)
		if err != nil {
			out[i].Err = err
			if isDownErr(err) {
				out[i].Up = false
			}
			continue
		}
		for _, g := range gs {
			ie := InfoEntry{GFID: g}
			m, ok, _ := r.readMatrix(internalCtx(ctx), g, up)
			if ok == 0 {
				continue
			}
			for k := range numKinds {
				v := judge(m, ok, k)
				if !v.dirty {
					continue
				}
				ie.Kinds = append(ie.Kinds, k.String())
				if v.splitBrain && k != entryKind {
					ie.SplitBrain = true
				}
			}
			if len(ie.Kinds) == 0 {
				continue // cleared since the index was read
			}
			out[i].Entries = append(out[i].Entries, ie)
			need = append(need, g)
		}
	}
	paths := r.findPaths(ctx, need)
	for i := range out {
		for k := range out[i].Entries {
			e := &out[i].Entries[k]
			if p, ok := paths[e.GFID]; ok {
				e.Path = p
			} else {
				e.Path = "<gfid:" + e.GFID.String() + ">"
			}
		}
	}
	return out, nil
}

// findPaths maps GFIDs to paths: from names this client has seen, then by
// crawling the union of the children's trees until all are found.
func (r *Replicate) findPaths(ctx context.Context, gs []vfs.GFID) map[vfs.GFID]string {
	out := map[vfs.GFID]string{}
	want := map[vfs.GFID]bool{}
	for _, g := range gs {
		if g == vfs.RootGFID {
			out[g] = "/"
			continue
		}
		if p := r.pathOf(g); !strings.HasPrefix(p, "<gfid:") {
			out[g] = p
			continue
		}
		want[g] = true
	}
	if len(want) == 0 {
		return out
	}
	ictx := internalCtx(ctx)
	type item struct {
		g    vfs.GFID
		path string
	}
	queue := []item{{vfs.RootGFID, ""}}
	seen := map[vfs.GFID]bool{}
	for len(queue) > 0 && len(want) > 0 && ctx.Err() == nil {
		cur := queue[0]
		queue = queue[1:]
		if seen[cur.g] {
			continue
		}
		seen[cur.g] = true
		each(r.upMask(), func(i int) {
			l, e := r.listDir(ictx, i, cur.g)
			if e != 0 {
				return
			}
			for _, n := range sortedNames(l) {
				d := l[n]
				p := cur.path + "/" + n
				if want[d.GFID] {
					out[d.GFID] = p
					delete(want, d.GFID)
				}
				if d.Type == syscall.S_IFDIR && !seen[d.GFID] {
					queue = append(queue, item{d.GFID, p})
				}
			}
		})
	}
	return out
}

// ResolveSplitBrain heals target (a path from the volume root, or a GFID
// in UUID form, or "<gfid:UUID>") choosing the source by policy:
// "latest-mtime", "bigger-file" (as the GlusterFS CLI names them), or
// "source-brick" with sourceBrick naming the child. It heals every kind
// of the file, overriding the changelog's blame, and returns the source
// used.
func (r *Replicate) ResolveSplitBrain(ctx context.Context, target, policy, sourceBrick string) (string, error) {
	g, parent, name, err := r.resolveTarget(ctx, target)
	if err != nil {
		return "", err
	}
	o := healOpts{wait: true, force: -1}
	switch policy {
	case "source-brick":
		o.force = -1
		for i, c := range r.children {
			if c.name == sourceBrick {
				o.force = i
			}
		}
		if o.force < 0 {
			return "", fmt.Errorf("cluster/replicate: no brick named %q (have %s)", sourceBrick, strings.Join(r.Children(), ", "))
		}
		if r.upMask()&(1<<o.force) == 0 {
			return "", fmt.Errorf("cluster/replicate: source brick %s is down", sourceBrick)
		}
	case "latest-mtime", "bigger-file", PolicyMtime, PolicySize, PolicyCtime, PolicyMajority:
		o.forcePolicy = policy
	default:
		return "", fmt.Errorf("cluster/replicate: split-brain policy %q: want latest-mtime, bigger-file or source-brick", policy)
	}
	if g.IsZero() {
		// A GFID split-brain: the name itself differs between bricks.
		// Heal the parent's entries from the chosen source.
		eo := o
		if eo.forcePolicy != "" {
			src, ok := r.pickByLookup(ctx, parent, name, eo.forcePolicy)
			if !ok {
				return "", fmt.Errorf("cluster/replicate: %s: policy %s cannot tell the copies apart", target, policy)
			}
			eo.force, eo.forcePolicy = src, ""
		}
		eo.kinds[entryKind] = true
		if out := r.healEntry(ctx, parent, &eo); out != healDone && out != healClean {
			return "", fmt.Errorf("cluster/replicate: %s: entry heal did not complete", target)
		}
		return r.children[eo.force].name, nil
	}
	r.flushWindow(ctx, g, dataKind)
	// Choose once, with every kind seeing the same source.
	if o.forcePolicy != "" {
		attrs, have := r.attrsOf(internalCtx(ctx), g, r.upMask())
		src, ok := r.favoriteBy(o.forcePolicy, have, attrs)
		if !ok {
			return "", fmt.Errorf("cluster/replicate: %s: policy %s cannot tell the copies apart", target, policy)
		}
		o.force, o.forcePolicy = src, ""
	}
	out := r.heal(ctx, g, &o)
	r.forgetState(g)
	if out != healDone && out != healClean {
		return "", fmt.Errorf("cluster/replicate: %s: heal did not complete", target)
	}
	r.log.Info("split-brain resolved by operator", "path", target, "gfid", g.String(), "policy", policy, "source", r.children[o.force].name)
	return r.children[o.force].name, nil
}

// pickByLookup applies a policy to the copies of a name that differ.
func (r *Replicate) pickByLookup(ctx context.Context, parent vfs.GFID, name, policy string) (int, bool) {
	attrs := make([]vfs.Attr, len(r.children))
	var cand uint64
	each(r.upMask(), func(i int) {
		if a, e := r.children[i].t.Lookup(internalCtx(ctx), parent, name); e == 0 {
			attrs[i] = a
			cand |= 1 << i
		}
	})
	return r.favoriteBy(policy, cand, attrs)
}

// resolveTarget finds the GFID of a path or parses a GFID. For a path
// whose last name is in GFID split-brain it returns a zero GFID with the
// parent and name.
func (r *Replicate) resolveTarget(ctx context.Context, target string) (g, parent vfs.GFID, name string, err error) {
	t := strings.TrimSuffix(strings.TrimPrefix(target, "<gfid:"), ">")
	if gg, perr := vfs.ParseGFID(t); perr == nil && !strings.Contains(target, "/") {
		return gg, vfs.GFID{}, "", nil
	}
	cur := vfs.RootGFID
	parts := strings.Split(strings.Trim(target, "/"), "/")
	if len(parts) == 1 && parts[0] == "" {
		return vfs.RootGFID, vfs.GFID{}, "", nil
	}
	for k, p := range parts {
		if p == "" {
			continue
		}
		a, e := r.Lookup(ctx, cur, p)
		if e == syscall.EIO && k == len(parts)-1 {
			return vfs.GFID{}, cur, p, nil
		}
		if e != 0 {
			return vfs.GFID{}, vfs.GFID{}, "", fmt.Errorf("cluster/replicate: %s: %w", target, e)
		}
		cur = a.GFID
	}
	return cur, vfs.GFID{}, "", nil
}

// daemon is the self-heal daemon of this client: an index heal every
// HealInterval, and soon after a child comes back up.
func (r *Replicate) daemon() {
	defer r.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := time.Now()
	prevUp := r.upMask()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		up := r.upMask()
		cameBack := up&^prevUp != 0
		prevUp = up
		if !cameBack && time.Since(last) < r.cfg.HealInterval {
			continue
		}
		last = time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-r.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		st, err := r.HealIndex(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			r.log.Warn("index self-heal", "err", err)
		}
		if st.Healed > 0 || st.Pending > 0 {
			r.log.Info("index self-heal pass", "scanned", st.Scanned, "healed", st.Healed,
				"bytes", st.Bytes, "pending", st.Pending, "split-brain", st.SplitBrain)
		}
	}
}

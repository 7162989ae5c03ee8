package replicate

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// healEntry heals the names of a directory: from sources to sinks it
// creates missing names (with the same GFID, as hard links when the sink
// already has the GFID elsewhere, by renaming when a directory moved
// within this directory), removes names the sinks should not have, and
// replaces names whose GFID differs. Without blame (or when both blame
// each other) it merges conservatively: every name any copy has is
// created where missing and nothing is removed, as AFR does.
//
// Objects it creates are marked pending on the source (data and metadata,
// entries for directories) so their content heals next.
func (r *Replicate) healEntry(ctx context.Context, dir vfs.GFID, o *healOpts) healOutcome {
	ictx := internalCtx(ctx)
	r.flushWindow(ctx, dir, entryKind)
	locks := []lockReq{
		{entry: true, domain: windowDomain, gfid: dir, name: "", typ: vfs.WriteLock},
		{entry: true, domain: entryDomain, gfid: dir, name: "", typ: vfs.WriteLock},
	}
	locked, owner := r.healLock(ctx, r.upMask(), locks, o)
	if locked == 0 {
		return healBusy
	}
	defer r.healUnlock(ctx, locked, owner, locks)
	m, mok, _ := r.readMatrix(ictx, dir, locked)
	attrs, have := r.attrsOf(ictx, dir, mok)
	v := judge(m, have, entryKind)
	forced := o.force >= 0 || o.forcePolicy != ""
	if !v.dirty && !o.merge && !forced {
		return healClean
	}
	lists := make([]map[string]vfs.DirEntry, len(r.children))
	errs := make([]syscall.Errno, len(r.children))
	r.parallel(have, func(i int) { lists[i], errs[i] = r.listDir(ictx, i, dir) })
	each(have, func(i int) {
		if errs[i] != 0 {
			have &^= 1 << i
		}
	})
	if have == 0 {
		return healFailed
	}
	var sources, sinks uint64
	merge := false
	switch {
	case o.force >= 0 && have&(1<<o.force) != 0:
		sources, sinks = 1<<o.force, have&^(1<<o.force)
	case forced:
		src, ok := r.favoriteBy(o.forcePolicy, have, attrs)
		if !ok {
			return healSplitBrain
		}
		sources, sinks = 1<<src, have&^(1<<src)
	case v.accused&have == 0 || v.splitBrain:
		merge = true
		sources, sinks = have, have
	default:
		sources, sinks = v.sources&have, have&v.accused
	}

	// The reference listing: the source's, or the union in a merge.
	ref := map[string]vfs.DirEntry{}
	refFrom := map[string]int{}
	conflict := false
	each(sources, func(i int) {
		for name, d := range lists[i] {
			old, seen := ref[name]
			if !seen {
				ref[name], refFrom[name] = d, i
				continue
			}
			if old.GFID != d.GFID {
				if w, ok := r.resolveNameConflict(ictx, dir, name, sources, lists); ok {
					ref[name], refFrom[name] = lists[w][name], w
					continue
				}
				conflict = true
				r.log.Error("gfid split-brain: the same name has different GFIDs on different bricks; leaving it for an operator",
					"path", r.pathOf(dir)+"/"+name, "parent", dir.String(), "name", name,
					"bricks", r.namesOf(sources))
				delete(ref, name)
			}
		}
	})
	// Names in conflict are left out of ref, so nothing removes them.
	healed := sources
	incomplete := false
	each(sinks, func(s int) {
		ok := r.healEntriesOn(ictx, dir, s, lists[s], ref, refFrom, merge, o)
		if ok {
			healed |= 1 << s
		} else {
			incomplete = true
		}
	})
	if merge {
		if incomplete || conflict {
			healed = 0
		} else {
			healed = have
		}
	}
	if healed != 0 {
		if e := r.clearCounters(ctx, dir, m, locked&have, healed, entryKind); e != 0 {
			return healFailed
		}
	}
	r.forgetState(dir)
	if conflict {
		if o.stats != nil {
			o.stats.SplitBrain++
		}
		return healSplitBrain
	}
	if incomplete {
		return healPartial
	}
	if sinks == 0 {
		return healClean
	}
	if o.stats != nil {
		o.stats.Healed++
	}
	return healDone
}

// resolveNameConflict applies the favorite-child policy to a name that
// has different GFIDs on different sources; it returns the winning child.
func (r *Replicate) resolveNameConflict(ctx context.Context, dir vfs.GFID, name string, sources uint64, lists []map[string]vfs.DirEntry) (int, bool) {
	if r.cfg.FavoriteChildPolicy == PolicyNone {
		return -1, false
	}
	attrs := make([]vfs.Attr, len(r.children))
	var cand uint64
	each(sources, func(i int) {
		if _, ok := lists[i][name]; !ok {
			return
		}
		if a, e := r.children[i].t.Lookup(ctx, dir, name); e == 0 {
			attrs[i] = a
			cand |= 1 << i
		}
	})
	return r.favorite(cand, attrs, nil, entryKind)
}

// healEntriesOn brings sink s's listing of dir in line with ref. It
// reports whether nothing is left to do.
func (r *Replicate) healEntriesOn(ctx context.Context, dir vfs.GFID, s int, have, ref map[string]vfs.DirEntry, refFrom map[string]int, merge bool, o *healOpts) bool {
	t := r.children[s].t
	complete := true
	// 1. Names whose GFID differs: the sink's object is not the one the
	// source has (recreated while the sink was away), remove it.
	if !merge {
		for _, name := range sortedNames(have) {
			d := have[name]
			if rd, ok := ref[name]; ok && rd.GFID != d.GFID {
				if e := r.removeEntry(ctx, s, dir, name, d); e != 0 {
					complete = false
					continue
				}
				delete(have, name)
			}
		}
	}
	// 2. Missing names.
	byGFID := map[vfs.GFID]string{}
	for name, d := range have {
		byGFID[d.GFID] = name
	}
	for _, name := range sortedNames(ref) {
		if _, ok := have[name]; ok {
			continue
		}
		d := ref[name]
		src := refFrom[name]
		// A directory renamed within dir: move it.
		if old, ok := byGFID[d.GFID]; ok && d.Type == syscall.S_IFDIR && !merge {
			if _, keep := ref[old]; !keep {
				if e := t.Rename(ctx, dir, old, dir, name, vfs.RenameNoReplace); e == 0 {
					delete(have, old)
					have[name] = d
					continue
				}
			}
		}
		created, e := r.createEntry(ctx, s, src, dir, name, d)
		if e != 0 {
			r.log.Warn("entry self-heal could not create a name", "path", r.pathOf(dir)+"/"+name,
				"sink", r.children[s].name, "errno", e.Error())
			complete = false
			continue
		}
		have[name] = d
		if created && o.stats != nil {
			o.stats.Created++
		}
		if created && o.created != nil {
			o.created(d.GFID)
		}
	}
	// 3. Names the sink should not have.
	if !merge {
		for _, name := range sortedNames(have) {
			if _, ok := ref[name]; ok {
				continue
			}
			if e := r.removeEntry(ctx, s, dir, name, have[name]); e != 0 {
				complete = false
			} else if o.stats != nil {
				o.stats.Removed++
			}
		}
	}
	return complete
}

// createEntry makes name in dir on sink s, like the source's entry d. It
// reports whether a new object was made (rather than a link added).
func (r *Replicate) createEntry(ctx context.Context, s, src int, dir vfs.GFID, name string, d vfs.DirEntry) (bool, syscall.Errno) {
	t := r.children[s].t
	sa, e := r.children[src].t.GetAttr(ctx, d.GFID, 0)
	if e != 0 {
		return false, e
	}
	typ := sa.Mode & syscall.S_IFMT
	if typ != syscall.S_IFDIR {
		// The sink may have the object under another name already
		// (a hard link or a rename made while it was away).
		if _, e := t.GetAttr(ctx, d.GFID, 0); e == 0 {
			_, e := t.Link(ctx, d.GFID, dir, name)
			return false, e
		}
	}
	in := vfs.CreateIn{GFID: d.GFID, Mode: sa.Mode & 07777}
	switch typ {
	case syscall.S_IFDIR:
		if _, e := t.Mkdir(ctx, dir, name, &in); e != 0 {
			return false, e
		}
		r.markPending(ctx, src, d.GFID, s, entryKind, metaKind)
	case syscall.S_IFREG:
		in.Mode |= syscall.S_IFREG
		if _, e := t.Mknod(ctx, dir, name, &in); e != 0 {
			return false, e
		}
		r.markPending(ctx, src, d.GFID, s, dataKind, metaKind)
	case syscall.S_IFLNK:
		target, e := r.children[src].t.Readlink(ctx, d.GFID)
		if e != 0 {
			return false, e
		}
		if _, e := t.Symlink(ctx, dir, name, target, &in); e != 0 {
			return false, e
		}
		r.markPending(ctx, src, d.GFID, s, metaKind)
	default:
		in.Mode |= typ
		in.Rdev = sa.Rdev
		if _, e := t.Mknod(ctx, dir, name, &in); e != 0 {
			return false, e
		}
		r.markPending(ctx, src, d.GFID, s, metaKind)
	}
	return true, 0
}

// removeEntry removes name (and, for a directory, everything below it)
// from child s.
func (r *Replicate) removeEntry(ctx context.Context, s int, dir vfs.GFID, name string, d vfs.DirEntry) syscall.Errno {
	t := r.children[s].t
	if d.Type == syscall.S_IFDIR {
		if e := r.removeTree(ctx, s, d.GFID); e != 0 {
			return e
		}
		e := t.Rmdir(ctx, dir, name)
		if e == syscall.ENOENT {
			return 0
		}
		return e
	}
	e := t.Unlink(ctx, dir, name)
	if e == syscall.ENOENT {
		return 0
	}
	return e
}

func (r *Replicate) removeTree(ctx context.Context, s int, dir vfs.GFID) syscall.Errno {
	list, e := r.listDir(ctx, s, dir)
	if e != 0 {
		return e
	}
	for _, name := range sortedNames(list) {
		if e := r.removeEntry(ctx, s, dir, name, list[name]); e != 0 {
			return e
		}
	}
	return 0
}

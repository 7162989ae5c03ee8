package replicate

import (
	"context"
	"sort"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// healOpts steer one heal.
type healOpts struct {
	// wait: take the heal's locks waiting (daemon, operator); otherwise
	// give up when another transaction holds them (background heals).
	wait bool
	// kinds limits the heal; zero value means all kinds.
	kinds [numKinds]bool
	// force, when >= 0, is an operator's choice of source for a
	// split-brain; forcePolicy names a policy chosen by the operator.
	force       int
	forcePolicy string
	// merge asks for an entry heal even without changelog (a lookup saw
	// the children disagree), merging conservatively.
	merge bool
	// stats, when set, counts the work.
	stats *HealStats
	// onBytes is told of data copied, as it is copied.
	onBytes func(n int64)
	// created is told of objects entry heal made on a sink.
	created func(g vfs.GFID)
}

func (o *healOpts) want(k kind) bool {
	if o.kinds == [numKinds]bool{} {
		return true
	}
	return o.kinds[k]
}

// healOutcome is the result of one heal of one kind.
type healOutcome int

const (
	healClean      healOutcome = iota // nothing was needed
	healDone                          // healed, counters cleared
	healBusy                          // locks held by someone else (background)
	healSplitBrain                    // no source, no policy
	healPartial                       // progress made but something remains
	healFailed
)

// maybeHeal schedules a background heal of gfid if this client's
// self-heal options ask for the kinds st shows dirty.
func (r *Replicate) maybeHeal(gfid vfs.GFID, st *inodeState) {
	want := (st.dirty[dataKind] && r.cfg.DataSelfHeal) ||
		(st.dirty[metaKind] && r.cfg.MetadataSelfHeal) ||
		(st.dirty[entryKind] && r.cfg.EntrySelfHeal)
	if want {
		r.scheduleHeal(gfid, false)
	}
}

// maybeHealGFID schedules a background entry heal of a directory whose
// children disagree.
func (r *Replicate) maybeHealGFID(dir vfs.GFID) {
	if r.cfg.EntrySelfHeal {
		r.scheduleHeal(dir, true)
	}
}

// scheduleHeal starts a background heal unless one of gfid runs already
// or BackgroundSelfHealCount heals run; a dropped heal stays in the dirty
// index for the daemon.
func (r *Replicate) scheduleHeal(gfid vfs.GFID, merge bool) {
	if r.bg == nil {
		return
	}
	r.mu.Lock()
	if r.closed || r.healing[gfid] {
		r.mu.Unlock()
		return
	}
	select {
	case r.bg <- struct{}{}:
	default:
		r.mu.Unlock()
		return
	}
	r.healing[gfid] = true
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		defer func() {
			r.mu.Lock()
			delete(r.healing, gfid)
			r.mu.Unlock()
			<-r.bg
		}()
		ctx, cancel := backgroundCtx(context.Background())
		defer cancel()
		opts := healOpts{force: -1, merge: merge, created: func(g vfs.GFID) { r.scheduleHeal(g, false) }}
		opts.kinds = [numKinds]bool{r.cfg.DataSelfHeal, r.cfg.MetadataSelfHeal, r.cfg.EntrySelfHeal || merge}
		r.heal(ctx, gfid, &opts)
	}()
}

// heal heals every wanted kind of gfid: entries first for a directory
// (so its children exist), then data, then metadata (last, because
// writing data changes the times that metadata heal restores).
func (r *Replicate) heal(ctx context.Context, gfid vfs.GFID, o *healOpts) healOutcome {
	started := time.Now()
	r.log.Debug("self-heal started", "gfid", gfid.String(), "path", r.pathOf(gfid))
	ictx := internalCtx(ctx)
	up := r.upMask()
	attrs := make([]vfs.Attr, len(r.children))
	errs := make([]syscall.Errno, len(r.children))
	r.parallel(up, func(i int) { attrs[i], errs[i] = r.children[i].t.GetAttr(ictx, gfid, 0) })
	have := okMask(errs, up)
	if have == 0 {
		return healFailed
	}
	a := attrs[first(have)]
	worst := healClean
	note := func(out healOutcome) {
		if out > worst {
			worst = out
		}
	}
	if a.IsDir() && o.want(entryKind) {
		note(r.healEntry(ctx, gfid, o))
	}
	if a.IsRegular() && o.want(dataKind) {
		note(r.healData(ctx, gfid, o))
	}
	if o.want(metaKind) {
		note(r.healMeta(ctx, gfid, o))
	}
	r.forgetState(gfid)
	switch worst {
	case healDone:
		r.log.Info("self-heal finished", "path", r.pathOf(gfid), "gfid", gfid.String(),
			"bricks", r.namesOf(have), "took", time.Since(started).Round(time.Millisecond))
	case healPartial, healFailed:
		r.log.Warn("self-heal incomplete", "path", r.pathOf(gfid), "gfid", gfid.String(),
			"bricks", r.namesOf(have), "took", time.Since(started).Round(time.Millisecond))
	}
	return worst
}

// healLock takes the heal's locks on the children in mask.
func (r *Replicate) healLock(ctx context.Context, mask uint64, locks []lockReq, o *healOpts) (uint64, uint64) {
	owner := r.newOwner()
	var ok uint64
	if o.wait {
		ok, _ = r.lockAndPreOp(ctx, mask, owner, locks, nil)
	} else {
		ok = r.tryLock(ctx, mask, owner, locks)
	}
	return ok, owner
}

// tryLock takes locks on every child in mask without waiting; on any
// conflict it releases them all and returns 0.
func (r *Replicate) tryLock(ctx context.Context, mask, owner uint64, locks []lockReq) uint64 {
	ictx := internalCtx(ctx)
	errs := make([]syscall.Errno, len(r.children))
	got := make([]int, len(r.children))
	r.parallel(mask, func(i int) {
		ops := make([]compound.Op, len(locks))
		for k, l := range locks {
			ops[k] = l.op(owner, false)
		}
		// This client's own deferred name unlocks go first, so that
		// they do not make the heal give up on a directory it has just
		// changed.
		res, e := r.runOn(ictx, i, ops)
		errs[i] = e
		for k, rr := range res {
			if k < len(locks) && rr.Errno == 0 {
				got[i]++
			}
		}
	})
	var ok uint64
	conflict := false
	each(mask, func(i int) {
		if errs[i] == 0 {
			ok |= 1 << i
		}
		if errs[i] == syscall.EAGAIN {
			conflict = true
		}
	})
	if conflict {
		r.parallel(mask, func(i int) {
			if got[i] > 0 {
				r.unlockGot(ictx, i, owner, locks[:got[i]])
			}
		})
		return 0
	}
	return ok
}

func (r *Replicate) healUnlock(ctx context.Context, mask, owner uint64, locks []lockReq) {
	r.unlockAndPostOp(ctx, mask, owner, locks, nil)
}

// decide splits the children in have into sources and sinks for kind k,
// applying the operator's choice or the favorite-child policy to a
// split-brain. It returns ok=false for an unresolved split-brain.
func (r *Replicate) decide(gfid vfs.GFID, m matrix, have uint64, k kind, attrs []vfs.Attr, o *healOpts) (src int, sources, sinks uint64, ok bool) {
	v := judge(m, have, k)
	switch {
	case o.force >= 0 && have&(1<<o.force) != 0:
		src = o.force
	case o.forcePolicy != "":
		var found bool
		src, found = r.favoriteBy(o.forcePolicy, have, attrs)
		if !found {
			return -1, 0, 0, false
		}
	case v.splitBrain:
		var found bool
		src, found = r.favorite(have, attrs, m, k)
		if !found {
			return -1, 0, 0, false
		}
		r.log.Warn("split-brain resolved by favorite-child-policy", "gfid", gfid.String(), "path", r.pathOf(gfid),
			"kind", k.String(), "policy", r.cfg.FavoriteChildPolicy, "source", r.children[src].name)
	case v.accused&have == 0:
		// Dirty but nobody blamed (a client died between pre-op and
		// post-op): every copy is as good; converge on the biggest,
		// then newest, as AFR does.
		src = biggest(have, attrs)
		return src, 1 << src, have &^ (1 << src), true
	default:
		sources = v.sources & have
		src = r.pick(gfid, sources)
		return src, sources, have & v.accused, true
	}
	return src, 1 << src, have &^ (1 << src), true
}

// biggest returns the child with the largest size, then newest mtime.
func biggest(mask uint64, attrs []vfs.Attr) int {
	best := -1
	each(mask, func(i int) {
		if best < 0 {
			best = i
			return
		}
		a, b := attrs[i], attrs[best]
		if a.Size > b.Size || (a.Size == b.Size && newer(a.Mtime, b.Mtime)) {
			best = i
		}
	})
	return best
}

func newer(a, b vfs.Timespec) bool {
	return a.Sec > b.Sec || (a.Sec == b.Sec && a.Nsec > b.Nsec)
}

// favorite applies FavoriteChildPolicy to a split-brain among cand (m,
// the changelog read for it, may be nil).
func (r *Replicate) favorite(cand uint64, attrs []vfs.Attr, m matrix, k kind) (int, bool) {
	if r.cfg.FavoriteChildPolicy == PolicyMajority && m != nil {
		if src, ok := r.majority(cand, attrs, m, k); ok {
			return src, true
		}
	}
	return r.favoriteBy(r.cfg.FavoriteChildPolicy, cand, attrs)
}

// majority picks a copy from a group of copies of one size that do not
// blame each other in m, if the group holds more than half of all the
// children. The changelog says which copies went through the same
// transactions; their mtimes need not agree, since every brick stamps its
// own (comparing mtimes, as favoriteBy does without a changelog, found no
// majority in about 1 run in 20 of TestFavoriteChildPolicy, and in 3 in 10
// once transactions got faster).
func (r *Replicate) majority(cand uint64, attrs []vfs.Attr, m matrix, k kind) (int, bool) {
	blames := func(i, j int) bool { return m[i] != nil && m[i][j][k] > m[i][i][k] }
	src := -1
	each(cand, func(i int) {
		if src >= 0 || m[i] == nil {
			return
		}
		group := []int{i}
		each(cand, func(j int) {
			if j == i || m[j] == nil || attrs[j].Size != attrs[i].Size {
				return
			}
			for _, g := range group {
				if blames(g, j) || blames(j, g) {
					return
				}
			}
			group = append(group, j)
		})
		if 2*len(group) > len(r.children) {
			src = i
		}
	})
	return src, src >= 0
}

// favoriteBy picks a source among cand by policy. Ties resolve nothing:
// a policy that cannot tell the copies apart leaves the split-brain.
func (r *Replicate) favoriteBy(policy string, cand uint64, attrs []vfs.Attr) (int, bool) {
	best, tie := -1, false
	better := func(a, b vfs.Attr) int { return 0 }
	switch policy {
	case PolicyMtime, "latest-mtime":
		better = func(a, b vfs.Attr) int { return cmpTime(a.Mtime, b.Mtime) }
	case PolicyCtime:
		better = func(a, b vfs.Attr) int { return cmpTime(a.Ctime, b.Ctime) }
	case PolicySize, "bigger-file":
		better = func(a, b vfs.Attr) int {
			switch {
			case a.Size > b.Size:
				return 1
			case a.Size < b.Size:
				return -1
			}
			return 0
		}
	case PolicyMajority:
		// The copies that agree (same size and mtime) and make a strict
		// majority of all children win.
		groups := map[[3]int64][]int{}
		each(cand, func(i int) {
			key := [3]int64{int64(attrs[i].Size), attrs[i].Mtime.Sec, attrs[i].Mtime.Nsec}
			groups[key] = append(groups[key], i)
		})
		for _, g := range groups {
			if 2*len(g) > len(r.children) {
				return g[0], true
			}
		}
		return -1, false
	default:
		return -1, false
	}
	each(cand, func(i int) {
		if best < 0 {
			best = i
			return
		}
		switch better(attrs[i], attrs[best]) {
		case 1:
			best, tie = i, false
		case 0:
			tie = true
		}
	})
	if best < 0 || tie {
		return -1, false
	}
	return best, true
}

func cmpTime(a, b vfs.Timespec) int {
	switch {
	case newer(a, b):
		return 1
	case newer(b, a):
		return -1
	}
	return 0
}

// clearCounters takes back, on every child in locked, the kind-k
// counters it holds about the children in synced, by the amounts read in
// m (valid because the heal holds the kind's lock, so no transaction is
// in flight). Blame of children outside synced is kept.
func (r *Replicate) clearCounters(ctx context.Context, gfid vfs.GFID, m matrix, locked, synced uint64, k kind) syscall.Errno {
	ictx := internalCtx(ctx)
	errs := make([]syscall.Errno, len(r.children))
	r.parallel(locked, func(i int) {
		if m[i] == nil {
			return
		}
		delta := make([]int32, len(r.children))
		each(synced, func(j int) { delta[j] = -m[i][j][k] })
		var ops []compound.Op
		if m[i][i][k] != 0 {
			// Only a row whose own counter is not zero can hold an old
			// form's own key worth folding: one read, not one per heal.
			ops = r.foldOldForm(ictx, i, gfid, k)
		}
		ops = append(ops, r.pendingOps(i, gfid, k, delta)...)
		if len(ops) > 0 {
			_, errs[i] = compound.Run(ictx, r.children[i].t, ops)
		}
	})
	for _, e := range errs {
		if e != 0 {
			return e
		}
	}
	return 0
}

// foldOldForm returns the xattrop that moves what child i's own pending
// key holds of kind k (an older cairn kept M[i][i] there; see DirtyKey)
// into the current form, leaving the matrix as it is: -S on the own key
// and on every other child's key, +S on the dirty counter. Without it a
// heal would zero the matrix but leave stored counters that cancel out,
// and the GFID in the bricks' dirty index for ever.
func (r *Replicate) foldOldForm(ctx context.Context, i int, gfid vfs.GFID, k kind) []compound.Op {
	v, e := r.children[i].t.GetXattr(ctx, gfid, r.children[i].pendingKey)
	if e != 0 {
		return nil
	}
	s := decodeCounters(v)[k]
	if s == 0 {
		return nil
	}
	one := func(d int32) []byte {
		var c counters
		c[k] = d
		return c.encode()
	}
	operands := map[string][]byte{DirtyKey: one(s)}
	for _, c := range r.children {
		operands[c.pendingKey] = one(-s)
	}
	return []compound.Op{compound.XattrOp(gfid, vfs.XattrAddArray32, operands)}
}

// markPending adds +1 to the kind counters about sink on child src, so
// that a later heal of gfid copies from src to sink (used for objects
// that entry heal creates on sinks).
func (r *Replicate) markPending(ctx context.Context, src int, gfid vfs.GFID, sink int, which ...kind) {
	var ks kinds
	for _, k := range which {
		ks |= 1 << k
	}
	delta := make([]int32, len(r.children))
	delta[sink] = 1
	compound.Run(internalCtx(ctx), r.children[src].t, r.pendingKinds(src, gfid, ks, delta))
}

// healMeta heals mode, owner, times and user xattrs.
func (r *Replicate) healMeta(ctx context.Context, gfid vfs.GFID, o *healOpts) healOutcome {
	ictx := internalCtx(ctx)
	r.flushWindow(ctx, gfid, metaKind)
	// Metadata transactions lock the data domain (they share the inode
	// window with data; see windowKind).
	locks := []lockReq{{domain: dataDomain, gfid: gfid, typ: vfs.WriteLock}}
	locked, owner := r.healLock(ctx, r.upMask(), locks, o)
	if locked == 0 {
		return healBusy
	}
	defer r.healUnlock(ctx, locked, owner, locks)
	m, mok, _ := r.readMatrix(ictx, gfid, locked)
	attrs, have := r.attrsOf(ictx, gfid, mok)
	if have == 0 {
		return healFailed
	}
	if !judge(m, have, metaKind).dirty && o.force < 0 && o.forcePolicy == "" {
		return healClean
	}
	src, _, sinks, ok := r.decide(gfid, m, have, metaKind, attrs, o)
	if !ok {
		r.markSplit(gfid, metaKind, have)
		if o.stats != nil {
			o.stats.SplitBrain++
		}
		return healSplitBrain
	}
	srcX, e := r.xattrsOf(ictx, src, gfid)
	if e != 0 {
		return healFailed
	}
	s := attrs[src]
	var healed uint64 = 1 << src
	each(sinks, func(i int) {
		if r.copyMeta(ictx, gfid, s, attrs[i], srcX, i) == 0 {
			healed |= 1 << i
		}
	})
	if e := r.clearCounters(ctx, gfid, m, locked&have, healed, metaKind); e != 0 {
		return healFailed
	}
	if o.stats != nil && sinks != 0 {
		o.stats.Healed++
	}
	if healed != have {
		return healPartial
	}
	if sinks == 0 {
		return healClean
	}
	return healDone
}

// attrsOf reads the attributes of gfid from the children in mask.
func (r *Replicate) attrsOf(ctx context.Context, gfid vfs.GFID, mask uint64) ([]vfs.Attr, uint64) {
	attrs := make([]vfs.Attr, len(r.children))
	errs := make([]syscall.Errno, len(r.children))
	r.parallel(mask, func(i int) { attrs[i], errs[i] = r.children[i].t.GetAttr(ctx, gfid, 0) })
	have := okMask(errs, mask)
	return attrs, have
}

// xattrsOf reads every xattr of gfid on child i except cairn's own.
func (r *Replicate) xattrsOf(ctx context.Context, i int, gfid vfs.GFID) (map[string][]byte, syscall.Errno) {
	names, e := r.children[i].t.ListXattr(ctx, gfid)
	if e == syscall.ENOTSUP || e == syscall.EOPNOTSUPP {
		return map[string][]byte{}, 0
	}
	if e != 0 {
		return nil, e
	}
	out := make(map[string][]byte, len(names))
	for _, n := range names {
		if r.isReservedXattr(n) {
			continue
		}
		v, e := r.children[i].t.GetXattr(ctx, gfid, n)
		if e == syscall.ENODATA {
			continue
		}
		if e != 0 {
			return nil, e
		}
		out[n] = v
	}
	return out, 0
}

// copyMeta makes child i's metadata of gfid that of s (with xattrs x).
func (r *Replicate) copyMeta(ctx context.Context, gfid vfs.GFID, s, cur vfs.Attr, x map[string][]byte, i int) syscall.Errno {
	t := r.children[i].t
	in := vfs.SetAttrIn{Valid: vfs.SetUID | vfs.SetGID | vfs.SetAtime | vfs.SetMtime,
		UID: s.UID, GID: s.GID, Atime: s.Atime, Mtime: s.Mtime}
	if !s.IsSymlink() {
		in.Valid |= vfs.SetMode
		in.Mode = s.Mode & 07777
	}
	if _, e := t.SetAttr(ctx, gfid, 0, &in); e != 0 {
		return e
	}
	have, e := r.xattrsOf(ctx, i, gfid)
	if e != 0 {
		return e
	}
	for n, v := range x {
		if old, ok := have[n]; ok && string(old) == string(v) {
			continue
		}
		if e := t.SetXattr(ctx, gfid, n, v, 0); e != 0 {
			return e
		}
	}
	for n := range have {
		if _, ok := x[n]; !ok {
			if e := t.RemoveXattr(ctx, gfid, n); e != 0 && e != syscall.ENODATA {
				return e
			}
		}
	}
	// Setting xattrs may not touch times, but the mode change of a
	// setuid file by chown might: set mode and times once more.
	if in.Valid&vfs.SetMode != 0 && s.Mode&(syscall.S_ISUID|syscall.S_ISGID) != 0 {
		t.SetAttr(ctx, gfid, 0, &in)
	}
	return 0
}

// markSplit records an unresolved split-brain in the state cache.
func (r *Replicate) markSplit(gfid vfs.GFID, k kind, have uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.states[gfid]
	cp := inodeState{exists: have}
	if st != nil {
		cp = *st
	}
	cp.splitBrain[k] = true
	cp.split[k] = true
	cp.readable[k] = 0
	r.states[gfid] = &cp
	r.log.Error("split-brain: copies blame each other and no policy picks a source",
		"gfid", gfid.String(), "path", r.pathOfLocked(gfid), "kind", k.String(), "bricks", r.namesOf(have))
}

func (r *Replicate) namesOf(mask uint64) []string {
	var out []string
	each(mask, func(i int) { out = append(out, r.children[i].name) })
	return out
}

// listDir reads a whole directory of child i.
func (r *Replicate) listDir(ctx context.Context, i int, dir vfs.GFID) (map[string]vfs.DirEntry, syscall.Errno) {
	out := map[string]vfs.DirEntry{}
	var cookie uint64
	for {
		ents, eof, e := r.children[i].t.ReadDir(ctx, dir, 0, cookie, 0, false)
		if e != 0 {
			return nil, e
		}
		for _, d := range ents {
			if dir == vfs.RootGFID && d.Name == vfs.ReservedName {
				continue
			}
			out[d.Name] = d
			cookie = d.Cookie
		}
		if eof || len(ents) == 0 {
			return out, 0
		}
	}
}

func sortedNames(m map[string]vfs.DirEntry) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

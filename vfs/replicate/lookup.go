package replicate

import (
	"context"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// Lookup resolves name on every reachable child and checks that they agree.
//
// When the children disagree (the name missing on some, or a different
// GFID on some), the parent's entry changelog decides: children blamed for
// the parent's entries are ignored. A name with different GFIDs on
// children that nothing lets us choose between is a GFID split-brain:
// logged, and EIO. Any disagreement or non-zero changelog schedules a
// background self-heal.
func (r *Replicate) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	a, _, _, e := r.lookup(ctx, parent, name, 0)
	return a, e
}

// LookupContent is Lookup that also returns the content of a regular file
// of at most readMax bytes, read by the first reachable child in the same
// round trip, when that child holds a good copy and its attributes are the
// ones returned (GlusterFS's quick-read; see vfs/quickread).
func (r *Replicate) LookupContent(ctx context.Context, parent vfs.GFID, name string, readMax int64) (vfs.Attr, []byte, bool, syscall.Errno) {
	return r.lookup(ctx, parent, name, readMax)
}

func (r *Replicate) lookup(ctx context.Context, parent vfs.GFID, name string, readMax int64) (vfs.Attr, []byte, bool, syscall.Errno) {
	if name == vfs.ReservedName && parent == vfs.RootGFID {
		return vfs.Attr{}, nil, false, syscall.ENOENT
	}
	up := r.upMask()
	reader := -1 // the child asked for the content
	if readMax > 0 && up != 0 {
		reader = first(up)
	}
	var content []byte
	var hasContent bool
	attrs := make([]vfs.Attr, len(r.children))
	errs := make([]syscall.Errno, len(r.children))
	// The changelog comes back with the attributes (GlusterFS's lookup
	// xdata): one round trip per child instead of a lookup and then a
	// getxattr per changelog key.
	xattrs := make([]map[string][]byte, len(r.children))
	r.parallel(up, func(i int) {
		op := compound.LookupXattrs(parent, name, r.pendingKeys)
		if i == reader {
			op.ReadMax = readMax
		}
		res, e := compound.Run(ctx, r.children[i].t, []compound.Op{op})
		if len(res) > 0 {
			attrs[i], xattrs[i] = res[0].Attr, res[0].Xattrs
			if i == reader {
				content, hasContent = res[0].Data, res[0].HasData
			}
		}
		errs[i] = e
	})
	var found, absent uint64
	each(up, func(i int) {
		switch errs[i] {
		case 0:
			found |= 1 << i
		case syscall.ENOENT:
			absent |= 1 << i
		}
	})
	if found == 0 {
		if absent != 0 {
			return vfs.Attr{}, nil, false, syscall.ENOENT
		}
		return vfs.Attr{}, nil, false, combine(errs, up)
	}
	// Group the children that found it by GFID.
	agree := true
	g0 := attrs[first(found)].GFID
	each(found, func(i int) {
		if attrs[i].GFID != g0 {
			agree = false
		}
	})
	if !agree || absent != 0 {
		a, e := r.lookupDisagree(ctx, parent, name, up, found, absent, attrs, errs)
		return a, nil, false, e
	}
	r.noteName(g0, parent, name)
	m := make(matrix, len(r.children))
	each(found, func(i int) { m[i] = r.rowFrom(i, xattrs[i]) })
	st := r.judgeState(g0, m, found)
	r.storeState(g0, st)
	if st.dirty[dataKind] || st.dirty[metaKind] || st.dirty[entryKind] {
		r.maybeHeal(g0, st)
	}
	a := r.mergeAttr(g0, st, found, attrs)
	// The content is good if its child holds a good copy of the data (the
	// attributes may come from another good copy: mtimes differ between
	// bricks, sizes do not).
	if hasContent && st.readable[dataKind]&(1<<reader) != 0 && !st.dirty[dataKind] &&
		a.Size == attrs[reader].Size && int64(len(content)) == int64(a.Size) {
		return a, content, true, 0
	}
	return a, nil, false, 0
}

// lookupDisagree settles a lookup whose children disagree.
func (r *Replicate) lookupDisagree(ctx context.Context, parent vfs.GFID, name string, up, found, absent uint64, attrs []vfs.Attr, errs []syscall.Errno) (vfs.Attr, syscall.Errno) {
	pst, e := r.refresh(ctx, parent)
	trusted := found | absent
	if e == 0 && !pst.splitBrain[entryKind] {
		if t := trusted & pst.readable[entryKind]; t != 0 {
			trusted = t
		}
	}
	// Either the parent's changelog explains the difference (a heal will
	// fix it) or nothing does (a conservative heal will merge).
	r.maybeHealGFID(parent)
	found &= trusted
	if found == 0 {
		return vfs.Attr{}, syscall.ENOENT
	}
	groups := map[vfs.GFID]uint64{}
	each(found, func(i int) { groups[attrs[i].GFID] |= 1 << i })
	if len(groups) == 1 {
		g := attrs[first(found)].GFID
		r.noteName(g, parent, name)
		return r.chooseAttr(ctx, g, found, attrs)
	}
	if g, ok := r.resolveGFIDSplit(groups, attrs); ok {
		r.noteName(g, parent, name)
		return r.chooseAttr(ctx, g, groups[g], attrs)
	}
	var bricks []string
	each(found, func(i int) { bricks = append(bricks, r.children[i].name+"="+attrs[i].GFID.String()) })
	r.log.Error("gfid split-brain: the same name has different GFIDs on different bricks; lookups fail with EIO until one copy is removed or favorite-child-policy picks one",
		"parent", parent.String(), "name", name, "path", r.pathOf(parent)+"/"+name, "bricks", bricks)
	return vfs.Attr{}, syscall.EIO
}

// resolveGFIDSplit applies the favorite-child policy to a name with
// several GFIDs; it returns the winning GFID.
func (r *Replicate) resolveGFIDSplit(groups map[vfs.GFID]uint64, attrs []vfs.Attr) (vfs.GFID, bool) {
	var cand uint64
	for _, m := range groups {
		cand |= m
	}
	src, ok := r.favorite(cand, attrs, nil, dataKind)
	if !ok {
		return vfs.GFID{}, false
	}
	return attrs[src].GFID, true
}

// chooseAttr returns the attributes of gfid from a good copy among the
// children in have (whose lookup results are attrs). It refreshes the
// changelog when the cached one is stale and schedules a heal when it is
// dirty.
func (r *Replicate) chooseAttr(ctx context.Context, gfid vfs.GFID, have uint64, attrs []vfs.Attr) (vfs.Attr, syscall.Errno) {
	st, e := r.state(ctx, gfid)
	if e != 0 {
		// The changelog cannot be read (the file vanished, or the
		// bricks went away in between): answer with what we have.
		return attrs[first(have)], 0
	}
	if st.dirty[dataKind] || st.dirty[metaKind] || st.dirty[entryKind] {
		r.maybeHeal(gfid, st)
	}
	return r.mergeAttr(gfid, st, have, attrs), 0
}

// mergeAttr takes metadata from a metadata-readable child and size and
// times from a data-readable one.
func (r *Replicate) mergeAttr(gfid vfs.GFID, st *inodeState, have uint64, attrs []vfs.Attr) vfs.Attr {
	both := have & st.readable[dataKind] & st.readable[metaKind]
	if c := r.pick(gfid, both); c >= 0 {
		return attrs[c]
	}
	mc := r.pick(gfid, have&st.readable[metaKind])
	dc := r.pick(gfid, have&st.readable[dataKind])
	switch {
	case mc < 0 && dc < 0:
		return attrs[r.pick(gfid, have)]
	case mc < 0:
		return attrs[dc]
	case dc < 0:
		return attrs[mc]
	}
	a := attrs[mc]
	d := attrs[dc]
	a.Size, a.Blocks, a.Mtime = d.Size, d.Blocks, d.Mtime
	return a
}

// GetAttr returns the attributes from a good copy. With a fresh cached
// changelog it asks only the read child; otherwise it asks every child
// and reads the changelog at the same time.
func (r *Replicate) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	if fh == 0 {
		r.awaitQueuedEnd(ctx, gfid)
	}
	fc := r.fd(fh)
	if st := r.cachedState(gfid); st != nil && time.Since(st.at) < r.cfg.StateTTL {
		both := st.readable[dataKind] & st.readable[metaKind] & st.exists & r.upMask()
		if c := r.pick(gfid, both); c >= 0 {
			a, e := r.children[c].t.GetAttr(ctx, gfid, fc.child(c))
			if e == 0 || !isDown(e) {
				return a, e
			}
		}
	}
	up := r.upMask()
	attrs := make([]vfs.Attr, len(r.children))
	errs := make([]syscall.Errno, len(r.children))
	m := make(matrix, len(r.children))
	r.parallel(up, func(i int) {
		res, e := compound.Run(ctx, r.children[i].t, []compound.Op{compound.GetAttrXattrs(gfid, fc.child(i), r.pendingKeys)})
		if e == 0 && len(res) > 0 {
			attrs[i], m[i] = res[0].Attr, r.rowFrom(i, res[0].Xattrs)
		} else if e == 0 {
			e = syscall.EIO
		}
		errs[i] = e
	})
	have := okMask(errs, up)
	if have == 0 {
		return vfs.Attr{}, combine(errs, up)
	}
	st := r.judgeState(gfid, m, have)
	r.storeState(gfid, st)
	if st.dirty[dataKind] || st.dirty[metaKind] || st.dirty[entryKind] {
		r.maybeHeal(gfid, st)
	}
	return r.mergeAttr(gfid, st, have, attrs), 0
}

// noteName remembers where a GFID was last seen, for log lines and heal
// info (best effort: a hard link has several names, we keep one).
func (r *Replicate) noteName(g, parent vfs.GFID, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names == nil || len(r.names) >= maxStates {
		r.names = make(map[vfs.GFID]dentry)
	}
	r.names[g] = dentry{parent, name}
}

type dentry struct {
	parent vfs.GFID
	name   string
}

// pathOf returns the best known path of g ("<gfid:...>" when unknown).
func (r *Replicate) pathOf(g vfs.GFID) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pathOfLocked(g)
}

func (r *Replicate) pathOfLocked(g vfs.GFID) string {
	if g == vfs.RootGFID {
		return ""
	}
	p := ""
	for depth := 0; depth < 256; depth++ {
		d, ok := r.names[g]
		if !ok {
			return "<gfid:" + g.String() + ">" + p
		}
		p = "/" + d.name + p
		if d.parent == vfs.RootGFID {
			return p
		}
		g = d.parent
	}
	return "<gfid:" + g.String() + ">" + p
}

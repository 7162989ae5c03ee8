package posix

import (
	"context"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

// reserved reports whether name in parent is the brick's private directory.
func reserved(parent vfs.GFID, name string) bool {
	return parent == vfs.RootGFID && name == vfs.ReservedName
}

// checkExisting validates the name of an entry that must already exist:
// the private directory simply does not exist for clients.
func checkExisting(parent vfs.GFID, name string) syscall.Errno {
	if e := vfs.CheckName(name); e != 0 {
		return e
	}
	if reserved(parent, name) {
		return syscall.ENOENT
	}
	return 0
}

// checkNew validates the name of an entry to be created: the private
// directory's name is refused.
func checkNew(parent vfs.GFID, name string) syscall.Errno {
	if e := vfs.CheckName(name); e != 0 {
		return e
	}
	if reserved(parent, name) {
		return syscall.EPERM
	}
	return 0
}

// Lookup resolves name in parent.
func (p *Posix) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	po, st, g, e := p.lookupAt(ctx, parent, name)
	if e != 0 {
		return vfs.Attr{}, e
	}
	po.close()
	return p.attr(g, &st), 0
}

// lookupAt finds name in directory parent for the caller: the parent held
// open (the caller closes it), the entry's stat and its GFID.
func (p *Posix) lookupAt(ctx context.Context, parent vfs.GFID, name string) (*obj, sys.Stat_t, vfs.GFID, syscall.Errno) {
	var st sys.Stat_t
	if e := checkExisting(parent, name); e != 0 {
		return nil, st, vfs.GFID{}, e
	}
	po, e := p.resolveDir(parent)
	if e != 0 {
		return nil, st, vfs.GFID{}, e
	}
	if e := access(vfs.CallerFrom(ctx), &po.st, mayExec); e != 0 {
		po.close()
		return nil, st, vfs.GFID{}, e
	}
	if err := sys.Fstatat(po.fd, name, &st); err != nil {
		po.close()
		return nil, st, vfs.GFID{}, errno(err)
	}
	g, e := p.childGFID(parent, po.fd, name, &st)
	if e != 0 {
		po.close()
		return nil, st, vfs.GFID{}, e
	}
	return po, st, g, 0
}

// Readlink reads a symlink (EINVAL for anything else).
func (p *Posix) Readlink(ctx context.Context, gfid vfs.GFID) (string, syscall.Errno) {
	o, e := p.resolve(gfid)
	if e != 0 {
		return "", e
	}
	defer o.close()
	if o.st.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		return "", syscall.EINVAL
	}
	s, err := sys.Readlinkat(o.fd, "")
	return s, errno(err)
}

// objKind is what makeObject builds.
type objKind int

const (
	kindFile objKind = iota
	kindDir
	kindNode
	kindSymlink
)

// openFlagsKept are the open(2) flags passed to the disk; the brick adds
// O_NOFOLLOW|O_CLOEXEC and drops the rest (O_CREAT is the brick's business,
// O_NONBLOCK/O_NOCTTY mean nothing for regular files).
const openFlagsKept = syscall.O_ACCMODE | syscall.O_APPEND | syscall.O_TRUNC | syscall.O_SYNC | syscall.O_DSYNC | syscall.O_DIRECT

// makeObject creates name in parent with GFID in.GFID (or a new one),
// owned by the caller, atomically as far as a crash is concerned: the object
// is built in .cairn/tmp, gets its GFID, owner, mode and index entry, and
// only then is renamed into place with RENAME_NOREPLACE. For kindFile it
// returns the descriptor opened with in.Flags.
func (p *Posix) makeObject(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn, kind objKind, target string) (vfs.Attr, int, syscall.Errno) {
	if in == nil {
		in = &vfs.CreateIn{}
	}
	if e := checkNew(parent, name); e != 0 {
		return vfs.Attr{}, -1, e
	}
	c := vfs.CallerFrom(ctx)
	mode := in.Mode & 07777
	var typ uint32
	switch kind {
	case kindFile:
		typ = syscall.S_IFREG
	case kindDir:
		typ = syscall.S_IFDIR
	case kindSymlink:
		typ = syscall.S_IFLNK
		mode = 0o777
		switch {
		case target == "":
			return vfs.Attr{}, -1, syscall.ENOENT
		case len(target) >= 4096:
			return vfs.Attr{}, -1, syscall.ENAMETOOLONG
		}
		for i := 0; i < len(target); i++ {
			if target[i] == 0 {
				return vfs.Attr{}, -1, syscall.EINVAL
			}
		}
	case kindNode:
		typ = in.Mode & syscall.S_IFMT
		switch typ {
		case 0:
			typ = syscall.S_IFREG
		case syscall.S_IFREG, syscall.S_IFIFO, syscall.S_IFSOCK:
		case syscall.S_IFCHR, syscall.S_IFBLK:
			if !c.IsRoot() {
				return vfs.Attr{}, -1, syscall.EPERM
			}
		case syscall.S_IFDIR:
			return vfs.Attr{}, -1, syscall.EPERM
		default:
			return vfs.Attr{}, -1, syscall.EINVAL
		}
	}
	var flags int
	if kind == kindFile {
		flags = int(in.Flags) & openFlagsKept
		if _, e := openAccess(flags); e != 0 {
			return vfs.Attr{}, -1, e
		}
	}
	g := in.GFID
	if g.IsZero() {
		g = vfs.NewGFID()
	} else if g == vfs.RootGFID {
		return vfs.Attr{}, -1, syscall.EINVAL
	}

	po, e := p.resolveDir(parent)
	if e != 0 {
		return vfs.Attr{}, -1, e
	}
	defer po.close()
	if e := access(c, &po.st, mayWrite|mayExec); e != 0 {
		// open(O_CREAT) of a file that exists needs no write permission on
		// the directory.
		if kind == kindFile && in.Flags&syscall.O_EXCL == 0 && access(c, &po.st, mayExec) == 0 {
			var st sys.Stat_t
			if sys.Fstatat(po.fd, name, &st) == nil {
				return p.openExisting(ctx, po, name, flags)
			}
		}
		return vfs.Attr{}, -1, e
	}
	uid, gid := c.UID, c.GID
	if po.st.Mode&syscall.S_ISGID != 0 {
		gid = po.st.Gid
		if kind == kindDir {
			mode |= syscall.S_ISGID
		}
	}
	if kind != kindDir && mode&syscall.S_ISGID != 0 && !c.IsRoot() && !c.InGroup(gid) {
		mode &^= syscall.S_ISGID
	}

	// Build in tmp (or, for a regular file, as an unnamed file of the
	// parent directory).
	tname := g.String()
	var fd int
	var err error
	unnamed := false
	switch kind {
	case kindFile:
		// O_TMPFILE in the parent: the inode is allocated where a local
		// create would put it. Creating every file in .cairn/tmp made the
		// whole brick allocate from one ext4 block group, and once files
		// were deleted there each allocation scanned the group's recently
		// deleted inodes (recently_deleted() in find_inode_bit: ~0.7 ms per
		// create measured). Created with the final permission bits, so that
		// usually no chmod is needed (the brick's umask may still strip some).
		if fd, err = sys.OpenUnnamed(po.fd, flags, mode&0o777); err == nil {
			unnamed = true
			break
		}
		fd, err = sys.Openat(p.tmpFD, tname, flags&^syscall.O_TRUNC|syscall.O_CREAT|syscall.O_EXCL, mode&0o777)
	case kindDir:
		if err = sys.Mkdirat(p.tmpFD, tname, mode&0o777); err == nil {
			fd, err = sys.Openat(p.tmpFD, tname, sys.O_PATH|sys.O_DIRECTORY, 0)
		}
	case kindNode:
		if err = sys.Mknodat(p.tmpFD, tname, typ|mode&0o777, in.Rdev); err == nil {
			fd, err = sys.Openat(p.tmpFD, tname, sys.O_PATH, 0)
		}
	case kindSymlink:
		if err = sys.Symlinkat(target, p.tmpFD, tname); err == nil {
			fd, err = sys.Openat(p.tmpFD, tname, sys.O_PATH, 0)
		}
	}
	if err != nil {
		if err == syscall.EEXIST {
			// Another create with the same GFID is in flight.
			return vfs.Attr{}, -1, syscall.EEXIST
		}
		_ = sys.Unlinkat(p.tmpFD, tname, 0)
		_ = sys.Unlinkat(p.tmpFD, tname, sys.AT_REMOVEDIR)
		return vfs.Attr{}, -1, errno(err)
	}
	indexed := false
	fail := func(err error) (vfs.Attr, int, syscall.Errno) {
		if indexed {
			_ = p.removeIndex(g)
		}
		sys.Close(fd)
		switch {
		case unnamed: // nothing to remove: the inode dies with fd
		case kind == kindDir:
			_ = sys.Unlinkat(p.tmpFD, tname, sys.AT_REMOVEDIR)
		default:
			_ = sys.Unlinkat(p.tmpFD, tname, 0)
		}
		return vfs.Attr{}, -1, errno(err)
	}
	setGFID := sys.SetxattrFD
	if unnamed {
		setGFID = sys.Fsetxattr // a real descriptor: no walk through /proc
	}
	if err := setGFID(fd, XattrGFID, g[:], sys.XATTR_CREATE); err != nil {
		return fail(err)
	}
	var st sys.Stat_t
	if err := sys.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	if st.Uid != uid || st.Gid != gid {
		if err := sys.FchownFD(fd, int(uid), int(gid)); err != nil {
			return fail(err)
		}
	}
	if kind != kindSymlink && st.Mode&07777 != mode {
		if err := sys.FchmodFD(fd, mode); err != nil {
			return fail(err)
		}
	}
	switch {
	case kind == kindDir:
		err = p.writeDirLink(g, parent, name, false)
	case unnamed:
		err = p.linkIndexFD(g, fd)
	default:
		err = p.linkIndex(g, p.tmpFD, tname)
	}
	if err != nil {
		return fail(err) // EEXIST: the GFID is in use
	}
	indexed = true
	// The index link comes first: a crash in between leaves an index
	// entry nobody names (a leak), never a name without its GFID index.
	if unnamed {
		err = sys.LinkFD(fd, po.fd, name) // EEXIST like RENAME_NOREPLACE
	} else {
		err = sys.Renameat2(p.tmpFD, tname, po.fd, name, sys.RENAME_NOREPLACE)
	}
	if err != nil {
		if err == syscall.EEXIST && kind == kindFile && in.Flags&syscall.O_EXCL == 0 {
			fail(nil) // undo; the name that won is opened instead
			return p.openExisting(ctx, po, name, flags)
		}
		return fail(err)
	}
	if err := sys.Fstat(fd, &st); err != nil {
		sys.Close(fd)
		return vfs.Attr{}, -1, errno(err)
	}
	a := p.attr(g, &st)
	if kind != kindFile {
		sys.Close(fd)
		fd = -1
	}
	return a, fd, 0
}

// openExisting is Create without O_EXCL on a name that exists: open(2)
// semantics, but a symlink there is not followed.
func (p *Posix) openExisting(ctx context.Context, po *obj, name string, flags int) (vfs.Attr, int, syscall.Errno) {
	fd, err := sys.Openat(po.fd, name, sys.O_PATH, 0)
	if err != nil {
		return vfs.Attr{}, -1, errno(err)
	}
	defer sys.Close(fd)
	var st sys.Stat_t
	if err := sys.Fstat(fd, &st); err != nil {
		return vfs.Attr{}, -1, errno(err)
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
	case syscall.S_IFDIR:
		return vfs.Attr{}, -1, syscall.EISDIR
	default:
		return vfs.Attr{}, -1, syscall.EEXIST
	}
	want, e := openAccess(flags)
	if e != 0 {
		return vfs.Attr{}, -1, e
	}
	c := vfs.CallerFrom(ctx)
	if e := access(c, &st, want); e != 0 {
		return vfs.Attr{}, -1, e
	}
	g, e := p.childGFID(po.gfid, po.fd, name, &st)
	if e != 0 {
		return vfs.Attr{}, -1, e
	}
	ofd, err := sys.Reopen(fd, flags)
	if err != nil {
		return vfs.Attr{}, -1, errno(err)
	}
	if flags&syscall.O_TRUNC != 0 {
		killPriv(c, ofd, &st)
	}
	if err := sys.Fstat(ofd, &st); err != nil {
		sys.Close(ofd)
		return vfs.Attr{}, -1, errno(err)
	}
	return p.attr(g, &st), ofd, 0
}

// Create makes and opens a regular file.
func (p *Posix) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	a, fd, e := p.makeObject(ctx, parent, name, in, kindFile, "")
	if e != 0 {
		return vfs.Attr{}, 0, e
	}
	fl := 0
	if in != nil {
		fl = int(in.Flags) & openFlagsKept
	}
	unlock := p.lockG(a.GFID)
	fh, e := p.addHandle(a.GFID, fd, fl, false)
	unlock()
	if e != 0 {
		return vfs.Attr{}, 0, e
	}
	return a, fh, 0
}

// Mknod makes a regular file, FIFO, socket or (root callers only) device.
func (p *Posix) Mknod(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	a, _, e := p.makeObject(ctx, parent, name, in, kindNode, "")
	return a, e
}

// Mkdir makes a directory.
func (p *Posix) Mkdir(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	a, _, e := p.makeObject(ctx, parent, name, in, kindDir, "")
	return a, e
}

// Symlink makes a symlink. The target is stored verbatim and never followed
// by the brick.
func (p *Posix) Symlink(ctx context.Context, parent vfs.GFID, name, target string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	a, _, e := p.makeObject(ctx, parent, name, in, kindSymlink, target)
	return a, e
}

// Link makes newName in newParent a hard link to gfid.
func (p *Posix) Link(ctx context.Context, gfid vfs.GFID, newParent vfs.GFID, newName string) (vfs.Attr, syscall.Errno) {
	if e := checkNew(newParent, newName); e != 0 {
		return vfs.Attr{}, e
	}
	po, e := p.resolveDir(newParent)
	if e != 0 {
		return vfs.Attr{}, e
	}
	defer po.close()
	if e := access(vfs.CallerFrom(ctx), &po.st, mayWrite|mayExec); e != 0 {
		return vfs.Attr{}, e
	}
	unlock := p.lockG(gfid)
	defer unlock()
	o, e := p.resolve(gfid)
	if e == syscall.ESTALE && p.heldOnly(gfid) {
		// The undo of a held unlink (vfs.UnlinkHold).
		o, e = p.resolveParked(gfid)
	}
	if e != 0 {
		return vfs.Attr{}, e
	}
	defer o.close()
	if o.isDir() {
		return vfs.Attr{}, syscall.EPERM
	}
	if err := sys.LinkFD(o.fd, po.fd, newName); err != nil {
		return vfs.Attr{}, errno(err)
	}
	p.mu.Lock()
	orphan := p.orphans[gfid]
	delete(p.orphans, gfid)
	if h := p.held[gfid]; h != nil {
		h.timer.Stop()
		delete(p.held, gfid)
	}
	p.mu.Unlock()
	if orphan {
		// Linked back from .cairn/unlink: it is an indexed file again,
		// in the heal index too if its counters are not all zero.
		if idx, err := p.indexDir(gfid, true); err == nil {
			_ = sys.Renameat2(p.unlinkFD, gfid.String(), idx, gfid.String(), 0)
			sys.Close(idx)
		}
		p.updateDirty(o, gfid, nil)
	}
	if e := o.restat(); e != 0 {
		return vfs.Attr{}, e
	}
	return p.attr(o.gfid, &o.st), 0
}

// removable checks that the caller may remove name (stat st) from po.
func removable(c *vfs.Caller, po *obj, st *sys.Stat_t) syscall.Errno {
	if e := access(c, &po.st, mayWrite|mayExec); e != 0 {
		return e
	}
	return sticky(c, &po.st, st)
}

// Unlink removes a non-directory name. With vfs.UnlinkHold in ctx it can be
// undone for holdUnlinked (holdIfUnlinked), by an Unlink of the same name
// with vfs.UnlinkUndo.
func (p *Posix) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	if e := checkExisting(parent, name); e != 0 {
		return e
	}
	flags := vfs.UnlinkFlagsFrom(ctx)
	switch {
	case flags&vfs.UnlinkUndo != 0:
		return p.undoUnlink(ctx, parent, name)
	case flags&vfs.UnlinkCommit != 0:
		p.commitUnlink(parent, name)
		return 0
	}
	po, e := p.resolveDir(parent)
	if e != 0 {
		return e
	}
	defer po.close()
	c := vfs.CallerFrom(ctx)
	if e := access(c, &po.st, mayExec); e != 0 {
		return e
	}
	var st sys.Stat_t
	if err := sys.Fstatat(po.fd, name, &st); err != nil {
		return errno(err)
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return syscall.EISDIR
	}
	if e := removable(c, po, &st); e != 0 {
		return e
	}
	g, ok, _ := gfidAt(po.fd, name)
	if !ok {
		return errno(sys.Unlinkat(po.fd, name, 0))
	}
	unlock := p.lockG(g)
	defer unlock()
	if err := sys.Unlinkat(po.fd, name, 0); err != nil {
		return errno(err)
	}
	if flags&vfs.UnlinkHold != 0 {
		p.rememberHeld(parent, name, g)
		p.holdIfUnlinked(g, &st)
	} else {
		p.dropIfUnlinked(g, &st)
	}
	return 0
}

// heldName records which object a held unlink removed from a name.
type heldName struct {
	parent vfs.GFID
	name   string
	gfid   vfs.GFID
	at     time.Time
}

type nameKey struct {
	parent vfs.GFID
	name   string
}

// rememberHeld records a held unlink of parent/name (object g) for
// undoUnlink, and forgets records older than holdUnlinked.
func (p *Posix) rememberHeld(parent vfs.GFID, name string, g vfs.GFID) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.heldOrder) > 0 && now.Sub(p.heldOrder[0].at) >= p.holdUnlinked {
		old := p.heldOrder[0]
		p.heldOrder = p.heldOrder[1:]
		k := nameKey{old.parent, old.name}
		if r, ok := p.heldNames[k]; ok && r.at == old.at {
			delete(p.heldNames, k)
		}
	}
	h := heldName{parent, name, g, now}
	p.heldNames[nameKey{parent, name}] = h
	p.heldOrder = append(p.heldOrder, h)
}

// commitUnlink ends the hold of the last held unlink of parent/name, if
// any: the object goes now (or at its last Release).
func (p *Posix) commitUnlink(parent vfs.GFID, name string) {
	k := nameKey{parent, name}
	p.mu.Lock()
	r, ok := p.heldNames[k]
	if ok {
		delete(p.heldNames, k)
	}
	h := p.held[r.gfid]
	p.mu.Unlock()
	if ok && h != nil && h.timer.Stop() {
		p.endLater(r.gfid, h)
	}
}

// endingHold is a hold whose end endHolds has still to carry out.
type endingHold struct {
	gfid vfs.GFID
	hold *hold
}

// endLater queues the end of hold h of g for endHolds. The commit that
// ends a hold does not wait for it: removing the parked object's last
// link frees its blocks, and on a file system mounted with -o discard
// (this machine's root) ext4 waits in that unlink for the disk to discard
// them, ~0.1 ms per small file, while nobody can reach the object any
// more. Until endHolds gets to it, g stays held, as it was before the
// commit: resolved as ESTALE, and the end checks that the hold is still h.
//
// The removals wait until the commits pause for endIdle (an rm -rf is a
// burst of them), unless endBatch objects or holdEndBytes of space are
// waiting, or the oldest has waited holdEndMaxWait (a steady trickle of
// unlinks never pauses): done during the burst, they take CPU and disk
// from the unlinks still coming (deletes of 10,000 files through a
// mount, two rounds each: 7,049 / 7,014 files/s removing at once, 8,301
// / 8,176 after the burst), the same work either way. XFS defers its
// inode inactivation for the same reason. StatFS removes what waits
// first, on its own goroutine (at most endBatch objects).
func (p *Posix) endLater(g vfs.GFID, h *hold) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return // parked; the next start's cleanUnlink drops it
	}
	now := time.Now()
	if len(p.ending) == 0 {
		p.endingSince = now
	}
	p.ending = append(p.ending, endingHold{g, h})
	p.endingBytes += h.bytes
	switch {
	case p.endingBusy:
	case len(p.ending) >= p.endBatch || p.endingBytes >= holdEndBytes || now.Sub(p.endingSince) >= holdEndMaxWait:
		p.startEndingLocked()
	case p.endTimer == nil:
		p.endTimer = time.AfterFunc(p.endIdle, p.endWhenIdle)
	default:
		p.endTimer.Reset(p.endIdle)
	}
}

// Defaults of Config.HoldEndIdle and Config.HoldEndBatch; the space the
// waiting objects may hold, and how long the oldest may wait, before
// their removal starts regardless.
const (
	defaultHoldEndIdle  = 20 * time.Millisecond
	defaultHoldEndBatch = 16384
	holdEndBytes        = 1 << 30
	holdEndMaxWait      = 2 * time.Second
)

// endWhenIdle starts endHolds after commits paused.
func (p *Posix) endWhenIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed && !p.endingBusy && len(p.ending) > 0 {
		p.startEndingLocked()
	}
}

// startEndingLocked starts endHolds. Called with mu held.
func (p *Posix) startEndingLocked() {
	p.endingBusy = true
	p.expiring.Add(1)
	go p.endHolds()
}

// endHolds ends the queued holds in order, until none is left or the
// translator closes (the objects left stay parked for cleanUnlink).
func (p *Posix) endHolds() {
	defer p.expiring.Done()
	p.procs.Begin()
	defer p.procs.End()
	for {
		p.drainEnding()
		p.mu.Lock()
		if len(p.ending) == 0 || p.closed {
			p.endingBusy = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock() // more were queued after the drain
	}
}

// drainEnding ends queued holds until none is left (or the translator
// closed).
func (p *Posix) drainEnding() {
	for {
		e, ok := p.nextEnding()
		if !ok {
			return
		}
		p.expireHeld(e.gfid, e.hold)
	}
}

// nextEnding takes the oldest queued hold end, if any and not closed.
func (p *Posix) nextEnding() (endingHold, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ending) == 0 || p.closed {
		if p.closed {
			p.ending, p.endingBytes = nil, 0
		}
		return endingHold{}, false
	}
	e := p.ending[0]
	p.ending = p.ending[1:]
	p.endingBytes -= e.hold.bytes
	return e, true
}

// endPending ends, on the caller's goroutine, the queued holds that
// endHolds has not started on (StatFS).
func (p *Posix) endPending() {
	p.mu.Lock()
	if len(p.ending) == 0 || p.closed {
		p.mu.Unlock()
		return
	}
	p.expiring.Add(1)
	p.mu.Unlock()
	defer p.expiring.Done()
	p.drainEnding()
}

// undoUnlink links back the object a held unlink of parent/name removed,
// if that was less than holdUnlinked ago (ESTALE otherwise).
func (p *Posix) undoUnlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	k := nameKey{parent, name}
	p.mu.Lock()
	h, ok := p.heldNames[k]
	if ok {
		delete(p.heldNames, k)
	}
	p.mu.Unlock()
	if !ok || time.Since(h.at) >= p.holdUnlinked {
		return syscall.ESTALE
	}
	_, e := p.Link(ctx, h.gfid, parent, name)
	return e
}

// holdIfUnlinked is dropIfUnlinked for an Unlink that may be undone: the
// object, once its last client-visible name is gone, is parked in
// .cairn/unlink (as a file unlinked while open is) and kept there for
// holdUnlinked even if nobody has it open, so that a Link by GFID can
// bring it back whole: content, xattrs, changelog and dirty mark. Until
// then a GFID that is neither open nor linked resolves to ESTALE, as a
// deleted one does. Callers hold g's stripe.
func (p *Posix) holdIfUnlinked(g vfs.GFID, st *sys.Stat_t) {
	idx, ok := p.onlyIndexLeft(g, st)
	if !ok {
		return
	}
	defer sys.Close(idx)
	p.anon.drop(g)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.dropIfUnlinked(g, st)
		return
	}
	if h := p.held[g]; h != nil {
		h.timer.Stop()
	}
	h := &hold{bytes: st.Blocks * 512}
	h.timer = time.AfterFunc(p.holdUnlinked, func() { p.expireHeld(g, h) })
	p.held[g] = h
	p.orphans[g] = true
	p.mu.Unlock()
	if err := sys.Renameat2(idx, g.String(), p.unlinkFD, g.String(), 0); err != nil {
		p.log.Warn("parking an unlinked object failed; dropping it", "gfid", g, "err", err)
		p.mu.Lock()
		if p.held[g] == h {
			h.timer.Stop()
			delete(p.held, g)
			delete(p.orphans, g)
		}
		p.mu.Unlock()
		p.dropIfUnlinked(g, st)
		return
	}
	// Out of the heal index while unlinked, as any unlinked object; an
	// undo lists it again if its counters say so (Link).
	p.clearDirty(g)
}

// hold is one held object's timer (guarded by Posix.mu) and the space it
// holds.
type hold struct {
	timer *time.Timer
	bytes int64
}

// expireHeld ends the hold h of g: the object goes now, or at its last
// Release if it is open.
func (p *Posix) expireHeld(g vfs.GFID, h *hold) {
	unlock := p.lockG(g)
	defer unlock()
	p.mu.Lock()
	if p.closed || p.held[g] != h {
		p.mu.Unlock()
		return // closed, brought back by Link, or held again since
	}
	p.expiring.Add(1) // Close waits before closing the descriptors
	defer p.expiring.Done()
	delete(p.held, g)
	drop := p.orphans[g] && p.openCount[g] <= 0
	if drop {
		delete(p.orphans, g)
	}
	p.mu.Unlock()
	if drop {
		_ = sys.Unlinkat(p.unlinkFD, g.String(), 0)
	}
}

// heldOnly reports whether g is parked by a hold only (nobody has it open).
func (p *Posix) heldOnly(g vfs.GFID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held[g] != nil && p.openCount[g] <= 0
}

// onlyIndexLeft opens g's index directory if the index link is all that is
// left of the object whose stat before the unlink was st (callers close
// it).
func (p *Posix) onlyIndexLeft(g vfs.GFID, st *sys.Stat_t) (int, bool) {
	idx, err := p.indexDir(g, false)
	if err != nil {
		return -1, false
	}
	var ist sys.Stat_t
	if sys.Fstatat(idx, g.String(), &ist) != nil || ist.Ino != st.Ino || ist.Dev != st.Dev || ist.Nlink > 1 {
		sys.Close(idx)
		return -1, false
	}
	return idx, true
}

// dropIfUnlinked removes g's index link once its last client-visible name
// is gone (st is the file's stat before that). A file still open is parked
// in .cairn/unlink until its last Release. Callers hold g's stripe.
func (p *Posix) dropIfUnlinked(g vfs.GFID, st *sys.Stat_t) {
	idx, ok := p.onlyIndexLeft(g, st)
	if !ok {
		return
	}
	defer sys.Close(idx)
	p.anon.drop(g)
	p.mu.Lock()
	open := p.openCount[g] > 0
	if open {
		p.orphans[g] = true
	}
	p.mu.Unlock()
	if open {
		_ = sys.Renameat2(idx, g.String(), p.unlinkFD, g.String(), 0)
	} else {
		_ = sys.Unlinkat(idx, g.String(), 0)
	}
	p.clearDirty(g)
}

// Rmdir removes an empty directory.
func (p *Posix) Rmdir(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	if e := checkExisting(parent, name); e != 0 {
		return e
	}
	po, e := p.resolveDir(parent)
	if e != 0 {
		return e
	}
	defer po.close()
	c := vfs.CallerFrom(ctx)
	if e := access(c, &po.st, mayExec); e != 0 {
		return e
	}
	var st sys.Stat_t
	if err := sys.Fstatat(po.fd, name, &st); err != nil {
		return errno(err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return syscall.ENOTDIR
	}
	if e := removable(c, po, &st); e != 0 {
		return e
	}
	g, ok, _ := gfidAt(po.fd, name)
	if ok {
		unlock := p.lockG(g)
		defer unlock()
	}
	if err := sys.Unlinkat(po.fd, name, sys.AT_REMOVEDIR); err != nil {
		return errno(err)
	}
	if ok {
		_ = p.removeIndex(g)
		p.clearDirty(g)
	}
	return 0
}

// Rename moves oldName to newName (renameat2 flags RenameNoReplace and
// RenameExchange), keeping the GFID index right: a moved directory's
// index link is rewritten, a replaced target loses its index entry.
func (p *Posix) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	if flags&^(vfs.RenameNoReplace|vfs.RenameExchange) != 0 || flags == vfs.RenameNoReplace|vfs.RenameExchange {
		return syscall.EINVAL
	}
	if e := checkExisting(oldParent, oldName); e != 0 {
		return e
	}
	if e := vfs.CheckName(newName); e != 0 {
		return e
	}
	if reserved(newParent, newName) {
		if flags&vfs.RenameExchange != 0 {
			return syscall.ENOENT
		}
		return syscall.EPERM
	}
	c := vfs.CallerFrom(ctx)
	po, e := p.resolveDir(oldParent)
	if e != 0 {
		return e
	}
	defer po.close()
	pn := po
	if newParent != oldParent {
		if pn, e = p.resolveDir(newParent); e != 0 {
			return e
		}
		defer pn.close()
	}
	if e := access(c, &po.st, mayExec); e != 0 {
		return e
	}
	if e := access(c, &pn.st, mayExec); e != 0 {
		return e
	}
	var sst, tst sys.Stat_t
	if err := sys.Fstatat(po.fd, oldName, &sst); err != nil {
		return errno(err)
	}
	texists := false
	if err := sys.Fstatat(pn.fd, newName, &tst); err == nil {
		texists = true
	} else if err != syscall.ENOENT {
		return errno(err)
	}
	if e := removable(c, po, &sst); e != 0 {
		return e
	}
	if e := access(c, &pn.st, mayWrite|mayExec); e != 0 {
		return e
	}
	if texists {
		if e := sticky(c, &pn.st, &tst); e != 0 {
			return e
		}
	}
	sdir := sst.Mode&syscall.S_IFMT == syscall.S_IFDIR
	tdir := texists && tst.Mode&syscall.S_IFMT == syscall.S_IFDIR
	// Moving a directory to another parent rewrites its "..": the kernel
	// asks for write permission on it.
	if oldParent != newParent && !c.IsRoot() {
		if sdir {
			if e := access(c, &sst, mayWrite); e != 0 {
				return e
			}
		}
		if tdir && flags&vfs.RenameExchange != 0 {
			if e := access(c, &tst, mayWrite); e != 0 {
				return e
			}
		}
	}
	sg, sok, _ := gfidAt(po.fd, oldName)
	var tg vfs.GFID
	tok := false
	if texists {
		tg, tok, _ = gfidAt(pn.fd, newName)
	}
	unlock := p.lockG2(sg, tg)
	defer unlock()
	if err := sys.Renameat2(po.fd, oldName, pn.fd, newName, uint(flags)); err != nil {
		return errno(err)
	}
	if texists && sst.Ino == tst.Ino && sst.Dev == tst.Dev {
		return 0 // two names of one file: rename(2) does nothing
	}
	if sdir && sok {
		if err := p.writeDirLink(sg, newParent, newName, true); err != nil {
			p.log.Warn("updating a directory index link after rename failed", "gfid", sg, "err", err)
		}
	}
	if !texists || !tok {
		return 0
	}
	switch {
	case flags&vfs.RenameExchange != 0:
		if tdir {
			if err := p.writeDirLink(tg, oldParent, oldName, true); err != nil {
				p.log.Warn("updating a directory index link after exchange failed", "gfid", tg, "err", err)
			}
		}
	case tdir:
		_ = p.removeIndex(tg)
		p.clearDirty(tg)
	default:
		p.dropIfUnlinked(tg, &tst)
	}
	return 0
}

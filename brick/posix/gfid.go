package posix

import (
	"fmt"
	"strings"
	"syscall"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

// maxDirDepth bounds the walk up a chain of directory index links, which a
// corrupted index could make circular.
const maxDirDepth = 4096

// indexDirRel is "ab/cd" for a GFID starting with bytes 0xab 0xcd.
func indexDirRel(g vfs.GFID) string { return fmt.Sprintf("%02x/%02x", g[0], g[1]) }

// dirLinkTarget is the text of a directory's index symlink, relative to its
// own index directory: "../../<parent index dir>/<parent uuid>/<name>".
func dirLinkTarget(parent vfs.GFID, name string) string {
	return "../../" + indexDirRel(parent) + "/" + parent.String() + "/" + name
}

// rootLinkTarget is the root's index entry, as GlusterFS writes it.
const rootLinkTarget = "../../../.."

// parseDirLink is the inverse of dirLinkTarget. It accepts nothing else, so
// a planted or corrupted link never names a path outside the export.
func parseDirLink(s string) (vfs.GFID, string, bool) {
	rest, ok := strings.CutPrefix(s, "../../")
	if !ok {
		return vfs.GFID{}, "", false
	}
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) != 4 {
		return vfs.GFID{}, "", false
	}
	g, err := vfs.ParseGFID(parts[2])
	if err != nil || parts[2] != g.String() || parts[0]+"/"+parts[1] != indexDirRel(g) {
		return vfs.GFID{}, "", false
	}
	if vfs.CheckName(parts[3]) != 0 {
		return vfs.GFID{}, "", false
	}
	return g, parts[3], true
}

// gfidOfFD reads the GFID xattr of the inode fd refers to.
func gfidOfFD(fd int) (vfs.GFID, bool, error) {
	var g vfs.GFID
	n, err := sys.GetxattrInto(fd, XattrGFID, g[:])
	return gfidResult(g, n, err)
}

// gfidAt reads the GFID xattr of name in dirfd, not following a symlink.
func gfidAt(dirfd int, name string) (vfs.GFID, bool, error) {
	var g vfs.GFID
	n, err := sys.GetxattrAtInto(dirfd, name, XattrGFID, g[:])
	return gfidResult(g, n, err)
}

func gfidResult(g vfs.GFID, n int, err error) (vfs.GFID, bool, error) {
	switch {
	case err == syscall.ENODATA:
		return vfs.GFID{}, false, nil
	case err == syscall.ERANGE:
		return vfs.GFID{}, false, syscall.EIO // not 16 bytes: corrupt
	case err != nil:
		return vfs.GFID{}, false, err
	case n != len(g) || g.IsZero():
		return vfs.GFID{}, false, syscall.EIO
	}
	return g, true, nil
}

// obj is a resolved file: its descriptor, its stat, and its GFID. The
// descriptor is an O_PATH one owned by the holder; or lent, and then not
// to be closed or kept: the export root's (root), a directory cache
// entry's (dir), or from resolveOpen an open handle's, under the handle's
// read lock (lent). close gives it back either way.
type obj struct {
	fd   int
	st   sys.Stat_t
	gfid vfs.GFID
	lent *handle
	dir  *dirEntry
	root bool
}

func (o *obj) close() {
	if o == nil || o.fd < 0 {
		return
	}
	switch {
	case o.lent != nil:
		o.lent.mu.RUnlock()
		o.lent = nil
	case o.dir != nil:
		o.dir.c.release(o.dir)
		o.dir = nil
	case o.root:
	default:
		sys.Close(o.fd)
	}
	o.fd = -1
}

// The xattr calls of an obj use the f*xattr system calls on a lent (real)
// descriptor and go through /proc/self/fd for an O_PATH one.

func (o *obj) getxattr(name string) ([]byte, error) {
	if o.lent != nil {
		return sys.Fgetxattr(o.fd, name)
	}
	return sys.GetxattrFD(o.fd, name)
}

func (o *obj) setxattr(name string, value []byte, flags int) error {
	if o.lent != nil {
		return sys.Fsetxattr(o.fd, name, value, flags)
	}
	return sys.SetxattrFD(o.fd, name, value, flags)
}

func (o *obj) listxattr() ([]string, error) {
	if o.lent != nil {
		return sys.Flistxattr(o.fd)
	}
	return sys.ListxattrFD(o.fd)
}

func (o *obj) isDir() bool { return o.st.Mode&syscall.S_IFMT == syscall.S_IFDIR }

// restat refreshes o.st.
func (o *obj) restat() syscall.Errno {
	return errno(sys.Fstat(o.fd, &o.st))
}

// attr converts a stat for clients: attrOf, with the ctime of the last
// client-visible change (see ctimeMask).
func (p *Posix) attr(g vfs.GFID, st *sys.Stat_t) vfs.Attr {
	a := attrOf(g, st)
	p.ctime.apply(&a)
	return a
}

// attrOf converts a stat. The index hard link of a non-directory is not a
// name the client can see, so it is not counted in Nlink (nor the hidden
// .cairn in the root's).
func attrOf(g vfs.GFID, st *sys.Stat_t) vfs.Attr {
	nlink := uint32(st.Nlink)
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		if nlink > 0 {
			nlink--
		}
	} else if g == vfs.RootGFID && nlink > 2 {
		nlink--
	}
	return vfs.Attr{
		GFID:    g,
		Mode:    st.Mode,
		Nlink:   nlink,
		UID:     st.Uid,
		GID:     st.Gid,
		Rdev:    st.Rdev,
		Size:    uint64(st.Size),
		Blocks:  uint64(st.Blocks),
		Blksize: uint32(st.Blksize),
		Atime:   vfs.Timespec{Sec: st.Atim.Sec, Nsec: st.Atim.Nsec},
		Mtime:   vfs.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
		Ctime:   vfs.Timespec{Sec: st.Ctim.Sec, Nsec: st.Ctim.Nsec},
	}
}

// indexDir opens (creating when asked) the index directory xx/yy of g.
func (p *Posix) indexDir(g vfs.GFID, create bool) (int, error) {
	top := p.idxFD[g[0]]
	cd := fmt.Sprintf("%02x", g[1])
	fd, err := sys.Openat(top, cd, sys.O_PATH|sys.O_DIRECTORY, 0)
	if err != syscall.ENOENT || !create {
		return fd, err
	}
	if err := sys.Mkdirat(top, cd, 0o700); err != nil && err != syscall.EEXIST {
		return -1, err
	}
	return sys.Openat(top, cd, sys.O_PATH|sys.O_DIRECTORY, 0)
}

// linkIndex adds the index hard link of a non-directory that is name in
// dirfd. EEXIST means the GFID is already indexed.
func (p *Posix) linkIndex(g vfs.GFID, dirfd int, name string) error {
	idx, err := p.indexDir(g, true)
	if err != nil {
		return err
	}
	defer sys.Close(idx)
	return sys.Linkat(dirfd, name, idx, g.String())
}

// linkIndexFD is linkIndex for a descriptor.
func (p *Posix) linkIndexFD(g vfs.GFID, fd int) error {
	idx, err := p.indexDir(g, true)
	if err != nil {
		return err
	}
	defer sys.Close(idx)
	return sys.LinkFD(fd, idx, g.String())
}

// writeDirLink creates the index symlink of directory g (parent, name).
// With replace it atomically replaces an existing one (after a rename).
func (p *Posix) writeDirLink(g, parent vfs.GFID, name string, replace bool) error {
	idx, err := p.indexDir(g, true)
	if err != nil {
		return err
	}
	defer sys.Close(idx)
	target := dirLinkTarget(parent, name)
	if !replace {
		return sys.Symlinkat(target, idx, g.String())
	}
	tmp := "link-" + g.String()
	_ = sys.Unlinkat(p.tmpFD, tmp, 0)
	if err := sys.Symlinkat(target, p.tmpFD, tmp); err != nil {
		return err
	}
	if err := sys.Renameat2(p.tmpFD, tmp, idx, g.String(), 0); err != nil {
		_ = sys.Unlinkat(p.tmpFD, tmp, 0)
		return err
	}
	return nil
}

// removeIndex removes g's index entry (of either kind) and forgets a
// cached directory descriptor.
func (p *Posix) removeIndex(g vfs.GFID) error {
	p.dirs.drop(g)
	idx, err := p.indexDir(g, false)
	if err != nil {
		return err
	}
	defer sys.Close(idx)
	return sys.Unlinkat(idx, g.String(), 0)
}

func (p *Posix) ensureRootIndex() error {
	idx, err := p.indexDir(vfs.RootGFID, true)
	if err != nil {
		return err
	}
	defer sys.Close(idx)
	err = sys.Symlinkat(rootLinkTarget, idx, vfs.RootGFID.String())
	if err != nil && err != syscall.EEXIST {
		return err
	}
	return nil
}

// resolve finds the object with GFID g: the root, an index hard link, a
// directory through its chain of index symlinks, or a file that is unlinked
// but still open. Missing GFIDs give ESTALE.
func (p *Posix) resolve(g vfs.GFID) (*obj, syscall.Errno) {
	return p.resolveDepth(g, 0)
}

func (p *Posix) resolveDepth(g vfs.GFID, depth int) (*obj, syscall.Errno) {
	if g.IsZero() {
		return nil, syscall.ESTALE
	}
	if depth > maxDirDepth {
		p.log.Warn("directory index chain too deep (loop?)", "gfid", g)
		return nil, syscall.ELOOP
	}
	if g == vfs.RootGFID {
		o := &obj{fd: p.rootFD, gfid: g, root: true}
		if e := o.restat(); e != 0 {
			o.close()
			return nil, e
		}
		return o, 0
	}
	if d, ok := p.dirs.get(g); ok {
		o := &obj{fd: d.fd, gfid: g, dir: d}
		if o.restat() == 0 && o.st.Nlink > 0 {
			return o, 0
		}
		o.close()
		p.dirs.drop(g) // removed behind our back: resolve afresh
	}
	// Open xx/yy/<uuid> below the held xx directory, refusing symlinks on
	// the way (RESOLVE_NO_SYMLINKS); the last component may be one.
	fd, err := sys.OpenBeneath(p.idxFD[g[0]], fmt.Sprintf("%02x/%s", g[1], g), sys.O_PATH|sys.O_NOFOLLOW, 0)
	if err == syscall.ENOENT {
		if p.heldOnly(g) {
			// Unlinked, only held for a possible undo (Link): gone
			// for everyone else, as it will be for good.
			return nil, syscall.ESTALE
		}
		fd, err = p.openParked(g)
		if err == syscall.ENOENT {
			return nil, syscall.ESTALE
		}
	}
	if err != nil {
		return nil, errno(err)
	}
	o := &obj{fd: fd, gfid: g}
	if e := o.restat(); e != 0 {
		o.close()
		return nil, e
	}
	if o.st.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		return o, 0
	}
	// A symlink is either a client's symlink (hard-linked like any file: it
	// carries the GFID itself) or a directory's pointer.
	if own, ok, _ := gfidOfFD(o.fd); ok && own == g {
		return o, 0
	}
	target, err := sys.Readlinkat(o.fd, "")
	o.close()
	if err != nil {
		return nil, errno(err)
	}
	parent, name, ok := parseDirLink(target)
	if !ok {
		p.log.Warn("malformed directory index link", "gfid", g, "target", target)
		return nil, syscall.ESTALE
	}
	if parent == vfs.RootGFID && name == vfs.ReservedName {
		return nil, syscall.ESTALE
	}
	po, e := p.resolveDepth(parent, depth+1)
	if e != 0 {
		return nil, syscall.ESTALE
	}
	defer po.close()
	if !po.isDir() {
		return nil, syscall.ESTALE
	}
	dfd, err := sys.Openat(po.fd, name, sys.O_PATH|sys.O_DIRECTORY, 0)
	if err != nil {
		return nil, syscall.ESTALE
	}
	d := &obj{fd: dfd, gfid: g}
	if e := d.restat(); e != 0 {
		d.close()
		return nil, e
	}
	if own, ok, _ := gfidOfFD(dfd); !ok || own != g {
		d.close()
		return nil, syscall.ESTALE
	}
	p.dirs.put(g, dfd)
	return d, 0
}

// resolveDir resolves a directory GFID (ENOTDIR otherwise).
func (p *Posix) resolveDir(g vfs.GFID) (*obj, syscall.Errno) {
	o, e := p.resolve(g)
	if e != 0 {
		return nil, e
	}
	if !o.isDir() {
		o.close()
		return nil, syscall.ENOTDIR
	}
	return o, 0
}

// childGFID returns the GFID of name in directory parent (whose descriptor
// is dirfd), assigning one if the entry has none: files copied into the
// export by hand, or left half-created by a crash, become usable on first
// lookup (heal-friendly, as GlusterFS's posix does).
//
// When it assigns one and st is not nil, st is refreshed (the new index
// link changed the link count).
func (p *Posix) childGFID(parent vfs.GFID, dirfd int, name string, st *sys.Stat_t) (vfs.GFID, syscall.Errno) {
	g, ok, err := gfidAt(dirfd, name)
	if err != nil {
		return vfs.GFID{}, errno(err)
	}
	if ok {
		return g, 0
	}
	g, e := p.assignGFID(parent, dirfd, name, st)
	if e == 0 && st != nil {
		_ = sys.Fstatat(dirfd, name, st)
	}
	return g, e
}

// assignGFID gives name a new GFID and indexes it.
func (p *Posix) assignGFID(parent vfs.GFID, dirfd int, name string, st *sys.Stat_t) (vfs.GFID, syscall.Errno) {
	fd, err := sys.Openat(dirfd, name, sys.O_PATH, 0)
	if err != nil {
		return vfs.GFID{}, errno(err)
	}
	defer sys.Close(fd)
	var st2 sys.Stat_t
	if err := sys.Fstat(fd, &st2); err != nil {
		return vfs.GFID{}, errno(err)
	}
	if st != nil && (st2.Ino != st.Ino || st2.Dev != st.Dev) {
		return vfs.GFID{}, syscall.ESTALE // replaced under us
	}
	g := vfs.NewGFID()
	if err := sys.SetxattrFD(fd, XattrGFID, g[:], sys.XATTR_CREATE); err == syscall.EEXIST {
		g, ok, err := gfidOfFD(fd)
		if err != nil || !ok {
			return vfs.GFID{}, syscall.EIO
		}
		return g, 0
	} else if err != nil {
		return vfs.GFID{}, errno(err)
	}
	p.log.Info("assigned a GFID to an entry that had none", "parent", parent, "name", name, "gfid", g)
	if st2.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		err = p.writeDirLink(g, parent, name, false)
	} else {
		err = p.linkIndexFD(g, fd)
	}
	if err != nil && err != syscall.EEXIST {
		p.log.Warn("indexing a new GFID failed", "gfid", g, "err", err)
	}
	return g, 0
}

// cleanTmp removes objects left half-built in .cairn/tmp by a crash, with
// their index entries.
func (p *Posix) cleanTmp() {
	ents, err := p.listMeta(p.tmpFD)
	if err != nil {
		p.log.Warn("listing .cairn/tmp failed", "err", err)
	}
	for _, d := range ents {
		if g, err := vfs.ParseGFID(d.Name); err == nil && d.Name == g.String() {
			var st sys.Stat_t
			if sys.Fstatat(p.tmpFD, d.Name, &st) == nil {
				if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
					if o, e := p.resolve(g); e == 0 {
						o.close()
					} else {
						_ = p.removeIndex(g)
					}
				} else if idx, err := p.indexDir(g, false); err == nil {
					var ist sys.Stat_t
					if sys.Fstatat(idx, d.Name, &ist) == nil && ist.Ino == st.Ino && ist.Dev == st.Dev {
						_ = sys.Unlinkat(idx, d.Name, 0)
					}
					sys.Close(idx)
				}
			}
		}
		if err := sys.Unlinkat(p.tmpFD, d.Name, 0); err == syscall.EISDIR {
			_ = sys.Unlinkat(p.tmpFD, d.Name, sys.AT_REMOVEDIR)
		}
	}
}

// cleanUnlink drops files that were unlinked while open when the brick
// stopped: nobody can hold them open any more.
func (p *Posix) cleanUnlink() {
	ents, err := p.listMeta(p.unlinkFD)
	if err != nil {
		p.log.Warn("listing .cairn/unlink failed", "err", err)
	}
	for _, d := range ents {
		_ = sys.Unlinkat(p.unlinkFD, d.Name, 0)
	}
}

// listMeta lists one of the private directories.
func (p *Posix) listMeta(dirfd int) ([]sys.Dirent, error) {
	fd, err := sys.Reopen(dirfd, syscall.O_RDONLY|sys.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer sys.Close(fd)
	var out []sys.Dirent
	buf := make([]byte, 32<<10)
	for {
		n, err := sys.Getdents(fd, buf)
		if err != nil {
			return out, err
		}
		if n == 0 {
			return out, nil
		}
		ents, err := sys.ParseDirents(buf[:n], nil)
		for _, d := range ents {
			if d.Name != "." && d.Name != ".." {
				out = append(out, d)
			}
		}
		if err != nil {
			return out, err
		}
	}
}

// openParked opens (O_PATH) g's link in .cairn/unlink, never following it:
// a parked client symlink is the object itself, as in the index.
func (p *Posix) openParked(g vfs.GFID) (int, error) {
	return sys.Openat(p.unlinkFD, g.String(), sys.O_PATH|sys.O_NOFOLLOW, 0)
}

// resolveParked opens g from .cairn/unlink, where unlinked objects still
// open or held are parked (see holdIfUnlinked).
func (p *Posix) resolveParked(g vfs.GFID) (*obj, syscall.Errno) {
	fd, err := p.openParked(g)
	if err == syscall.ENOENT {
		return nil, syscall.ESTALE
	}
	if err != nil {
		return nil, errno(err)
	}
	o := &obj{fd: fd, gfid: g}
	if e := o.restat(); e != 0 {
		o.close()
		return nil, e
	}
	return o, 0
}

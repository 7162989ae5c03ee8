package posix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/internal/procs"
	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

// Names of the xattrs the brick gives meaning to.
const (
	// XattrGFID holds the 16-byte GFID of every object. Clients can neither
	// read, list nor set it.
	XattrGFID = "trusted.cairn.gfid"
	// XattrPendingPrefix starts replicate's changelog counters; a GFID with
	// any non-zero one is listed in indices/dirty.
	XattrPendingPrefix = "trusted.cairn.pending."
	// XattrDirty is replicate's changelog counter of transactions in flight
	// (GlusterFS's trusted.afr.dirty), indexed like the pending counters.
	XattrDirty = "trusted.cairn.dirty"
)

// isChangelog reports whether name is one of replicate's changelog
// counters (XattrPendingPrefix, XattrDirty).
func isChangelog(name string) bool {
	return name == XattrDirty || strings.HasPrefix(name, XattrPendingPrefix)
}

// Names inside <export>/.cairn.
const (
	metaGFID    = "gfid"
	metaTmp     = "tmp"
	metaUnlink  = "unlink"
	metaIndices = "indices"
	// dirtyBase, in indices/, is the inode every indices/dirty entry is a
	// hard link of.
	dirtyBase = "dirty-base"
	metaDirty = "dirty"
)

// Config configures a posix translator (GlusterFS volfile options).
type Config struct {
	// Directory is the export directory (option "directory"). It must exist.
	Directory string
	// Logger receives warnings about on-disk inconsistencies; nil discards.
	Logger *slog.Logger
	// DirectWriteMin (option o-direct-min-size): writes through an open
	// handle of at least this many bytes, with offset, length and buffer
	// aligned to 4 KiB, bypass the page cache (O_DIRECT). 0 turns it off.
	DirectWriteMin int
	// HoldUnlinked is how long an object whose last name an Unlink with
	// vfs.UnlinkHold removed stays linkable by GFID (for the undo of a
	// replicated unlink that lost a lock race); 0 means 10 s.
	HoldUnlinked time.Duration
	// Procs, when set, is held while the background worker ends committed
	// unlink holds: the final unlink of a file waits in the kernel for the
	// disk to discard its blocks on file systems mounted with -o discard,
	// keeping the P it runs on, and a brick runs with few Ps.
	Procs *procs.Booster
	// HoldEndIdle and HoldEndBatch pace the removal of the objects whose
	// unlink was committed (endLater): it starts once no commit came for
	// HoldEndIdle, or when HoldEndBatch objects (or holdEndBytes of
	// them, or one for holdEndMaxWait) wait; 0 means 20 ms and 16,384.
	HoldEndIdle  time.Duration
	HoldEndBatch int
}

// defaultHoldUnlinked is Config.HoldUnlinked's default. An undo comes one
// round trip after the unlink; a client stalled for longer than this finds
// the object gone and blames the brick instead (entry heal restores it).
const defaultHoldUnlinked = 10 * time.Second

// Posix is the storage/posix translator. It is safe for concurrent use.
type Posix struct {
	dir string
	log *slog.Logger

	directMin int // Config.DirectWriteMin

	// ctime hides ctime changes made only by internal xattrs.
	ctime ctimeMask

	// Descriptors held for the translator's life: the export root and the
	// private directories (O_PATH, never reopened by path).
	rootFD, metaFD, gfidFD, tmpFD, unlinkFD, indicesFD, dirtyFD int
	// idxFD holds the 256 first-level index directories .cairn/gfid/xx,
	// created on first start, so an index operation needs a single openat.
	idxFD [256]int

	// stripes serialise the operations that must see a consistent link
	// count or xattr value of one GFID (unlink vs link vs release, xattrop,
	// a directory's index link update).
	stripes [256]sync.Mutex

	dirs *dirCache
	anon *anonCache

	mu        sync.Mutex
	closed    bool
	handles   map[vfs.Handle]*handle
	nextFH    vfs.Handle
	openCount map[vfs.GFID]int
	// openFile is one open handle of each regular file that has one, whose
	// descriptor resolveOpen lends instead of resolving the GFID again.
	openFile map[vfs.GFID]*handle
	orphans  map[vfs.GFID]bool // index link parked in .cairn/unlink
	// held are the parked objects an Unlink with vfs.UnlinkHold removed:
	// kept (even when not open) until their timer fires or a Link brings
	// them back.
	held     map[vfs.GFID]*hold
	expiring sync.WaitGroup // expireHeld calls using the descriptors
	// ending are holds a commit ended, whose objects endHolds removes in
	// the background (endingBusy while it runs).
	ending      []endingHold
	endingBusy  bool
	endingBytes int64       // space the ending objects hold
	endingSince time.Time   // when the oldest of them was queued
	endTimer    *time.Timer // starts endHolds once commits pause
	endIdle     time.Duration
	endBatch    int
	// heldNames maps the names removed by held unlinks to their objects
	// (for undoUnlink); heldOrder lists the records oldest first.
	heldNames    map[nameKey]heldName
	heldOrder    []heldName
	holdUnlinked time.Duration
	// procs is Config.Procs (nil: no extra P for endHolds).
	procs *procs.Booster
}

// New opens (and on first start initialises) the export directory.
func New(cfg Config) (*Posix, error) {
	if cfg.Directory == "" {
		return nil, errors.New("posix: option directory is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := sys.CheckProc(); err != nil {
		return nil, fmt.Errorf("posix: /proc/self/fd is needed to handle O_PATH descriptors: %w", err)
	}
	p := &Posix{
		dir:          cfg.Directory,
		log:          log.With("xlator", "storage/posix", "directory", cfg.Directory),
		directMin:    cfg.DirectWriteMin,
		holdUnlinked: cfg.HoldUnlinked,
		procs:        cfg.Procs,
		rootFD:       -1,
		metaFD:       -1,
		gfidFD:       -1,
		tmpFD:        -1,
		unlinkFD:     -1,
		indicesFD:    -1,
		dirtyFD:      -1,
		handles:      make(map[vfs.Handle]*handle),
		openCount:    make(map[vfs.GFID]int),
		openFile:     make(map[vfs.GFID]*handle),
		orphans:      make(map[vfs.GFID]bool),
		held:         make(map[vfs.GFID]*hold),
		heldNames:    make(map[nameKey]heldName),
		dirs:         newDirCache(dirCacheSize),
		anon:         newAnonCache(anonCacheSize),
	}
	if p.holdUnlinked <= 0 {
		p.holdUnlinked = defaultHoldUnlinked
	}
	p.endIdle, p.endBatch = cfg.HoldEndIdle, cfg.HoldEndBatch
	if p.endIdle <= 0 {
		p.endIdle = defaultHoldEndIdle
	}
	if p.endBatch <= 0 {
		p.endBatch = defaultHoldEndBatch
	}
	for i := range p.idxFD {
		p.idxFD[i] = -1
	}
	if err := p.init(); err != nil {
		p.closeFDs()
		return nil, fmt.Errorf("posix: %s: %w", cfg.Directory, err)
	}
	return p, nil
}

func (p *Posix) init() error {
	var err error
	p.rootFD, err = sys.Open(p.dir, sys.O_PATH|sys.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	mkOpen := func(dirfd int, name string) (int, error) {
		if err := sys.Mkdirat(dirfd, name, 0o700); err != nil && err != syscall.EEXIST {
			return -1, fmt.Errorf("mkdir %s: %w", name, err)
		}
		// O_NOFOLLOW: a symlink planted as .cairn must not redirect the index.
		fd, err := sys.Openat(dirfd, name, sys.O_PATH|sys.O_DIRECTORY, 0)
		if err != nil {
			return -1, fmt.Errorf("open %s: %w", name, err)
		}
		return fd, nil
	}
	if p.metaFD, err = mkOpen(p.rootFD, vfs.ReservedName); err != nil {
		return err
	}
	if p.gfidFD, err = mkOpen(p.metaFD, metaGFID); err != nil {
		return err
	}
	if p.tmpFD, err = mkOpen(p.metaFD, metaTmp); err != nil {
		return err
	}
	p.spreadDirectories()
	if p.unlinkFD, err = mkOpen(p.metaFD, metaUnlink); err != nil {
		return err
	}
	if p.indicesFD, err = mkOpen(p.metaFD, metaIndices); err != nil {
		return err
	}
	if p.dirtyFD, err = mkOpen(p.indicesFD, metaDirty); err != nil {
		return err
	}
	if err := p.newDirtyBase(); err != nil {
		return fmt.Errorf("creating %s/%s/%s: %w", vfs.ReservedName, metaIndices, dirtyBase, err)
	}
	for i := range p.idxFD {
		if p.idxFD[i], err = mkOpen(p.gfidFD, fmt.Sprintf("%02x", i)); err != nil {
			return err
		}
	}

	// The root's GFID: set on first start, checked afterwards.
	g, ok, err := gfidOfFD(p.rootFD)
	if err != nil {
		return fmt.Errorf("reading %s of the export root (is this a filesystem with trusted xattrs, and are we root?): %w", XattrGFID, err)
	}
	if !ok {
		if err := sys.SetxattrFD(p.rootFD, XattrGFID, vfs.RootGFID[:], sys.XATTR_CREATE); err != nil && err != syscall.EEXIST {
			return fmt.Errorf("setting %s on the export root: %w", XattrGFID, err)
		}
	} else if g != vfs.RootGFID {
		return fmt.Errorf("export root has GFID %s, want %s (is it a subdirectory of another brick?)", g, vfs.RootGFID)
	}
	if err := p.ensureRootIndex(); err != nil {
		return err
	}
	p.cleanTmp()
	p.cleanUnlink()
	return nil
}

// Close releases every descriptor. Operations after Close fail with EBADF.
func (p *Posix) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	hs := p.handles
	p.handles = map[vfs.Handle]*handle{}
	p.openFile = map[vfs.GFID]*handle{}
	// Held objects stay parked; the next start's cleanUnlink drops them.
	for _, h := range p.held {
		h.timer.Stop()
	}
	if p.endTimer != nil {
		p.endTimer.Stop()
	}
	p.mu.Unlock()
	p.expiring.Wait()
	for _, h := range hs {
		h.close()
	}
	p.dirs.clear()
	p.anon.clear()
	p.closeFDs()
	return nil
}

func (p *Posix) closeFDs() {
	fds := []*int{&p.rootFD, &p.metaFD, &p.gfidFD, &p.tmpFD, &p.unlinkFD, &p.indicesFD, &p.dirtyFD}
	for i := range p.idxFD {
		fds = append(fds, &p.idxFD[i])
	}
	for _, fd := range fds {
		if *fd >= 0 {
			sys.Close(*fd)
			*fd = -1
		}
	}
}

// spreadDirectories marks tmp/ and gfid/ as top directories for ext4's
// Orlov allocator (chattr +T), before gfid/'s first-level directories are
// made. New directories are made in tmp/ and renamed into place, and a
// directory's index entry is a symlink in gfid/xx/yy; without the mark
// ext4 puts every directory of the volume (and so the files created in
// them) in the block groups next to tmp/'s, and every index symlink next
// to gfid/'s. Once files were deleted there, on an ext4 without a journal
// (this machine's root) each new inode then scans the group's recently
// deleted ones (recently_deleted() in find_inode_bit, up to 6 minutes
// after a delete): half the bricks' CPU in an untar after an earlier one
// was removed, 0.2 ms per index symlink under strace against 2-12 us for
// the brick's other calls. Subdirectories of a top
// directory go to groups with more free inodes than average, as ext4
// spreads the top-level directories of a file system. Other file systems
// have no such flag; nothing changes there.
func (p *Posix) spreadDirectories() {
	for _, name := range []string{metaTmp, metaGFID} {
		err := sys.AddInodeFlags(p.metaFD, name, sys.FS_TOPDIR_FL)
		switch {
		case err == nil, errors.Is(err, syscall.ENOTTY), errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.EINVAL):
		default:
			p.log.Warn("marking a private directory as a top directory for ext4's allocator failed; new directories stay together", "dir", name, "err", err)
		}
	}
}

// lockG locks the stripe of g and returns its unlock.
func (p *Posix) lockG(g vfs.GFID) func() {
	m := &p.stripes[g[15]^g[7]]
	m.Lock()
	return m.Unlock
}

// lockG2 locks the stripes of two GFIDs in a fixed order.
func (p *Posix) lockG2(a, b vfs.GFID) func() {
	i, j := a[15]^a[7], b[15]^b[7]
	if i == j {
		return p.lockG(a)
	}
	if i > j {
		i, j = j, i
	}
	p.stripes[i].Lock()
	p.stripes[j].Lock()
	return func() { p.stripes[j].Unlock(); p.stripes[i].Unlock() }
}

func errno(err error) syscall.Errno { return vfs.Errno(err) }

// Directory returns the export directory.
func (p *Posix) Directory() string { return p.dir }

// Locks live in features/locks (brick/locks), above this translator.

// GetLk is not implemented by storage/posix.
func (p *Posix) GetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock) (vfs.Lock, syscall.Errno) {
	return vfs.Lock{}, syscall.ENOSYS
}

// SetLk is not implemented by storage/posix.
func (p *Posix) SetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock, wait bool) syscall.Errno {
	return syscall.ENOSYS
}

// InodeLk is not implemented by storage/posix.
func (p *Posix) InodeLk(ctx context.Context, domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) syscall.Errno {
	return syscall.ENOSYS
}

// EntryLk is not implemented by storage/posix.
func (p *Posix) EntryLk(ctx context.Context, domain string, parent vfs.GFID, name string, typ vfs.LockType, owner uint64, wait bool) syscall.Errno {
	return syscall.ENOSYS
}

// StatFS reports the export's filesystem, after removing the objects
// whose unlink was committed and whose removal waits for a pause (as XFS
// flushes its deferred inode inactivation for statfs): df after rm shows
// the space freed.
func (p *Posix) StatFS(ctx context.Context, gfid vfs.GFID) (vfs.StatFS, syscall.Errno) {
	p.endPending()
	var st sys.Statfs_t
	if err := sys.Fstatfs(p.rootFD, &st); err != nil {
		return vfs.StatFS{}, errno(err)
	}
	return vfs.StatFS{
		Bsize:   uint32(st.Bsize),
		Frsize:  uint32(st.Frsize),
		Blocks:  st.Blocks,
		Bfree:   st.Bfree,
		Bavail:  st.Bavail,
		Files:   st.Files,
		Ffree:   st.Ffree,
		NameLen: uint32(st.Namelen),
	}, 0
}

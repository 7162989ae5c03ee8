// Package posix is cairn's storage/posix translator: the bottom of every
// brick stack, storing a volume's files in a local directory (the GlusterFS
// option "directory"), addressed by GFID.
//
// # On-disk layout
//
// Every file and directory of the export carries its GFID in the xattr
// trusted.cairn.gfid; the root gets vfs.RootGFID on first start. The
// private directory <export>/.cairn (vfs.ReservedName, mode 0700, never
// visible to clients) holds:
//
//	gfid/ab/cd/<uuid>   the GFID index (GlusterFS's .glusterfs): a hard link
//	                    for every non-directory (symlinks included), and for
//	                    a directory a symlink "../../xx/yy/<parent-uuid>/<name>"
//	                    naming its parent's GFID and its name, so that it stays
//	                    right when an ancestor is renamed (only the renamed
//	                    directory's own link is rewritten). The root's entry
//	                    is "../../../..". cairn clients make GFIDs whose
//	                    first two bytes change once a minute (vfs.NewGFID),
//	                    so a burst of creates fills one ab/cd directory
//	                    instead of making a new one per file.
//	unlink/<uuid>       the index link of a file whose last name was removed
//	                    while it was open; removed at its last Release and on
//	                    start (GlusterFS's .glusterfs/unlink). An unlink with
//	                    vfs.UnlinkHold parks the file here even when nobody
//	                    has it open, for Config.HoldUnlinked, so that an
//	                    Unlink with vfs.UnlinkUndo can link it back.
//	tmp/                directories, symlinks and special files are built here
//	                    (created, GFID set, owner and mode fixed, indexed) and
//	                    then renamed into place with RENAME_NOREPLACE, so a
//	                    name never exists without its GFID and index entry,
//	                    even after a crash. Regular files are built the same
//	                    way as unnamed O_TMPFILE files of their directory and
//	                    linked into place (tmp/ where O_TMPFILE is missing).
//	indices/dirty/<uuid> a hard link of indices/dirty-base for each GFID with
//	                    a non-zero trusted.cairn.pending.* or .dirty counter (the
//	                    self-heal daemon's work list, GlusterFS's
//	                    indices/xattrop, linked to one base file the same way).
//
// # Safety
//
// The brick never follows a symlink inside the export. Every operation is
// done relative to directory descriptors (internal/sys, O_NOFOLLOW,
// AT_SYMLINK_NOFOLLOW, O_PATH); GFIDs are resolved by opening index hard
// links with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) and directory
// links by reading their text and opening each named component with
// O_NOFOLLOW, verifying the GFID xattr at the end. A symlink planted in the
// export (pointing at /etc, say) is reported by Lookup as a symlink, and
// any attempt to open it, or to use it as a directory, fails (ELOOP,
// ENOTDIR). Device nodes and FIFOs are never opened (EACCES, like a nodev
// mount).
//
// # Permissions
//
// The brick runs as root and checks permissions itself from the mode bits
// of the caller in the context (vfs.CallerFrom): search permission for
// lookups, write+search on parents for namespace changes, the sticky bit,
// read/write for opens and anonymous I/O, owner-only chmod/utimes, root-only
// chown, setgid inheritance, and clearing setuid/setgid on writes by
// non-root callers. POSIX ACLs are not evaluated. XattrOp is an internal
// operation (replicate's changelog) and is not permission checked;
// trusted.* xattrs otherwise need a root caller, as in the kernel.
//
// # Handles and caches
//
// Open, Create and OpenDir return handles into a table of descriptors.
// Handle 0 (anonymous) resolves the GFID per call, through a small LRU of
// read-write descriptors of regular files (permissions are re-checked on
// each call, and a file whose last link is gone is dropped, so a deleted
// GFID is ESTALE). Directory GFIDs resolve through an LRU of O_PATH
// descriptors, which follow renames; a removed directory has nlink 0 and
// is resolved afresh (ESTALE).
//
// ReadDir cookies are getdents d_off values, valid on any descriptor of
// the directory, so listings resume with a fresh handle, with handle 0, or
// after a restart.
//
// # Requirements
//
// The brick runs as root (trusted.* xattrs, chown, AT_EMPTY_PATH links) on
// a filesystem with xattrs on symlinks and renameat2(RENAME_NOREPLACE)
// (ext4, xfs, btrfs, tmpfs), with /proc mounted.
//
// Locks (GetLk, SetLk, InodeLk, EntryLk) return ENOSYS: features/locks sits
// above this translator. Close must come after every operation returned.
package posix

package vfs

import (
	"context"
	"syscall"
)

// Translator is the interface every layer of a cairn stack implements, on
// bricks and on clients. All methods return syscall.Errno (0 = OK).
//
// Errno each operation may return, beyond EIO/ENOTCONN from the transport:
//
//	Lookup      ENOENT, ENOTDIR, ENAMETOOLONG, EINVAL (bad name), EACCES
//	GetAttr     ENOENT (also ESTALE when the GFID no longer exists)
//	SetAttr     ENOENT, EPERM, EACCES, EISDIR (size on a directory), EINVAL
//	Create/Mkdir/Mknod/Symlink  EEXIST, ENOENT, ENOTDIR, ENAMETOOLONG, EACCES, ENOSPC
//	Link        EEXIST, EPERM (directory), EXDEV, EMLINK
//	Unlink      ENOENT, EISDIR, EACCES
//	Rmdir       ENOENT, ENOTDIR, ENOTEMPTY, EACCES
//	Rename      ENOENT, EEXIST (RenameNoReplace), EISDIR, ENOTDIR, ENOTEMPTY, EINVAL
//	Open        ENOENT, EISDIR (write open of a directory), EACCES
//	Read/Write  EBADF, EISDIR, ENOSPC, EFBIG
//	*Xattr      ENODATA, EEXIST/ENODATA (create/replace flags), ERANGE, ENOTSUP
//	SetLk       EAGAIN (conflict, no wait), EINTR (wait cancelled), EDEADLK
type Translator interface {
	// Lookup resolves name in directory parent.
	Lookup(ctx context.Context, parent GFID, name string) (Attr, syscall.Errno)
	// GetAttr returns the attributes of the file with the given GFID. fh may
	// name an open handle (fstat) or be 0.
	GetAttr(ctx context.Context, gfid GFID, fh Handle) (Attr, syscall.Errno)
	// SetAttr changes attributes and returns the new ones.
	SetAttr(ctx context.Context, gfid GFID, fh Handle, in *SetAttrIn) (Attr, syscall.Errno)

	// Create makes and opens a regular file.
	Create(ctx context.Context, parent GFID, name string, in *CreateIn) (Attr, Handle, syscall.Errno)
	// Mknod makes a regular file, device, fifo or socket (type in in.Mode).
	Mknod(ctx context.Context, parent GFID, name string, in *CreateIn) (Attr, syscall.Errno)
	Mkdir(ctx context.Context, parent GFID, name string, in *CreateIn) (Attr, syscall.Errno)
	Symlink(ctx context.Context, parent GFID, name, target string, in *CreateIn) (Attr, syscall.Errno)
	Readlink(ctx context.Context, gfid GFID) (string, syscall.Errno)
	// Link makes newName in newParent a hard link to gfid.
	Link(ctx context.Context, gfid GFID, newParent GFID, newName string) (Attr, syscall.Errno)
	Unlink(ctx context.Context, parent GFID, name string) syscall.Errno
	Rmdir(ctx context.Context, parent GFID, name string) syscall.Errno
	// Rename moves oldName to newName, replacing an existing target
	// (POSIX rules) unless flags has RenameNoReplace.
	Rename(ctx context.Context, oldParent GFID, oldName string, newParent GFID, newName string, flags uint32) syscall.Errno

	// Open opens a file with open(2) flags (O_CREAT is not allowed here).
	Open(ctx context.Context, gfid GFID, flags uint32) (Handle, syscall.Errno)
	// Read reads into dest at off, returning the bytes read (short at EOF).
	Read(ctx context.Context, gfid GFID, fh Handle, dest []byte, off int64) (int, syscall.Errno)
	// Write writes data at off (ignored for O_APPEND handles, which append).
	Write(ctx context.Context, gfid GFID, fh Handle, data []byte, off int64) (int, syscall.Errno)
	// Flush is called on every close(2) of a descriptor.
	Flush(ctx context.Context, gfid GFID, fh Handle) syscall.Errno
	Fsync(ctx context.Context, gfid GFID, fh Handle, datasync bool) syscall.Errno
	// Release drops the handle; an unlinked file disappears after its last release.
	Release(ctx context.Context, gfid GFID, fh Handle) syscall.Errno
	// Fallocate preallocates or punches (mode as fallocate(2)).
	Fallocate(ctx context.Context, gfid GFID, fh Handle, mode uint32, off, length int64) syscall.Errno
	// Lseek implements SEEK_DATA/SEEK_HOLE (whence 3/4).
	Lseek(ctx context.Context, gfid GFID, fh Handle, off int64, whence int) (int64, syscall.Errno)

	OpenDir(ctx context.Context, gfid GFID) (Handle, syscall.Errno)
	// ReadDir returns entries after cookie (0 = from the start), at most max
	// (max <= 0: translator's choice), with attributes when plus is set. eof
	// is true when no entries follow the last one returned. "." and ".." are
	// not returned. Cookies stay valid across OpenDir/ReleaseDir, so a
	// listing can be resumed by GFID alone (fh 0).
	ReadDir(ctx context.Context, gfid GFID, fh Handle, cookie uint64, max int, plus bool) (entries []DirEntry, eof bool, errno syscall.Errno)
	ReleaseDir(ctx context.Context, gfid GFID, fh Handle) syscall.Errno
	FsyncDir(ctx context.Context, gfid GFID, fh Handle, datasync bool) syscall.Errno

	StatFS(ctx context.Context, gfid GFID) (StatFS, syscall.Errno)

	GetXattr(ctx context.Context, gfid GFID, name string) ([]byte, syscall.Errno)
	SetXattr(ctx context.Context, gfid GFID, name string, value []byte, flags uint32) syscall.Errno
	ListXattr(ctx context.Context, gfid GFID) ([]string, syscall.Errno)
	RemoveXattr(ctx context.Context, gfid GFID, name string) syscall.Errno
	// XattrOp atomically applies op to each named xattr with the given
	// operand and returns the resulting values (GlusterFS's xattrop).
	XattrOp(ctx context.Context, gfid GFID, op XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno)

	// GetLk returns the first lock conflicting with lk, or lk with Type
	// Unlock when none does.
	GetLk(ctx context.Context, gfid GFID, fh Handle, kind LockKind, lk Lock) (Lock, syscall.Errno)
	// SetLk sets or clears lk; with wait it blocks until granted or ctx ends
	// (EINTR), otherwise a conflict gives EAGAIN.
	SetLk(ctx context.Context, gfid GFID, fh Handle, kind LockKind, lk Lock, wait bool) syscall.Errno
	// InodeLk takes or drops a lock on a byte range of an inode in a lock
	// domain (GlusterFS inodelk, used by replicate for data/metadata).
	InodeLk(ctx context.Context, domain string, gfid GFID, lk Lock, wait bool) syscall.Errno
	// EntryLk takes or drops a lock on name in directory parent ("" locks the
	// whole directory) in a lock domain (GlusterFS entrylk).
	EntryLk(ctx context.Context, domain string, parent GFID, name string, typ LockType, owner uint64, wait bool) syscall.Errno
}

// Closer is implemented by translators that hold resources (connections,
// goroutines, fds) to be released when the stack is torn down.
type Closer interface {
	Close() error
}

// Close closes t if it implements Closer.
func Close(t Translator) error {
	if c, ok := t.(Closer); ok {
		return c.Close()
	}
	return nil
}

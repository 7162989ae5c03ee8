//go:build linux

package sys

import (
	"errors"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Stat_t is struct stat.
type Stat_t = unix.Stat_t //nolint:revive // mirrors the C name

// Statfs_t is struct statfs.
type Statfs_t = unix.Statfs_t //nolint:revive // mirrors the C name

// Timespec is struct timespec.
type Timespec = unix.Timespec

// Flags re-exported so that callers need not import x/sys.
const (
	AT_FDCWD             = unix.AT_FDCWD             //nolint:revive
	AT_REMOVEDIR         = unix.AT_REMOVEDIR         //nolint:revive
	RENAME_NOREPLACE     = unix.RENAME_NOREPLACE     //nolint:revive
	RENAME_EXCHANGE      = unix.RENAME_EXCHANGE      //nolint:revive
	O_PATH               = unix.O_PATH               //nolint:revive
	O_DIRECTORY          = unix.O_DIRECTORY          //nolint:revive
	O_NOFOLLOW           = unix.O_NOFOLLOW           //nolint:revive
	O_CLOEXEC            = unix.O_CLOEXEC            //nolint:revive
	UTIME_NOW            = unix.UTIME_NOW            //nolint:revive
	UTIME_OMIT           = unix.UTIME_OMIT           //nolint:revive
	XATTR_CREATE         = unix.XATTR_CREATE         //nolint:revive
	XATTR_REPLACE        = unix.XATTR_REPLACE        //nolint:revive
	SEEK_DATA            = unix.SEEK_DATA            //nolint:revive
	SEEK_HOLE            = unix.SEEK_HOLE            //nolint:revive
	FALLOC_FL_KEEP_SIZE  = unix.FALLOC_FL_KEEP_SIZE  //nolint:revive
	FALLOC_FL_PUNCH_HOLE = unix.FALLOC_FL_PUNCH_HOLE //nolint:revive
)

// errnoOf converts an error from x/sys to syscall.Errno (nil stays nil).
func errnoOf(err error) error {
	if err == nil {
		return nil
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

// retry runs f until it fails with something other than EINTR. Go installs
// its signal handlers with SA_RESTART, but some calls (notably those on
// network filesystems and the xattr family on FUSE-backed exports) still
// report EINTR.
func retry(f func() error) error {
	for {
		err := f()
		if err != unix.EINTR {
			return errnoOf(err)
		}
	}
}

func retryN(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, errnoOf(err)
		}
	}
}

// ProcFD is the /proc/self/fd path of fd. Opening or stat'ing it reaches the
// inode fd refers to without any path walk, which is how O_PATH descriptors
// are reopened or have their xattrs and times changed.
func ProcFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// procAt is the /proc path of name inside the directory dirfd. Only the
// magic link is followed; name itself is then looked up as one component.
func procAt(dirfd int, name string) string { return ProcFD(dirfd) + "/" + name }

// CheckProc reports whether /proc/self/fd works, which the O_PATH helpers
// need.
func CheckProc() error {
	fd, err := Open("/", unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer Close(fd)
	var st Stat_t
	return retry(func() error { return unix.Stat(ProcFD(fd), &st) })
}

func checkComponent(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return syscall.EINVAL
	}
	return nil
}

// Open opens an absolute path chosen by the operator (the export
// directory). It follows symlinks: the operator owns that path.
func Open(path string, flags int, mode uint32) (int, error) {
	return retryN(func() (int, error) { return unix.Open(path, flags|unix.O_CLOEXEC, mode) })
}

// Openat opens the single component name in dirfd without following a
// symlink there (O_NOFOLLOW): a symlink yields ELOOP, or an O_PATH
// descriptor of the symlink itself when flags has O_PATH.
func Openat(dirfd int, name string, flags int, mode uint32) (int, error) {
	if err := checkComponent(name); err != nil {
		return -1, err
	}
	return retryN(func() (int, error) {
		return unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	})
}

// OpenUnnamed creates an unnamed regular file in directory dirfd
// (O_TMPFILE), opened with flags (O_CREAT, O_EXCL and O_TRUNC are dropped;
// an O_RDONLY open is made O_RDWR, as O_TMPFILE needs write access). LinkFD
// gives it a name; until then it disappears when closed. Filesystems without
// O_TMPFILE report EOPNOTSUPP (or EISDIR on kernels before 3.11).
func OpenUnnamed(dirfd int, flags int, mode uint32) (int, error) {
	flags &^= unix.O_CREAT | unix.O_EXCL | unix.O_TRUNC
	if flags&unix.O_ACCMODE == unix.O_RDONLY {
		flags |= unix.O_RDWR
	}
	return retryN(func() (int, error) {
		return unix.Openat(dirfd, ".", flags|unix.O_TMPFILE|unix.O_CLOEXEC, mode)
	})
}

// Reopen opens the inode behind fd (typically O_PATH) again with flags, via
// its /proc magic link. The caller must have checked the file type: a
// FIFO would block and a device would reach the device.
func Reopen(fd int, flags int) (int, error) {
	return retryN(func() (int, error) {
		return unix.Open(ProcFD(fd), flags|unix.O_CLOEXEC, 0)
	})
}

// OpenBeneath opens a slash-separated relative path below dirfd. It tries
// openat2 each time and falls back on ENOSYS (one failing call on old
// kernels; no global state remembers the answer). No
// component may be a symlink, "..", or absolute (RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS); with O_PATH|O_NOFOLLOW a final symlink is returned
// as an O_PATH descriptor of the link itself.
func OpenBeneath(dirfd int, path string, flags int, mode uint32) (int, error) {
	// openat2 would accept ".." that stays beneath dirfd, and empty
	// components; refuse them so both implementations agree and callers'
	// paths are plain.
	for _, c := range strings.Split(path, "/") {
		if err := checkComponent(c); err != nil {
			return -1, err
		}
	}
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Mode:    uint64(mode),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	if flags&unix.O_CREAT == 0 {
		how.Mode = 0
	}
	fd, err := retryN(func() (int, error) { return unix.Openat2(dirfd, path, &how) })
	if err != unix.ENOSYS {
		return fd, err
	}
	return openBeneathWalk(dirfd, path, flags, mode)
}

// openBeneathWalk is OpenBeneath for kernels before 5.6: one openat per
// component, each with O_NOFOLLOW.
func openBeneathWalk(dirfd int, path string, flags int, mode uint32) (int, error) {
	parts := strings.Split(path, "/")
	cur := dirfd
	for i, p := range parts {
		if err := checkComponent(p); err != nil {
			if cur != dirfd {
				Close(cur)
			}
			return -1, err
		}
		last := i == len(parts)-1
		fl := unix.O_PATH | unix.O_DIRECTORY
		if last {
			fl = flags
		}
		fd, err := Openat(cur, p, fl, mode)
		if cur != dirfd {
			Close(cur)
		}
		if err != nil {
			return -1, err
		}
		if last {
			// Openat added O_NOFOLLOW: a final symlink gave ELOOP, or an
			// O_PATH descriptor of the link itself.
			return fd, nil
		}
		cur = fd
	}
	return -1, syscall.EINVAL
}

// Close closes fd. EINTR is not retried: on Linux the descriptor is gone
// even then.
func Close(fd int) error { return errnoOf(unix.Close(fd)) }

// Dup duplicates fd with O_CLOEXEC.
func Dup(fd int) (int, error) {
	return retryN(func() (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) })
}

// Fstat stats fd (O_PATH descriptors included).
func Fstat(fd int, st *Stat_t) error {
	return retry(func() error { return unix.Fstat(fd, st) })
}

// Fstatat stats name in dirfd without following a symlink.
func Fstatat(dirfd int, name string, st *Stat_t) error {
	if err := checkComponent(name); err != nil {
		return err
	}
	return retry(func() error { return unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW) })
}

// Fstatfs is statfs(2) of the filesystem holding fd.
func Fstatfs(fd int, st *Statfs_t) error {
	return retry(func() error { return unix.Fstatfs(fd, st) })
}

// Mkdirat makes directory name in dirfd.
func Mkdirat(dirfd int, name string, mode uint32) error {
	if err := checkComponent(name); err != nil {
		return err
	}
	return retry(func() error { return unix.Mkdirat(dirfd, name, mode) })
}

// Mknodat makes a node name in dirfd.
func Mknodat(dirfd int, name string, mode uint32, dev uint64) error {
	if err := checkComponent(name); err != nil {
		return err
	}
	return retry(func() error { return unix.Mknodat(dirfd, name, mode, int(dev)) })
}

// Symlinkat makes name in dirfd a symlink to target. target is stored
// verbatim and never interpreted by the brick.
func Symlinkat(target string, dirfd int, name string) error {
	if err := checkComponent(name); err != nil {
		return err
	}
	return retry(func() error { return unix.Symlinkat(target, dirfd, name) })
}

// Readlinkat reads the symlink name in dirfd; name "" reads the symlink an
// O_PATH descriptor dirfd refers to.
func Readlinkat(dirfd int, name string) (string, error) {
	if name != "" {
		if err := checkComponent(name); err != nil {
			return "", err
		}
	}
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := retryN(func() (int, error) { return unix.Readlinkat(dirfd, name, buf) })
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
		if size > 1<<20 {
			return "", syscall.ENAMETOOLONG
		}
	}
}

// Linkat makes newname in newdirfd a hard link to oldname in olddirfd
// (flags 0: a symlink oldname is linked, not followed).
func Linkat(olddirfd int, oldname string, newdirfd int, newname string) error {
	if err := checkComponent(oldname); err != nil {
		return err
	}
	if err := checkComponent(newname); err != nil {
		return err
	}
	return retry(func() error { return unix.Linkat(olddirfd, oldname, newdirfd, newname, 0) })
}

// LinkFD makes newname in newdirfd a hard link to the inode fd refers to
// (O_PATH descriptors included). It uses AT_EMPTY_PATH, which needs
// CAP_DAC_READ_SEARCH, and falls back to the /proc magic link.
func LinkFD(fd int, newdirfd int, newname string) error {
	if err := checkComponent(newname); err != nil {
		return err
	}
	err := retry(func() error { return unix.Linkat(fd, "", newdirfd, newname, unix.AT_EMPTY_PATH) })
	if err == unix.ENOENT || err == unix.EPERM {
		// Without the capability AT_EMPTY_PATH reports ENOENT; the magic link
		// is followed to the inode itself, never past a symlink it names.
		if err2 := retry(func() error {
			return unix.Linkat(unix.AT_FDCWD, ProcFD(fd), newdirfd, newname, unix.AT_SYMLINK_FOLLOW)
		}); err2 != unix.ENOENT {
			return err2
		}
	}
	return err
}

// Unlinkat removes name from dirfd (flags AT_REMOVEDIR for a directory).
func Unlinkat(dirfd int, name string, flags int) error {
	if err := checkComponent(name); err != nil {
		return err
	}
	return retry(func() error { return unix.Unlinkat(dirfd, name, flags) })
}

// Renameat2 is renameat2(2) on single components.
func Renameat2(olddirfd int, oldname string, newdirfd int, newname string, flags uint) error {
	if err := checkComponent(oldname); err != nil {
		return err
	}
	if err := checkComponent(newname); err != nil {
		return err
	}
	return retry(func() error { return unix.Renameat2(olddirfd, oldname, newdirfd, newname, flags) })
}

// Fchownat changes the owner of name in dirfd without following a symlink.
// -1 leaves an id unchanged.
func Fchownat(dirfd int, name string, uid, gid int) error {
	if err := checkComponent(name); err != nil {
		return err
	}
	return retry(func() error { return unix.Fchownat(dirfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW) })
}

// FchownFD changes the owner of the inode fd refers to (O_PATH included; a
// symlink's own owner for a symlink descriptor).
func FchownFD(fd int, uid, gid int) error {
	return retry(func() error { return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH) })
}

// FchmodFD changes the mode of the inode fd refers to (O_PATH included).
// Callers must not pass a symlink: Linux has no symlink modes.
func FchmodFD(fd int, mode uint32) error {
	return retry(func() error { return unix.Fchmodat(unix.AT_FDCWD, ProcFD(fd), mode, 0) })
}

// TruncateFD truncates the inode fd refers to (O_PATH included) without
// needing a writable descriptor.
func TruncateFD(fd int, size int64) error {
	return retry(func() error { return unix.Truncate(ProcFD(fd), size) })
}

// Ftruncate truncates a file open for writing.
func Ftruncate(fd int, size int64) error {
	return retry(func() error { return unix.Ftruncate(fd, size) })
}

// UtimensFD sets atime and mtime of the inode fd refers to (O_PATH included,
// a symlink's own times for a symlink descriptor). Nsec may be UTIME_NOW or
// UTIME_OMIT.
func UtimensFD(fd int, ts [2]Timespec) error {
	return retry(func() error { return unix.UtimesNanoAt(unix.AT_FDCWD, ProcFD(fd), ts[:], 0) })
}

// Utimensat sets the times of name in dirfd without following a symlink.
func Utimensat(dirfd int, name string, ts [2]Timespec) error {
	if err := checkComponent(name); err != nil {
		return err
	}
	return retry(func() error { return unix.UtimesNanoAt(dirfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW) })
}

// Pread reads at off.
func Pread(fd int, p []byte, off int64) (int, error) {
	return retryN(func() (int, error) { return unix.Pread(fd, p, off) })
}

// PreadFull reads len(buf) bytes at off, or up to end of file; on an
// error it returns what it read before it with the error.
func PreadFull(fd int, buf []byte, off int64) (int, error) {
	total := 0
	for total < len(buf) {
		n, err := Pread(fd, buf[total:], off+int64(total))
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
		total += n
	}
	return total, nil
}

// SpliceToPipe moves n bytes of fd at off into the pipe whose write end
// is pipe, without copying them, or up to end of file; on an error it
// returns what it moved before it with the error. A pipe without room for
// them fails with EAGAIN rather than blocking: each page of the file the
// range touches takes one of the pipe's slots, so a range that starts
// inside a page needs a page more than its length.
func SpliceToPipe(fd int, off int64, pipe int, n int) (int, error) {
	total := 0
	for total < n {
		o := off + int64(total)
		k, err := retryN(func() (int, error) {
			m, err := unix.Splice(fd, &o, pipe, nil, n-total, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			return int(m), err
		})
		if err != nil {
			return total, err
		}
		if k == 0 {
			break
		}
		total += k
	}
	return total, nil
}

// Pwrite writes at off (appends on O_APPEND descriptors, as Linux does).
func Pwrite(fd int, p []byte, off int64) (int, error) {
	return retryN(func() (int, error) { return unix.Pwrite(fd, p, off) })
}

// Fsync flushes fd; datasync uses fdatasync.
func Fsync(fd int, datasync bool) error {
	if datasync {
		return retry(func() error { return unix.Fdatasync(fd) })
	}
	return retry(func() error { return unix.Fsync(fd) })
}

// Fallocate is fallocate(2).
func Fallocate(fd int, mode uint32, off, length int64) error {
	return retry(func() error { return unix.Fallocate(fd, mode, off, length) })
}

// Lseek is lseek(2) (SEEK_DATA/SEEK_HOLE included).
func Lseek(fd int, off int64, whence int) (int64, error) {
	for {
		n, err := unix.Seek(fd, off, whence)
		if err != unix.EINTR {
			return n, errnoOf(err)
		}
	}
}

// FS_TOPDIR_FL is the inode flag `chattr +T` sets (the ext2/3/4 Orlov
// allocator treats such a directory's subdirectories as top-level ones);
// linux/fs.h, absent from x/sys.
const FS_TOPDIR_FL = 0x00020000 //nolint:revive // mirrors the C name

// InodeFlags returns a directory's inode flags (FS_IOC_GETFLAGS) through
// dirfd/name, which is opened for it without following a symlink.
func InodeFlags(dirfd int, name string) (uint32, error) {
	fd, err := openFlagsDir(dirfd, name)
	if err != nil {
		return 0, err
	}
	defer Close(fd)
	return unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
}

// AddInodeFlags sets flags in a directory's inode flags (FS_IOC_SETFLAGS),
// keeping the others. File systems without inode flags answer ENOTTY or
// EOPNOTSUPP.
func AddInodeFlags(dirfd int, name string, flags uint32) error {
	fd, err := openFlagsDir(dirfd, name)
	if err != nil {
		return err
	}
	defer Close(fd)
	old, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil {
		return err
	}
	if old&flags == flags {
		return nil
	}
	return unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(old|flags))
}

// openFlagsDir opens a directory for the inode-flag ioctls, which need a
// real descriptor (not O_PATH), without following a symlink.
func openFlagsDir(dirfd int, name string) (int, error) {
	return Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
}

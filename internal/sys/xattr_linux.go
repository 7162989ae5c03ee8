//go:build linux

package sys

import (
	"bytes"
	"syscall"

	"golang.org/x/sys/unix"
)

// Extended attributes are reached through /proc paths rather than
// f*xattr because f*xattr refuses O_PATH descriptors (EBADF), and O_PATH is
// the only way to hold a symlink or a device node without opening it.
//
//   - The *FD functions take any descriptor and use getxattr(2) and friends on
//     its magic link: the kernel jumps to the inode and does not follow it
//     further even when it is a symlink.
//   - The *At functions take a directory descriptor and one component and
//     use lgetxattr(2) and friends, so a symlink named there is not followed.

func getx(get func([]byte) (int, error)) ([]byte, error) {
	size := 256
	for {
		buf := make([]byte, size)
		n, err := retryN(func() (int, error) { return get(buf) })
		if err == nil {
			return buf[:n], nil
		}
		if err != unix.ERANGE {
			return nil, err
		}
		// Ask for the size, then retry: the value may change in between.
		n, err = retryN(func() (int, error) { return get(nil) })
		if err != nil {
			return nil, err
		}
		if n > 1<<20 {
			return nil, syscall.E2BIG
		}
		size = n + 1
	}
}

// GetxattrFD reads attr of the inode fd refers to.
func GetxattrFD(fd int, attr string) ([]byte, error) {
	p := ProcFD(fd)
	return getx(func(b []byte) (int, error) { return unix.Getxattr(p, attr, b) })
}

// Fgetxattr reads attr of the file open on fd with fgetxattr(2): cheaper
// than GetxattrFD's walk through /proc, but fd must be a real open (not
// O_PATH), so only for regular files and directories.
func Fgetxattr(fd int, attr string) ([]byte, error) {
	return getx(func(b []byte) (int, error) { return unix.Fgetxattr(fd, attr, b) })
}

// GetxattrInto reads attr of the inode fd refers to into buf, for callers
// that know the size (the 16-byte GFID).
func GetxattrInto(fd int, attr string, buf []byte) (int, error) {
	p := ProcFD(fd)
	return retryN(func() (int, error) { return unix.Getxattr(p, attr, buf) })
}

// GetxattrAt reads attr of name in dirfd without following a symlink.
func GetxattrAt(dirfd int, name, attr string) ([]byte, error) {
	if err := checkComponent(name); err != nil {
		return nil, err
	}
	p := procAt(dirfd, name)
	return getx(func(b []byte) (int, error) { return unix.Lgetxattr(p, attr, b) })
}

// GetxattrAtInto is GetxattrAt into a caller's buffer.
func GetxattrAtInto(dirfd int, name, attr string, buf []byte) (int, error) {
	if err := checkComponent(name); err != nil {
		return 0, err
	}
	p := procAt(dirfd, name)
	return retryN(func() (int, error) { return unix.Lgetxattr(p, attr, buf) })
}

// SetxattrFD sets attr of the inode fd refers to (flags XATTR_CREATE or
// XATTR_REPLACE).
func SetxattrFD(fd int, attr string, value []byte, flags int) error {
	p := ProcFD(fd)
	return retry(func() error { return unix.Setxattr(p, attr, value, flags) })
}

// SetxattrAt sets attr of name in dirfd without following a symlink.
func SetxattrAt(dirfd int, name, attr string, value []byte, flags int) error {
	if err := checkComponent(name); err != nil {
		return err
	}
	p := procAt(dirfd, name)
	return retry(func() error { return unix.Lsetxattr(p, attr, value, flags) })
}

// RemovexattrFD removes attr of the inode fd refers to.
func RemovexattrFD(fd int, attr string) error {
	p := ProcFD(fd)
	return retry(func() error { return unix.Removexattr(p, attr) })
}

// RemovexattrAt removes attr of name in dirfd without following a symlink.
func RemovexattrAt(dirfd int, name, attr string) error {
	if err := checkComponent(name); err != nil {
		return err
	}
	p := procAt(dirfd, name)
	return retry(func() error { return unix.Lremovexattr(p, attr) })
}

func splitList(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			i = len(b)
		}
		if i > 0 {
			out = append(out, string(b[:i]))
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}

// ListxattrFD lists the attribute names of the inode fd refers to.
func ListxattrFD(fd int) ([]string, error) {
	p := ProcFD(fd)
	b, err := getx(func(b []byte) (int, error) { return unix.Listxattr(p, b) })
	if err != nil {
		return nil, err
	}
	return splitList(b), nil
}

// ListxattrAt lists the attribute names of name in dirfd without following
// a symlink.
func ListxattrAt(dirfd int, name string) ([]string, error) {
	if err := checkComponent(name); err != nil {
		return nil, err
	}
	p := procAt(dirfd, name)
	b, err := getx(func(b []byte) (int, error) { return unix.Llistxattr(p, b) })
	if err != nil {
		return nil, err
	}
	return splitList(b), nil
}

// Fsetxattr sets attr of the file open on fd with fsetxattr(2): cheaper
// than SetxattrFD's walk through /proc, for real (not O_PATH) descriptors.
func Fsetxattr(fd int, attr string, value []byte, flags int) error {
	return retry(func() error { return unix.Fsetxattr(fd, attr, value, flags) })
}

// Flistxattr lists the attribute names of the file open on fd with
// flistxattr(2), for real (not O_PATH) descriptors.
func Flistxattr(fd int) ([]string, error) {
	b, err := getx(func(b []byte) (int, error) { return unix.Flistxattr(fd, b) })
	if err != nil {
		return nil, err
	}
	return splitList(b), nil
}

package vfs

import (
	"strings"
	"syscall"
)

// NameMax is the longest name component accepted (NAME_MAX).
const NameMax = 255

// ReservedName is the brick's private directory in the export root
// (GFID index, heal indices). It is never visible to, or creatable by,
// clients.
const ReservedName = ".cairn"

// CheckName validates a single path component supplied by a client: it must
// be non-empty, at most NameMax bytes, and contain no "/" or NUL, and it must
// not be "." or "..". It returns EINVAL or ENAMETOOLONG.
func CheckName(name string) syscall.Errno {
	switch {
	case name == "" || name == "." || name == "..":
		return syscall.EINVAL
	case len(name) > NameMax:
		return syscall.ENAMETOOLONG
	case strings.ContainsAny(name, "/\x00"):
		return syscall.EINVAL
	}
	return 0
}

// Errno converts an error to a syscall.Errno: nil is 0, an Errno (possibly
// wrapped) is itself, anything else is EIO.
func Errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if asErrno(err, &e) {
		return e
	}
	return syscall.EIO
}

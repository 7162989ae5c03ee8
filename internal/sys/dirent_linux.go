//go:build linux

package sys

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"
)

// Dirent is one record of getdents64. Off is the kernel's d_off: the
// position just after this entry, which lseek(fd, Off, SEEK_SET) on any
// descriptor of the same directory resumes from (on ext4 and xfs it is a
// name hash, on tmpfs a stable index), so it serves as a readdir cookie.
type Dirent struct {
	Ino  uint64
	Off  uint64
	Type uint8 // DT_* value
	Name string
}

// d_type values.
const (
	DT_UNKNOWN = unix.DT_UNKNOWN //nolint:revive
	DT_FIFO    = unix.DT_FIFO    //nolint:revive
	DT_CHR     = unix.DT_CHR     //nolint:revive
	DT_DIR     = unix.DT_DIR     //nolint:revive
	DT_BLK     = unix.DT_BLK     //nolint:revive
	DT_REG     = unix.DT_REG     //nolint:revive
	DT_LNK     = unix.DT_LNK     //nolint:revive
	DT_SOCK    = unix.DT_SOCK    //nolint:revive
)

// Getdents reads raw getdents64 records of the directory fd into buf.
func Getdents(fd int, buf []byte) (int, error) {
	return retryN(func() (int, error) { return unix.Getdents(fd, buf) })
}

// ParseDirents decodes the records getdents64 put in buf. A truncated or
// malformed record ends the list with EIO.
func ParseDirents(buf []byte, out []Dirent) ([]Dirent, error) {
	// struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
	const hdr = 19
	for len(buf) > 0 {
		if len(buf) < hdr {
			return out, syscall.EIO
		}
		reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
		if reclen < hdr || reclen > len(buf) {
			return out, syscall.EIO
		}
		name := buf[hdr:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		out = append(out, Dirent{
			Ino:  binary.NativeEndian.Uint64(buf[0:8]),
			Off:  binary.NativeEndian.Uint64(buf[8:16]),
			Type: buf[18],
			Name: string(name),
		})
		buf = buf[reclen:]
	}
	return out, nil
}

// DTToMode converts a d_type to S_IFMT bits (0 when unknown).
func DTToMode(t uint8) uint32 {
	switch t {
	case DT_FIFO:
		return syscall.S_IFIFO
	case DT_CHR:
		return syscall.S_IFCHR
	case DT_DIR:
		return syscall.S_IFDIR
	case DT_BLK:
		return syscall.S_IFBLK
	case DT_REG:
		return syscall.S_IFREG
	case DT_LNK:
		return syscall.S_IFLNK
	case DT_SOCK:
		return syscall.S_IFSOCK
	}
	return 0
}

package vfs

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// GFID is the volume-wide identity of a file or directory. The client that
// creates a file chooses it, so every replica stores the same one.
type GFID [16]byte

// RootGFID is the fixed GFID of a volume's root directory (…0001, as in
// GlusterFS).
var RootGFID = GFID{15: 1}

// gfidEpoch is how long GFIDs made one after the other share their first
// two bytes (see NewGFID).
const gfidEpoch = 64 * time.Second

// NewGFID returns a fresh GFID: a UUID of RFC 9562's version 8 (a layout of
// our own) whose first two bytes count gfidEpoch intervals and whose other
// 106 bits (all but the version and variant) are random.
//
// Why not all random: the first two bytes name the brick's index directory
// of the file (.cairn/gfid/xx/yy, GlusterFS's .glusterfs/xx/yy), made on
// first use. With random GFIDs nearly every create on a young brick made a
// new one, and an ext4 mkdir was a quarter of the bricks' CPU time in a
// small-file create profile. Files made within the same minute now share
// one; over the 48-day cycle of the counter the 65,536 directories fill as
// evenly as before.
func NewGFID() GFID { return newGFIDAt(time.Now()) }

func newGFIDAt(now time.Time) GFID {
	var g GFID
	if _, err := rand.Read(g[2:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	binary.BigEndian.PutUint16(g[0:2], uint16(now.Unix()/int64(gfidEpoch/time.Second)))
	g[6] = (g[6] & 0x0f) | 0x80
	g[8] = (g[8] & 0x3f) | 0x80
	return g
}

// IsZero reports whether g is the zero GFID (meaning "not chosen").
func (g GFID) IsZero() bool { return g == GFID{} }

// String formats g as a UUID: 8-4-4-4-12 hex digits.
func (g GFID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], g[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], g[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], g[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], g[8:10])
	b[23] = '-'
	hex.Encode(b[24:], g[10:])
	return string(b[:])
}

// ParseGFID parses the UUID form produced by String.
func ParseGFID(s string) (GFID, error) {
	var g GFID
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return g, fmt.Errorf("gfid %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(g[:], []byte(h)); err != nil {
		return g, fmt.Errorf("gfid %q: %v", s, err)
	}
	return g, nil
}

// Ino derives a stable 64-bit inode number from g (GlusterFS uses the low 8
// bytes of the gfid). The root maps to 1. 0 and ^0 are avoided because FUSE
// reserves them.
func (g GFID) Ino() uint64 {
	if g == RootGFID {
		return 1
	}
	ino := binary.BigEndian.Uint64(g[8:])
	if ino == 0 || ino == 1 || ino == math.MaxUint64 {
		ino = binary.BigEndian.Uint64(g[:8]) | 2
	}
	return ino
}

// Timespec is a point in time with nanosecond precision, as in struct stat.
type Timespec struct {
	Sec  int64
	Nsec int64
}

// TimespecOf converts a time.Time.
func TimespecOf(t time.Time) Timespec { return Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())} }

// Time converts to time.Time.
func (t Timespec) Time() time.Time { return time.Unix(t.Sec, t.Nsec) }

// Attr is the attributes of a file, as struct stat plus its GFID.
type Attr struct {
	GFID    GFID
	Mode    uint32 // file type bits (S_IFMT) and permission bits
	Nlink   uint32
	UID     uint32
	GID     uint32
	Rdev    uint64
	Size    uint64
	Blocks  uint64 // 512-byte blocks actually allocated
	Blksize uint32
	Atime   Timespec
	Mtime   Timespec
	Ctime   Timespec
}

// Ino is the stable inode number of the file (derived from the GFID).
func (a *Attr) Ino() uint64 { return a.GFID.Ino() }

// IsDir reports whether the attributes are those of a directory.
func (a *Attr) IsDir() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFDIR }

// IsRegular reports whether the attributes are those of a regular file.
func (a *Attr) IsRegular() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFREG }

// IsSymlink reports whether the attributes are those of a symbolic link.
func (a *Attr) IsSymlink() bool { return a.Mode&syscall.S_IFMT == syscall.S_IFLNK }

// SetAttrMask says which fields of a SetAttrIn apply.
type SetAttrMask uint32

const (
	SetMode     SetAttrMask = 1 << iota // chmod: permission bits incl. setuid/setgid/sticky
	SetUID                              // chown owner
	SetGID                              // chown group
	SetSize                             // truncate
	SetAtime                            // atime = Atime
	SetMtime                            // mtime = Mtime
	SetAtimeNow                         // atime = now (UTIME_NOW); wins over SetAtime
	SetMtimeNow                         // mtime = now (UTIME_NOW); wins over SetMtime
	SetCtime                            // ctime = Ctime (only honoured by heal; bricks may ignore)
)

// SetAttrIn carries a setattr request. Fields not named by Valid are ignored
// (UTIME_OMIT is simply the absence of SetAtime/SetAtimeNow).
type SetAttrIn struct {
	Valid SetAttrMask
	Mode  uint32
	UID   uint32
	GID   uint32
	Size  uint64
	Atime Timespec
	Mtime Timespec
	Ctime Timespec
}

// CreateIn describes a new file, directory, node or symlink.
type CreateIn struct {
	// GFID to give the new object. Zero lets the bottom translator choose a
	// random one; cluster/replicate always chooses one so replicas agree.
	GFID GFID
	// Mode holds the permission bits (umask already applied) and, for
	// Mknod, the file type.
	Mode uint32
	// Flags are the open(2) flags for Create (O_EXCL is implied for
	// Mkdir/Mknod/Symlink and honoured for Create).
	Flags uint32
	// Rdev is the device number for Mknod.
	Rdev uint64
}

// Handle identifies an open file or directory within one translator. Each
// translator that keeps per-open state maps its own handles to its child's.
// 0 means "no open handle" (anonymous fd).
type Handle uint64

// DirEntry is one directory entry. Cookie is the position just after this
// entry: passing it to ReadDir resumes the listing after it.
type DirEntry struct {
	Name   string
	GFID   GFID
	Type   uint32 // S_IFMT bits
	Cookie uint64
	// Attr is filled when ReadDir was asked for attributes (readdirplus).
	Attr *Attr
}

// StatFS is the result of statfs(2).
type StatFS struct {
	Bsize   uint32
	Frsize  uint32
	Blocks  uint64
	Bfree   uint64
	Bavail  uint64
	Files   uint64
	Ffree   uint64
	NameLen uint32
}

// Rename flags (renameat2).
const (
	RenameNoReplace uint32 = 1 // RENAME_NOREPLACE
	RenameExchange  uint32 = 2 // RENAME_EXCHANGE
)

// Setxattr flags.
const (
	XattrCreate  uint32 = 1 // XATTR_CREATE
	XattrReplace uint32 = 2 // XATTR_REPLACE
)

// LockType is F_RDLCK, F_WRLCK or F_UNLCK.
type LockType uint32

const (
	ReadLock  LockType = syscall.F_RDLCK
	WriteLock LockType = syscall.F_WRLCK
	Unlock    LockType = syscall.F_UNLCK
)

func (t LockType) String() string {
	switch t {
	case ReadLock:
		return "read"
	case WriteLock:
		return "write"
	case Unlock:
		return "unlock"
	}
	return fmt.Sprintf("LockType(%d)", uint32(t))
}

// LockEOF as the End of a Lock means "to the end of the file, however far".
const LockEOF = math.MaxUint64

// Lock is a byte-range lock [Start, End] (End inclusive, LockEOF for open
// ended), owned by Owner (FUSE's lock_owner / NFS's or 9P's owner) of the
// client that the caller in the context names.
type Lock struct {
	Type  LockType
	Start uint64
	End   uint64
	Pid   uint32
	Owner uint64
}

// Conflicts reports whether two locks of different owners would conflict.
func (l Lock) Conflicts(o Lock) bool {
	if l.Type == Unlock || o.Type == Unlock {
		return false
	}
	if l.Type == ReadLock && o.Type == ReadLock {
		return false
	}
	return l.Start <= o.End && o.Start <= l.End
}

// LockKind chooses the lock namespace: POSIX fcntl locks and flock(2) locks
// are independent in Linux.
type LockKind uint32

const (
	PosixLock LockKind = iota
	FlockLock
)

// XattrOpKind selects the arithmetic of an atomic xattr update.
type XattrOpKind uint32

const (
	// XattrAddArray32 adds each big-endian int32 of the given value to the
	// corresponding int32 of the stored value (a missing xattr counts as all
	// zeros), as GlusterFS's GF_XATTROP_ADD_ARRAY does for AFR changelogs.
	XattrAddArray32 XattrOpKind = iota
	// XattrAddArray64 is the same with int64 elements.
	XattrAddArray64
)

// Caller is the identity on whose behalf an operation runs.
type Caller struct {
	UID    uint32
	GID    uint32
	Groups []uint32
	Pid    uint32
	// Client names the client connection (process or mount) for lock
	// ownership; the brick server fills it from the connection.
	Client string
}

// IdentityKey names the identity a permission check depends on (uid, gid
// and groups; not the pid or the client), for caches of what one identity
// may read.
func (c *Caller) IdentityKey() string {
	b := make([]byte, 0, 24)
	b = strconv.AppendUint(b, uint64(c.UID), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(c.GID), 10)
	for _, g := range c.Groups {
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(g), 10)
	}
	return string(b)
}

// KillPrivBits are the mode bits a write or truncate by anyone but root,
// or a change of owner by anyone, clears on a regular file of mode mode
// (Linux's should_remove_suid): setuid, and setgid when the group may
// execute (setgid without group execute marks mandatory locking and
// stays).
func KillPrivBits(mode uint32) uint32 {
	kill := uint32(syscall.S_ISUID)
	if mode&syscall.S_IXGRP != 0 {
		kill |= syscall.S_ISGID
	}
	return kill
}

// IsRoot reports whether the caller is uid 0.
func (c *Caller) IsRoot() bool { return c.UID == 0 }

// InGroup reports whether gid is the caller's primary or a supplementary group.
func (c *Caller) InGroup(gid uint32) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// ModeAllows reports whether c holds every permission in want (a mask of
// 4 read, 2 write, 1 execute/search) on an object with attributes a, by the
// owner/group/other mode bits alone (no ACLs). Root is always allowed: this
// is for translators that answer from cached attributes (directory search,
// opening for reading), where root's only exception, executing a file with
// no execute bit, does not arise.
func (c *Caller) ModeAllows(a *Attr, want uint32) bool {
	switch {
	case c.IsRoot():
		return true
	case c.UID == a.UID:
		return (a.Mode>>6)&want == want
	case c.InGroup(a.GID):
		return (a.Mode>>3)&want == want
	}
	return a.Mode&want == want
}

package nfs

import (
	"encoding/binary"
	"sync"

	"github.com/cairnfs/cairn/vfs"
)

// A change to a directory (CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR,
// RENAME, LINK) replies with the directory's attributes before and after
// it (wcc_data). With both, a Linux client that held the "before" ones
// knows the change was its own and keeps its cached names; with "before"
// missing it sees the directory's mtime move, takes the change for someone
// else's and revalidates every cached name of the directory with a LOOKUP
// over the wire. Deleting a directory's files then cost the guest a LOOKUP
// per file besides the REMOVE.
//
// The "before" attributes must belong to this change alone, or a client
// would take another's change for its own and keep stale names. So the
// gateway serializes its changes to a directory (as knfsd holds the
// directory's inode lock across them) and reads the attributes before and
// after under that lock. A change made through another mount or gateway in
// the same instant can still fall between the two reads; nfs-ganesha's
// cached attributes and GlusterFS's brick-side pre/post stats have the same
// window.
type dirLocks struct {
	stripes [64]sync.Mutex
}

func (l *dirLocks) stripe(g vfs.GFID) int {
	return int(binary.LittleEndian.Uint64(g[8:]) % uint64(len(l.stripes)))
}

// lock locks the stripes of the directories a and b (b may equal a),
// lower stripe first, and returns the unlock.
func (l *dirLocks) lock(a, b vfs.GFID) (unlock func()) {
	i, j := l.stripe(a), l.stripe(b)
	if i > j {
		i, j = j, i
	}
	l.stripes[i].Lock()
	if j != i {
		l.stripes[j].Lock()
	}
	return func() {
		if j != i {
			l.stripes[j].Unlock()
		}
		l.stripes[i].Unlock()
	}
}

// changeDir locks dir against this gateway's other changes to it and
// returns its attributes before the change (nil if they cannot be read)
// and the unlock, to be called once the attributes after the change are
// read.
func (q *request) changeDir(ex *export, dir vfs.GFID) (pre *vfs.Attr, unlock func()) {
	unlock = q.srv.dirLocks.lock(dir, dir)
	return q.dirAttrs(ex, dir), unlock
}

// changeDirs is changeDir for RENAME's two directories (which may be one).
func (q *request) changeDirs(ex *export, from, to vfs.GFID) (fromPre, toPre *vfs.Attr, unlock func()) {
	unlock = q.srv.dirLocks.lock(from, to)
	fromPre = q.dirAttrs(ex, from)
	toPre = fromPre
	if to != from {
		toPre = q.dirAttrs(ex, to)
	}
	return fromPre, toPre, unlock
}

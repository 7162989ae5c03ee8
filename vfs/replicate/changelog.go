package replicate

import (
	"context"
	"encoding/binary"
	"strings"
	"syscall"

	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// PendingPrefix starts the changelog xattrs: trusted.cairn.pending.<child>
// holds three big-endian int32 counters (data, metadata, entry) that the
// brick storing it keeps about the named child. The brick indexes every
// GFID with a non-zero counter (storage/posix indices/dirty).
const PendingPrefix = "trusted.cairn.pending."

// DirtyKey holds, on each child, its counters of transactions in flight
// there (GlusterFS AFR v2's trusted.afr.dirty).
//
// The changelog is reasoned about as the matrix M (see judge), but child
// i stores its row as D = M[i][i] under DirtyKey and, for every other
// child j, P[j] = M[i][j] - D under j's pending key (rowFrom and
// pendingKinds translate). A pre-op adds 1 to every M[i][j], which is +1
// to D alone, and a post-op where every child succeeded takes it back: a
// transaction without failures touches one short xattr, which ext4 keeps
// inside the inode next to the GFID. The per-child keys only change when
// a child is blamed. Before this the pre-op and post-op each rewrote every
// child's key, which with names like trusted.cairn.pending.brick1_vol
// spill into an external xattr block: ~120 us more per file and brick for
// create, write, close (measured on ext4 with 256-byte inodes). A child's
// own pending key, which older bricks wrote, still counts toward M[i][i].
const DirtyKey = "trusted.cairn.dirty"

// xattrGFID is the bricks' GFID xattr.
const xattrGFID = "trusted.cairn.gfid"

// Transaction kinds, also the index of their counter in a pending xattr.
type kind int

const (
	dataKind kind = iota
	metaKind
	entryKind
	numKinds
)

func (k kind) String() string {
	return [...]string{"data", "metadata", "entry"}[k]
}

// counters is the value of one pending xattr.
// kinds is a set of kinds (bit 1<<k).
type kinds uint8

func (ks kinds) has(k kind) bool { return ks&(1<<k) != 0 }

// windowKind is the kind of window a transaction of kind k runs in. Data
// and metadata share one inode window, locked in the data domain: a file
// being written (tar: create, write, fchown, fchmod, utimensat, close)
// then changes its owner, mode and times inside the transaction its
// create opened, one round trip each instead of three (lock and pre-op,
// the change, post-op and unlock). Entry windows are separate.
func windowKind(k kind) kind {
	if k == metaKind {
		return dataKind
	}
	return k
}

type counters [numKinds]int32

func (c counters) encode() []byte {
	b := make([]byte, 4*numKinds)
	for k := range numKinds {
		binary.BigEndian.PutUint32(b[4*k:], uint32(c[k]))
	}
	return b
}

func decodeCounters(b []byte) counters {
	var c counters
	for k := range numKinds {
		if len(b) >= 4*(int(k)+1) {
			c[k] = int32(binary.BigEndian.Uint32(b[4*k:]))
		}
	}
	return c
}

func (c counters) zero() bool { return c == counters{} }

// matrix is the changelog of one GFID as read from the children: row i is
// what child i records about every child j. A nil row was not read (child
// down or missing the file).
type matrix [][]counters

// isReservedXattr reports whether name is one of the xattrs this
// replicate gives meaning to (its children's changelogs, the GFID, the
// index key): applications may neither see nor change them through it.
// Other trusted.cairn.pending.* names belong to someone else (a replicate
// further up, a test) and pass through like any xattr.
func (r *Replicate) isReservedXattr(name string) bool {
	if name == xattrGFID || name == XattrIndexDirty || name == DirtyKey {
		return true
	}
	if !strings.HasPrefix(name, PendingPrefix) {
		return false
	}
	for _, c := range r.children {
		if c.pendingKey == name {
			return true
		}
	}
	return false
}

// readRow reads child i's changelog of gfid: one GetXattr per child name,
// all at once. A missing xattr counts as zeros.
func (r *Replicate) readRow(ctx context.Context, i int, gfid vfs.GFID) ([]counters, syscall.Errno) {
	// One round trip: a getattr carrying the changelog keys (a protocol
	// client runs it as one request; other children key by key).
	res, e := compound.Run(ctx, r.children[i].t, []compound.Op{compound.GetAttrXattrs(gfid, 0, r.pendingKeys)})
	if e != 0 {
		return nil, e
	}
	if len(res) == 0 {
		return nil, syscall.EIO
	}
	return r.rowFrom(i, res[0].Xattrs), 0
}

// rowFrom decodes child i's changelog row M[i] from the pendingKeys
// values it returned (a missing key counts zero; see DirtyKey).
func (r *Replicate) rowFrom(i int, xs map[string][]byte) []counters {
	d := decodeCounters(xs[DirtyKey])
	row := make([]counters, len(r.children))
	for j, c := range r.children {
		row[j] = d
		if v, ok := xs[c.pendingKey]; ok {
			p := decodeCounters(v)
			for k := range numKinds {
				row[j][k] += p[k]
			}
		}
	}
	return row
}

// readMatrix reads the changelog of gfid from the children in mask and
// returns it with the mask of children that answered and their errors.
func (r *Replicate) readMatrix(ctx context.Context, gfid vfs.GFID, mask uint64) (matrix, uint64, []syscall.Errno) {
	m := make(matrix, len(r.children))
	errs := make([]syscall.Errno, len(r.children))
	r.parallel(mask, func(i int) {
		m[i], errs[i] = r.readRow(ctx, i, gfid)
	})
	ok := okMask(errs, mask)
	return m, ok, errs
}

// verdict is the interpretation of a matrix for one kind.
type verdict struct {
	// accused are children that some readable row definitively blames.
	accused uint64
	// sources are the children of the considered set not accused.
	sources uint64
	// dirty is set when any counter of the kind is non-zero.
	dirty bool
	// splitBrain: every considered child is accused.
	splitBrain bool
}

// judge interprets the changelog of the children in mask for kind k.
//
// Each transaction adds 1 to every child's counter on every participant
// (pre-op) and later subtracts 1 for the children where it succeeded
// (post-op), on the participants still reachable. So on child i,
// M[i][j] - M[i][i] counts the transactions that completed on i but not on
// j: i blames j definitively when M[i][j] > M[i][i]. When they are equal
// the counts are only transactions still in flight (or whose client died
// before its post-op), which blame nobody. Likewise child j blames itself
// when M[j][j] > M[j][i] for some i: an operation failed on j, succeeded on
// i, and j saw the post-op. This refines GlusterFS AFR's "fool" rule so
// that delayed post-ops (eager locking) do not hide a blame; see also
// window.open, which blames children that are down at pre-op at once.
func judge(m matrix, mask uint64, k kind) verdict {
	var v verdict
	each(mask, func(i int) {
		row := m[i]
		if row == nil {
			return
		}
		self := row[i][k]
		for j := range row {
			c := row[j][k]
			if c != 0 {
				v.dirty = true
			}
			if j == i {
				continue
			}
			if c > self {
				v.accused |= 1 << j
			}
			if self > c && mask&(1<<j) != 0 {
				v.accused |= 1 << i
			}
		}
	})
	v.sources = mask &^ v.accused
	v.splitBrain = mask != 0 && v.sources == 0
	return v
}

package replicate

import (
	"context"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.LocalReader = (*Replicate)(nil)

// ReadsLocally says whether Read would now take gfid from a child that
// serves it locally. It only looks at the changelog state already known
// (nothing is fetched, nothing healed); without it, or with split reads
// on, the answer is no.
func (r *Replicate) ReadsLocally(ctx context.Context, gfid vfs.GFID) bool {
	if r.cfg.SplitReads {
		return false
	}
	st := r.cachedState(gfid)
	if st == nil || time.Since(st.at) >= r.cfg.StateTTL || st.splitBrain[dataKind] {
		return false
	}
	cand := st.readable[dataKind] & st.exists & r.upMask()
	if cand == 0 {
		return false
	}
	return vfs.ReadsLocally(ctx, r.children[r.pick(gfid, cand)].t, gfid)
}

var _ vfs.PipeReader = (*Replicate)(nil)

// ReadToPipe is Read's choice of copy (the same read child, never a
// blamed or split-brain copy) with the bytes moved by that child. With
// split reads on it declines: the parts would come from several copies.
func (r *Replicate) ReadToPipe(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	if r.cfg.SplitReads {
		return 0, syscall.EOPNOTSUPP
	}
	if fh == 0 {
		r.awaitQueuedEnd(ctx, gfid)
	}
	c, h, e := r.goodCopy(ctx, gfid, fh)
	if e != 0 {
		return 0, e
	}
	return vfs.ReadToPipe(ctx, r.children[c].t, gfid, h, pipe, n, off)
}

package replicate

import (
	"context"
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

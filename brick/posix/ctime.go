package posix

import (
	"sync"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

// ctimeMask hides ctime changes caused only by cairn's own bookkeeping
// xattrs (replicate's changelog, trusted.cairn.pending.* and .dirty,
// written in pre-op and — up to a second later, with eager locking — in
// post-op). Without it
// a file's ctime moves after the application's last change, and tools that
// compare ctime before and after reading a file (tar: "file changed as we
// read it", rsync, backup tools) see changes that never happened; GlusterFS
// had the same problem until its ctime feature.
//
// Linux cannot set ctime, so the mask remembers, per GFID, the ctime the
// internal change produced and the ctime the client last saw. While the
// file's real ctime is still the internal one, the visible one is
// reported; any client-visible change gives a new real ctime and the
// mask entry no longer applies. The mask lives in memory: after a brick
// restart a masked ctime shows through once, which is harmless.
type ctimeMask struct {
	mu sync.Mutex
	m  map[vfs.GFID]maskedCtime
}

type maskedCtime struct {
	internal, visible sys.Timespec
}

// maxMasked bounds the mask's memory; on overflow it starts afresh.
const maxMasked = 1 << 16

// record notes that an internal change moved g's ctime from before to
// after.
func (c *ctimeMask) record(g vfs.GFID, before, after sys.Timespec) {
	if before == after {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	visible := before
	if e, ok := c.m[g]; ok && e.internal == before {
		visible = e.visible // a run of internal changes
	}
	if c.m == nil || len(c.m) >= maxMasked {
		c.m = make(map[vfs.GFID]maskedCtime)
	}
	c.m[g] = maskedCtime{internal: after, visible: visible}
}

// apply replaces a ctime that only internal changes produced by the one
// the client last saw.
func (c *ctimeMask) apply(a *vfs.Attr) {
	c.mu.Lock()
	e, ok := c.m[a.GFID]
	c.mu.Unlock()
	if ok && e.internal.Sec == a.Ctime.Sec && e.internal.Nsec == a.Ctime.Nsec {
		a.Ctime = vfs.Timespec{Sec: e.visible.Sec, Nsec: e.visible.Nsec}
	}
}

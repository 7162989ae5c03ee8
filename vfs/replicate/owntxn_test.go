package replicate

import (
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// The heal daemon's pass leaves alone what this client's own open
// transactions made dirty: it neither waits for their locks nor cuts
// their eager windows short. Once the transaction ends, nothing is dirty.
func TestHealIndexSkipsOwnTransactions(t *testing.T) {
	cfg := noBackgroundHeal()
	cfg.PostOpDelay = time.Minute // the window stays open until released
	e := newEnv(t, 2, cfg)
	a, fh, errno := e.r.Create(e.ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	e.must("create", errno)
	_, errno = e.r.Write(e.ctx, a.GFID, fh, []byte("data"), 0)
	e.must("write", errno)
	dirty, err := e.r.dirtySet(e.ctx)
	if err != nil || len(dirty) == 0 {
		t.Fatalf("dirty index during the transaction: %v %v", dirty, err)
	}
	key := winKey{a.GFID, dataKind}
	e.r.mu.Lock()
	w := e.r.windows[key]
	e.r.mu.Unlock()
	if w == nil {
		t.Fatal("no open data window after the write")
	}
	st, err := e.r.HealIndex(e.ctx)
	if err != nil || st.Scanned != 0 {
		t.Fatalf("heal pass during the transaction: %+v %v, want nothing scanned", st, err)
	}
	e.r.mu.Lock()
	still := e.r.windows[key] == w && !w.closing
	e.r.mu.Unlock()
	if !still {
		t.Fatal("the heal pass closed the writer's window")
	}
	e.must("release", e.r.Release(e.ctx, a.GFID, fh))
	e.r.FlushTransactions(e.ctx)
	if dirty, err := e.r.dirtySet(e.ctx); err != nil || len(dirty) != 0 {
		t.Fatalf("dirty index after the transaction: %v %v", dirty, err)
	}
	e.compareBricks()
}

package replicate

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// reporting is a brick that reports changes when the test says so.
type reporting struct {
	*faulty
	live atomic.Bool
	mu   sync.Mutex
	fn   func(vfs.Change)
}

func (b *reporting) WatchChanges(fn func(vfs.Change)) bool {
	b.mu.Lock()
	b.fn = fn
	b.mu.Unlock()
	return true
}

func (b *reporting) ChangesLive() bool { return b.live.Load() }

func (b *reporting) report(c vfs.Change) {
	b.mu.Lock()
	fn := b.fn
	b.mu.Unlock()
	fn(c)
}

// TestWatchChanges: the changes of every brick reach the watcher, and the
// volume's reports are live only while every brick's are.
func TestWatchChanges(t *testing.T) {
	e := newEnv(t, 2, noBackgroundHeal())
	bricks := make([]*reporting, len(e.bricks))
	e.kids = nil
	for i, b := range e.bricks {
		bricks[i] = &reporting{faulty: b}
		bricks[i].live.Store(true)
		e.kids = append(e.kids, bricks[i])
	}
	r := e.client(noBackgroundHeal())
	var mu sync.Mutex
	var got []vfs.Change
	if !r.WatchChanges(func(c vfs.Change) {
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
	}) {
		t.Fatal("WatchChanges: false with every brick reporting")
	}
	g := vfs.GFID{1}
	bricks[0].report(vfs.Change{GFID: g})
	bricks[1].report(vfs.Change{Parent: g, Name: "x"})
	bricks[1].report(vfs.Change{All: true})
	mu.Lock()
	if len(got) != 3 || got[0].GFID != g || got[1].Name != "x" || !got[2].All {
		t.Errorf("changes passed on: %+v", got)
	}
	mu.Unlock()
	if !r.ChangesLive() {
		t.Error("not live with every brick live")
	}
	bricks[1].live.Store(false)
	if r.ChangesLive() {
		t.Error("live with brick 1's reports down")
	}

	// A volume with a brick that cannot report does not claim to.
	e.kids[1] = e.bricks[1]
	if r2 := e.client(noBackgroundHeal()); r2.WatchChanges(func(vfs.Change) {}) || r2.ChangesLive() {
		t.Error("a brick without reports: WatchChanges or ChangesLive true")
	}
}

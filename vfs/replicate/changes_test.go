package replicate

import (
	"sync"
	"testing"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/vfsfake"
)

// reporting is a brick whose changes the test reports.
type reporting struct {
	*faulty
	vfsfake.Reporter
}

// TestWatchChanges: the changes of every brick reach the watcher, and the
// volume's reports are live only while every brick's are.
func TestWatchChanges(t *testing.T) {
	e := newEnv(t, 2, noBackgroundHeal())
	bricks := make([]*reporting, len(e.bricks))
	e.kids = nil
	for i, b := range e.bricks {
		bricks[i] = &reporting{faulty: b}
		bricks[i].SetLive(true)
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
	bricks[0].Report(vfs.Change{GFID: g})
	bricks[1].Report(vfs.Change{Parent: g, Name: "x"})
	bricks[1].Report(vfs.Change{All: true})
	mu.Lock()
	if len(got) != 3 || got[0].GFID != g || got[1].Name != "x" || !got[2].All {
		t.Errorf("changes passed on: %+v", got)
	}
	mu.Unlock()
	if !r.ChangesLive() {
		t.Error("not live with every brick live")
	}
	bricks[1].SetLive(false)
	if r.ChangesLive() {
		t.Error("live with brick 1's reports down")
	}

	// A volume with a brick that cannot report does not claim to.
	e.kids[1] = e.bricks[1]
	if r2 := e.client(noBackgroundHeal()); r2.WatchChanges(func(vfs.Change) {}) || r2.ChangesLive() {
		t.Error("a brick without reports: WatchChanges or ChangesLive true")
	}
}

package vfsfake

import (
	"sync"
	"sync/atomic"

	"github.com/cairnfs/cairn/vfs"
)

// Reporter reports changes when a test says so, as protocol/client does
// with the bricks' reports (vfs.ChangeWatcher). Embed it beside a Fake
// to make a child whose changes a cache watches. The zero value is not
// live.
type Reporter struct {
	live atomic.Bool
	mu   sync.Mutex
	fn   func(vfs.Change)
}

// WatchChanges keeps fn for Report.
func (r *Reporter) WatchChanges(fn func(vfs.Change)) bool {
	r.mu.Lock()
	r.fn = fn
	r.mu.Unlock()
	return true
}

// ChangesLive reports what SetLive last said.
func (r *Reporter) ChangesLive() bool { return r.live.Load() }

// SetLive says whether the reports flow.
func (r *Reporter) SetLive(live bool) { r.live.Store(live) }

// Report passes c to the watcher, if any.
func (r *Reporter) Report(c vfs.Change) {
	r.mu.Lock()
	fn := r.fn
	r.mu.Unlock()
	if fn != nil {
		fn(c)
	}
}

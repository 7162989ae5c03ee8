package readahead

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfsfake"
)

// localChild answers vfs.LocalReader as told.
type localChild struct {
	*vfsfake.Fake
	local atomic.Bool
}

func (l *localChild) ReadsLocally(context.Context, vfs.GFID) bool { return l.local.Load() }

// TestLocalReadsBypass: reads the child serves locally pass straight
// through, one child read each, nothing read ahead, and the stream built
// before is dropped; once they stop being local, read-ahead resumes.
func TestLocalReadsBypass(t *testing.T) {
	fs := memfs.New(memfs.Config{})
	child := &localChild{Fake: vfsfake.New(fs)}
	ra, err := New(Config{PageSize: ps, PageCount: 4}, child)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{fs: fs, fake: child.Fake, ra: ra}
	content := pattern(64*ps, 3)
	g := e.file(t, "f", content)

	// Not local: two sequential reads start reading ahead.
	for i := range 2 {
		if got := read(t, ra, bg, g, 0, i*ps, ps); !bytes.Equal(got, content[i*ps:(i+1)*ps]) {
			t.Fatalf("read %d: wrong data", i)
		}
	}
	waitReads := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for e.fake.Count(vfsfake.Read) < want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	waitReads(3)
	if s := ra.Stats(); s.Prefetched == 0 || s.Streams != 1 {
		t.Fatalf("sequential reads before going local: %+v, want pages read ahead on one stream", s)
	}

	child.local.Store(true)
	time.Sleep(20 * time.Millisecond) // prefetches in flight land
	before := e.fake.Count(vfsfake.Read)
	for i := 2; i < 10; i++ {
		if got := read(t, ra, bg, g, 0, i*ps, ps); !bytes.Equal(got, content[i*ps:(i+1)*ps]) {
			t.Fatalf("local read %d: wrong data", i)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if got := e.fake.Count(vfsfake.Read) - before; got != 8 {
		t.Fatalf("8 local reads made %d child reads, want 8 (nothing read ahead)", got)
	}
	if s := ra.Stats(); s.Streams != 0 || s.Bypassed != 1 {
		t.Fatalf("after local reads: %+v, want no stream and one bypassed", s)
	}

	child.local.Store(false)
	for i := 10; i < 13; i++ {
		if got := read(t, ra, bg, g, 0, i*ps, ps); !bytes.Equal(got, content[i*ps:(i+1)*ps]) {
			t.Fatalf("read %d after local: wrong data", i)
		}
	}
	if s := ra.Stats(); s.Streams != 1 {
		t.Fatalf("after local reads stopped: %+v, want a stream again", s)
	}
}

package client

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// changeLog records what a watcher is told.
type changeLog struct {
	mu      sync.Mutex
	changes []vfs.Change // without All
	all     int
}

func (l *changeLog) add(ch vfs.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch.All {
		l.all++
		return
	}
	l.changes = append(l.changes, ch)
}

func (l *changeLog) snapshot() ([]vfs.Change, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]vfs.Change(nil), l.changes...), l.all
}

func (l *changeLog) has(want vfs.Change) bool {
	got, _ := l.snapshot()
	for _, ch := range got {
		if ch == want {
			return true
		}
	}
	return false
}

func (l *changeLog) reset() {
	l.mu.Lock()
	l.changes, l.all = nil, 0
	l.mu.Unlock()
}

func watch(t *testing.T, c *Client) *changeLog {
	t.Helper()
	l := &changeLog{}
	if !c.WatchChanges(l.add) {
		t.Fatal("WatchChanges: false")
	}
	waitFor(t, "subscription live", 5*time.Second, c.ChangesLive)
	return l
}

// collapse drops consecutive repeats: the brick merges those it queued
// together, depending on timing.
func collapse(chs []vfs.Change) []vfs.Change {
	var out []vfs.Change
	for _, ch := range chs {
		if n := len(out); n > 0 && out[n-1] == ch {
			continue
		}
		out = append(out, ch)
	}
	return out
}

func fmtChanges(chs []vfs.Change) string {
	s := ""
	for _, ch := range chs {
		if !ch.GFID.IsZero() {
			s += fmt.Sprintf("\n  gfid %s", ch.GFID)
		} else {
			s += fmt.Sprintf("\n  entry %s/%q", ch.Parent, ch.Name)
		}
	}
	return s
}

// TestChangesFromOtherClient: two clients of one brick, both watching.
// Every modifying operation of B is reported to A, as the brick completed
// them, and none to B; A's own operations are not reported to A.
func TestChangesFromOtherClient(t *testing.T) {
	b := startBrick(t, memfs.New(memfs.Config{}), nil)
	ctx := context.Background()
	clA := newClient(t, b.port, nil)
	clB := newClient(t, b.port, nil)
	for _, c := range []*Client{clA, clB} {
		if err := c.WaitConnect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if clA.ChangesLive() {
		t.Fatal("ChangesLive before WatchChanges")
	}
	logA, logB := watch(t, clA), watch(t, clB)
	if _, all := logA.snapshot(); all != 1 {
		t.Fatalf("A got %d All on subscribing, want 1", all)
	}
	logA.reset()
	logB.reset()

	root := vfs.RootGFID
	entry := func(name string) vfs.Change { return vfs.Change{Parent: root, Name: name} }
	var want []vfs.Change
	check := func(what string, e syscall.Errno) {
		t.Helper()
		if e != 0 {
			t.Fatalf("%s: %v", what, e)
		}
	}

	a, fh, e := clB.Create(ctx, root, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	check("create", e)
	f := vfs.Change{GFID: a.GFID}
	want = append(want, entry("f"))
	_, e = clB.Write(ctx, a.GFID, fh, []byte("hello"), 0)
	check("write", e)
	want = append(want, f)
	// Reads, lookups and the like change nothing.
	_, e = clB.Read(ctx, a.GFID, fh, make([]byte, 5), 0)
	check("read", e)
	_, e = clB.Lookup(ctx, root, "f")
	check("lookup", e)
	_, e = clB.GetAttr(ctx, a.GFID, fh)
	check("getattr", e)
	check("flush", clB.Flush(ctx, a.GFID, fh))
	check("fsync", clB.Fsync(ctx, a.GFID, fh, false))
	_, e = clB.SetAttr(ctx, a.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600})
	check("setattr", e)
	want = append(want, f)
	check("release", clB.Release(ctx, a.GFID, fh))
	check("setxattr", clB.SetXattr(ctx, a.GFID, "user.k", []byte("v"), 0))
	want = append(want, f)
	// A separator, so that repeats of f are not merged away below.
	_, e = clB.Mkdir(ctx, root, "sep1", &vfs.CreateIn{Mode: 0o755})
	check("mkdir", e)
	want = append(want, entry("sep1"))
	check("removexattr", clB.RemoveXattr(ctx, a.GFID, "user.k"))
	want = append(want, f)
	// A compound, as replicate sends: pre-op, write, post-op.
	_, e = compound.Run(ctx, clB, []compound.Op{
		compound.XattrOp(a.GFID, vfs.XattrAddArray32, map[string][]byte{"trusted.t": make([]byte, 8)}),
		compound.Write(a.GFID, 0, []byte("x"), 0),
		compound.XattrOp(a.GFID, vfs.XattrAddArray32, map[string][]byte{"trusted.t": make([]byte, 8)}),
	})
	check("compound", e)
	want = append(want, f)
	check("rename", clB.Rename(ctx, root, "f", root, "g", 0))
	want = append(want, entry("f"), entry("g"))
	_, e = clB.Link(ctx, a.GFID, root, "h")
	check("link", e)
	want = append(want, f, entry("h"))
	check("unlink", clB.Unlink(ctx, root, "h"))
	want = append(want, entry("h"))
	fh, e = clB.Open(ctx, a.GFID, syscall.O_RDWR)
	check("open", e)
	check("release", clB.Release(ctx, a.GFID, fh))
	fh, e = clB.Open(ctx, a.GFID, syscall.O_RDWR|syscall.O_TRUNC)
	check("open O_TRUNC", e)
	want = append(want, f)
	check("release", clB.Release(ctx, a.GFID, fh))
	_, e = clB.Mkdir(ctx, root, "d", &vfs.CreateIn{Mode: 0o755})
	check("mkdir", e)
	want = append(want, entry("d"))
	check("rmdir", clB.Rmdir(ctx, root, "d"))
	want = append(want, entry("d"))
	_, e = clB.Symlink(ctx, root, "s", "g", &vfs.CreateIn{Mode: 0o777})
	check("symlink", e)
	want = append(want, entry("s"))

	// A's own operations are not reported to A, but to B.
	_, e = clA.Mkdir(ctx, root, "mine", &vfs.CreateIn{Mode: 0o755})
	check("A mkdir", e)
	waitFor(t, "B told about A's mkdir", 5*time.Second, func() bool { return logB.has(entry("mine")) })
	_, e = clB.Mkdir(ctx, root, "end", &vfs.CreateIn{Mode: 0o755})
	check("mkdir end", e)
	want = append(want, entry("end"))
	waitFor(t, "A told about B's last mkdir", 5*time.Second, func() bool { return logA.has(entry("end")) })

	got, all := logA.snapshot()
	if all != 0 {
		t.Errorf("A got %d All", all)
	}
	if g, w := fmtChanges(collapse(got)), fmtChanges(collapse(want)); g != w {
		t.Errorf("A was told:%s\nwant:%s", g, w)
	}
	got, all = logB.snapshot()
	if len(got) != 1 || got[0] != entry("mine") || all != 0 {
		t.Errorf("B was told %d All and:%s\nwant only A's mkdir of mine", all, fmtChanges(got))
	}
	if !clA.ChangesLive() || !clB.ChangesLive() {
		t.Error("subscriptions not live at the end")
	}
}

// TestChangesReconnect: a brick that goes away ends the subscription (All,
// ChangesLive false); once it is back the client subscribes again by
// itself (ChangesLive true, All again) and changes are reported again.
func TestChangesReconnect(t *testing.T) {
	fs := memfs.New(memfs.Config{})
	b := startBrick(t, fs, nil)
	ctx := context.Background()
	clA := newClient(t, b.port, func(cfg *Config) { cfg.PingTimeout = 30 * time.Second })
	clB := newClient(t, b.port, func(cfg *Config) { cfg.PingTimeout = 30 * time.Second })
	logA := watch(t, clA)
	_, all0 := logA.snapshot()

	b.stop()
	waitFor(t, "ChangesLive false after the brick stopped", 5*time.Second, func() bool { return !clA.ChangesLive() })
	waitFor(t, "All after the brick stopped", 5*time.Second, func() bool { _, all := logA.snapshot(); return all == all0+1 })

	b.restart()
	waitFor(t, "ChangesLive again", 10*time.Second, clA.ChangesLive)
	waitFor(t, "All on subscribing again", 5*time.Second, func() bool { _, all := logA.snapshot(); return all == all0+2 })
	waitFor(t, "B reconnects", 10*time.Second, clB.Up)
	if _, e := clB.Mkdir(ctx, vfs.RootGFID, "after", &vfs.CreateIn{Mode: 0o755}); e != 0 {
		t.Fatal("mkdir:", e)
	}
	waitFor(t, "A told about B's mkdir", 5*time.Second, func() bool {
		return logA.has(vfs.Change{Parent: vfs.RootGFID, Name: "after"})
	})
}

// TestChangesSubscribeLater: WatchChanges on a client whose channel is
// already open subscribes that channel.
func TestChangesSubscribeLater(t *testing.T) {
	b := startBrick(t, memfs.New(memfs.Config{}), nil)
	ctx := context.Background()
	clA := newClient(t, b.port, nil)
	clB := newClient(t, b.port, nil)
	if _, e := clA.Lookup(ctx, vfs.RootGFID, "x"); e != syscall.ENOENT {
		t.Fatal("lookup:", e)
	}
	logA := watch(t, clA)
	if _, e := clB.Mknod(ctx, vfs.RootGFID, "n", &vfs.CreateIn{Mode: syscall.S_IFREG | 0o644}); e != 0 {
		t.Fatal("mknod:", e)
	}
	waitFor(t, "A told about B's mknod", 5*time.Second, func() bool {
		return logA.has(vfs.Change{Parent: vfs.RootGFID, Name: "n"})
	})
	clA.Close()
	if clA.ChangesLive() {
		t.Error("ChangesLive after Close")
	}
	if clA.WatchChanges(func(vfs.Change) {}) {
		t.Error("WatchChanges after Close: true")
	}
}

package mdcache

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"github.com/cairnfs/cairn/vfs/vfsfake"
)

var bg = context.Background()

// clock is a manual clock for the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	fs    *memfs.FS
	fake  *vfsfake.Fake // between md-cache and memfs, counting calls
	md    *MDCache
	clock *clock
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	fs := memfs.New(memfs.Config{})
	fake := vfsfake.New(fs)
	clk := &clock{t: time.Unix(1e9, 0)}
	cfg.Clock = clk.Now
	md, err := New(cfg, fake)
	if err != nil {
		t.Fatal(err)
	}
	return &env{fs: fs, fake: fake, md: md, clock: clk}
}

// file creates name with content directly in memfs (unseen by the cache).
func (e *env) file(t *testing.T, parent vfs.GFID, name string, mode uint32, content []byte) vfs.GFID {
	t.Helper()
	a, fh, errno := e.fs.Create(bg, parent, name, &vfs.CreateIn{Mode: mode, Flags: syscall.O_RDWR})
	if errno != 0 {
		t.Fatal(errno)
	}
	if len(content) > 0 {
		e.fs.Write(bg, a.GFID, fh, content, 0)
	}
	e.fs.Release(bg, a.GFID, fh)
	return a.GFID
}

func (e *env) getattr(t *testing.T, g vfs.GFID) vfs.Attr {
	t.Helper()
	a, errno := e.md.GetAttr(bg, g, 0)
	if errno != 0 {
		t.Fatalf("getattr: %v", errno)
	}
	return a
}

// count returns the child calls of op since the last count of it.
func (e *env) calls(op vfsfake.Op) int { return e.fake.Count(op) }

// createThenLookup creates and releases name in parent through md-cache,
// then checks that a lookup of it finds the new file.
func (e *env) createThenLookup(t *testing.T, parent vfs.GFID, name string) vfs.Attr {
	t.Helper()
	a, fh, errno := e.md.Create(bg, parent, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if errno != 0 {
		t.Fatal(errno)
	}
	e.md.Release(bg, a.GFID, fh)
	if got, errno := e.md.Lookup(bg, parent, name); errno != 0 || got.GFID != a.GFID {
		t.Fatalf("lookup of created %s: %v", name, errno)
	}
	return a
}

// childLookups resets the child's counters, looks name up in parent
// through md-cache and returns how many lookups reached the child.
func (e *env) childLookups(parent vfs.GFID, name string) int {
	e.fake.Reset()
	e.md.Lookup(bg, parent, name)
	return e.calls(vfsfake.Lookup)
}

func TestConfig(t *testing.T) {
	tests := []struct {
		cfg     Config
		wantErr bool
	}{
		{Config{}, false},
		{DefaultConfig(), false},
		{Config{Timeout: -1}, false},
		{Config{Timeout: MaxTimeout + time.Second}, true},
		{Config{MaxEntries: -1}, true},
		{Config{XattrCacheList: []string{"user.["}}, true},
	}
	for _, tc := range tests {
		if _, err := New(tc.cfg, memfs.New(memfs.Config{})); (err != nil) != tc.wantErr {
			t.Errorf("New(%+v): %v, want error %v", tc.cfg, err, tc.wantErr)
		}
	}
}

// TestAttrTimeout: GetAttr is answered from the cache within
// md-cache-timeout and asks the child again after it.
func TestAttrTimeout(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	g := e.file(t, vfs.RootGFID, "f", 0o644, []byte("abc"))
	for i := 0; i < 10; i++ {
		if a := e.getattr(t, g); a.Size != 3 {
			t.Fatalf("size %d", a.Size)
		}
	}
	if n := e.calls(vfsfake.GetAttr); n != 1 {
		t.Fatalf("%d child getattrs for 10 within the timeout", n)
	}
	// A change behind the cache's back is seen after the timeout.
	fh, _ := e.fs.Open(bg, g, syscall.O_WRONLY)
	e.fs.Write(bg, g, fh, []byte("defg"), 3)
	e.fs.Release(bg, g, fh)
	e.clock.Advance(999 * time.Millisecond)
	if a := e.getattr(t, g); a.Size != 3 {
		t.Errorf("size %d before the timeout: not cached", a.Size)
	}
	e.clock.Advance(time.Millisecond)
	if a := e.getattr(t, g); a.Size != 7 {
		t.Errorf("size %d after the timeout, want 7", a.Size)
	}
	if n := e.calls(vfsfake.GetAttr); n != 2 {
		t.Errorf("%d child getattrs, want 2", n)
	}
	s := e.md.Stats()
	if s.AttrHits != 10 || s.AttrMisses != 2 {
		t.Errorf("stats %+v", s)
	}
}

// TestLookup: lookups are answered from the cache, by entries from Lookup,
// Create and readdirplus.
func TestLookup(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	e.file(t, vfs.RootGFID, "old", 0o644, nil)
	for i := 0; i < 5; i++ {
		if _, errno := e.md.Lookup(bg, vfs.RootGFID, "old"); errno != 0 {
			t.Fatal(errno)
		}
	}
	e.createThenLookup(t, vfs.RootGFID, "new")
	if n := e.calls(vfsfake.Lookup); n != 1 {
		t.Errorf("%d child lookups, want 1", n)
	}
	e.clock.Advance(2 * time.Second)
	d, _ := e.md.Mkdir(bg, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	for i := 0; i < 20; i++ {
		e.file(t, d.GFID, fmt.Sprint(i), 0o644, nil)
	}
	ents, _, errno := e.md.ReadDir(bg, d.GFID, 0, 0, 0, true)
	if errno != 0 || len(ents) != 20 {
		t.Fatal(errno, len(ents))
	}
	before := e.calls(vfsfake.Lookup) + e.calls(vfsfake.GetAttr)
	for _, d2 := range ents {
		if _, errno := e.md.Lookup(bg, d.GFID, d2.Name); errno != 0 {
			t.Fatal(errno)
		}
		e.getattr(t, d2.GFID)
	}
	if n := e.calls(vfsfake.Lookup) + e.calls(vfsfake.GetAttr) - before; n != 0 {
		t.Errorf("ls -l after readdirplus made %d child calls", n)
	}
}

// TestNegativeLookup: ENOENT is cached only when asked for, and a create
// of the name drops it.
func TestNegativeLookup(t *testing.T) {
	for _, neg := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.NegativeLookup = neg
		e := newEnv(t, cfg)
		for i := 0; i < 3; i++ {
			if _, errno := e.md.Lookup(bg, vfs.RootGFID, "x"); errno != syscall.ENOENT {
				t.Fatal(errno)
			}
		}
		want := 3
		if neg {
			want = 1
		}
		if n := e.calls(vfsfake.Lookup); n != want {
			t.Errorf("negative-lookup %v: %d child lookups, want %d", neg, n, want)
		}
		if _, errno := e.md.Mkdir(bg, vfs.RootGFID, "x", &vfs.CreateIn{Mode: 0o755}); errno != 0 {
			t.Fatal(errno)
		}
		if _, errno := e.md.Lookup(bg, vfs.RootGFID, "x"); errno != 0 {
			t.Errorf("negative-lookup %v: lookup after mkdir: %v", neg, errno)
		}
		// Made behind the cache's back: the negative entry hides it
		// until it expires.
		e.file(t, vfs.RootGFID, "y", 0o644, nil)
		if _, errno := e.md.Lookup(bg, vfs.RootGFID, "z"); errno != syscall.ENOENT {
			t.Fatal(errno)
		}
		e.file(t, vfs.RootGFID, "z", 0o644, nil)
		_, errno := e.md.Lookup(bg, vfs.RootGFID, "z")
		if (errno == syscall.ENOENT) != neg {
			t.Errorf("negative-lookup %v: lookup of z created behind: %v", neg, errno)
		}
		e.clock.Advance(time.Second)
		if _, errno := e.md.Lookup(bg, vfs.RootGFID, "z"); errno != 0 {
			t.Errorf("negative-lookup %v: z after the timeout: %v", neg, errno)
		}
	}
}

// TestOwnChanges: this client's changes are seen at once.
func TestOwnChanges(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	a, fh, _ := e.md.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	g := a.GFID
	root0 := e.getattr(t, vfs.RootGFID)

	e.md.Write(bg, g, fh, []byte("hello"), 0)
	if a := e.getattr(t, g); a.Size != 5 {
		t.Errorf("size after write %d", a.Size)
	}
	if _, errno := e.md.SetAttr(bg, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600}); errno != 0 {
		t.Fatal(errno)
	}
	n := e.calls(vfsfake.GetAttr)
	if a := e.getattr(t, g); a.Mode&0o777 != 0o600 {
		t.Errorf("mode after chmod %o", a.Mode&0o777)
	}
	if e.calls(vfsfake.GetAttr) != n {
		t.Errorf("SetAttr's result was not cached")
	}
	e.md.Fallocate(bg, g, fh, 0, 0, 100)
	if a := e.getattr(t, g); a.Size != 100 {
		t.Errorf("size after fallocate %d", a.Size)
	}
	e.md.Release(bg, g, fh)
	tr, errno := e.md.Open(bg, g, syscall.O_WRONLY|syscall.O_TRUNC)
	if errno != 0 {
		t.Fatal(errno)
	}
	e.md.Release(bg, g, tr)
	if a := e.getattr(t, g); a.Size != 0 {
		t.Errorf("size after O_TRUNC %d", a.Size)
	}
	l, errno := e.md.Link(bg, g, vfs.RootGFID, "l")
	if errno != 0 || l.Nlink != 2 || e.getattr(t, g).Nlink != 2 {
		t.Errorf("nlink after link %d %v", l.Nlink, errno)
	}
	if e.getattr(t, vfs.RootGFID).Mtime == root0.Mtime && e.getattr(t, vfs.RootGFID).Ctime == root0.Ctime {
		// memfs's clock may not move between calls; nlink of a
		// directory is the reliable check below.
		t.Log("root times did not move")
	}
	if errno := e.md.Unlink(bg, vfs.RootGFID, "l"); errno != 0 {
		t.Fatal(errno)
	}
	if e.getattr(t, g).Nlink != 1 {
		t.Errorf("nlink after unlink %d", e.getattr(t, g).Nlink)
	}
	if _, errno := e.md.Lookup(bg, vfs.RootGFID, "l"); errno != syscall.ENOENT {
		t.Errorf("lookup of an unlinked name: %v", errno)
	}
	nl := e.getattr(t, vfs.RootGFID).Nlink
	d, _ := e.md.Mkdir(bg, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	if got := e.getattr(t, vfs.RootGFID).Nlink; got != nl+1 {
		t.Errorf("root nlink after mkdir %d, want %d", got, nl+1)
	}
	if errno := e.md.Rename(bg, vfs.RootGFID, "f", d.GFID, "f2", 0); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := e.md.Lookup(bg, vfs.RootGFID, "f"); errno != syscall.ENOENT {
		t.Errorf("old name after rename: %v", errno)
	}
	if a, errno := e.md.Lookup(bg, d.GFID, "f2"); errno != 0 || a.GFID != g {
		t.Errorf("new name after rename: %v", errno)
	}
	if errno := e.md.Unlink(bg, d.GFID, "f2"); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := e.md.GetAttr(bg, g, 0); errno != syscall.ENOENT && errno != syscall.ESTALE {
		t.Errorf("getattr of the removed file: %v", errno)
	}
	if errno := e.md.Rmdir(bg, vfs.RootGFID, "d"); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := e.md.GetAttr(bg, d.GFID, 0); errno != syscall.ENOENT && errno != syscall.ESTALE {
		t.Errorf("getattr of the removed dir: %v", errno)
	}
	if got := e.getattr(t, vfs.RootGFID).Nlink; got != nl {
		t.Errorf("root nlink after rmdir %d, want %d", got, nl)
	}
}

// TestUnlinkUnseen: a file removed by a name the cache never saw (an NFS
// client's handle) turns stale at once all the same.
func TestUnlinkUnseen(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	f := e.file(t, vfs.RootGFID, "f", 0o644, nil)
	g := e.file(t, vfs.RootGFID, "g", 0o644, nil)
	h := e.file(t, vfs.RootGFID, "h", 0o644, nil)
	for _, x := range []vfs.GFID{f, g, h} {
		e.getattr(t, x)
	}
	if errno := e.md.Unlink(bg, vfs.RootGFID, "f"); errno != 0 {
		t.Fatal(errno)
	}
	if errno := e.md.Rename(bg, vfs.RootGFID, "g", vfs.RootGFID, "h", 0); errno != 0 {
		t.Fatal(errno)
	}
	for _, x := range []vfs.GFID{f, h} {
		if _, errno := e.md.GetAttr(bg, x, 0); errno != syscall.ENOENT && errno != syscall.ESTALE {
			t.Errorf("getattr of a removed file: %v", errno)
		}
	}
	// A name the cache knows costs no lookup.
	n := e.calls(vfsfake.Lookup)
	e.md.Create(bg, vfs.RootGFID, "k", &vfs.CreateIn{Mode: 0o644})
	e.md.Unlink(bg, vfs.RootGFID, "k")
	if e.calls(vfsfake.Lookup) != n {
		t.Errorf("unlink of a known name looked it up")
	}
}

// TestStaleFetch: a GetAttr that was in flight while the file changed
// does not store its older answer.
func TestStaleFetch(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	a, fh, _ := e.md.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	e.md.Invalidate(a.GFID)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.fake.SetHook(vfsfake.GetAttr, func(ctx context.Context, c *vfsfake.Call) syscall.Errno {
		once.Do(func() {
			close(entered)
			<-release
		})
		return 0
	})
	done := make(chan vfs.Attr)
	go func() {
		a, _ := e.md.GetAttr(bg, a.GFID, 0)
		done <- a
	}()
	<-entered // the getattr is in flight, before the write
	e.md.Write(bg, a.GFID, fh, []byte("data"), 0)
	close(release)
	<-done // whatever it says, it raced with the write
	if got := e.getattr(t, a.GFID); got.Size != 4 {
		t.Errorf("size %d after the write: a stale answer was cached", got.Size)
	}
	e.md.Release(bg, a.GFID, fh)
}

// TestXattrs: ENODATA of security.capability (asked by the kernel before
// every write) and values are cached per caller; changes drop them.
func TestXattrs(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	g := e.file(t, vfs.RootGFID, "f", 0o644, nil)
	for i := 0; i < 10; i++ {
		if _, errno := e.md.GetXattr(bg, g, "security.capability"); errno != syscall.ENODATA {
			t.Fatal(errno)
		}
	}
	if n := e.calls(vfsfake.GetXattr); n != 1 {
		t.Errorf("%d child getxattrs for 10 of security.capability", n)
	}
	// A write keeps ENODATA cached but drops values.
	if errno := e.md.SetXattr(bg, g, "user.k", []byte("v1"), 0); errno != 0 {
		t.Fatal(errno)
	}
	v, errno := e.md.GetXattr(bg, g, "user.k")
	if errno != 0 || string(v) != "v1" {
		t.Fatalf("getxattr %q %v", v, errno)
	}
	v[0] = 'X' // the cache hands out copies
	if v, _ := e.md.GetXattr(bg, g, "user.k"); string(v) != "v1" {
		t.Errorf("cached value changed through a returned slice: %q", v)
	}
	e.md.GetXattr(bg, g, "security.capability") // SetXattr dropped it
	n := e.calls(vfsfake.GetXattr)
	e.md.Write(bg, g, 0, []byte("x"), 0)
	e.md.GetXattr(bg, g, "security.capability")
	e.md.GetXattr(bg, g, "user.k")
	if got := e.calls(vfsfake.GetXattr) - n; got != 1 {
		t.Errorf("after a write: %d child getxattrs, want 1 (the value, not ENODATA)", got)
	}
	// Lists.
	for i := 0; i < 3; i++ {
		if names, errno := e.md.ListXattr(bg, g); errno != 0 || len(names) != 1 {
			t.Fatalf("listxattr %q %v", names, errno)
		}
	}
	if n := e.calls(vfsfake.ListXattr); n != 1 {
		t.Errorf("%d child listxattrs", n)
	}
	e.md.RemoveXattr(bg, g, "user.k")
	if names, _ := e.md.ListXattr(bg, g); len(names) != 0 {
		t.Errorf("list after removexattr %q", names)
	}
	if _, errno := e.md.GetXattr(bg, g, "user.k"); errno != syscall.ENODATA {
		t.Errorf("getxattr after removexattr: %v", errno)
	}
	// Not cached: ACLs by default.
	n = e.calls(vfsfake.GetXattr)
	for i := 0; i < 3; i++ {
		e.md.GetXattr(bg, g, "system.posix_acl_access")
	}
	if got := e.calls(vfsfake.GetXattr) - n; got != 3 {
		t.Errorf("posix ACL getxattr cached (%d child calls) with cache-posix-acl off", got)
	}
}

// TestXattrPerCaller: what root read is not served to a user who may not
// read it, and the user's EACCES is not cached.
func TestXattrPerCaller(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	g := e.file(t, vfs.RootGFID, "secret", 0o600, nil)
	e.md.SetXattr(bg, g, "user.k", []byte("v"), 0)
	if v, errno := e.md.GetXattr(bg, g, "user.k"); errno != 0 || string(v) != "v" {
		t.Fatal(errno)
	}
	alice := vfs.WithCaller(bg, &vfs.Caller{UID: 1000, GID: 1000})
	for i := 0; i < 2; i++ {
		if _, errno := e.md.GetXattr(alice, g, "user.k"); errno != syscall.EACCES {
			t.Errorf("alice's getxattr: %v, want EACCES", errno)
		}
	}
}

// TestLookupPermission: a cached lookup is served to a user only when the
// parent's mode lets them search it.
func TestLookupPermission(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	alice := vfs.WithCaller(bg, &vfs.Caller{UID: 1000, GID: 1000})
	for _, tc := range []struct {
		mode uint32
		want syscall.Errno
	}{{0o700, syscall.EACCES}, {0o755, 0}, {0o750, syscall.EACCES}, {0o751, 0}} {
		name := fmt.Sprintf("d%o", tc.mode)
		d, _ := e.md.Mkdir(bg, vfs.RootGFID, name, &vfs.CreateIn{Mode: tc.mode})
		e.md.Mkdir(bg, d.GFID, "x", &vfs.CreateIn{Mode: 0o755})
		if _, errno := e.md.Lookup(bg, d.GFID, "x"); errno != 0 { // cached as root
			t.Fatal(errno)
		}
		n := e.calls(vfsfake.Lookup)
		for i := 0; i < 2; i++ {
			if _, errno := e.md.Lookup(alice, d.GFID, "x"); errno != tc.want {
				t.Errorf("mode %o: alice's lookup %v, want %v", tc.mode, errno, tc.want)
			}
		}
		if hit := e.calls(vfsfake.Lookup) == n; hit != (tc.want == 0) {
			t.Errorf("mode %o: served from the cache %v", tc.mode, hit)
		}
	}
	// The parent's attributes expired: fetched once, then lookups hit.
	e.clock.Advance(2 * time.Second)
	pub, _ := e.md.Mkdir(bg, vfs.RootGFID, "pub", &vfs.CreateIn{Mode: 0o755})
	for i := 0; i < 10; i++ {
		e.md.Mkdir(bg, pub.GFID, fmt.Sprint(i), &vfs.CreateIn{Mode: 0o755})
	}
	e.md.Invalidate(pub.GFID)
	n, na := e.calls(vfsfake.Lookup), e.calls(vfsfake.GetAttr)
	for i := 0; i < 10; i++ {
		if _, errno := e.md.Lookup(alice, pub.GFID, fmt.Sprint(i)); errno != 0 {
			t.Fatal(errno)
		}
	}
	if l, a := e.calls(vfsfake.Lookup)-n, e.calls(vfsfake.GetAttr)-na; l != 0 || a != 1 {
		t.Errorf("10 lookups by a user: %d child lookups and %d getattrs, want 0 and 1", l, a)
	}
}

// TestDisabled: md-cache-timeout 0 (negative here) passes everything on.
func TestDisabled(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Timeout = -1
	e := newEnv(t, cfg)
	g := e.file(t, vfs.RootGFID, "f", 0o644, nil)
	for i := 0; i < 3; i++ {
		e.getattr(t, g)
		e.md.Lookup(bg, vfs.RootGFID, "f")
		e.md.GetXattr(bg, g, "security.capability")
	}
	if e.calls(vfsfake.GetAttr) != 3 || e.calls(vfsfake.Lookup) != 3 || e.calls(vfsfake.GetXattr) != 3 {
		t.Errorf("disabled cache answered some calls")
	}
	if s := e.md.Stats(); s.Records != 0 {
		t.Errorf("disabled cache holds %d records", s.Records)
	}
}

// TestBounded: the records never exceed max entries.
func TestBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEntries = 50
	e := newEnv(t, cfg)
	for i := 0; i < 500; i++ {
		g := e.file(t, vfs.RootGFID, fmt.Sprint(i), 0o644, nil)
		e.md.Lookup(bg, vfs.RootGFID, fmt.Sprint(i))
		e.md.GetXattr(bg, g, "user.x")
		if s := e.md.Stats(); s.Records > 50 {
			t.Fatalf("%d records, limit 50", s.Records)
		}
	}
	// Records are counted exactly.
	e.md.mu.Lock()
	n := len(e.md.entries)
	for _, nd := range e.md.nodes {
		n += len(nd.xattrs) + len(nd.lists)
		if !nd.attrExp.IsZero() {
			n++
		}
	}
	if n != e.md.records {
		t.Errorf("counted %d records, hold %d", e.md.records, n)
	}
	e.md.mu.Unlock()
}

// TestConcurrent hammers one directory from several goroutines under
// -race, each checking that it sees its own changes.
func TestConcurrent(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				name := fmt.Sprintf("%d-%d", w, i%5)
				a, fh, errno := e.md.Create(bg, vfs.RootGFID, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
				if errno != 0 {
					t.Error(errno)
					return
				}
				data := bytes.Repeat([]byte{byte(i)}, i+1)
				e.md.Write(bg, a.GFID, fh, data, 0)
				if got, _ := e.md.GetAttr(bg, a.GFID, fh); got.Size < uint64(i+1) {
					t.Errorf("size %d after writing %d bytes", got.Size, i+1)
				}
				e.md.Release(bg, a.GFID, fh)
				if i%2 == 0 {
					e.md.Unlink(bg, vfs.RootGFID, name)
					if _, errno := e.md.Lookup(bg, vfs.RootGFID, name); errno != syscall.ENOENT {
						t.Errorf("lookup after unlink: %v", errno)
					}
				}
				e.md.ReadDir(bg, vfs.RootGFID, 0, 0, 0, true)
			}
		}()
	}
	wg.Wait()
}

// TestForwards: every operation reaches the child, once (a cold cache).
func TestForwards(t *testing.T) {
	e := newEnv(t, DefaultConfig())
	vfsfake.Exercise(bg, e.md)
	for _, op := range vfsfake.AllOps {
		want := 1
		if op == vfsfake.Lookup {
			want = 4 // and the victims of Unlink, Rmdir, Rename
		}
		if n := e.fake.Count(op); n != want {
			t.Errorf("%s reached the child %d times, want %d", op, n, want)
		}
	}
}

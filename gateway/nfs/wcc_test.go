package nfs

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// wccAttr is a decoded wcc_attr: what a directory was before a change.
type wccAttr struct {
	size         uint64
	mtime, ctime vfs.Timespec
}

func readWcc(r *xdrReader) (*wccAttr, *fattr) {
	var pre *wccAttr
	if r.bool() {
		pre = &wccAttr{size: r.u64()}
		for _, t := range []*vfs.Timespec{&pre.mtime, &pre.ctime} {
			t.Sec = int64(r.u32())
			t.Nsec = int64(r.u32())
		}
	}
	return pre, readPostOp(r)
}

func wccOf(a fattr) wccAttr { return wccAttr{a.size, a.mtime, a.ctime} }

// TestDirChangeWcc: every procedure that changes a directory replies with
// the directory's attributes before the change as the client last saw them
// (GETATTR) and after it as the next GETATTR sees them. Without the
// "before" half a Linux client revalidates every cached name of the
// directory after each of its own changes.
func TestDirChangeWcc(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		rc := dialRaw(t, ts.addr)
		root := rc.mount("/vol")
		_, sub := rc.mkdir(root, "sub", 0o755)
		_, file := rc.create(root, "f", 0o644)

		// check runs a change to the directories dirs, whose reply holds
		// one wcc_data per directory after what skip reads.
		check := func(what string, proc uint32, a []byte, changes bool, skip func(r *xdrReader), dirs ...[]byte) {
			t.Helper()
			var before []fattr
			for _, d := range dirs {
				st, b := rc.getattr(d)
				mustOK(t, what+": getattr before", st)
				before = append(before, b)
			}
			st, r := rc.call(proc, a)
			if changes {
				mustOK(t, what, st)
				if skip != nil {
					skip(r)
				}
			}
			for i, d := range dirs {
				pre, post := readWcc(r)
				if r.err != nil {
					t.Fatalf("%s: undecodable reply", what)
				}
				if pre == nil || *pre != wccOf(before[i]) {
					t.Fatalf("%s: directory %d before the change %+v, want %+v", what, i, pre, wccOf(before[i]))
				}
				st, after := rc.getattr(d)
				mustOK(t, what+": getattr after", st)
				if post == nil || wccOf(*post) != wccOf(after) {
					t.Fatalf("%s: directory %d after the change %+v, want %+v", what, i, post, wccOf(after))
				}
				if moved := wccOf(after) != wccOf(before[i]); moved != changes {
					t.Fatalf("%s: directory %d changed %v, want %v", what, i, moved, changes)
				}
			}
		}
		newObj := func(r *xdrReader) {
			if r.bool() {
				r.opaque(64)
			}
			readPostOp(r)
		}
		check("CREATE", procCreate, args(root, "c", uint32(createGuarded), sattrArgs{mode: u32p(0o644)}.enc()), true, newObj, root)
		check("MKDIR", procMkdir, args(root, "d", sattrArgs{mode: u32p(0o755)}.enc()), true, newObj, root)
		check("SYMLINK", procSymlink, args(root, "s", sattrArgs{}.enc(), "target"), true, newObj, root)
		check("MKNOD", procMknod, args(root, "p", uint32(nf3FIFO), sattrArgs{mode: u32p(0o644)}.enc()), true, newObj, root)
		check("LINK", procLink, args(file, root, "l"), true, func(r *xdrReader) { readPostOp(r) }, root)
		check("RENAME in one directory", procRename, args(root, "l", root, "l2"), true, nil, root, root)
		check("RENAME across directories", procRename, args(root, "l2", sub, "l3"), true, nil, root, sub)
		check("REMOVE", procRemove, args(sub, "l3"), true, nil, sub)
		check("RMDIR", procRmdir, args(root, "d"), true, nil, root)
		check("REMOVE of a missing name", procRemove, args(root, "missing"), false, nil, root)
		check("CREATE of an existing name", procCreate, args(root, "c", uint32(createGuarded), sattrArgs{mode: u32p(0o644)}.enc()), false, nil, root)
	})
}

// slowCreates holds every Create for a while, so that concurrent CREATEs
// of one directory overlap unless the gateway serializes them.
type slowCreates struct {
	vfs.Translator
	delay time.Duration
}

func (s slowCreates) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	time.Sleep(s.delay)
	return s.Translator.Create(ctx, parent, name, in)
}

// TestDirChangesSerialized: CREATEs of one directory from several
// connections at once each report a distinct "before", and each "before"
// is the directory as it was right after another change (or at the
// start): no change hides behind another's attributes.
func TestDirChangesSerialized(t *testing.T) {
	ts := startServer(t, slowCreates{Translator: newMem(), delay: 2 * time.Millisecond}, func(c *Config) { c.NoRootSquash = true })
	rc := dialRaw(t, ts.addr)
	root := rc.mount("/vol")
	st, start := rc.getattr(root)
	mustOK(t, "getattr", st)

	const conns, each = 4, 10
	type change struct{ pre, post wccAttr }
	var mu sync.Mutex
	var changes []change
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for c := range conns {
		c := c
		cc := dialRaw(t, ts.addr)
		cc.mount("/vol")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				st, r := cc.call(procCreate, args(root, fmt.Sprintf("f%d.%d", c, i), uint32(createGuarded), sattrArgs{mode: u32p(0o644)}.enc()))
				if st != nfsOK {
					errs <- fmt.Errorf("create %d.%d: status %d", c, i, st)
					return
				}
				if r.bool() {
					r.opaque(64)
				}
				readPostOp(r)
				pre, post := readWcc(r)
				if r.err != nil || pre == nil || post == nil {
					errs <- fmt.Errorf("create %d.%d: wcc_data %+v / %+v", c, i, pre, post)
					return
				}
				mu.Lock()
				changes = append(changes, change{*pre, wccOf(*post)})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seenPre := map[wccAttr]bool{}
	posts := map[wccAttr]bool{wccOf(start): true}
	for _, c := range changes {
		if seenPre[c.pre] {
			t.Fatalf("two CREATEs report the same directory before them (%+v): one change hides the other", c.pre)
		}
		seenPre[c.pre] = true
		posts[c.post] = true
	}
	for _, c := range changes {
		if !posts[c.pre] {
			t.Fatalf("a CREATE reports a directory before it (%+v) that no change left", c.pre)
		}
	}
}

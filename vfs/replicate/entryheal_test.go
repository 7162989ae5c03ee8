package replicate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// TestEntryHeal changes the namespace in every way while b1 is down and
// checks that an index heal brings b1 back, hard links included.
func TestEntryHeal(t *testing.T) {
	e := newEnv(t, 2, noBackgroundHeal())
	r := e.r
	d1, errno := r.Mkdir(e.ctx, vfs.RootGFID, "d1", &vfs.CreateIn{Mode: 0o755})
	e.must("mkdir", errno)
	d2, errno := r.Mkdir(e.ctx, vfs.RootGFID, "d2", &vfs.CreateIn{Mode: 0o750})
	e.must("mkdir", errno)
	sub, errno := r.Mkdir(e.ctx, d1.GFID, "sub", &vfs.CreateIn{Mode: 0o755})
	e.must("mkdir", errno)
	keep := e.writeFile(r, d1.GFID, "keep", []byte("keep"))
	e.writeFile(r, d1.GFID, "gone", []byte("gone"))
	e.writeFile(r, sub.GFID, "deep", []byte("deep"))
	moved := e.writeFile(r, d1.GFID, "moved", []byte("moved"))
	e.writeFile(r, vfs.RootGFID, "replaced", []byte("old"))
	_, errno = r.Mkdir(e.ctx, vfs.RootGFID, "olddir", &vfs.CreateIn{Mode: 0o700})
	e.must("mkdir", errno)
	e.r.FlushTransactions(e.ctx)

	e.down(1)
	e.must("unlink", r.Unlink(e.ctx, d1.GFID, "gone"))
	e.must("rename file across dirs", r.Rename(e.ctx, d1.GFID, "moved", d2.GFID, "moved2", 0))
	e.must("rename dir within root", r.Rename(e.ctx, vfs.RootGFID, "olddir", vfs.RootGFID, "newdir", 0))
	_, errno = r.Link(e.ctx, keep, d2.GFID, "keep-link")
	e.must("link", errno)
	e.must("unlink replaced", r.Unlink(e.ctx, vfs.RootGFID, "replaced"))
	e.writeFile(r, vfs.RootGFID, "replaced", []byte("new object, same name"))
	nd, errno := r.Mkdir(e.ctx, d2.GFID, "newtree", &vfs.CreateIn{Mode: 0o711})
	e.must("mkdir", errno)
	n1 := e.writeFile(r, nd.GFID, "n1", []byte("fresh file"))
	_, errno = r.Link(e.ctx, n1, nd.GFID, "n1-link")
	e.must("link", errno)
	_, errno = r.Symlink(e.ctx, nd.GFID, "sl", "n1", &vfs.CreateIn{})
	e.must("symlink", errno)
	e.must("rmdir tree", func() syscall.Errno {
		e.must("unlink deep", r.Unlink(e.ctx, sub.GFID, "deep"))
		return r.Rmdir(e.ctx, d1.GFID, "sub")
	}())
	e.must("setxattr", r.SetXattr(e.ctx, moved, "user.x", []byte("1"), 0))
	_, errno = r.SetAttr(e.ctx, d2.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMode | vfs.SetUID, Mode: 0o700, UID: 1234})
	e.must("chmod dir", errno)
	e.r.FlushTransactions(e.ctx)
	e.bricks[1].setDown(false)

	st, err := r.HealIndex(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("heal: %+v", st)
	e.compareBricks()
}

// TestHealFull heals differences no changelog records (files removed
// behind replicate's back on one brick) by crawling.
func TestHealFull(t *testing.T) {
	e := newEnv(t, 2, noBackgroundHeal())
	d, errno := e.r.Mkdir(e.ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	e.must("mkdir", errno)
	for i := range 5 {
		e.writeFile(e.r, d.GFID, fmt.Sprintf("f%d", i), []byte(fmt.Sprint(i)))
	}
	e.r.FlushTransactions(e.ctx)
	// Lose two files on b1 without any changelog.
	e.must("brick unlink", e.bricks[1].Unlink(e.ctx, d.GFID, "f1"))
	e.must("brick unlink", e.bricks[1].Unlink(e.ctx, d.GFID, "f3"))
	var last Progress
	st, err := e.r.HealFull(e.ctx, func(p Progress) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if !last.Done || st.Created < 2 {
		t.Errorf("stats %+v, last progress %+v", st, last)
	}
	e.compareBricks()
}

// TestConcurrentClients runs two clients writing different files in the
// same directory, and the same file, at the same time.
func TestConcurrentClients(t *testing.T) {
	e := newEnv(t, 2, testConfig())
	r2 := e.client(testConfig())
	ctx2 := vfs.WithCaller(e.ctx, &vfs.Caller{Client: "c2"})
	d, errno := e.r.Mkdir(e.ctx, vfs.RootGFID, "shared", &vfs.CreateIn{Mode: 0o777})
	e.must("mkdir", errno)
	shared := e.writeFile(e.r, vfs.RootGFID, "same", make([]byte, 64<<10))
	var wg sync.WaitGroup
	for c, r := range []*Replicate{e.r, r2} {
		ctx := e.ctx
		if c == 1 {
			ctx = ctx2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				name := fmt.Sprintf("c%d-%d", c, i)
				a, fh, errno := r.Create(ctx, d.GFID, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
				if errno != 0 {
					t.Errorf("create %s: %v", name, errno)
					return
				}
				r.Write(ctx, a.GFID, fh, []byte(name), 0)
				r.Release(ctx, a.GFID, fh)
				// Both clients also race on one name and on one file.
				r.Rename(ctx, d.GFID, name, d.GFID, "contended", 0)
				fh, errno = r.Open(ctx, shared, syscall.O_RDWR)
				if errno == 0 {
					r.Write(ctx, shared, fh, []byte(name), int64(i*64+c*32))
					r.Release(ctx, shared, fh)
				}
				if i%10 == 9 {
					r.Unlink(ctx, d.GFID, "contended")
				}
			}
		}()
	}
	wg.Wait()
	r2.FlushTransactions(ctx2)
	e.compareBricks()
}

// TestCreateLockContention forces the fallback of a create that travels
// with its name lock: another owner holds the name's lock on one brick
// only, so the create made on the other must be undone and redone once
// the lock is free.
func TestCreateLockContention(t *testing.T) {
	e := newEnv(t, 2, testConfig())
	other := vfs.WithCaller(e.ctx, &vfs.Caller{Client: "intruder"})
	for _, mk := range []string{"create", "mkdir"} {
		e.must("intruder lock", e.bricks[1].EntryLk(other, entryDomain, vfs.RootGFID, mk, vfs.WriteLock, 99, false))
		go func() {
			time.Sleep(100 * time.Millisecond)
			e.bricks[1].EntryLk(other, entryDomain, vfs.RootGFID, mk, vfs.Unlock, 99, false)
		}()
		start := time.Now()
		var g vfs.GFID
		if mk == "create" {
			a, fh, errno := e.r.Create(e.ctx, vfs.RootGFID, mk, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR | syscall.O_EXCL})
			e.must(mk, errno)
			e.r.Write(e.ctx, a.GFID, fh, []byte("after the wait"), 0)
			e.r.Release(e.ctx, a.GFID, fh)
			g = a.GFID
		} else {
			a, errno := e.r.Mkdir(e.ctx, vfs.RootGFID, mk, &vfs.CreateIn{Mode: 0o755})
			e.must(mk, errno)
			g = a.GFID
		}
		if time.Since(start) < 90*time.Millisecond {
			t.Errorf("%s did not wait for the other owner's lock", mk)
		}
		for i, b := range e.bricks {
			a, errno := b.Lookup(e.ctx, vfs.RootGFID, mk)
			if errno != 0 || a.GFID != g {
				t.Errorf("brick %d: %s %v gfid %v, want %v", i, mk, errno, a.GFID, g)
			}
		}
	}
	e.compareBricks()
}

// TestUnlinkLockContention forces the fallback of an unlink that travels
// with its name lock: another owner holds the name's lock on one brick
// only, so the unlink made on the other must be undone (the brick held
// the object, vfs.UnlinkHold, and links it back) and redone once the lock
// is free. While the other owner waits, both bricks must show the file,
// with its content.
func TestUnlinkLockContention(t *testing.T) {
	e := newEnv(t, 2, testConfig())
	other := vfs.WithCaller(e.ctx, &vfs.Caller{Client: "intruder"})
	g := e.writeFile(e.r, vfs.RootGFID, "victim", []byte("still here"))
	e.r.FlushTransactions(e.ctx)
	e.must("intruder lock", e.bricks[1].EntryLk(other, entryDomain, vfs.RootGFID, "victim", vfs.WriteLock, 99, false))
	seen := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		var err error
		for i, b := range e.bricks {
			a, errno := b.Lookup(other, vfs.RootGFID, "victim")
			if errno != 0 || a.GFID != g {
				err = fmt.Errorf("brick %d while the unlink waits: %v gfid %v, want %v", i, errno, a.GFID, g)
				break
			}
			buf := make([]byte, 32)
			n, errno := b.Read(other, g, 0, buf, 0)
			if errno != 0 || string(buf[:n]) != "still here" {
				err = fmt.Errorf("brick %d content while the unlink waits: %q %v", i, buf[:n], errno)
				break
			}
		}
		seen <- err
		e.bricks[1].EntryLk(other, entryDomain, vfs.RootGFID, "victim", vfs.Unlock, 99, false)
	}()
	start := time.Now()
	e.must("unlink", e.r.Unlink(e.ctx, vfs.RootGFID, "victim"))
	if time.Since(start) < 90*time.Millisecond {
		t.Errorf("unlink did not wait for the other owner's lock")
	}
	if err := <-seen; err != nil {
		t.Error(err)
	}
	for i, b := range e.bricks {
		if _, errno := b.Lookup(e.ctx, vfs.RootGFID, "victim"); errno != syscall.ENOENT {
			t.Errorf("brick %d after the unlink: %v", i, errno)
		}
	}
	e.compareBricks()
}

// TestUnlinkOneRequest: an uncontended unlink is sent as the held form
// (the batch with its name lock), on every brick, and leaves the bricks
// alike and clean.
func TestUnlinkOneRequest(t *testing.T) {
	e := newEnv(t, 2, testConfig())
	var held, plain atomic.Int32
	for _, b := range e.bricks {
		b.setHook(func(ctx context.Context, op string) syscall.Errno {
			if op == "Unlink" {
				switch vfs.UnlinkFlagsFrom(ctx) {
				case vfs.UnlinkHold:
					held.Add(1)
				case 0:
					plain.Add(1)
				}
			}
			return 0
		})
	}
	for i := range 5 {
		e.writeFile(e.r, vfs.RootGFID, fmt.Sprint("f", i), []byte("x"))
	}
	for i := range 5 {
		e.must("unlink", e.r.Unlink(e.ctx, vfs.RootGFID, fmt.Sprint("f", i)))
	}
	if held.Load() != 10 || plain.Load() != 0 {
		t.Errorf("unlinks: %d held, %d plain; want 10 held (one batch per brick and file)", held.Load(), plain.Load())
	}
	if errno := e.r.Unlink(e.ctx, vfs.RootGFID, "f0"); errno != syscall.ENOENT {
		t.Errorf("unlink of a missing name: %v", errno)
	}
	e.compareBricks() // sends the name unlocks, and the commits with them
	for _, b := range e.bricks {
		// The bricks end committed holds in the background.
		dir := filepath.Join(b.dir, vfs.ReservedName, "unlink")
		ents, _ := os.ReadDir(dir)
		for deadline := time.Now().Add(2 * time.Second); len(ents) != 0 && time.Now().Before(deadline); ents, _ = os.ReadDir(dir) {
			time.Sleep(5 * time.Millisecond)
		}
		if len(ents) != 0 {
			t.Errorf("%s: %d objects still held 2 s after the commits", b.name, len(ents))
		}
	}
}

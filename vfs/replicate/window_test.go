package replicate

import (
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// TestMetadataInInodeWindow: metadata changes of a file run inside the
// inode window its create opened (data and metadata pre-op'd together),
// one request per brick each, as tar's create, write, fchown, fchmod,
// utimensat, close does; a file nobody has open pays lock and pre-op once
// and later changes ride the same window. When the windows end, every
// counter is back to zero on both bricks and both hold the changes.
func TestMetadataInInodeWindow(t *testing.T) {
	e, cs := countedEnv(t)
	r := e.r
	d, errno := r.Mkdir(e.ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o777})
	e.must("mkdir", errno)
	a, fh, errno := r.Create(e.ctx, d.GFID, "f", &vfs.CreateIn{Mode: 0o600, Flags: syscall.O_WRONLY})
	e.must("create", errno)
	g := a.GFID
	_, errno = r.Write(e.ctx, g, fh, []byte("data"), 0)
	e.must("write", errno)
	mtime := vfs.Timespec{Sec: 1_500_000_000}
	changes := []struct {
		what string
		in   vfs.SetAttrIn
	}{
		{"chown", vfs.SetAttrIn{Valid: vfs.SetUID | vfs.SetGID, UID: 1234, GID: 5678}},
		{"chmod", vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o640}},
		{"utimens", vfs.SetAttrIn{Valid: vfs.SetAtime | vfs.SetMtime, Atime: mtime, Mtime: mtime}},
	}
	cost := func(what string, want int64, op func() syscall.Errno) {
		t.Helper()
		before := counts(cs)
		e.must(what, op())
		for i, n := range counts(cs) {
			if got := n - before[i]; got != want {
				t.Errorf("%s: brick %d got %d requests, want %d", what, i, got, want)
			}
		}
	}
	for _, c := range changes {
		cost(c.what+" in the create's window", 1, func() syscall.Errno {
			_, e := r.SetAttr(e.ctx, g, fh, &c.in)
			return e
		})
	}
	cost("setxattr in the create's window", 1, func() syscall.Errno {
		return r.SetXattr(e.ctx, g, "user.k", []byte("v"), 0)
	})
	e.must("release", r.Release(e.ctx, g, fh))
	r.FlushTransactions(e.ctx)
	checkBricks := func(when string, mode uint32, mtime int64) {
		t.Helper()
		for i, b := range e.bricks {
			for child, c := range e.pending(i, "d/f") {
				if c != (counters{}) {
					t.Errorf("%s: brick %d: pending counters for %s are %v", when, i, child, c)
				}
			}
			var st syscall.Stat_t
			if err := syscall.Stat(b.dir+"/d/f", &st); err != nil {
				t.Fatal(err)
			}
			if st.Mode&0o7777 != mode || st.Uid != 1234 || st.Gid != 5678 || (mtime != 0 && st.Mtim.Sec != mtime) || st.Size != 4 {
				t.Errorf("%s: brick %d: mode %o uid %d gid %d mtime %d size %d", when, i, st.Mode&0o7777, st.Uid, st.Gid, st.Mtim.Sec, st.Size)
			}
		}
	}
	checkBricks("after the create's window", 0o640, mtime.Sec)

	// No window now: the first change locks and pre-ops (one request),
	// then changes (one); the next ones only change.
	cost("chmod opening a window", 2, func() syscall.Errno {
		_, e := r.SetAttr(e.ctx, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o604})
		return e
	})
	cost("chmod in the open window", 1, func() syscall.Errno {
		_, e := r.SetAttr(e.ctx, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o644})
		return e
	})
	// A write in a window opened for metadata pre-ops data first.
	fh, errno = r.Open(e.ctx, g, syscall.O_WRONLY)
	e.must("open", errno)
	cost("write joining the metadata window", 2, func() syscall.Errno {
		_, e := r.Write(e.ctx, g, fh, []byte("DA"), 0)
		return e
	})
	e.must("release", r.Release(e.ctx, g, fh))
	r.FlushTransactions(e.ctx)
	checkBricks("after the metadata window", 0o644, 0)
	got, errno := e.readAll(r, g)
	e.must("read", errno)
	if string(got) != "DAta" {
		t.Errorf("read %q, want DAta", got)
	}
}

// TestMetadataWaitsForOtherClientsWindow: another client's chmod of a
// file this client is writing waits for this client's inode window (data
// and metadata share its lock) and lands on every brick once the window
// ends; the file stays consistent.
func TestMetadataWaitsForOtherClientsWindow(t *testing.T) {
	cfg := noBackgroundHeal()
	cfg.PostOpDelay = time.Minute
	cfg.EagerLockMaxHold = time.Minute
	e := newEnv(t, 2, cfg)
	a, fh, errno := e.r.Create(e.ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o600, Flags: syscall.O_WRONLY})
	e.must("create", errno)
	g := a.GFID
	_, errno = e.r.Write(e.ctx, g, fh, []byte("writer"), 0)
	e.must("write", errno)

	other := e.client(noBackgroundHeal())
	done := make(chan syscall.Errno, 1)
	go func() {
		_, errno := other.SetAttr(e.ctx, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o666})
		done <- errno
	}()
	select {
	case errno := <-done:
		t.Fatalf("the other client's chmod finished (%v) while this client's window was open", errno)
	case <-time.After(300 * time.Millisecond):
	}
	e.must("release", e.r.Release(e.ctx, g, fh))
	select {
	case errno := <-done:
		e.must("other client's chmod", errno)
	case <-time.After(10 * time.Second):
		t.Fatal("the other client's chmod still waits after the writer's last close")
	}
	e.r.FlushTransactions(e.ctx)
	other.FlushTransactions(e.ctx)
	for i, b := range e.bricks {
		var st syscall.Stat_t
		if err := syscall.Stat(b.dir+"/f", &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&0o7777 != 0o666 || st.Size != 6 {
			t.Errorf("brick %d: mode %o size %d, want 666 and 6", i, st.Mode&0o7777, st.Size)
		}
		for child, c := range e.pending(i, "f") {
			if c != (counters{}) {
				t.Errorf("brick %d: pending counters for %s are %v", i, child, c)
			}
		}
	}
}

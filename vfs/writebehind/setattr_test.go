package writebehind

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

// holdingConfig holds what files created here hold until something
// needs it, so that tests see no timer send it.
func holdingConfig() Config {
	cfg := DefaultConfig()
	cfg.FreshHold = time.Hour
	return cfg
}

// tarSets are what tar does to a file it extracted: utimensat, fchown,
// fchmod, each on its own.
var tarSets = []vfs.SetAttrIn{
	{Valid: vfs.SetMtime, Mtime: vfs.Timespec{Sec: 1788809622}},
	{Valid: vfs.SetUID | vfs.SetGID, UID: 7, GID: 8},
	{Valid: vfs.SetMode, Mode: 0o640},
}

// TestSetAttrHeldAndJoined: the setattrs on a file this client created and
// holds open are answered at once, with what the file will look like, and
// reach the child joined into one, before the close returns.
func TestSetAttrHeldAndJoined(t *testing.T) {
	e := newEnv(t, holdingConfig())
	g, fh := e.create(t, "f", syscall.O_WRONLY|syscall.O_EXCL)
	write(t, e.wb, g, fh, pattern(5000, 1), 0)
	var a vfs.Attr
	for i := range tarSets {
		ctx, guessed := vfs.WithAttrsGuessNote(bg)
		var errno syscall.Errno
		a, errno = e.wb.SetAttr(ctx, g, 0, &tarSets[i])
		if errno != 0 {
			t.Fatalf("setattr %d: %v", i, errno)
		}
		if !*guessed {
			t.Errorf("setattr %d: attributes not marked as guessed", i)
		}
	}
	if n := e.fake.Count(vfsfake.SetAttr); n != 0 {
		t.Fatalf("%d setattrs reached the child before the close", n)
	}
	if a.Size != 5000 || a.UID != 7 || a.GID != 8 || a.Mode != syscall.S_IFREG|0o640 || a.Mtime.Sec != 1788809622 {
		t.Errorf("answered %+v", a)
	}
	if errno := e.wb.Flush(bg, g, fh); errno != 0 {
		t.Fatal(errno)
	}
	calls := e.fake.CallsOf(vfsfake.SetAttr)
	if len(calls) != 1 {
		t.Fatalf("%d setattrs reached the child by the close, want 1 joined", len(calls))
	}
	if in := calls[0].SetAttr; in.Valid != vfs.SetMtime|vfs.SetUID|vfs.SetGID|vfs.SetMode || in.Mode != 0o640 || in.UID != 7 {
		t.Errorf("joined setattr %+v", in)
	}
	if calls[0].Handle != fh {
		t.Errorf("sent through handle %d, want the creating handle %d", calls[0].Handle, fh)
	}
	got, errno := e.fs.GetAttr(bg, g, 0)
	if errno != 0 || got.Size != 5000 || got.UID != 7 || got.Mode != syscall.S_IFREG|0o640 || got.Mtime.Sec != 1788809622 {
		t.Errorf("child has %+v %v", got, errno)
	}
	if errno := e.wb.Release(bg, g, fh); errno != 0 {
		t.Fatal(errno)
	}
	if s := e.wb.Stats(); s.SetsHeld != 3 || s.SetsSent != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestSetAttrJoinKeepsOrder: a mode held before a change of owner loses
// setuid as the change would clear it; a mode after it keeps it.
func TestSetAttrJoinKeepsOrder(t *testing.T) {
	chown := vfs.SetAttrIn{Valid: vfs.SetUID, UID: 9}
	chmod := vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o4755}
	for _, c := range []struct {
		name  string
		order []vfs.SetAttrIn
		want  uint32
	}{
		{"chmod then chown", []vfs.SetAttrIn{chmod, chown}, 0o755},
		{"chown then chmod", []vfs.SetAttrIn{chown, chmod}, 0o4755},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, holdingConfig())
			g, fh := e.create(t, "f", syscall.O_WRONLY|syscall.O_EXCL)
			var a vfs.Attr
			for i := range c.order {
				var errno syscall.Errno
				if a, errno = e.wb.SetAttr(bg, g, 0, &c.order[i]); errno != 0 {
					t.Fatal(errno)
				}
			}
			if a.Mode&07777 != c.want {
				t.Errorf("answered mode %o, want %o", a.Mode&07777, c.want)
			}
			if errno := e.wb.Release(bg, g, fh); errno != 0 {
				t.Fatal(errno)
			}
			calls := e.fake.CallsOf(vfsfake.SetAttr)
			if len(calls) != 1 || calls[0].SetAttr.Mode != c.want {
				t.Fatalf("child got %d setattrs, first %+v; want one with mode %o", len(calls), calls[0].SetAttr, c.want)
			}
		})
	}
}

// TestSetAttrHeldError: a held setattr that fails is reported by the
// close, as a held write is.
func TestSetAttrHeldError(t *testing.T) {
	e := newEnv(t, holdingConfig())
	g, fh := e.create(t, "f", syscall.O_WRONLY|syscall.O_EXCL)
	if _, errno := e.wb.SetAttr(bg, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600}); errno != 0 {
		t.Fatal(errno)
	}
	e.fake.FailN(vfsfake.SetAttr, syscall.ENOTCONN, 1)
	if errno := e.wb.Flush(bg, g, fh); errno != syscall.ENOTCONN {
		t.Fatalf("flush: %v, want ENOTCONN", errno)
	}
	if errno := e.wb.Release(bg, g, fh); errno != 0 {
		t.Fatal(errno)
	}
}

const anyErrno = syscall.Errno(1 << 30)

// TestSetAttrNotHeld: what could fail on a brick, or what this translator
// cannot compute, goes through at once.
func TestSetAttrNotHeld(t *testing.T) {
	user := vfs.WithCaller(bg, &vfs.Caller{UID: 1000, GID: 1000})
	e := newEnv(t, holdingConfig())
	g, fh := e.create(t, "f", syscall.O_WRONLY|syscall.O_EXCL) // owned by root
	opened, _ := e.create(t, "o", syscall.O_WRONLY|syscall.O_EXCL)
	if errno := e.wb.Release(bg, opened, 0); errno != syscall.EBADF && errno != 0 {
		t.Fatal(errno)
	}
	cases := []struct {
		name string
		ctx  context.Context
		gfid vfs.GFID
		in   vfs.SetAttrIn
		want syscall.Errno // anyErrno: not checked
	}{
		{"chmod by a user who is not the owner", user, g, vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o777}, syscall.EPERM},
		{"truncate", bg, g, vfs.SetAttrIn{Valid: vfs.SetSize, Size: 3}, 0},
		// A brick fails it with EINVAL (memfs does not check).
		{"bad times", bg, g, vfs.SetAttrIn{Valid: vfs.SetMtime, Mtime: vfs.Timespec{Nsec: 2e9}}, anyErrno},
	}
	for _, c := range cases {
		before := e.fake.Count(vfsfake.SetAttr)
		if _, errno := e.wb.SetAttr(c.ctx, c.gfid, 0, &c.in); c.want != anyErrno && errno != c.want {
			t.Errorf("%s: %v, want %v", c.name, errno, c.want)
		}
		if e.fake.Count(vfsfake.SetAttr) != before+1 {
			t.Errorf("%s: not sent at once", c.name)
		}
	}
	if errno := e.wb.Release(bg, g, fh); errno != 0 {
		t.Fatal(errno)
	}
	// Once released, the file is no longer followed.
	before := e.fake.Count(vfsfake.SetAttr)
	if _, errno := e.wb.SetAttr(bg, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600}); errno != 0 {
		t.Fatal(errno)
	}
	if e.fake.Count(vfsfake.SetAttr) != before+1 {
		t.Errorf("a setattr after the release was held")
	}
}

// TestSetAttrHeldOwnerNotRoot: the owner's own mode and times are held.
func TestSetAttrHeldOwnerNotRoot(t *testing.T) {
	user := vfs.WithCaller(bg, &vfs.Caller{UID: 1000, GID: 1000})
	e := newEnv(t, holdingConfig())
	d, errno := e.wb.Mkdir(bg, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o777})
	if errno != 0 {
		t.Fatal(errno)
	}
	a, fh, errno := e.wb.Create(user, d.GFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_WRONLY | syscall.O_EXCL})
	if errno != 0 {
		t.Fatal(errno)
	}
	for _, in := range []vfs.SetAttrIn{
		{Valid: vfs.SetMode, Mode: 0o600},
		{Valid: vfs.SetAtime | vfs.SetMtime, Atime: vfs.Timespec{Sec: 5}, Mtime: vfs.Timespec{Sec: 6}},
	} {
		if _, errno := e.wb.SetAttr(user, a.GFID, 0, &in); errno != 0 {
			t.Fatal(errno)
		}
	}
	if n := e.fake.Count(vfsfake.SetAttr); n != 0 {
		t.Errorf("%d of the owner's setattrs sent at once", n)
	}
	// setgid could be dropped by the brick: not held.
	if _, errno := e.wb.SetAttr(user, a.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o2755}); errno != 0 {
		t.Fatal(errno)
	}
	if n := e.fake.Count(vfsfake.SetAttr); n != 2 {
		t.Errorf("child setattrs %d, want the held one then the setgid one", n)
	}
	if errno := e.wb.Release(user, a.GFID, fh); errno != 0 {
		t.Fatal(errno)
	}
}

// TestSetAttrHeldSeen: every way of looking at the file that a mode or
// owner changes sends the held setattrs first.
func TestSetAttrHeldSeen(t *testing.T) {
	looks := map[string]func(e *env, g vfs.GFID) (vfs.Attr, syscall.Errno){
		"getattr": func(e *env, g vfs.GFID) (vfs.Attr, syscall.Errno) { return e.wb.GetAttr(bg, g, 0) },
		"lookup":  func(e *env, g vfs.GFID) (vfs.Attr, syscall.Errno) { return e.wb.Lookup(bg, vfs.RootGFID, "f") },
		"open": func(e *env, g vfs.GFID) (vfs.Attr, syscall.Errno) {
			fh, errno := e.wb.Open(bg, g, syscall.O_RDONLY)
			if errno != 0 {
				return vfs.Attr{}, errno
			}
			defer e.wb.Release(bg, g, fh)
			return e.fs.GetAttr(bg, g, 0)
		},
		"getxattr": func(e *env, g vfs.GFID) (vfs.Attr, syscall.Errno) {
			e.wb.GetXattr(bg, g, "user.x")
			return e.fs.GetAttr(bg, g, 0)
		},
		"read": func(e *env, g vfs.GFID) (vfs.Attr, syscall.Errno) {
			e.wb.Read(bg, g, 0, make([]byte, 10), 1<<20)
			return e.fs.GetAttr(bg, g, 0)
		},
	}
	for name, look := range looks {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, holdingConfig())
			g, fh := e.create(t, "f", syscall.O_RDWR|syscall.O_EXCL)
			if _, errno := e.wb.SetAttr(bg, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600}); errno != 0 {
				t.Fatal(errno)
			}
			a, errno := look(e, g)
			if errno != 0 {
				t.Fatal(errno)
			}
			if a.Mode&07777 != 0o600 {
				t.Errorf("seen mode %o, want 600", a.Mode&07777)
			}
			if errno := e.wb.Release(bg, g, fh); errno != 0 {
				t.Fatal(errno)
			}
		})
	}
}

// TestFreshWritesJoined: the writes to a file created here do not trickle
// one by one: tar's 10 KiB records reach the child as one write.
func TestFreshWritesJoined(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FreshHold = time.Hour
	e := newEnv(t, cfg)
	g, fh := e.create(t, "f", syscall.O_WRONLY|syscall.O_EXCL)
	data := pattern(25<<10, 3)
	for off := 0; off < len(data); off += 10 << 10 {
		end := min(off+10<<10, len(data))
		write(t, e.wb, g, fh, data[off:end], int64(off))
	}
	if n := e.fake.Count(vfsfake.Write); n != 0 {
		t.Fatalf("%d writes sent before the close", n)
	}
	if errno := e.wb.Flush(bg, g, fh); errno != 0 {
		t.Fatal(errno)
	}
	if n := e.fake.Count(vfsfake.Write); n != 1 {
		t.Errorf("child got %d writes, want 1", n)
	}
	if !bytes.Equal(e.content(t, g), data) {
		t.Error("content differs")
	}
	e.wb.Release(bg, g, fh)

	// A file opened, not created here, trickles as before.
	fh2, errno := e.wb.Open(bg, g, syscall.O_WRONLY)
	if errno != 0 {
		t.Fatal(errno)
	}
	write(t, e.wb, g, fh2, []byte("x"), 0)
	eventually(t, "the trickled write", func() bool { return e.fake.Count(vfsfake.Write) == 2 })
	e.wb.Release(bg, g, fh2)
}

// TestFreshHoldBounded: what a file created here holds (writes, setattrs)
// is sent within FreshHold even if the file stays open and nothing asks.
func TestFreshHoldBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FreshHold = time.Millisecond
	e := newEnv(t, cfg)
	g, fh := e.create(t, "f", syscall.O_WRONLY|syscall.O_EXCL)
	write(t, e.wb, g, fh, []byte("hello"), 0)
	eventually(t, "the held write", func() bool { return string(e.content(t, g)) == "hello" })
	if _, errno := e.wb.SetAttr(bg, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600}); errno != 0 {
		t.Fatal(errno)
	}
	eventually(t, "the held setattr", func() bool {
		a, _ := e.fs.GetAttr(bg, g, 0)
		return a.Mode&07777 == 0o600
	})
	e.wb.Release(bg, g, fh)
}

// pairing is a child that takes a write and a setattr in one operation
// (as cluster/replicate does), over a counting fake.
type pairing struct {
	*vfsfake.Fake
	mu    sync.Mutex
	pairs []vfs.SetAttrIn
	fail  syscall.Errno // of the setattr half, once
}

func (p *pairing) WriteSetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64, in *vfs.SetAttrIn) (int, vfs.Attr, syscall.Errno) {
	p.mu.Lock()
	p.pairs = append(p.pairs, *in)
	fail := p.fail
	p.fail = 0
	p.mu.Unlock()
	n, errno := p.Fake.Write(ctx, gfid, fh, data, off)
	if errno != 0 || fail != 0 {
		return n, vfs.Attr{}, max(errno, fail)
	}
	a, errno := p.Fake.SetAttr(ctx, gfid, fh, in)
	return n, a, errno
}

// TestPairAtClose: a new file's writes and the setattrs after them reach a
// child that can take both in one operation as one call, at the close;
// its error is the close's.
func TestPairAtClose(t *testing.T) {
	fs := memfs.New(memfs.Config{})
	p := &pairing{Fake: vfsfake.New(fs)}
	wb, err := New(holdingConfig(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	for round, fail := range []syscall.Errno{0, syscall.EIO} {
		a, fh, errno := wb.Create(bg, vfs.RootGFID, fmt.Sprint("f", round), &vfs.CreateIn{Mode: 0o600, Flags: syscall.O_WRONLY | syscall.O_EXCL})
		if errno != 0 {
			t.Fatal(errno)
		}
		data := pattern(15<<10, 5)
		write(t, wb, a.GFID, fh, data[:10<<10], 0)
		write(t, wb, a.GFID, fh, data[10<<10:], 10<<10)
		for i := range tarSets {
			if _, errno := wb.SetAttr(bg, a.GFID, 0, &tarSets[i]); errno != 0 {
				t.Fatal(errno)
			}
		}
		if n := p.Count(vfsfake.Write) + p.Count(vfsfake.SetAttr); n != 2*round {
			t.Fatalf("round %d: %d calls reached the child before the close", round, n-2*round)
		}
		p.mu.Lock()
		p.fail = fail
		p.mu.Unlock()
		if errno := wb.Flush(bg, a.GFID, fh); errno != fail {
			t.Errorf("round %d: flush %v, want %v", round, errno, fail)
		}
		p.mu.Lock()
		pairs := len(p.pairs)
		p.mu.Unlock()
		if pairs != round+1 {
			t.Errorf("round %d: %d pairs sent, want %d", round, pairs, round+1)
		}
		if errno := wb.Release(bg, a.GFID, fh); errno != 0 {
			t.Fatal(errno)
		}
		if fail != 0 {
			continue
		}
		got, _ := fs.GetAttr(bg, a.GFID, 0)
		buf := make([]byte, len(data)+1)
		n, _ := fs.Read(bg, a.GFID, 0, buf, 0)
		if !bytes.Equal(buf[:n], data) || got.Mode&07777 != 0o640 || got.UID != 7 || got.Mtime.Sec != 1788809622 {
			t.Errorf("child has %d bytes (equal %v), %+v", n, bytes.Equal(buf[:n], data), got)
		}
		if s := wb.Stats(); s.Pairs != 1 || s.SetsHeld != 3 {
			t.Errorf("stats %+v", s)
		}
	}
}

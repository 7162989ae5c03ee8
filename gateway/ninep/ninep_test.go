package ninep

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/hugelgupf/p9/p9"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/brick/posix"
	"github.com/cairnfs/cairn/gateway/internal/memvfs"
	"github.com/cairnfs/cairn/vfs"
)

func newPosix(t testing.TB) vfs.Translator {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("storage/posix needs root (trusted.* xattrs)")
	}
	p, err := posix.New(posix.Config{Directory: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return locks.New(p)
}

func newMemLocks(testing.TB) vfs.Translator { return memvfs.New() }

var stacks = []struct {
	name string
	new  func(testing.TB) vfs.Translator
}{
	{"memvfs", newMemLocks},
	{"locks-posix", newPosix},
}

func forStacks(t *testing.T, fn func(t *testing.T, fs vfs.Translator)) {
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) { fn(t, s.new(t)) })
	}
}

type testServer struct {
	t    testing.TB
	srv  *Server
	addr string
	cfg  Config
}

// startServer serves fs. The volume root is made world-writable because
// p9's client attaches without a user (as the anonymous user).
func startServer(t testing.TB, fs vfs.Translator, mutate func(*Config)) *testServer {
	t.Helper()
	if _, e := fs.SetAttr(context.Background(), vfs.RootGFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o777}); e != 0 {
		t.Fatal(e)
	}
	cfg := Config{Exports: []Export{{Name: "vol", FS: fs}}}
	if mutate != nil {
		mutate(&cfg)
	}
	ts := &testServer{t: t, cfg: cfg}
	ts.start("127.0.0.1:0")
	t.Cleanup(func() { ts.srv.Close() })
	return ts
}

func (ts *testServer) start(addr string) {
	srv, err := New(ts.cfg)
	if err != nil {
		ts.t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.srv, ts.addr = srv, l.Addr().String()
	go srv.Serve(l)
}

func (ts *testServer) restart() {
	ts.srv.Close()
	ts.start(ts.addr)
}

// attach connects with the p9 client and attaches aname.
func attach(t testing.TB, addr, aname string) (*p9.Client, p9.File) {
	t.Helper()
	return attachSize(t, addr, aname, DefaultMaxMessageSize)
}

// attachSize is attach with msize: p9's client keeps the msize it asks
// for whatever the server answers, so it must not ask for more than the
// server's MaxMessageSize.
func attachSize(t testing.TB, addr, aname string, msize uint32) (*p9.Client, p9.File) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := p9.NewClient(c, p9.WithMessageSize(msize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	root, err := cl.Attach(aname)
	if err != nil {
		t.Fatalf("attach %q: %v", aname, err)
	}
	return cl, root
}

func walk(t testing.TB, dir p9.File, names ...string) p9.File {
	t.Helper()
	_, f, err := dir.Walk(names)
	if err != nil {
		t.Fatalf("walk %v: %v", names, err)
	}
	return f
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func listAll(t testing.TB, dir p9.File, count uint32, between func()) []string {
	t.Helper()
	d := walk(t, dir)
	defer d.Close()
	_, _, err := d.Open(p9.ReadOnly)
	must(t, "open dir", err)
	var out []string
	off := uint64(0)
	for {
		ents, err := d.Readdir(off, count)
		if err != nil && err != io.EOF {
			t.Fatalf("readdir at %d: %v", off, err)
		}
		if len(ents) == 0 {
			return out
		}
		for _, e := range ents {
			if e.Name != "." && e.Name != ".." {
				out = append(out, e.Name)
			}
			off = e.Offset
		}
		if between != nil {
			between()
		}
	}
}

// TestOperations runs the common operations through the p9 client.
func TestOperations(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		for _, aname := range []string{"vol", "", "/vol"} {
			_, root := attach(t, ts.addr, aname)
			q, _, a, err := root.GetAttr(p9.AttrMaskAll)
			must(t, "getattr root", err)
			if q.Path+2 != vfs.RootGFID.Ino() || !a.Mode.IsDir() {
				t.Fatalf("attach %q: root qid %v mode %v", aname, q, a.Mode)
			}
		}
		_, root := attach(t, ts.addr, "vol")
		dir := walk(t, root)
		f, _, _, err := dir.Create("a", p9.ReadWrite, 0o644, p9.NoUID, 0)
		must(t, "create", err)
		data := bytes.Repeat([]byte("ninep!"), 300000) // 1.8 MB
		if n, err := f.WriteAt(data, 0); err != nil || n != len(data) {
			t.Fatalf("write %d %v", n, err)
		}
		must(t, "fsync", f.FSync())
		got := make([]byte, len(data)+10)
		n, err := f.ReadAt(got, 0)
		if (err != nil && err != io.EOF) || !bytes.Equal(got[:n], data) {
			t.Fatalf("read back %d bytes: %v", n, err)
		}
		must(t, "close", f.Close())
		_, err = root.Mkdir("d", 0o755, p9.NoUID, 0)
		must(t, "mkdir", err)
		d := walk(t, root, "d")
		must(t, "renameat", root.RenameAt("a", d, "b"))
		b := walk(t, d, "b")
		must(t, "link", d.Link(b, "hard"))
		_, _, attr, err := b.GetAttr(p9.AttrMaskAll)
		must(t, "getattr", err)
		if attr.NLink != 2 || attr.Size != uint64(len(data)) {
			t.Fatalf("nlink %d size %d", attr.NLink, attr.Size)
		}
		_, err = d.Symlink("b", "sym", p9.NoUID, 0)
		must(t, "symlink", err)
		if target, err := walk(t, d, "sym").Readlink(); err != nil || target != "b" {
			t.Fatalf("readlink %q %v", target, err)
		}
		must(t, "chmod+truncate+utimes", b.SetAttr(
			p9.SetAttrMask{Permissions: true, Size: true, ATime: true, MTime: true, ATimeNotSystemTime: true, MTimeNotSystemTime: true},
			p9.SetAttr{Permissions: 0o600, Size: 5, ATimeSeconds: 1000, MTimeSeconds: 2000, MTimeNanoSeconds: 7}))
		_, _, attr, _ = b.GetAttr(p9.AttrMaskAll)
		if attr.Mode.Permissions() != 0o600 || attr.Size != 5 || attr.ATimeSeconds != 1000 || attr.MTimeSeconds != 2000 || attr.MTimeNanoSeconds != 7 {
			t.Fatalf("after setattr: %v", attr)
		}
		if got := listAll(t, d, 4096, nil); fmt.Sprint(sortedCopy(got)) != "[b hard sym]" {
			t.Fatalf("d holds %v", got)
		}
		st, err := root.StatFS()
		must(t, "statfs", err)
		if st.Blocks == 0 || st.NameLength == 0 {
			t.Fatalf("statfs %+v", st)
		}
		for _, n := range []string{"b", "hard", "sym"} {
			must(t, "unlinkat "+n, d.UnlinkAt(n, 0))
		}
		must(t, "rmdir", root.UnlinkAt("d", atRemoveDir))
		if got := listAll(t, root, 4096, nil); len(got) != 0 {
			t.Fatalf("root holds %v", got)
		}
	})
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// TestQIDsStable: QID paths are the GFIDs' inode numbers, the same after
// a restart.
func TestQIDsStable(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		_, root := attach(t, ts.addr, "vol")
		_, q1, _, err := walk(t, root).Create("f", p9.WriteOnly, 0o644, p9.NoUID, 0)
		must(t, "create", err)
		a, e := fs.Lookup(t.Context(), vfs.RootGFID, "f")
		if e != 0 {
			t.Fatal(e)
		}
		if q1.Path+2 != a.GFID.Ino() {
			t.Fatalf("qid path %x, gfid ino %x", q1.Path, a.GFID.Ino())
		}
		ts.restart()
		_, root = attach(t, ts.addr, "vol")
		qids, _, err := root.Walk([]string{"f"})
		must(t, "walk", err)
		if qids[0].Path != q1.Path {
			t.Fatal("qid path changed across restart")
		}
	})
}

// TestLargeDirectory lists 10,000 entries in small pages, and again while
// removing entries between pages.
func TestLargeDirectory(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		n := 10000
		if _, ok := fs.(*memvfs.FS); !ok {
			n = 2500
		}
		ctx := t.Context()
		d, e := fs.Mkdir(ctx, vfs.RootGFID, "big", &vfs.CreateIn{Mode: 0o777})
		if e != 0 {
			t.Fatal(e)
		}
		for i := 0; i < n; i++ {
			if _, e := fs.Mknod(ctx, d.GFID, fmt.Sprintf("file-%05d", i), &vfs.CreateIn{Mode: syscall.S_IFREG | 0o644}); e != 0 {
				t.Fatal(e)
			}
		}
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		_, root := attach(t, ts.addr, "vol")
		big := walk(t, root, "big")
		got := listAll(t, big, 2048, nil)
		if len(got) != n || len(dedup(got)) != n {
			t.Fatalf("listed %d (%d distinct), want %d", len(got), len(dedup(got)), n)
		}
		removed := 0
		got = listAll(t, big, 4096, func() {
			for i := 0; i < 20 && removed < n; i++ {
				must(t, "unlink", big.UnlinkAt(fmt.Sprintf("file-%05d", n-1-removed), 0))
				removed++
			}
		})
		if len(dedup(got)) != len(got) || len(got) < n-removed {
			t.Fatalf("listing during removal: %d names (%d distinct), %d remain", len(got), len(dedup(got)), n-removed)
		}
	})
}

func dedup(s []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return m
}

// TestReadOnly: changes are EROFS.
func TestReadOnly(t *testing.T) {
	mem := memvfs.New()
	a, h, _ := mem.Create(t.Context(), vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o666})
	mem.Release(t.Context(), a.GFID, h)
	ts := startServer(t, mem, func(c *Config) { c.Exports[0].ReadOnly = true; c.NoRootSquash = true })
	_, root := attach(t, ts.addr, "vol")
	if _, _, _, err := walk(t, root).Create("g", p9.WriteOnly, 0o644, p9.NoUID, 0); err != syscall.EROFS && fmt.Sprint(err) != syscall.EROFS.Error() {
		t.Fatalf("create: %v", err)
	}
	f := walk(t, root, "f")
	if _, _, err := f.Open(p9.WriteOnly); err == nil {
		t.Fatal("open for writing succeeded")
	}
	if err := root.UnlinkAt("f", 0); err == nil {
		t.Fatal("unlink succeeded")
	}
	if err := f.SetAttr(p9.SetAttrMask{Permissions: true}, p9.SetAttr{Permissions: 0o600}); err == nil {
		t.Fatal("setattr succeeded")
	}
	g := walk(t, root, "f")
	_, _, err := g.Open(p9.ReadOnly)
	must(t, "open for reading", err)
}

// TestBadInput: unknown attach names, names with "/" or "..", huge
// counts and offsets are errors, not crashes.
func TestBadInput(t *testing.T) {
	ts := startServer(t, memvfs.New(), func(c *Config) { c.NoRootSquash = true })
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := p9.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Attach("nope"); err == nil {
		t.Fatal("attach of unknown export succeeded")
	}
	root, err := cl.Attach("vol")
	must(t, "attach", err)
	for _, n := range []string{"..", "a/b", ".", ""} {
		if _, _, err := root.Walk([]string{n}); err == nil {
			t.Fatalf("walk %q succeeded", n)
		}
		if _, err := root.Mkdir(n, 0o755, p9.NoUID, 0); err == nil {
			t.Fatalf("mkdir %q succeeded", n)
		}
	}
	f, _, _, err := walk(t, root).Create("f", p9.ReadWrite, 0o644, p9.NoUID, 0)
	must(t, "create", err)
	buf := make([]byte, 10)
	if n, err := f.ReadAt(buf, 1<<62); n != 0 || (err != nil && err != io.EOF) {
		t.Fatalf("read at 2^62: %d %v", n, err)
	}
	if _, err := f.WriteAt([]byte("x"), 1<<62); err == nil {
		t.Fatal("write at 2^62 succeeded")
	}
	if _, err := f.Lock(1, p9.WriteLock, 0, 1<<63, 1<<63+5, "c"); err == nil {
		t.Fatal("lock with overflowing range succeeded")
	}
	d := walk(t, root)
	d.Open(p9.ReadOnly)
	if _, err := d.Readdir(^uint64(0), 1<<30); err != nil && err != io.EOF {
		t.Logf("readdir at max offset: %v", err)
	}
	// the connection still works
	if _, _, _, err := root.GetAttr(p9.AttrMaskAll); err != nil {
		t.Fatal(err)
	}
}

// TestLocks: POSIX locks map to the volume's; a conflicting request is
// "blocked", a blocking one waits on the server, and a client's locks go
// when it disconnects.
func TestLocks(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true; c.LockWait = 300 * time.Millisecond })
		open := func() *raw9p {
			r := dialRaw9p(t, ts.addr)
			must(t, "attach", r.attach(1, "root", "vol", 0))
			if err := r.walk(1, 2, "f"); err != nil {
				must(t, "walk", r.walk(1, 2))
				must(t, "lcreate", r.lcreate(2, "f", syscall.O_RDWR, 0o644, 0))
			} else {
				must(t, "lopen", r.lopen(2, syscall.O_RDWR))
			}
			return r
		}
		const (
			rd, wr, un  = 0, 1, 2
			ok, blocked = 0, 1
			block       = 1
		)
		c1, c2 := open(), open()
		if st, err := c1.lock(2, wr, 0, 0, 0, 100, "host1"); err != nil || st != ok {
			t.Fatalf("lock: %d %v", st, err)
		}
		if st, err := c2.lock(2, wr, 0, 0, 10, 200, "host2"); err != nil || st != blocked {
			t.Fatalf("conflicting lock: %d %v", st, err)
		}
		start := time.Now()
		if st, err := c2.lock(2, rd, block, 0, 10, 200, "host2"); err != nil || st != blocked {
			t.Fatalf("blocking conflicting lock: %d %v", st, err)
		}
		if time.Since(start) < 250*time.Millisecond {
			t.Fatal("blocking lock did not wait on the server")
		}
		// the same owner may relock; a different range of another owner is free
		if st, _ := c1.lock(2, rd, 0, 0, 0, 100, "host1"); st != ok {
			t.Fatalf("relock by owner: %d", st)
		}
		if st, _ := c1.lock(2, un, 0, 0, 0, 100, "host1"); st != ok {
			t.Fatalf("unlock: %d", st)
		}
		if st, _ := c2.lock(2, wr, 0, 0, 10, 200, "host2"); st != ok {
			t.Fatalf("lock after unlock: %d", st)
		}
		c3 := open()
		if st, _ := c3.lock(2, wr, 0, 5, 1, 300, "host3"); st != blocked {
			t.Fatalf("lock while client 2 holds it: %d", st)
		}
		if st, _ := c3.lock(2, wr, 0, 10, 0, 300, "host3"); st != ok {
			t.Fatalf("lock beyond client 2's range: %d", st)
		}
		c2.c.Close() // client 2 disconnects: its lock goes away
		deadline := time.Now().Add(5 * time.Second)
		for {
			if st, _ := c3.lock(2, wr, 0, 0, 10, 300, "host3"); st == ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("lock of a disconnected client was not released")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestIdentity: files and directories are created as the attaching uid
// with the gid each request names; root is squashed unless configured.
func TestIdentity(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		check := func(ts *testServer, uid, gid, wantUID, wantGID uint32, name string) {
			t.Helper()
			r := dialRaw9p(t, ts.addr)
			must(t, "attach", r.attach(1, "", "vol", uid))
			must(t, "walk", r.walk(1, 2))
			must(t, "lcreate", r.lcreate(2, name, syscall.O_WRONLY, 0o640, gid))
			if u, g, m := r.owner(2); u != wantUID || g != wantGID || m&0o777 != 0o640 {
				t.Fatalf("uid %d gid %d created %s as %d:%d mode %o, want %d:%d", uid, gid, name, u, g, m, wantUID, wantGID)
			}
			must(t, "mkdir", r.mkdir(1, name+".d", 0o750, gid))
			must(t, "walk", r.walk(1, 3, name+".d"))
			if u, g, _ := r.owner(3); u != wantUID || g != wantGID {
				t.Fatalf("mkdir as %d:%d gave %d:%d", uid, gid, u, g)
			}
		}
		squash := startServer(t, fs, nil)
		check(squash, 1000, 1000, 1000, 1000, "u1000")
		check(squash, 1000, 50, 1000, 50, "u1000g50")
		check(squash, 0, 0, 65534, 65534, "squashed")
		plain := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		check(plain, 0, 0, 0, 0, "root")
		// another user may not write into 1000's 0750 directory
		r := dialRaw9p(t, squash.addr)
		must(t, "attach", r.attach(1, "", "vol", 1001))
		must(t, "walk", r.walk(1, 2, "u1000.d"))
		if err := r.lcreate(2, "x", syscall.O_WRONLY, 0o644, 1001); err != syscall.EACCES {
			t.Fatalf("create in another user's directory: %v", err)
		}
		// a user name without a uid (9P2000.u style) that the host knows
		r = dialRaw9p(t, plain.addr)
		must(t, "attach by name", r.attach(1, "root", "vol", ^uint32(0)))
		must(t, "walk", r.walk(1, 2))
		must(t, "lcreate", r.lcreate(2, "byname", syscall.O_WRONLY, 0o644, 0))
		if u, _, _ := r.owner(2); u != 0 {
			t.Fatalf("attach as \"root\" created as %d", u)
		}
	})
}

// TestXattrs: get, set (create/replace), list and remove.
func TestXattrs(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		r := dialRaw9p(t, ts.addr)
		must(t, "attach", r.attach(1, "", "vol", 0))
		must(t, "walk", r.walk(1, 2))
		must(t, "lcreate", r.lcreate(2, "f", syscall.O_RDWR, 0o644, 0))
		must(t, "setxattr", r.setxattr(2, 9, "user.k", []byte("value"), 0))
		if v, err := r.getxattr(2, 9, "user.k"); err != nil || string(v) != "value" {
			t.Fatalf("getxattr %q %v", v, err)
		}
		if err := r.setxattr(2, 9, "user.k", []byte("x"), uint32(vfs.XattrCreate)); err == nil {
			t.Fatal("XATTR_CREATE of an existing xattr succeeded")
		}
		list, err := r.getxattr(2, 9, "")
		must(t, "listxattr", err)
		if !bytes.Contains(list, []byte("user.k\x00")) {
			t.Fatalf("listxattr %q", list)
		}
		must(t, "removexattr", r.setxattr(2, 9, "user.k", nil, uint32(vfs.XattrReplace)))
		if _, err := r.getxattr(2, 9, "user.k"); err == nil {
			t.Fatal("removed xattr still there")
		}
	})
}

// TestMessageSizeCapped: a client asking for a larger msize than
// Config.MaxMessageSize gets MaxMessageSize (default 1 MiB), one asking
// for less keeps its own, and I/O larger than a message still works.
func TestMessageSizeCapped(t *testing.T) {
	version := func(t *testing.T, addr string, asked uint32) uint32 {
		t.Helper()
		r := dialRaw9p(t, addr) // its own Tversion asks 1 MiB
		b := &enc{}
		b.u32(asked)
		b.str("9P2000.L")
		d, err := r.rpcTag(100, 0xffff, b.b)
		if err != nil {
			t.Fatalf("version: %v", err)
		}
		return d.u32()
	}
	def := startServer(t, memvfs.New(), nil)
	for _, c := range []struct{ asked, want uint32 }{
		{4 << 20, DefaultMaxMessageSize},
		{DefaultMaxMessageSize, DefaultMaxMessageSize},
		{256 << 10, 256 << 10},
		{16 << 10, 16 << 10},
	} {
		if got := version(t, def.addr, c.asked); got != c.want {
			t.Errorf("default server, msize %d asked: got %d, want %d", c.asked, got, c.want)
		}
	}
	small := startServer(t, memvfs.New(), func(c *Config) { c.MaxMessageSize = 64 << 10 })
	if got := version(t, small.addr, 1<<20); got != 64<<10 {
		t.Errorf("64 KiB server: got msize %d", got)
	}
	_, root := attachSize(t, small.addr, "vol", 64<<10)
	f, _, _, err := walk(t, root).Create("big", p9.ReadWrite, 0o644, p9.NoUID, 0)
	must(t, "create", err)
	data := make([]byte, 1<<20+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if n, err := f.WriteAt(data, 0); err != nil || n != len(data) {
		t.Fatalf("write: %d %v", n, err)
	}
	got := make([]byte, len(data))
	if n, err := f.ReadAt(got, 0); (err != nil && err != io.EOF) || n != len(data) || !bytes.Equal(got, data) {
		t.Fatalf("read back: %d %v, equal %v", n, err, bytes.Equal(got, data))
	}
	for _, bad := range []uint32{100, MinMessageSize - 1, MaxMessageSizeLimit + 1} {
		if _, err := New(Config{Exports: []Export{{Name: "vol", FS: memvfs.New()}}, MaxMessageSize: bad}); err == nil {
			t.Errorf("New accepted MaxMessageSize %d", bad)
		}
	}
}

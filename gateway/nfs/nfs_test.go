package nfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/brick/posix"
	"github.com/cairnfs/cairn/gateway/internal/memvfs"
	"github.com/cairnfs/cairn/vfs"
)

// newPosix returns a locks→posix brick stack over a temporary directory
// (needs root for trusted.* xattrs).
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

// stacks are the volumes the protocol tests run over.
var stacks = []struct {
	name string
	new  func(testing.TB) vfs.Translator
}{
	{"memvfs", func(testing.TB) vfs.Translator { return newMem() }},
	{"locks-posix", newPosix},
}

func forStacks(t *testing.T, fn func(t *testing.T, fs vfs.Translator)) {
	for _, s := range stacks {
		t.Run(s.name, func(t *testing.T) { fn(t, s.new(t)) })
	}
}

// goClient mounts the export with go-nfs-client as uid 0.
func goClient(t *testing.T, addr string) *nfsc.Target {
	t.Helper()
	// go-nfs-client binds a random local port of its own, which another
	// test may hold at that moment (EADDRINUSE): pick again, as it does
	// itself for privileged ports.
	c, err := rpc.DialTCP("tcp", addr, false)
	for attempt := 0; err != nil && errors.Is(err, syscall.EADDRINUSE) && attempt < 5; attempt++ {
		c, err = rpc.DialTCP("tcp", addr, false)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	m := &nfsc.Mount{Client: c}
	tg, err := m.Mount("/vol", rpc.NewAuthUnix("test", 0, 0).Auth())
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func writeFile(t *testing.T, tg *nfsc.Target, name string, data []byte) {
	t.Helper()
	f, err := tg.OpenFile(name, 0o644)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", name, err)
	}
}

func readFile(t *testing.T, tg *nfsc.Target, name string) []byte {
	t.Helper()
	f, err := tg.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	var out []byte
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil || n == 0 {
			break
		}
	}
	return out
}

func names(t *testing.T, tg *nfsc.Target, dir string) []string {
	t.Helper()
	ents, err := tg.ReadDirPlus(dir)
	if err != nil {
		t.Fatalf("readdirplus %s: %v", dir, err)
	}
	var out []string
	for _, e := range ents {
		if e.Name() != "." && e.Name() != ".." {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// TestGoClientOperations drives the common operations with the pure-Go
// client: create, write, read, readdir, mkdir, rename, symlink, setattr,
// remove.
func TestGoClientOperations(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		tg := goClient(t, ts.addr)
		data := bytes.Repeat([]byte("0123456789abcdef"), 200000) // 3.2 MB, several WRITEs
		writeFile(t, tg, "big", data)
		if got := readFile(t, tg, "big"); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, want %d", len(got), len(data))
		}
		if _, err := tg.Mkdir("dir", 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, tg, "dir/a", []byte("a"))
		if err := tg.Rename("big", "dir/big"); err != nil {
			t.Fatal(err)
		}
		if err := tg.Rename("dir", "dir2"); err != nil {
			t.Fatal(err)
		}
		if got := names(t, tg, "dir2"); fmt.Sprint(got) != "[a big]" {
			t.Fatalf("dir2 holds %v", got)
		}
		if err := tg.Symlink("a", "dir2/link"); err != nil {
			t.Fatal(err)
		}
		f, err := tg.Open("dir2/link")
		if err != nil {
			t.Fatal(err)
		}
		if target, err := f.Readlink(); err != nil || target != "a" {
			t.Fatalf("readlink %q %v", target, err)
		}
		if err := tg.Setattr("dir2/a", nfsc.Sattr3{Mode: nfsc.SetMode{SetIt: true, Mode: 0o600},
			Size: nfsc.SetSize{SetIt: true, Size: 0}}); err != nil {
			t.Fatal(err)
		}
		fi, _, err := tg.Lookup("dir2/a")
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 || fi.Size() != 0 {
			t.Fatalf("after setattr: %v size %d", fi.Mode(), fi.Size())
		}
		if err := tg.Remove("dir2/link"); err != nil {
			t.Fatal(err)
		}
		if err := tg.RemoveAll("dir2"); err != nil {
			t.Fatal(err)
		}
		if got := names(t, tg, "/"); len(got) != 0 {
			t.Fatalf("root still holds %v", got)
		}
	})
}

// TestHandlesSurviveRestart: handles handed out by one server instance
// work on a restarted one and on a second, independent server of the same
// volume, with no state carried over.
func TestHandlesSurviveRestart(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		rc := dialRaw(t, ts.addr)
		root := rc.mount("/vol")
		st, dir := rc.mkdir(root, "d", 0o755)
		mustOK(t, "mkdir", st)
		st, file := rc.create(dir, "f", 0o644)
		mustOK(t, "create", st)
		st, _, _ = rc.write(file, 0, []byte("persist"), fileSync)
		mustOK(t, "write", st)

		ts.restart()
		rc = dialRaw(t, ts.addr)
		for _, h := range [][]byte{root, dir, file} {
			st, _ := rc.getattr(h)
			mustOK(t, "getattr after restart", st)
		}
		st, data, _ := rc.read(file, 0, 100)
		mustOK(t, "read after restart", st)
		if string(data) != "persist" {
			t.Fatalf("read %q", data)
		}
		// a second gateway of the same volume
		other := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		rc2 := dialRaw(t, other.addr)
		st, fh := rc2.lookup(dir, "f")
		mustOK(t, "lookup on second gateway", st)
		if !bytes.Equal(fh, file) {
			t.Fatal("second gateway hands out a different handle")
		}
		// renaming the directory changes no handle
		st, _ = rc.call(procRename, args(root, "d", root, "e"))
		mustOK(t, "rename", st)
		st, _, _ = rc2.read(file, 0, 10)
		mustOK(t, "read after rename", st)
	})
}

// TestStaleAfterDelete: a removed file's handle is NFS3ERR_STALE for every
// procedure that takes it.
func TestStaleAfterDelete(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		rc := dialRaw(t, ts.addr)
		root := rc.mount("/vol")
		st, file := rc.create(root, "f", 0o644)
		mustOK(t, "create", st)
		st, _, _ = rc.write(file, 0, []byte("x"), unstable)
		mustOK(t, "write", st)
		st, dir := rc.mkdir(root, "d", 0o755)
		mustOK(t, "mkdir", st)
		mustOK(t, "remove", rc.remove(root, "f"))
		st, _ = rc.call(procRmdir, args(root, "d"))
		mustOK(t, "rmdir", st)

		st, _ = rc.getattr(file)
		wantStatus(t, "getattr", st, nfsErrStale)
		st, _, _ = rc.read(file, 0, 1)
		wantStatus(t, "read", st, nfsErrStale)
		st, _, _ = rc.write(file, 0, []byte("y"), fileSync)
		wantStatus(t, "write", st, nfsErrStale)
		st, _ = rc.call(procSetattr, args(file, sattrArgs{mode: u32p(0o600)}.enc(), false))
		wantStatus(t, "setattr", st, nfsErrStale)
		st, _ = rc.lookup(dir, "x")
		wantStatus(t, "lookup in removed dir", st, nfsErrStale)
		st, _ = rc.create(dir, "x", 0o644)
		wantStatus(t, "create in removed dir", st, nfsErrStale)
		st, _ = rc.call(procReaddirplus, args(dir, uint64(0), uint64(0), uint32(4096), uint32(32768)))
		wantStatus(t, "readdirplus of removed dir", st, nfsErrStale)
	})
}

// TestBadHandles: malformed handles and handles of another volume are
// protocol errors.
func TestBadHandles(t *testing.T) {
	ts := startServer(t, newMem(), nil)
	rc := dialRaw(t, ts.addr)
	root := rc.mount("/vol")
	other := EncodeHandle(VolumeIDOf("other"), vfs.RootGFID)
	cases := map[string][]byte{
		"empty":       {},
		"short":       root[:20],
		"long":        append(append([]byte{}, root...), 0, 0, 0, 0),
		"version":     append([]byte{9}, root[1:]...),
		"reserved":    append([]byte{1, 1}, root[2:]...),
		"zero gfid":   EncodeHandle(VolumeIDOf("vol"), vfs.GFID{}),
		"max size":    bytes.Repeat([]byte{1}, 64),
		"other vol":   other,
		"unknown gid": EncodeHandle(VolumeIDOf("vol"), vfs.NewGFID()),
	}
	for name, h := range cases {
		st, _ := rc.getattr(h)
		want := uint32(nfsErrBadHdl)
		if name == "other vol" || name == "unknown gid" {
			want = nfsErrStale
		}
		wantStatus(t, name, st, want)
		st, _ = rc.lookup(h, "x")
		wantStatus(t, name+" lookup", st, want)
	}
	// A handle longer than NFS3_FHSIZE is undecodable arguments.
	rep := rc.callRaw(progNFS, 3, procGetattr, args(bytes.Repeat([]byte{1}, 65)))
	if rep.stat != acceptGarbageArgs {
		t.Fatalf("65-byte handle: accept stat %d", rep.stat)
	}
	// names with "/" and ".." are refused
	for _, name := range []string{"a/b", "..", "", string(bytes.Repeat([]byte("n"), 256))} {
		st, _ := rc.create(root, name, 0o644)
		if st == nfsOK {
			t.Fatalf("create %q succeeded", name)
		}
	}
}

// TestHardLink: LINK3 is decoded correctly (go-nfs gets it wrong).
func TestHardLink(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		rc := dialRaw(t, ts.addr)
		root := rc.mount("/vol")
		st, file := rc.create(root, "f", 0o644)
		mustOK(t, "create", st)
		st, dir := rc.mkdir(root, "d", 0o755)
		mustOK(t, "mkdir", st)
		st, r := rc.call(procLink, args(file, dir, "hard"))
		mustOK(t, "link", st)
		a := readPostOp(r)
		if a == nil || a.nlink != 2 {
			t.Fatalf("link attrs %+v", a)
		}
		st, h := rc.lookup(dir, "hard")
		mustOK(t, "lookup link", st)
		if !bytes.Equal(h, file) {
			t.Fatal("link has another handle")
		}
		st, _ = rc.call(procLink, args(file, dir, "hard"))
		wantStatus(t, "link exists", st, nfsErrExist)
		st, _ = rc.call(procLink, args(dir, root, "dirlink"))
		if st == nfsOK {
			t.Fatal("hard link to a directory succeeded")
		}
	})
}

// TestAttributes: setuid/setgid/sticky survive SETATTR, atime and ctime are
// the volume's own, and times can be set.
func TestAttributes(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		rc := dialRaw(t, ts.addr)
		root := rc.mount("/vol")
		st, file := rc.create(root, "f", 0o755)
		mustOK(t, "create", st)
		st, _ = rc.call(procSetattr, args(file, sattrArgs{mode: u32p(0o4755)}.enc(), false))
		mustOK(t, "chmod u+s", st)
		_, a := rc.getattr(file)
		if a.mode != 0o4755 {
			t.Fatalf("mode %o, want 4755", a.mode)
		}
		st, _ = rc.call(procSetattr, args(file, sattrArgs{mode: u32p(0o2750)}.enc(), false))
		mustOK(t, "chmod g+s", st)
		_, a = rc.getattr(file)
		if a.mode != 0o2750 {
			t.Fatalf("mode %o, want 2750", a.mode)
		}
		st, r := rc.call(procMkdir, args(root, "tmp", sattrArgs{mode: u32p(0o1777)}.enc()))
		mustOK(t, "mkdir 1777", st)
		r.bool()
		dir := r.opaque(64)
		_, da := rc.getattr(dir)
		if da.mode != 0o1777 {
			t.Fatalf("sticky dir mode %o", da.mode)
		}
		at := vfs.Timespec{Sec: 1000000000, Nsec: 123456789}
		mt := vfs.Timespec{Sec: 1500000000, Nsec: 987654321}
		st, _ = rc.call(procSetattr, args(file, sattrArgs{atime: &at, mtime: &mt}.enc(), false))
		mustOK(t, "utimes", st)
		_, a = rc.getattr(file)
		if a.atime != at || a.mtime != mt {
			t.Fatalf("times %v %v, want %v %v", a.atime, a.mtime, at, mt)
		}
		if a.ctime == a.mtime || a.ctime.Sec < time.Now().Unix()-60 {
			t.Fatalf("ctime %v is not the change time", a.ctime)
		}
		// the guard compares the real ctime
		st, r = rc.call(procSetattr, args(file, sattrArgs{mode: u32p(0o644)}.enc(), true, uint32(a.mtime.Sec), uint32(a.mtime.Nsec)))
		wantStatus(t, "guard on mtime", st, nfsErrNotSync)
		st, _ = rc.call(procSetattr, args(file, sattrArgs{mode: u32p(0o644)}.enc(), true, uint32(a.ctime.Sec), uint32(a.ctime.Nsec)))
		mustOK(t, "guard on ctime", st)
		if a.fileid != vfs.GFID(mustGFID(t, file)).Ino() {
			t.Fatal("fileid is not derived from the GFID")
		}
	})
}

func mustGFID(t *testing.T, h []byte) vfs.GFID {
	_, g, err := DecodeHandle(h)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestWriteStability: UNSTABLE writes are synced by COMMIT, FILE_SYNC and
// DATA_SYNC writes before the reply; the verifier is stable within a
// server and changes when it restarts.
func TestWriteStability(t *testing.T) {
	mem := newMem()
	ts := startServer(t, mem, func(c *Config) { c.NoRootSquash = true })
	rc := dialRaw(t, ts.addr)
	root := rc.mount("/vol")
	_, file := rc.create(root, "f", 0o644)
	g := mustGFID(t, file)
	st, committed, verf1 := rc.write(file, 0, []byte("abc"), unstable)
	mustOK(t, "unstable write", st)
	if committed != unstable || mem.Fsyncs(g) != 0 {
		t.Fatalf("unstable write: committed %d, fsyncs %d", committed, mem.Fsyncs(g))
	}
	st, r := rc.call(procCommit, args(file, uint64(0), uint32(0)))
	mustOK(t, "commit", st)
	skipWcc(r)
	if v := r.fixed(8); !bytes.Equal(v, verf1) {
		t.Fatal("commit verifier differs from write verifier")
	}
	if mem.Fsyncs(g) != 1 {
		t.Fatalf("commit: fsyncs %d", mem.Fsyncs(g))
	}
	st, committed, _ = rc.write(file, 3, []byte("def"), fileSync)
	mustOK(t, "file_sync write", st)
	if committed != fileSync || mem.Fsyncs(g) != 2 {
		t.Fatalf("file_sync write: committed %d, fsyncs %d", committed, mem.Fsyncs(g))
	}
	st, committed, _ = rc.write(file, 6, []byte("g"), dataSync)
	mustOK(t, "data_sync write", st)
	if committed != dataSync || mem.Fsyncs(g) != 3 {
		t.Fatalf("data_sync write: committed %d, fsyncs %d", committed, mem.Fsyncs(g))
	}
	ts.restart()
	rc = dialRaw(t, ts.addr)
	_, _, verf2 := rc.write(file, 0, []byte("x"), unstable)
	if bytes.Equal(verf1, verf2) {
		t.Fatal("write verifier survived a restart")
	}
	st, data, eof := rc.read(file, 0, 100)
	mustOK(t, "read", st)
	if string(data) != "xbcdefg" || !eof {
		t.Fatalf("read %q eof %v", data, eof)
	}
}

// getattrCounter counts the GetAttr calls that reach the volume.
type getattrCounter struct {
	vfs.Translator
	calls atomic.Int64
}

func (c *getattrCounter) GetAttr(ctx context.Context, g vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	c.calls.Add(1)
	return c.Translator.GetAttr(ctx, g, fh)
}

// TestWriteReplyAttributes: an UNSTABLE WRITE is answered without asking
// the volume for attributes (with write-behind below, that GETATTR would
// wait for the write to reach the bricks and serialise the client's
// pipelined WRITEs); synced writes carry post-op attributes with the new
// size.
func TestWriteReplyAttributes(t *testing.T) {
	vol := &getattrCounter{Translator: newMem()}
	ts := startServer(t, vol, func(c *Config) { c.NoRootSquash = true })
	rc := dialRaw(t, ts.addr)
	root := rc.mount("/vol")
	_, file := rc.create(root, "f", 0o644)
	write := func(off uint64, data string, stable uint32) *fattr {
		t.Helper()
		st, r := rc.call(procWrite, args(file, off, uint32(len(data)), stable, []byte(data)))
		mustOK(t, "write", st)
		if r.bool() {
			t.Fatal("WRITE reply carries pre-op attributes the gateway never fetched")
		}
		post := readPostOp(r)
		if n := r.u32(); n != uint32(len(data)) {
			t.Fatalf("wrote %d of %d bytes", n, len(data))
		}
		return post
	}
	before := vol.calls.Load()
	for i := range 8 {
		if post := write(uint64(i)*4, "abcd", unstable); post != nil {
			t.Fatalf("UNSTABLE write %d: post-op attributes %+v, want none", i, *post)
		}
	}
	if n := vol.calls.Load() - before; n != 0 {
		t.Fatalf("8 UNSTABLE writes made %d GetAttr calls on the volume, want 0", n)
	}
	post := write(32, "tail", fileSync)
	if post == nil || post.size != 36 {
		t.Fatalf("FILE_SYNC write: post-op attributes %+v, want size 36", post)
	}
	st, a := rc.getattr(file)
	mustOK(t, "getattr", st)
	if a.size != 36 {
		t.Fatalf("GETATTR after the writes: size %d, want 36", a.size)
	}
}

// readdirAll pages through a directory with READDIR or READDIRPLUS using
// small pages, calling between(page) after each page.
func readdirAll(t *testing.T, rc *rawClient, dir []byte, plus bool, count uint32, between func(int)) []string {
	t.Helper()
	var out []string
	cookie, verf := uint64(0), uint64(0)
	for page := 0; ; page++ {
		var st uint32
		var r *xdrReader
		if plus {
			st, r = rc.call(procReaddirplus, args(dir, cookie, verf, count/8, count))
		} else {
			st, r = rc.call(procReaddir, args(dir, cookie, verf, count))
		}
		mustOK(t, fmt.Sprintf("readdir page %d", page), st)
		readPostOp(r)
		verf = r.u64()
		n := 0
		for r.bool() {
			r.u64()
			name := r.string(256)
			cookie = r.u64()
			if plus {
				readPostOp(r)
				if r.bool() {
					r.opaque(64)
				}
			}
			if name != "." && name != ".." {
				out = append(out, name)
			}
			n++
		}
		eof := r.bool()
		if r.err != nil {
			t.Fatalf("page %d: undecodable", page)
		}
		if eof {
			return out
		}
		if n == 0 {
			t.Fatalf("page %d: no entries and no eof", page)
		}
		if between != nil {
			between(page)
		}
	}
}

// TestLargeDirectory pages a 10,000-entry directory with both READDIR and
// READDIRPLUS, then lists it while removing entries between pages (the
// rm -rf pattern) without BAD_COOKIE or duplicates.
func TestLargeDirectory(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		n := 10000
		if _, ok := fs.(*memvfs.FS); !ok {
			// Creating files on the brick's disk dominates; the paging
			// logic is the same, so a smaller directory suffices there.
			n = 2500
		}
		ctx := t.Context()
		d, e := fs.Mkdir(ctx, vfs.RootGFID, "big", &vfs.CreateIn{Mode: 0o755})
		if e != 0 {
			t.Fatal(e)
		}
		for i := 0; i < n; i++ {
			if _, e := fs.Mknod(ctx, d.GFID, fmt.Sprintf("file-%05d", i), &vfs.CreateIn{Mode: syscall.S_IFREG | 0o644}); e != 0 {
				t.Fatal(e)
			}
		}
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		rc := dialRaw(t, ts.addr)
		root := rc.mount("/vol")
		_, dir := rc.lookup(root, "big")
		check := func(got []string, want int) {
			t.Helper()
			seen := map[string]bool{}
			for _, s := range got {
				if seen[s] {
					t.Fatalf("%s listed twice", s)
				}
				seen[s] = true
			}
			if len(seen) != want {
				t.Fatalf("listed %d names, want %d", len(seen), want)
			}
		}
		check(readdirAll(t, rc, dir, false, 4096, nil), n)
		check(readdirAll(t, rc, dir, true, 16384, nil), n)
		// remove names between pages; everything not removed must be seen
		removed := 0
		got := readdirAll(t, rc, dir, true, 8192, func(page int) {
			for i := 0; i < 50 && removed < n; i++ {
				mustOK(t, "remove", rc.remove(dir, fmt.Sprintf("file-%05d", n-1-removed)))
				removed++
			}
		})
		if len(got) < n-removed {
			t.Fatalf("listing during removal saw %d names, %d remain", len(got), n-removed)
		}
		// the go client pages it too
		tg := goClient(t, ts.addr)
		if got := names(t, tg, "big"); len(got) != n-removed {
			t.Fatalf("go client listed %d names, want %d", len(got), n-removed)
		}
	})
}

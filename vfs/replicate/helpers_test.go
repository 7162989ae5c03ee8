package replicate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/brick/posix"
	"github.com/cairnfs/cairn/vfs"
)

// faulty is a brick stack (locks over posix) behind a switch: when down,
// every call fails with ENOTCONN and the brick forgets the locks of every
// client, as a brick does when connections drop.
type faulty struct {
	name  string
	dir   string
	posix *posix.Posix
	locks *locks.Locks
	child vfs.Translator

	down atomic.Bool
	// lateLocks counts lock calls that landed after the brick went down
	// (landed).
	lateLocks atomic.Int64
	// local is what the brick answers to vfs.LocalReader.
	local atomic.Bool
	mu    sync.Mutex
	seen  map[string]bool
	hook  func(ctx context.Context, op string) syscall.Errno
}

func newFaulty(t testing.TB, name string) *faulty {
	t.Helper()
	dir := brickDir(t)
	p, err := posix.New(posix.Config{Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	l := locks.New(p)
	return &faulty{name: name, dir: dir, posix: p, locks: l, child: l, seen: map[string]bool{}}
}

// brickDir returns an empty directory for a brick: on tmpfs when
// /dev/shm takes trusted xattrs (bricks there are several times faster
// than on this machine's disk, which keeps -race runs short), else under
// t.TempDir.
func brickDir(t testing.TB) string {
	t.Helper()
	if d, err := os.MkdirTemp("/dev/shm", "cairn-replicate-test-"); err == nil {
		if unix.Setxattr(d, "trusted.cairn.probe", []byte{1}, 0) == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
		os.RemoveAll(d)
	}
	return t.TempDir()
}

func (f *faulty) check(ctx context.Context, op string) syscall.Errno {
	c := vfs.CallerFrom(ctx).Client
	f.mu.Lock()
	f.seen[c] = true
	h := f.hook
	f.mu.Unlock()
	if f.down.Load() {
		return syscall.ENOTCONN
	}
	if h != nil {
		return h(ctx, op)
	}
	return 0
}

// setDown takes the brick away or brings it back.
func (f *faulty) setDown(d bool) {
	f.down.Store(d)
	if d {
		f.mu.Lock()
		clients := make([]string, 0, len(f.seen))
		for c := range f.seen {
			clients = append(clients, c)
		}
		f.mu.Unlock()
		for _, c := range clients {
			f.locks.ReleaseClient(c)
		}
	}
}

func (f *faulty) setHook(h func(ctx context.Context, op string) syscall.Errno) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

// lister adds the local DirtyLister to a brick; without it (the default
// in these tests, as over the network) replicate reads the index through
// the virtual xattr XattrIndexDirty.
type lister struct{ *faulty }

func (f lister) DirtyGFIDs() ([]vfs.GFID, error) {
	if f.down.Load() {
		return nil, syscall.ENOTCONN
	}
	return f.posix.DirtyGFIDs()
}

// logBuf collects log output for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type env struct {
	t      testing.TB
	bricks []*faulty
	kids   []vfs.Translator
	log    *logBuf
	r      *Replicate
	ctx    context.Context
}

// testConfig is DefaultConfig with short timers.
func testConfig() Config {
	c := DefaultConfig()
	c.PostOpDelay = 20 * time.Millisecond
	c.StateTTL = 50 * time.Millisecond
	return c
}

func newEnv(t testing.TB, n int, cfg Config) *env {
	t.Helper()
	e := &env{t: t, log: &logBuf{}}
	for i := range n {
		b := newFaulty(t, fmt.Sprintf("b%d", i))
		e.bricks = append(e.bricks, b)
		e.kids = append(e.kids, b)
	}
	e.ctx = vfs.WithCaller(context.Background(), &vfs.Caller{Client: "c1"})
	e.r = e.client(cfg)
	return e
}

// client makes another replicate over the same bricks (another mount).
func (e *env) client(cfg Config) *Replicate {
	e.t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(e.log, testWriter{e.t}), nil))
	}
	r, err := New(cfg, e.kids)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { r.Close() })
	return r
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Logf("%s", strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// down takes brick i away once this client's background post-ops are
// done (so the test controls exactly what the brick misses).
func (e *env) down(i int) {
	e.r.FlushTransactions(e.ctx)
	e.bricks[i].setDown(true)
}

func (e *env) must(what string, errno syscall.Errno) {
	e.t.Helper()
	if errno != 0 {
		e.t.Fatalf("%s: %v", what, errno)
	}
}

// writeFile creates (or truncates) name in parent with data.
func (e *env) writeFile(r *Replicate, parent vfs.GFID, name string, data []byte) vfs.GFID {
	e.t.Helper()
	a, fh, errno := r.Create(e.ctx, parent, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR | syscall.O_TRUNC})
	e.must("create "+name, errno)
	if len(data) > 0 {
		n, errno := r.Write(e.ctx, a.GFID, fh, data, 0)
		e.must("write "+name, errno)
		if n != len(data) {
			e.t.Fatalf("short write %d", n)
		}
	}
	e.must("release", r.Release(e.ctx, a.GFID, fh))
	return a.GFID
}

func (e *env) readAll(r *Replicate, g vfs.GFID) ([]byte, syscall.Errno) {
	fh, errno := r.Open(e.ctx, g, syscall.O_RDONLY)
	if errno != 0 {
		return nil, errno
	}
	defer r.Release(e.ctx, g, fh)
	var out []byte
	buf := make([]byte, 64<<10)
	for off := int64(0); ; {
		n, errno := r.Read(e.ctx, g, fh, buf, off)
		if errno != 0 {
			return out, errno
		}
		if n == 0 {
			return out, 0
		}
		out = append(out, buf[:n]...)
		off += int64(n)
	}
}

func (e *env) writeAt(r *Replicate, g vfs.GFID, data []byte, off int64) syscall.Errno {
	fh, errno := r.Open(e.ctx, g, syscall.O_RDWR)
	if errno != 0 {
		return errno
	}
	defer r.Release(e.ctx, g, fh)
	_, errno = r.Write(e.ctx, g, fh, data, off)
	return errno
}

// pending reads the changelog row M[i] of a path on brick i, keyed by
// child name (see DirtyKey for how it is stored).
func (e *env) pending(i int, rel string) map[string]counters {
	raw := e.rawChangelog(i, rel)
	out := map[string]counters{}
	for j := range e.bricks {
		name := fmt.Sprintf("client-%d", j)
		c := raw[DirtyKey]
		for k, v := range raw[PendingPrefix+name] {
			c[k] += v
		}
		if !c.zero() {
			out[name] = c
		}
	}
	return out
}

// rawChangelog reads the changelog xattrs of a path on brick i as stored.
func (e *env) rawChangelog(i int, rel string) map[string]counters {
	out := map[string]counters{}
	p := filepath.Join(e.bricks[i].dir, rel)
	sz, err := unix.Llistxattr(p, nil)
	if err != nil || sz == 0 {
		return out
	}
	buf := make([]byte, sz)
	sz, _ = unix.Llistxattr(p, buf)
	for _, n := range strings.Split(string(buf[:sz]), "\x00") {
		if !strings.HasPrefix(n, PendingPrefix) && n != DirtyKey {
			continue
		}
		v := make([]byte, 64)
		m, err := unix.Lgetxattr(p, n, v)
		if err == nil {
			out[n] = decodeCounters(v[:m])
		}
	}
	return out
}

// fileInfo is what the brick comparison looks at.
type fileInfo struct {
	mode  os.FileMode
	size  int64
	nlink uint64
	uid   uint32
	gid   uint32
	gfid  string
	data  string // content hash for files, target for symlinks
	xattr string
	dirty bool // non-zero pending counters
}

// snapshot describes an export directory, .cairn excluded.
func snapshot(t testing.TB, dir string) map[string]fileInfo {
	t.Helper()
	out := map[string]fileInfo{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == vfs.ReservedName {
			return filepath.SkipDir
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		fi := fileInfo{mode: os.FileMode(st.Mode), size: st.Size, nlink: st.Nlink, uid: st.Uid, gid: st.Gid}
		if d.IsDir() {
			fi.size, fi.nlink = 0, 0
		}
		g := make([]byte, 16)
		if n, err := unix.Lgetxattr(p, "trusted.cairn.gfid", g); err == nil {
			fi.gfid = fmt.Sprintf("%x", g[:n])
		}
		switch {
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi.data = fmt.Sprintf("%x", sha(b))
		case d.Type()&fs.ModeSymlink != 0:
			fi.data, _ = os.Readlink(p)
		}
		sz, _ := unix.Llistxattr(p, nil)
		if sz > 0 {
			buf := make([]byte, sz)
			sz, _ = unix.Llistxattr(p, buf)
			var xs []string
			for _, n := range strings.Split(string(buf[:sz]), "\x00") {
				if n == "" {
					continue
				}
				v := make([]byte, 65536)
				m, _ := unix.Lgetxattr(p, n, v)
				if strings.HasPrefix(n, PendingPrefix+"client-") || n == DirtyKey {
					if m > 0 && !decodeCounters(v[:m]).zero() {
						fi.dirty = true
					}
					continue
				}
				if n == "trusted.cairn.gfid" {
					continue
				}
				xs = append(xs, n+"="+string(v[:max(m, 0)]))
			}
			sort.Strings(xs)
			fi.xattr = strings.Join(xs, ",")
		}
		out[rel] = fi
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareBricks fails unless every brick's export holds the same tree,
// contents, modes, sizes, link counts, owners, xattrs and GFIDs, with no
// pending counters left.
// healIndexClean runs the heal daemon's pass, expects it to heal
// something and leave nothing pending, and compares the bricks.
func (e *env) healIndexClean() {
	e.t.Helper()
	st, err := e.r.HealIndex(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if st.Healed == 0 || st.Pending != 0 {
		e.t.Errorf("heal stats %+v", st)
	}
	e.compareBricks()
}

func (e *env) compareBricks() {
	e.t.Helper()
	e.r.FlushTransactions(e.ctx)
	ref := snapshot(e.t, e.bricks[0].dir)
	for i := 1; i < len(e.bricks); i++ {
		other := snapshot(e.t, e.bricks[i].dir)
		diffSnapshots(e.t, e.bricks[0].name, ref, e.bricks[i].name, other)
	}
	for i, b := range e.bricks {
		for p, fi := range snapshot(e.t, b.dir) {
			if fi.dirty {
				e.t.Errorf("%s: %s still has pending counters %v", b.name, p, e.pending(i, p))
			}
		}
	}
}

func diffSnapshots(t testing.TB, an string, a map[string]fileInfo, bn string, b map[string]fileInfo) {
	t.Helper()
	n := 0
	for p, fa := range a {
		fb, ok := b[p]
		if !ok {
			t.Errorf("%s has %s, %s does not", an, p, bn)
			n++
		} else {
			fa.dirty, fb.dirty = false, false
			if fa != fb {
				t.Errorf("%s differs: %s %+v, %s %+v", p, an, fa, bn, fb)
				n++
			}
		}
		if n > 20 {
			t.Fatal("too many differences")
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			t.Errorf("%s has %s, %s does not", bn, p, an)
		}
	}
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }

// Brick-level faults: every operation of the switch.
func (f *faulty) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	if e := f.check(ctx, "Lookup"); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.Lookup(ctx, parent, name)
}

func (f *faulty) GetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) (vfs.Attr, syscall.Errno) {
	if e := f.check(ctx, "GetAttr"); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.GetAttr(ctx, gfid, fh)
}

func (f *faulty) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	if e := f.check(ctx, "SetAttr"); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.SetAttr(ctx, gfid, fh, in)
}

func (f *faulty) Create(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, vfs.Handle, syscall.Errno) {
	if e := f.check(ctx, "Create"); e != 0 {
		return vfs.Attr{}, 0, e
	}
	return f.child.Create(ctx, parent, name, in)
}

func (f *faulty) Mknod(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	if e := f.check(ctx, "Mknod"); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.Mknod(ctx, parent, name, in)
}

func (f *faulty) Mkdir(ctx context.Context, parent vfs.GFID, name string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	if e := f.check(ctx, "Mkdir"); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.Mkdir(ctx, parent, name, in)
}

func (f *faulty) Symlink(ctx context.Context, parent vfs.GFID, name, target string, in *vfs.CreateIn) (vfs.Attr, syscall.Errno) {
	if e := f.check(ctx, "Symlink"); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.Symlink(ctx, parent, name, target, in)
}

func (f *faulty) Readlink(ctx context.Context, gfid vfs.GFID) (string, syscall.Errno) {
	if e := f.check(ctx, "Readlink"); e != 0 {
		return "", e
	}
	return f.child.Readlink(ctx, gfid)
}

func (f *faulty) Link(ctx context.Context, gfid vfs.GFID, newParent vfs.GFID, newName string) (vfs.Attr, syscall.Errno) {
	if e := f.check(ctx, "Link"); e != 0 {
		return vfs.Attr{}, e
	}
	return f.child.Link(ctx, gfid, newParent, newName)
}

func (f *faulty) Unlink(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	if e := f.check(ctx, "Unlink"); e != 0 {
		return e
	}
	return f.child.Unlink(ctx, parent, name)
}

func (f *faulty) Rmdir(ctx context.Context, parent vfs.GFID, name string) syscall.Errno {
	if e := f.check(ctx, "Rmdir"); e != 0 {
		return e
	}
	return f.child.Rmdir(ctx, parent, name)
}

func (f *faulty) Rename(ctx context.Context, oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) syscall.Errno {
	if e := f.check(ctx, "Rename"); e != 0 {
		return e
	}
	return f.child.Rename(ctx, oldParent, oldName, newParent, newName, flags)
}

func (f *faulty) Open(ctx context.Context, gfid vfs.GFID, flags uint32) (vfs.Handle, syscall.Errno) {
	if e := f.check(ctx, "Open"); e != 0 {
		return 0, e
	}
	return f.child.Open(ctx, gfid, flags)
}

func (f *faulty) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	if e := f.check(ctx, "Read"); e != 0 {
		return 0, e
	}
	return f.child.Read(ctx, gfid, fh, dest, off)
}

func (f *faulty) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	if e := f.check(ctx, "Write"); e != 0 {
		return 0, e
	}
	return f.child.Write(ctx, gfid, fh, data, off)
}

func (f *faulty) Flush(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	if e := f.check(ctx, "Flush"); e != 0 {
		return e
	}
	return f.child.Flush(ctx, gfid, fh)
}

func (f *faulty) Fsync(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	if e := f.check(ctx, "Fsync"); e != 0 {
		return e
	}
	return f.child.Fsync(ctx, gfid, fh, datasync)
}

func (f *faulty) Release(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	if e := f.check(ctx, "Release"); e != 0 {
		return e
	}
	return f.child.Release(ctx, gfid, fh)
}

func (f *faulty) Fallocate(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) syscall.Errno {
	if e := f.check(ctx, "Fallocate"); e != 0 {
		return e
	}
	return f.child.Fallocate(ctx, gfid, fh, mode, off, length)
}

func (f *faulty) Lseek(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, off int64, whence int) (int64, syscall.Errno) {
	if e := f.check(ctx, "Lseek"); e != 0 {
		return 0, e
	}
	return f.child.Lseek(ctx, gfid, fh, off, whence)
}

func (f *faulty) OpenDir(ctx context.Context, gfid vfs.GFID) (vfs.Handle, syscall.Errno) {
	if e := f.check(ctx, "OpenDir"); e != 0 {
		return 0, e
	}
	return f.child.OpenDir(ctx, gfid)
}

func (f *faulty) ReadDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, cookie uint64, max int, plus bool) ([]vfs.DirEntry, bool, syscall.Errno) {
	if e := f.check(ctx, "ReadDir"); e != 0 {
		return nil, false, e
	}
	return f.child.ReadDir(ctx, gfid, fh, cookie, max, plus)
}

func (f *faulty) ReleaseDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle) syscall.Errno {
	if e := f.check(ctx, "ReleaseDir"); e != 0 {
		return e
	}
	return f.child.ReleaseDir(ctx, gfid, fh)
}

func (f *faulty) FsyncDir(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, datasync bool) syscall.Errno {
	if e := f.check(ctx, "FsyncDir"); e != 0 {
		return e
	}
	return f.child.FsyncDir(ctx, gfid, fh, datasync)
}

func (f *faulty) StatFS(ctx context.Context, gfid vfs.GFID) (vfs.StatFS, syscall.Errno) {
	if e := f.check(ctx, "StatFS"); e != 0 {
		return vfs.StatFS{}, e
	}
	return f.child.StatFS(ctx, gfid)
}

func (f *faulty) GetXattr(ctx context.Context, gfid vfs.GFID, name string) ([]byte, syscall.Errno) {
	if e := f.check(ctx, "GetXattr"); e != 0 {
		return nil, e
	}
	return f.child.GetXattr(ctx, gfid, name)
}

func (f *faulty) SetXattr(ctx context.Context, gfid vfs.GFID, name string, value []byte, flags uint32) syscall.Errno {
	if e := f.check(ctx, "SetXattr"); e != 0 {
		return e
	}
	return f.child.SetXattr(ctx, gfid, name, value, flags)
}

func (f *faulty) ListXattr(ctx context.Context, gfid vfs.GFID) ([]string, syscall.Errno) {
	if e := f.check(ctx, "ListXattr"); e != 0 {
		return nil, e
	}
	return f.child.ListXattr(ctx, gfid)
}

func (f *faulty) RemoveXattr(ctx context.Context, gfid vfs.GFID, name string) syscall.Errno {
	if e := f.check(ctx, "RemoveXattr"); e != 0 {
		return e
	}
	return f.child.RemoveXattr(ctx, gfid, name)
}

func (f *faulty) XattrOp(ctx context.Context, gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) (map[string][]byte, syscall.Errno) {
	if e := f.check(ctx, "XattrOp"); e != 0 {
		return nil, e
	}
	return f.child.XattrOp(ctx, gfid, op, operands)
}

func (f *faulty) GetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock) (vfs.Lock, syscall.Errno) {
	if e := f.check(ctx, "GetLk"); e != 0 {
		return vfs.Lock{}, e
	}
	return f.child.GetLk(ctx, gfid, fh, kind, lk)
}

func (f *faulty) SetLk(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, kind vfs.LockKind, lk vfs.Lock, wait bool) syscall.Errno {
	if e := f.check(ctx, "SetLk"); e != 0 {
		return e
	}
	return f.landed(ctx, f.child.SetLk(ctx, gfid, fh, kind, lk, wait))
}

func (f *faulty) InodeLk(ctx context.Context, domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) syscall.Errno {
	if e := f.check(ctx, "InodeLk"); e != 0 {
		return e
	}
	return f.landed(ctx, f.child.InodeLk(ctx, domain, gfid, lk, wait))
}

func (f *faulty) EntryLk(ctx context.Context, domain string, parent vfs.GFID, name string, typ vfs.LockType, owner uint64, wait bool) syscall.Errno {
	if e := f.check(ctx, "EntryLk"); e != 0 {
		return e
	}
	return f.landed(ctx, f.child.EntryLk(ctx, domain, parent, name, typ, owner, wait))
}

// landed ends a lock call. A real brick releases a connection's locks
// only once the calls it had in flight have ended (brick/server's
// closeConn waits for them), so no lock outlives the connection; setDown
// releases them at once and cannot wait. A lock granted by a call that
// was already past check when the brick went down would then stay held
// by a client the brick no longer serves, and the next one to want it
// (heal, after the brick came back) would wait for it forever: so a call
// that lands after the brick went down releases its client's locks again
// and fails as one that came too late.
func (f *faulty) landed(ctx context.Context, errno syscall.Errno) syscall.Errno {
	if errno == 0 && f.down.Load() {
		f.locks.ReleaseClient(vfs.CallerFrom(ctx).Client)
		f.lateLocks.Add(1)
		return syscall.ENOTCONN
	}
	return errno
}

func sleep() { time.Sleep(10 * time.Millisecond) }

func (f *faulty) ReadsLocally(context.Context, vfs.GFID) bool { return f.local.Load() }

package replicate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairnfs/cairn/vfs"
)

// TestDifferential runs the same seeded random sequence of operations on
// replicate (over two bricks) and on a plain local directory, comparing
// every result, then the whole trees, then the two bricks' exports.
// The "faults" variant takes one brick down now and then (never both
// until the other is healed) and heals it back.
//
// CAIRN_DIFF_SEEDS (a comma-separated list of seeds, or FIRST-LAST) runs
// both variants with each of those seeds instead of the fixed ones, to
// explore further or to replay a failure.
func TestDifferential(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 2000
	}
	seeds, err := diffSeeds(os.Getenv("CAIRN_DIFF_SEEDS"))
	if err != nil {
		t.Fatalf("CAIRN_DIFF_SEEDS: %v", err)
	}
	if seeds == nil {
		t.Run("plain", func(t *testing.T) { differential(t, 1, n, false) })
		t.Run("faults", func(t *testing.T) { differential(t, 2, n*3/10, true) })
		return
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("plain/seed%d", seed), func(t *testing.T) { differential(t, seed, n, false) })
		t.Run(fmt.Sprintf("faults/seed%d", seed), func(t *testing.T) { differential(t, seed, n*3/10, true) })
	}
}

// diffSeeds parses CAIRN_DIFF_SEEDS: "" (nil: the fixed seeds), "3,7,9"
// or "10-20".
func diffSeeds(s string) ([]uint64, error) {
	if s == "" {
		return nil, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		first, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
		last, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
		if err1 != nil || err2 != nil || last < first || last-first > 10000 {
			return nil, fmt.Errorf("%q: want FIRST-LAST with FIRST <= LAST (at most 10,000 seeds)", s)
		}
		var seeds []uint64
		for x := first; x <= last; x++ {
			seeds = append(seeds, x)
		}
		return seeds, nil
	}
	var seeds []uint64
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %q is not a seed (want numbers separated by commas, or FIRST-LAST)", s, f)
		}
		seeds = append(seeds, x)
	}
	return seeds, nil
}

// healIndexWatched runs HealIndex, and if it has not returned after a
// minute (heals here take milliseconds), logs what this client holds and
// every goroutine's stack, and cancels it: a heal waiting for a lock
// nobody will release would otherwise sit out a 5-minute heal timeout per
// entry.
func healIndexWatched(t *testing.T, e *env) (HealStats, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	watchdog := time.AfterFunc(time.Minute, func() {
		r := e.r
		r.mu.Lock()
		for k, w := range r.windows {
			t.Logf("window %v kind %v owner %x eager %v refs %d closing %v closeStarted %v age %v participants %b down %b",
				k.gfid, k.k, w.owner, w.eager, w.refs, w.closing, w.closeStarted, time.Since(w.opened).Round(time.Millisecond), w.participants, w.down)
		}
		t.Logf("deferred unlocks queued: %d; healing: %v", r.deferredN, r.healing)
		r.mu.Unlock()
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Logf("HealIndex still running after a minute; goroutines:\n%s", b.String())
		cancel()
	})
	defer watchdog.Stop()
	st, err := e.r.HealIndex(ctx)
	if ctx.Err() != nil {
		t.Fatalf("HealIndex hung (cancelled by the watchdog): %v", err)
	}
	return st, err
}

type diffRun struct {
	t     *testing.T
	e     *env
	ref   string
	rng   *rand.Rand
	files map[string]bool // relative paths of non-directories
	dirs  map[string]bool // relative paths of directories ("" = root)
	ops   int
}

func differential(t *testing.T, seed uint64, n int, faults bool) {
	cfg := testConfig()
	e := newEnv(t, 2, cfg)
	d := &diffRun{t: t, e: e, ref: brickDir(t), rng: rand.New(rand.NewPCG(seed, 42)),
		files: map[string]bool{}, dirs: map[string]bool{"": true}}
	down := -1
	for i := range n {
		if faults && i%400 == 0 && i > 0 {
			if down >= 0 {
				e.bricks[down].setDown(false)
				e.r.FlushTransactions(e.ctx)
				if _, err := healIndexWatched(t, e); err != nil {
					t.Fatal(err)
				}
				down = -1
			} else {
				down = (i / 800) % 2
				e.down(down)
			}
		}
		d.step(i)
		if t.Failed() {
			t.Fatalf("stopped after op %d", i)
		}
	}
	if down >= 0 {
		e.bricks[down].setDown(false)
	}
	e.r.FlushTransactions(e.ctx)
	if faults {
		st, err := healIndexWatched(t, e)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("final heal %+v", st)
		for _, b := range e.bricks {
			if n := b.lateLocks.Load(); n > 0 {
				t.Logf("%s: %d lock calls landed after the brick went down", b.name, n)
			}
		}
	}
	d.compareTrees()
	e.compareBricks()
	// Every brick holds what the plain directory holds.
	for _, b := range e.bricks {
		compareExport(t, d.ref, b.dir)
	}
}

var diffNames = []string{"a", "b", "c", "d", "e", "f"}

func (d *diffRun) pick(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[d.rng.IntN(len(keys))]
}

func (d *diffRun) anyPath() string {
	if len(d.files) > 0 && d.rng.IntN(3) > 0 {
		return d.pick(d.files)
	}
	return d.pick(d.dirs)
}

func (d *diffRun) newPath() string {
	dir := d.pick(d.dirs)
	if strings.Count(dir, "/") >= 3 {
		dir = ""
	}
	return join(dir, diffNames[d.rng.IntN(len(diffNames))])
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// resolve walks a relative path through replicate.
func (d *diffRun) resolve(p string) (vfs.Attr, syscall.Errno) {
	a := vfs.Attr{GFID: vfs.RootGFID, Mode: syscall.S_IFDIR}
	if p == "" {
		return a, 0
	}
	for _, c := range strings.Split(p, "/") {
		var e syscall.Errno
		a, e = d.e.r.Lookup(d.e.ctx, a.GFID, c)
		if e != 0 {
			return a, e
		}
	}
	return a, 0
}

func (d *diffRun) parent(p string) (vfs.GFID, string, syscall.Errno) {
	dir, name := filepath.Split(p)
	a, e := d.resolve(strings.TrimSuffix(dir, "/"))
	return a.GFID, name, e
}

func osErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

func (d *diffRun) check(what string, got, want syscall.Errno) bool {
	d.t.Helper()
	if got != want {
		d.t.Errorf("op %d %s: replicate %v, local %v", d.ops, what, got, want)
	}
	return want == 0
}

func (d *diffRun) step(i int) {
	d.ops = i
	r, ctx := d.e.r, d.e.ctx
	full := func(p string) string { return filepath.Join(d.ref, p) }
	switch op := d.rng.IntN(100); {
	case op < 14: // create
		p := d.newPath()
		f, err := os.OpenFile(full(p), os.O_CREATE|os.O_RDWR, 0o644)
		if err == nil {
			f.Close()
		}
		var e syscall.Errno
		if pg, name, pe := d.parent(p); pe != 0 {
			e = pe
		} else {
			var a vfs.Attr
			var fh vfs.Handle
			a, fh, e = r.Create(ctx, pg, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
			if e == 0 {
				r.Release(ctx, a.GFID, fh)
			}
		}
		if d.check("create "+p, e, osErrno(err)) {
			d.files[p] = true
		}
	case op < 36: // write at a random offset
		if len(d.files) == 0 {
			return
		}
		p := d.pick(d.files)
		off := int64(d.rng.IntN(64 << 10))
		data := make([]byte, 1+d.rng.IntN(8<<10))
		for k := range data {
			data[k] = byte(d.rng.IntN(256))
		}
		var werr error
		if f, err := os.OpenFile(full(p), os.O_WRONLY, 0); err != nil {
			werr = err
		} else {
			_, werr = f.WriteAt(data, off)
			f.Close()
		}
		var e syscall.Errno
		if a, le := d.resolve(p); le != 0 {
			e = le
		} else {
			e = d.e.writeAt(r, a.GFID, data, off)
		}
		d.check("write "+p, e, osErrno(werr))
	case op < 44: // truncate
		if len(d.files) == 0 {
			return
		}
		p := d.pick(d.files)
		size := int64(d.rng.IntN(80 << 10))
		err := os.Truncate(full(p), size)
		var e syscall.Errno
		if a, le := d.resolve(p); le != 0 {
			e = le
		} else {
			_, e = r.SetAttr(ctx, a.GFID, 0, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: uint64(size)})
		}
		d.check("truncate "+p, e, osErrno(err))
	case op < 54: // rename
		src, dst := d.anyPath(), d.newPath()
		if src == "" {
			return
		}
		err := unix.Rename(full(src), full(dst))
		sp, sn, e1 := d.parent(src)
		dp, dn, e2 := d.parent(dst)
		e := e1
		if e == 0 {
			e = e2
		}
		if e == 0 {
			e = r.Rename(ctx, sp, sn, dp, dn, 0)
		}
		if d.check("rename "+src+" "+dst, e, osErrno(err)) {
			d.renamed(src, dst)
		}
	case op < 60: // link
		if len(d.files) == 0 {
			return
		}
		src, dst := d.pick(d.files), d.newPath()
		err := os.Link(full(src), full(dst))
		var e syscall.Errno
		a, e := d.resolve(src)
		if e == 0 {
			var dp vfs.GFID
			var dn string
			if dp, dn, e = d.parent(dst); e == 0 {
				_, e = r.Link(ctx, a.GFID, dp, dn)
			}
		}
		if d.check("link "+src+" "+dst, e, osErrno(err)) {
			d.files[dst] = true
		}
	case op < 68: // unlink
		p := d.anyPath()
		if p == "" {
			return
		}
		err := unix.Unlink(full(p))
		pg, name, e := d.parent(p)
		if e == 0 {
			e = r.Unlink(ctx, pg, name)
		}
		if d.check("unlink "+p, e, osErrno(err)) {
			delete(d.files, p)
		}
	case op < 75: // mkdir
		p := d.newPath()
		err := os.Mkdir(full(p), 0o755)
		pg, name, e := d.parent(p)
		if e == 0 {
			_, e = r.Mkdir(ctx, pg, name, &vfs.CreateIn{Mode: 0o755})
		}
		if d.check("mkdir "+p, e, osErrno(err)) {
			d.dirs[p] = true
		}
	case op < 80: // rmdir
		p := d.anyPath()
		if p == "" {
			return
		}
		err := unix.Rmdir(full(p))
		pg, name, e := d.parent(p)
		if e == 0 {
			e = r.Rmdir(ctx, pg, name)
		}
		if d.check("rmdir "+p, e, osErrno(err)) {
			delete(d.dirs, p)
		}
	case op < 87: // setattr: chmod or utimes
		p := d.anyPath()
		a, e := d.resolve(p)
		var err error
		var in vfs.SetAttrIn
		if d.rng.IntN(2) == 0 {
			mode := []uint32{0o600, 0o644, 0o755, 0o700, 0o640}[d.rng.IntN(5)]
			err = os.Chmod(full(p), os.FileMode(mode))
			in = vfs.SetAttrIn{Valid: vfs.SetMode, Mode: mode}
		} else {
			ts := time.Unix(int64(1e9+d.rng.IntN(1e8)), int64(d.rng.IntN(1e9)))
			err = os.Chtimes(full(p), ts, ts)
			in = vfs.SetAttrIn{Valid: vfs.SetAtime | vfs.SetMtime, Atime: vfs.TimespecOf(ts), Mtime: vfs.TimespecOf(ts)}
		}
		if e == 0 {
			_, e = r.SetAttr(ctx, a.GFID, 0, &in)
		}
		d.check("setattr "+p, e, osErrno(err))
	case op < 95: // xattrs
		p := d.anyPath()
		name := fmt.Sprintf("user.k%d", d.rng.IntN(3))
		a, e := d.resolve(p)
		var err error
		if d.rng.IntN(3) > 0 {
			v := []byte(fmt.Sprint(d.rng.IntN(1000)))
			err = unix.Lsetxattr(full(p), name, v, 0)
			if e == 0 {
				e = r.SetXattr(ctx, a.GFID, name, v, 0)
			}
		} else {
			err = unix.Lremovexattr(full(p), name)
			if e == 0 {
				e = r.RemoveXattr(ctx, a.GFID, name)
			}
		}
		d.check("xattr "+p, e, osErrno(err))
	default: // read and compare
		if len(d.files) == 0 {
			return
		}
		p := d.pick(d.files)
		want, err := os.ReadFile(full(p))
		a, e := d.resolve(p)
		var got []byte
		if e == 0 {
			got, e = d.e.readAll(r, a.GFID)
		}
		if d.check("read "+p, e, osErrno(err)) && !bytes.Equal(got, want) {
			d.t.Errorf("op %d read %s: %d bytes differ from local %d bytes", i, p, len(got), len(want))
		}
	}
}

// renamed updates the model after a successful rename.
func (d *diffRun) renamed(src, dst string) {
	if src == dst {
		return
	}
	if d.dirs[src] {
		delete(d.files, dst)
		delete(d.dirs, dst)
		for _, m := range []map[string]bool{d.dirs, d.files} {
			for k := range m {
				if k == src || strings.HasPrefix(k, src+"/") {
					delete(m, k)
					m[dst+strings.TrimPrefix(k, src)] = true
				}
			}
		}
		return
	}
	// A hard link onto another name of the same file leaves both.
	if st1, e1 := os.Lstat(filepath.Join(d.ref, src)); e1 == nil {
		if st2, e2 := os.Lstat(filepath.Join(d.ref, dst)); e2 == nil && os.SameFile(st1, st2) {
			return
		}
	}
	delete(d.files, src)
	d.files[dst] = true
}

// compareTrees compares the volume, read through replicate, with the
// plain directory.
func (d *diffRun) compareTrees() {
	t := d.t
	want := map[string]string{}
	filepath.WalkDir(d.ref, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(d.ref, p)
		if rel == "." {
			return nil
		}
		want[rel] = describeLocal(p)
		return nil
	})
	got := map[string]string{}
	var walk func(g vfs.GFID, prefix string)
	walk = func(g vfs.GFID, prefix string) {
		var cookie uint64
		for {
			ents, eof, e := d.e.r.ReadDir(d.e.ctx, g, 0, cookie, 0, false)
			if e != 0 {
				t.Fatalf("readdir %s: %v", prefix, e)
			}
			for _, de := range ents {
				cookie = de.Cookie
				rel := join(prefix, de.Name)
				a, e := d.e.r.Lookup(d.e.ctx, g, de.Name)
				if e != 0 {
					t.Fatalf("lookup %s: %v", rel, e)
				}
				got[rel] = d.describe(a)
				if a.IsDir() {
					walk(a.GFID, rel)
				}
			}
			if eof || len(ents) == 0 {
				return
			}
		}
	}
	walk(vfs.RootGFID, "")
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: replicate %q, local %q", p, got[p], w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s only in replicate", p)
		}
	}
	t.Logf("%d entries compared", len(want))
}

func (d *diffRun) describe(a vfs.Attr) string {
	s := fmt.Sprintf("mode %o", a.Mode)
	if !a.IsDir() {
		data, e := d.e.readAll(d.e.r, a.GFID)
		if e != 0 {
			d.t.Fatalf("read: %v", e)
		}
		s += fmt.Sprintf(" size %d nlink %d sha %x", a.Size, a.Nlink, sha(data))
	}
	names, _ := d.e.r.ListXattr(d.e.ctx, a.GFID)
	sort.Strings(names)
	for _, n := range names {
		if strings.HasPrefix(n, "user.") {
			v, _ := d.e.r.GetXattr(d.e.ctx, a.GFID, n)
			s += " " + n + "=" + string(v)
		}
	}
	return s
}

func describeLocal(p string) string {
	var st unix.Stat_t
	unix.Lstat(p, &st)
	s := fmt.Sprintf("mode %o", st.Mode)
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		data, _ := os.ReadFile(p)
		s += fmt.Sprintf(" size %d nlink %d sha %x", st.Size, st.Nlink, sha(data))
	}
	sz, _ := unix.Llistxattr(p, nil)
	var names []string
	if sz > 0 {
		buf := make([]byte, sz)
		sz, _ = unix.Llistxattr(p, buf)
		for _, n := range strings.Split(string(buf[:sz]), "\x00") {
			if strings.HasPrefix(n, "user.") {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	for _, n := range names {
		v := make([]byte, 1024)
		m, _ := unix.Lgetxattr(p, n, v)
		s += " " + n + "=" + string(v[:max(m, 0)])
	}
	return s
}

// compareExport checks that a brick's export holds the plain directory's
// tree: same names, types, modes, sizes and contents.
func compareExport(t *testing.T, ref, export string) {
	t.Helper()
	a := snapshot(t, ref)
	b := snapshot(t, export)
	for p, fa := range a {
		fb, ok := b[p]
		if !ok {
			t.Errorf("export %s lacks %s", export, p)
			continue
		}
		if uint32(fb.mode)&syscall.S_IFMT == syscall.S_IFREG {
			fb.nlink-- // the brick's GFID index holds one more link
		}
		if fa.mode != fb.mode || fa.size != fb.size || fa.data != fb.data || fa.nlink != fb.nlink {
			t.Errorf("%s: export %+v, local %+v", p, fb, fa)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			t.Errorf("export %s has extra %s", export, p)
		}
	}
}

func TestDiffSeeds(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []uint64
		bad  bool
	}{
		{"", nil, false},
		{"3", []uint64{3}, false},
		{"3, 7,9", []uint64{3, 7, 9}, false},
		{"10-12", []uint64{10, 11, 12}, false},
		{"12-10", nil, true},
		{"x", nil, true},
		{"1,,2", nil, true},
	} {
		got, err := diffSeeds(c.in)
		if (err != nil) != c.bad || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("diffSeeds(%q) = %v, %v; want %v (error: %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

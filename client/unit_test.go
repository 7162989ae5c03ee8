package client

import (
	"bytes"
	"context"
	"math"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// shortReads returns at most limit bytes per Read, as a translator may at
// a cache-page or transport-chunk boundary, and records SetAttr calls.
type shortReads struct {
	vfs.Passthrough
	limit   int
	failAt  int64 // Read at this offset fails with EIO (-1: never)
	setattr []vfs.SetAttrIn
}

func (s *shortReads) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	if off == s.failAt {
		return 0, syscall.EIO
	}
	if len(dest) > s.limit {
		dest = dest[:s.limit]
	}
	return s.Child.Read(ctx, gfid, fh, dest, off)
}

func (s *shortReads) SetAttr(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, in *vfs.SetAttrIn) (vfs.Attr, syscall.Errno) {
	s.setattr = append(s.setattr, *in)
	return s.Child.SetAttr(ctx, gfid, fh, in)
}

func newTestFile(t *testing.T, content []byte) (*shortReads, *fileHandle, *node) {
	t.Helper()
	ctx := context.Background()
	stack := &shortReads{Passthrough: vfs.Passthrough{Child: memfs.New(memfs.Config{})}, limit: 1000, failAt: -1}
	a, fh, e := stack.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	if n, e := stack.Write(ctx, a.GFID, fh, content, 0); e != 0 || n != len(content) {
		t.Fatal(n, e)
	}
	m := &mountState{stack: stack, opts: DefaultOptions()}
	return stack, &fileHandle{m: m, gfid: a.GFID, fh: fh}, &node{m: m, gfid: a.GFID}
}

func readAll(t *testing.T, f *fileHandle, size int, off int64) ([]byte, syscall.Errno) {
	t.Helper()
	res, e := f.Read(context.Background(), make([]byte, size), off)
	if e != 0 {
		return nil, e
	}
	b, st := res.Bytes(make([]byte, size))
	if st != fuse.OK {
		t.Fatal(st)
	}
	return b, 0
}

func TestReadFillsShortReads(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 1000) // 10000 bytes
	stack, f, _ := newTestFile(t, content)
	if got, e := readAll(t, f, 4096, 100); e != 0 || !bytes.Equal(got, content[100:4196]) {
		t.Errorf("mid-file read of 4096 with 1000-byte reads below: %d bytes, %v", len(got), e)
	}
	if got, e := readAll(t, f, 4096, 8000); e != 0 || !bytes.Equal(got, content[8000:]) {
		t.Errorf("read across EOF: %d bytes, %v", len(got), e)
	}
	if got, e := readAll(t, f, 4096, 20000); e != 0 || len(got) != 0 {
		t.Errorf("read past EOF: %d bytes, %v", len(got), e)
	}
	stack.failAt = 2000
	if got, e := readAll(t, f, 4096, 0); e != 0 || !bytes.Equal(got, content[:2000]) {
		t.Errorf("error after a partial read should return the part: %d bytes, %v", len(got), e)
	}
	if _, e := readAll(t, f, 4096, 2000); e != syscall.EIO {
		t.Errorf("error at the start: %v, want EIO", e)
	}
}

func TestSetattrMapping(t *testing.T) {
	stack, f, n := newTestFile(t, []byte("x"))
	in := &fuse.SetAttrIn{}
	in.Valid = fuse.FATTR_MODE | fuse.FATTR_SIZE | fuse.FATTR_ATIME | fuse.FATTR_ATIME_NOW | fuse.FATTR_MTIME | fuse.FATTR_FH
	in.Mode = syscall.S_IFREG | 0o4755
	in.Size = 0
	in.Mtime, in.Mtimensec = 1234, 567
	var out fuse.AttrOut
	if e := n.Setattr(context.Background(), f, in, &out); e != 0 {
		t.Fatal(e)
	}
	got := stack.setattr[0]
	want := vfs.SetAttrIn{Valid: vfs.SetMode | vfs.SetSize | vfs.SetAtimeNow | vfs.SetMtime, Mode: 0o4755,
		Mtime: vfs.Timespec{Sec: 1234, Nsec: 567}}
	if got != want {
		t.Errorf("SetAttrIn %+v, want %+v", got, want)
	}
	if out.Mtime != 1234 || out.Mtimensec != 567 || out.Size != 0 || out.Mode&07777 != 0o4755 {
		t.Errorf("attributes returned: %+v", out.Attr)
	}
	// UTIME_OMIT for both: neither time bit; a ctime-only request changes nothing.
	stack.setattr = nil
	in = &fuse.SetAttrIn{}
	in.Valid = fuse.FATTR_CTIME
	if e := n.Setattr(context.Background(), nil, in, &out); e != 0 || len(stack.setattr) != 0 {
		t.Errorf("ctime-only setattr: %v, calls %v", e, stack.setattr)
	}
}

func TestLockConversion(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    fuse.FileLock
		flags uint32
		want  vfs.Lock
	}{
		{"range", fuse.FileLock{Start: 10, End: 19, Typ: syscall.F_WRLCK, Pid: 7}, 0,
			vfs.Lock{Type: vfs.WriteLock, Start: 10, End: 19, Pid: 7, Owner: 42}},
		{"to EOF", fuse.FileLock{Start: 5, End: math.MaxInt64, Typ: syscall.F_RDLCK}, 0,
			vfs.Lock{Type: vfs.ReadLock, Start: 5, End: vfs.LockEOF, Owner: 42}},
		{"flock covers everything", fuse.FileLock{Start: 3, End: 4, Typ: syscall.F_WRLCK}, fuseLkFlock,
			vfs.Lock{Type: vfs.WriteLock, Start: 0, End: vfs.LockEOF, Owner: 42}},
		{"unlock", fuse.FileLock{Start: 0, End: math.MaxInt64, Typ: syscall.F_UNLCK}, 0,
			vfs.Lock{Type: vfs.Unlock, Start: 0, End: vfs.LockEOF, Owner: 42}},
	} {
		if got := toVFSLock(42, &tc.in, tc.flags); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if lockKind(fuseLkFlock) != vfs.FlockLock || lockKind(0) != vfs.PosixLock {
		t.Error("lockKind")
	}
	for _, tc := range []struct {
		in   vfs.Lock
		want fuse.FileLock
	}{
		{vfs.Lock{Type: vfs.WriteLock, Start: 1, End: vfs.LockEOF, Pid: 9}, fuse.FileLock{Typ: syscall.F_WRLCK, Start: 1, End: math.MaxInt64, Pid: 9}},
		{vfs.Lock{Type: vfs.Unlock, Start: 1, End: 2, Pid: 9}, fuse.FileLock{Typ: syscall.F_UNLCK}},
		// The kernel rejects end > OFFSET_MAX or end < start with EIO.
		{vfs.Lock{Type: vfs.ReadLock, Start: vfs.LockEOF, End: vfs.LockEOF}, fuse.FileLock{Typ: syscall.F_RDLCK, Start: math.MaxInt64, End: math.MaxInt64}},
	} {
		var got fuse.FileLock
		fromVFSLock(tc.in, &got)
		if got != tc.want {
			t.Errorf("fromVFSLock(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// recordingRaw stands in for go-fuse's bridge under lockReleaser.
type recordingRaw struct {
	fuse.RawFileSystem
	setlk []fuse.LkIn
	calls []string
}

func (r *recordingRaw) SetLk(_ <-chan struct{}, in *fuse.LkIn) fuse.Status {
	r.setlk = append(r.setlk, *in)
	r.calls = append(r.calls, "setlk")
	return fuse.OK
}
func (r *recordingRaw) SetLkw(_ <-chan struct{}, in *fuse.LkIn) fuse.Status {
	r.calls = append(r.calls, "setlkw")
	return fuse.OK
}
func (r *recordingRaw) Flush(_ <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	r.calls = append(r.calls, "flush")
	return fuse.OK
}
func (r *recordingRaw) Release(_ <-chan struct{}, in *fuse.ReleaseIn) {
	r.calls = append(r.calls, "release")
}

func TestLockReleaser(t *testing.T) {
	raw := &recordingRaw{RawFileSystem: fuse.NewDefaultRawFileSystem()}
	w := newLockReleaser(raw)
	hdr := fuse.InHeader{NodeId: 5}
	lk := func(owner, fh uint64, typ uint32, flags uint32) *fuse.LkIn {
		return &fuse.LkIn{InHeader: hdr, Fh: fh, Owner: owner, Lk: fuse.FileLock{Typ: typ, End: math.MaxInt64}, LkFlags: flags}
	}
	// A close by a process that never locked costs nothing.
	w.Flush(nil, &fuse.FlushIn{InHeader: hdr, Fh: 1, LockOwner: 100})
	if len(raw.setlk) != 0 {
		t.Fatalf("flush without locks sent %v", raw.setlk)
	}
	// Owner 100 locks through handle 1; its close of handle 2 unlocks it.
	w.SetLk(nil, lk(100, 1, syscall.F_WRLCK, 0))
	w.SetLkw(nil, lk(100, 1, syscall.F_RDLCK, 0))
	raw.setlk = nil
	w.Flush(nil, &fuse.FlushIn{InHeader: hdr, Fh: 2, LockOwner: 100})
	if len(raw.setlk) != 1 || raw.setlk[0].Owner != 100 || raw.setlk[0].Lk.Typ != syscall.F_UNLCK || raw.setlk[0].Fh != 2 || raw.setlk[0].LkFlags != 0 {
		t.Fatalf("flush unlock: %+v", raw.setlk)
	}
	if got := raw.calls[len(raw.calls)-2:]; got[0] != "setlk" || got[1] != "flush" {
		t.Errorf("unlock must precede the flush: %v", raw.calls)
	}
	raw.setlk = nil
	w.Flush(nil, &fuse.FlushIn{InHeader: hdr, Fh: 2, LockOwner: 100})
	if len(raw.setlk) != 0 {
		t.Errorf("second flush unlocked again: %+v", raw.setlk)
	}
	// An OFD lock (owner = the open file) is released with its handle.
	w.SetLk(nil, lk(200, 3, syscall.F_WRLCK, 0))
	raw.setlk = nil
	w.Release(nil, &fuse.ReleaseIn{InHeader: hdr, Fh: 3})
	if len(raw.setlk) != 1 || raw.setlk[0].Owner != 200 || raw.setlk[0].Lk.Typ != syscall.F_UNLCK {
		t.Errorf("release of an OFD-locked handle: %+v", raw.setlk)
	}
	// flock: RELEASE with FUSE_RELEASE_FLOCK_UNLOCK unlocks the owner's flock.
	raw.setlk = nil
	w.SetLk(nil, lk(300, 4, syscall.F_WRLCK, fuseLkFlock))
	w.Release(nil, &fuse.ReleaseIn{InHeader: hdr, Fh: 4, ReleaseFlags: fuseReleaseFlockUnlock, LockOwner: 300})
	if len(raw.setlk) != 2 || raw.setlk[1].LkFlags != fuseLkFlock || raw.setlk[1].Owner != 300 || raw.setlk[1].Lk.Typ != syscall.F_UNLCK {
		t.Errorf("flock release: %+v", raw.setlk)
	}
	if len(w.held) != 0 {
		t.Errorf("held locks left: %v", w.held)
	}
}

func TestXattrNegativeCache(t *testing.T) {
	_, _, n := newTestFile(t, nil)
	ctx := context.Background()
	if _, e := n.Getxattr(ctx, "user.a", nil); e != syscall.ENODATA {
		t.Fatalf("absent xattr: %v", e)
	}
	if !n.noXattrs.has("user.a") {
		t.Fatal("absence not remembered")
	}
	// Our own set is seen at once.
	if e := n.Setxattr(ctx, "user.a", []byte("v"), 0); e != 0 {
		t.Fatal(e)
	}
	buf := make([]byte, 10)
	if sz, e := n.Getxattr(ctx, "user.a", buf); e != 0 || string(buf[:sz]) != "v" {
		t.Errorf("after set: %q %v", buf[:sz], e)
	}
	if sz, e := n.Getxattr(ctx, "user.a", nil); e != 0 || sz != 1 {
		t.Errorf("size probe: %d %v", sz, e)
	}
	if _, e := n.Getxattr(ctx, "user.a", make([]byte, 0, 1)[:0]); e != 0 {
		t.Errorf("zero-length buffer is a size probe: %v", e)
	}
	if e := n.Setxattr(ctx, "user.long", []byte("0123456789abc"), 0); e != 0 {
		t.Fatal(e)
	}
	if _, e := n.Getxattr(ctx, "user.long", buf); e != syscall.ERANGE {
		t.Errorf("small buffer: %v, want ERANGE", e)
	}
	// Internal names are neither visible nor settable.
	if e := n.Setxattr(ctx, "trusted.cairn.gfid", []byte("x"), 0); e != syscall.EPERM {
		t.Errorf("set internal: %v", e)
	}
	sz, e := n.Listxattr(ctx, nil)
	list := make([]byte, sz)
	if _, e2 := n.Listxattr(ctx, list); e != 0 || e2 != 0 || string(list) != "user.a\x00user.long\x00" {
		t.Errorf("list: %q %v %v", list, e, e2)
	}
	// With a zero attribute timeout nothing is remembered.
	n.m.opts.AttrTimeout = 0
	if _, e := n.Getxattr(ctx, "user.b", nil); e != syscall.ENODATA || n.noXattrs.has("user.b") {
		t.Errorf("zero timeout: %v remembered=%v", e, n.noXattrs.has("user.b"))
	}
}

func TestAccessAllowed(t *testing.T) {
	const r, w, x = 4, 2, 1
	file := &vfs.Attr{Mode: syscall.S_IFREG | 0o640, UID: 10, GID: 20}
	dir := &vfs.Attr{Mode: syscall.S_IFDIR | 0o700, UID: 10, GID: 20}
	noexec := &vfs.Attr{Mode: syscall.S_IFREG | 0o644, UID: 10, GID: 20}
	for _, tc := range []struct {
		name   string
		caller vfs.Caller
		a      *vfs.Attr
		mask   uint32
		want   syscall.Errno
	}{
		{"owner rw", vfs.Caller{UID: 10, GID: 99}, file, r | w, 0},
		{"owner x", vfs.Caller{UID: 10, GID: 99}, file, x, syscall.EACCES},
		{"primary group r", vfs.Caller{UID: 11, GID: 20}, file, r, 0},
		{"primary group w", vfs.Caller{UID: 11, GID: 20}, file, w, syscall.EACCES},
		{"supplementary group r", vfs.Caller{UID: 11, GID: 99, Groups: []uint32{5, 20}}, file, r, 0},
		{"other r", vfs.Caller{UID: 11, GID: 99, Groups: []uint32{5}}, file, r, syscall.EACCES},
		{"owner bits win over group", vfs.Caller{UID: 10, GID: 20}, &vfs.Attr{Mode: 0o070, UID: 10, GID: 20}, r, syscall.EACCES},
		{"existence only", vfs.Caller{UID: 11}, file, 0, 0},
		{"root rw anything", vfs.Caller{}, &vfs.Attr{Mode: syscall.S_IFREG}, r | w, 0},
		{"root x needs some x bit", vfs.Caller{}, noexec, x, syscall.EACCES},
		{"root x on a directory", vfs.Caller{}, dir, x, 0},
		{"other x on a 0700 directory", vfs.Caller{UID: 11, GID: 20}, dir, x, syscall.EACCES},
	} {
		if got := accessAllowed(&tc.caller, tc.a, tc.mask); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestUnsupportedXattrs(t *testing.T) {
	stack, _, n := newTestFile(t, nil)
	ctx := context.Background()
	// Put some on the volume behind the mount's back.
	for _, name := range []string{"security.selinux", "user.x"} {
		if e := stack.SetXattr(ctx, n.gfid, name, []byte("v"), 0); e != 0 {
			t.Fatal(name, e)
		}
	}
	for _, name := range []string{"system.posix_acl_access", "system.posix_acl_default", "security.selinux"} {
		if _, e := n.Getxattr(ctx, name, nil); e != syscall.EOPNOTSUPP {
			t.Errorf("get %s without acl/selinux: %v", name, e)
		}
		if e := n.Setxattr(ctx, name, []byte("v"), 0); e != syscall.EOPNOTSUPP {
			t.Errorf("set %s without acl/selinux: %v", name, e)
		}
		if e := n.Removexattr(ctx, name); e != syscall.EOPNOTSUPP {
			t.Errorf("remove %s without acl/selinux: %v", name, e)
		}
	}
	list := make([]byte, 100)
	if sz, e := n.Listxattr(ctx, list); e != 0 || string(list[:sz]) != "user.x\x00" {
		t.Errorf("list hides unsupported names: %q %v", list[:sz], e)
	}
	// With the options the names reach the volume, which answers for them.
	n.m.opts.ACL, n.m.opts.SELinux = true, true
	if sz, e := n.Getxattr(ctx, "security.selinux", nil); e != 0 || sz != 1 {
		t.Errorf("get security.selinux with selinux: %d %v", sz, e)
	}
	want := stack.SetXattr(ctx, n.gfid, "system.posix_acl_access", []byte("v"), 0)
	if e := n.Setxattr(ctx, "system.posix_acl_access", []byte("v"), 0); e != errno(want) {
		t.Errorf("set system.posix_acl_access with acl: %v, the volume says %v", e, want)
	}
}

// TestFuseOptions checks the go-fuse options the mount depends on: splice
// off (read data is in memory; with it on, go-fuse writes each READ reply's
// header into a pipe and drains it before the real writev) and
// handle_killpriv (the bricks clear setuid themselves, so the kernel need
// not fetch attributes before every chown).
func TestFuseOptions(t *testing.T) {
	m := &mountState{opts: DefaultOptions()}
	o := m.fsOptions().MountOptions
	if !o.DisableSplice {
		t.Error("splice is on")
	}
	if o.ExtraCapabilities&fuse.CAP_HANDLE_KILLPRIV == 0 {
		t.Error("handle_killpriv is not asked for")
	}
	if m.dirOpenFlags() != fuse.FOPEN_CACHE_DIR|fuse.FOPEN_KEEP_CACHE {
		t.Errorf("directory open flags %#x, want CACHE_DIR|KEEP_CACHE", m.dirOpenFlags())
	}
	m.opts.AttrTimeout = 0
	if m.dirOpenFlags() != 0 {
		t.Errorf("attribute-timeout=0: directory open flags %#x, want none", m.dirOpenFlags())
	}
}

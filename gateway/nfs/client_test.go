package nfs

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/cairnfs/cairn/gateway/internal/memvfs"
	"github.com/cairnfs/cairn/vfs"
)

// rawClient is a minimal NFSv3 client for tests: it sends one call at a
// time with chosen credentials and returns the decoded reply body, so
// tests can drive procedures go-nfs-client has no helper for (LINK,
// READDIR, COMMIT, WRITE stability, FSSTAT) and hostile input.
type rawClient struct {
	t    testing.TB
	c    net.Conn
	br   *bufio.Reader
	xid  uint32
	cred []byte
	flav uint32
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawClient{t: t, c: c, br: bufio.NewReader(c), xid: 100}
	rc.as(0, 0)
	return rc
}

// as sets AUTH_UNIX credentials for the following calls.
func (rc *rawClient) as(uid, gid uint32, groups ...uint32) *rawClient {
	w := &xdrWriter{}
	w.u32(1)
	w.string("test")
	w.u32(uid)
	w.u32(gid)
	w.u32(uint32(len(groups)))
	for _, g := range groups {
		w.u32(g)
	}
	rc.cred, rc.flav = w.b, authUnix
	return rc
}

// anon switches to AUTH_NULL.
func (rc *rawClient) anon() *rawClient {
	rc.cred, rc.flav = nil, authNull
	return rc
}

// rpcReply is a reply: the accept status and, for success, the results.
type rpcReply struct {
	denied bool
	stat   uint32
	body   *xdrReader
}

func (rc *rawClient) callRaw(prog, vers, proc uint32, args []byte) rpcReply {
	rc.t.Helper()
	rc.xid++
	rc.c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := rc.c.Write(rc.record(rc.xid, prog, vers, proc, args)); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
	for {
		rec, err := readRecord(rc.br, nil)
		if err != nil {
			rc.t.Fatalf("read reply: %v", err)
		}
		r := &xdrReader{b: rec}
		if xid := r.u32(); xid != rc.xid {
			continue
		}
		if r.u32() != msgReply {
			rc.t.Fatal("not a reply")
		}
		if r.u32() == replyDenied {
			return rpcReply{denied: true, stat: r.u32(), body: r}
		}
		r.u32()
		r.opaque(400)
		st := r.u32()
		if r.err != nil {
			rc.t.Fatal("short reply")
		}
		return rpcReply{stat: st, body: r}
	}
}

// call makes an NFSv3 call that must be accepted, returning the nfsstat3
// and the rest of the results.
func (rc *rawClient) call(proc uint32, args []byte) (uint32, *xdrReader) {
	rc.t.Helper()
	rep := rc.callRaw(progNFS, 3, proc, args)
	if rep.denied || rep.stat != acceptSuccess {
		rc.t.Fatalf("proc %d: denied=%v stat=%d", proc, rep.denied, rep.stat)
	}
	return rep.body.u32(), rep.body
}

// mount returns the root handle of an export.
func (rc *rawClient) mount(path string) []byte {
	rc.t.Helper()
	w := &xdrWriter{}
	w.string(path)
	rep := rc.callRaw(progMount, 3, 1, w.b)
	if rep.denied || rep.stat != 0 {
		rc.t.Fatalf("mount: %+v", rep)
	}
	if st := rep.body.u32(); st != 0 {
		rc.t.Fatalf("mount %s: status %d", path, st)
	}
	return append([]byte(nil), rep.body.opaque(64)...)
}

// args builds XDR arguments from values: []byte is an opaque, string a
// string, uint32/uint64/bool as themselves, rawBytes verbatim.
type rawBytes []byte

func args(vals ...any) []byte {
	w := &xdrWriter{}
	for _, v := range vals {
		switch x := v.(type) {
		case []byte:
			w.opaque(x)
		case string:
			w.string(x)
		case uint32:
			w.u32(x)
		case int:
			w.u32(uint32(x))
		case uint64:
			w.u64(x)
		case bool:
			w.bool(x)
		case rawBytes:
			w.b = append(w.b, x...)
		default:
			panic(fmt.Sprintf("args: %T", v))
		}
	}
	return w.b
}

// sattr encodes sattr3; nil fields are not set.
type sattrArgs struct {
	mode, uid, gid *uint32
	size           *uint64
	atime, mtime   *vfs.Timespec
	atimeNow       bool
}

func (s sattrArgs) enc() rawBytes {
	w := &xdrWriter{}
	for _, p := range []*uint32{s.mode, s.uid, s.gid} {
		w.bool(p != nil)
		if p != nil {
			w.u32(*p)
		}
	}
	w.bool(s.size != nil)
	if s.size != nil {
		w.u64(*s.size)
	}
	switch {
	case s.atimeNow:
		w.u32(setToServerTime)
	case s.atime != nil:
		w.u32(setToClientTime)
		w.u32(uint32(s.atime.Sec))
		w.u32(uint32(s.atime.Nsec))
	default:
		w.u32(dontChange)
	}
	if s.mtime != nil {
		w.u32(setToClientTime)
		w.u32(uint32(s.mtime.Sec))
		w.u32(uint32(s.mtime.Nsec))
	} else {
		w.u32(dontChange)
	}
	return w.b
}

func u32p(v uint32) *uint32 { return &v }
func u64p(v uint64) *uint64 { return &v }

// fattr is a decoded fattr3.
type fattr struct {
	typ, mode, nlink, uid, gid uint32
	size, used                 uint64
	major, minor               uint32
	fsid, fileid               uint64
	atime, mtime, ctime        vfs.Timespec
}

func readFattr(r *xdrReader) fattr {
	var a fattr
	a.typ, a.mode, a.nlink, a.uid, a.gid = r.u32(), r.u32(), r.u32(), r.u32(), r.u32()
	a.size, a.used = r.u64(), r.u64()
	a.major, a.minor = r.u32(), r.u32()
	a.fsid, a.fileid = r.u64(), r.u64()
	for _, t := range []*vfs.Timespec{&a.atime, &a.mtime, &a.ctime} {
		t.Sec = int64(r.u32())
		t.Nsec = int64(r.u32())
	}
	return a
}

func readPostOp(r *xdrReader) *fattr {
	if !r.bool() {
		return nil
	}
	a := readFattr(r)
	return &a
}

func skipWcc(r *xdrReader) *fattr {
	_, post := readWcc(r)
	return post
}

// Convenience wrappers used by many tests.

func (rc *rawClient) getattr(fh []byte) (uint32, fattr) {
	rc.t.Helper()
	st, r := rc.call(procGetattr, args(fh))
	if st != nfsOK {
		return st, fattr{}
	}
	return st, readFattr(r)
}

func (rc *rawClient) lookup(dir []byte, name string) (uint32, []byte) {
	rc.t.Helper()
	st, r := rc.call(procLookup, args(dir, name))
	if st != nfsOK {
		return st, nil
	}
	return st, append([]byte(nil), r.opaque(64)...)
}

func (rc *rawClient) create(dir []byte, name string, mode uint32) (uint32, []byte) {
	rc.t.Helper()
	st, r := rc.call(procCreate, args(dir, name, uint32(createGuarded), sattrArgs{mode: u32p(mode)}.enc()))
	if st != nfsOK {
		return st, nil
	}
	if !r.bool() {
		rc.t.Fatal("create: no handle")
	}
	return st, append([]byte(nil), r.opaque(64)...)
}

func (rc *rawClient) mkdir(dir []byte, name string, mode uint32) (uint32, []byte) {
	rc.t.Helper()
	st, r := rc.call(procMkdir, args(dir, name, sattrArgs{mode: u32p(mode)}.enc()))
	if st != nfsOK {
		return st, nil
	}
	r.bool()
	return st, append([]byte(nil), r.opaque(64)...)
}

func (rc *rawClient) write(fh []byte, off uint64, data []byte, stable uint32) (uint32, uint32, []byte) {
	rc.t.Helper()
	st, r := rc.call(procWrite, args(fh, off, uint32(len(data)), stable, data))
	if st != nfsOK {
		return st, 0, nil
	}
	skipWcc(r)
	n := r.u32()
	committed := r.u32()
	_ = n
	return st, committed, append([]byte(nil), r.fixed(8)...)
}

func (rc *rawClient) read(fh []byte, off uint64, count uint32) (uint32, []byte, bool) {
	rc.t.Helper()
	st, r := rc.call(procRead, args(fh, off, count))
	if st != nfsOK {
		return st, nil, false
	}
	readPostOp(r)
	r.u32()
	eof := r.bool()
	return st, append([]byte(nil), r.opaque(maxIO)...), eof
}

func (rc *rawClient) remove(dir []byte, name string) uint32 {
	rc.t.Helper()
	st, _ := rc.call(procRemove, args(dir, name))
	return st
}

// testServer runs a Server over fs on a loopback port.
type testServer struct {
	t    testing.TB
	srv  *Server
	addr string
	cfg  Config
}

func startServer(t testing.TB, fs vfs.Translator, mutate func(*Config)) *testServer {
	t.Helper()
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
	ts.t.Helper()
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

// restart closes the server and starts a new one over the same volume on
// the same port, as a restarted gateway would.
func (ts *testServer) restart() {
	ts.t.Helper()
	ts.srv.Close()
	ts.start(ts.addr)
}

func newMem() *memvfs.FS { return memvfs.New() }

func mustOK(t testing.TB, what string, st uint32) {
	t.Helper()
	if st != nfsOK {
		t.Fatalf("%s: nfsstat3 %d", what, st)
	}
}

func wantStatus(t testing.TB, what string, st, want uint32) {
	t.Helper()
	if st != want {
		t.Fatalf("%s: nfsstat3 %d, want %d", what, st, want)
	}
}

var _ = bytes.Equal

package nfs

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// TestCredentials: each call runs as its AUTH_UNIX identity; root and
// AUTH_NULL are squashed to 65534 by default.
func TestCredentials(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, nil) // root squash on
		rc := dialRaw(t, ts.addr)
		root := rc.mount("/vol")
		// make the root world-writable as an unsquashed root would
		if _, e := fs.SetAttr(t.Context(), vfs.RootGFID, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o777}); e != 0 {
			t.Fatal(e)
		}
		owner := func(fh []byte) (uint32, uint32) {
			_, a := rc.getattr(fh)
			return a.uid, a.gid
		}
		rc.as(1000, 1000)
		st, f1000 := rc.create(root, "u1000", 0o644)
		mustOK(t, "create as 1000", st)
		if u, g := owner(f1000); u != 1000 || g != 1000 {
			t.Fatalf("owner %d:%d, want 1000:1000", u, g)
		}
		rc.as(0, 0)
		st, froot := rc.create(root, "root", 0o644)
		mustOK(t, "create as squashed root", st)
		if u, g := owner(froot); u != 65534 || g != 65534 {
			t.Fatalf("squashed root created %d:%d", u, g)
		}
		rc.anon()
		st, fanon := rc.create(root, "anon", 0o644)
		mustOK(t, "create with AUTH_NULL", st)
		if u, _ := owner(fanon); u != 65534 {
			t.Fatalf("AUTH_NULL created as %d", u)
		}
		// another user may not write 1000's 0644 file, nor chmod it
		rc.as(1001, 1001)
		st, _, _ = rc.write(f1000, 0, []byte("x"), fileSync)
		wantStatus(t, "write as 1001", st, nfsErrAcces)
		st, _ = rc.call(procSetattr, args(f1000, sattrArgs{mode: u32p(0o666)}.enc(), false))
		wantStatus(t, "chmod as 1001", st, nfsErrPerm)
		// squashed root cannot either
		rc.as(0, 0)
		st, _, _ = rc.write(f1000, 0, []byte("x"), fileSync)
		wantStatus(t, "write as squashed root", st, nfsErrAcces)
		// ACCESS tells the truth
		rc.as(1001, 1001)
		st, r := rc.call(procAccess, args(f1000, uint32(accessRead|accessModify|accessExecute)))
		mustOK(t, "access", st)
		readPostOp(r)
		if got := r.u32(); got != accessRead {
			t.Fatalf("ACCESS for other user = %#x, want READ only", got)
		}
		rc.as(1000, 1000)
		st, r = rc.call(procAccess, args(f1000, uint32(accessRead|accessModify|accessExecute)))
		mustOK(t, "access", st)
		readPostOp(r)
		if got := r.u32(); got != accessRead|accessModify {
			t.Fatalf("ACCESS for owner = %#x", got)
		}
		// the owner writes its own file even after making it read-only
		st, _ = rc.call(procSetattr, args(f1000, sattrArgs{mode: u32p(0o444)}.enc(), false))
		mustOK(t, "chmod 444", st)
		st, _, _ = rc.write(f1000, 0, []byte("owner"), fileSync)
		mustOK(t, "owner writes own 0444 file", st)

		// without root squash, root is root
		ts2 := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		rc2 := dialRaw(t, ts2.addr)
		st, fr := rc2.create(root, "realroot", 0o600)
		mustOK(t, "create as root", st)
		_, a := rc2.getattr(fr)
		if a.uid != 0 {
			t.Fatalf("unsquashed root created as %d", a.uid)
		}
		st, _, _ = rc2.write(f1000, 0, []byte("root"), fileSync)
		mustOK(t, "root writes 0444 file", st)
	})
}

// TestReadOnly: every change is NFS3ERR_ROFS and ACCESS grants no write.
func TestReadOnly(t *testing.T) {
	mem := newMem()
	if _, _, e := mem.Create(t.Context(), vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o666}); e != 0 {
		t.Fatal(e)
	}
	ts := startServer(t, mem, func(c *Config) { c.Exports[0].ReadOnly = true; c.NoRootSquash = true })
	rc := dialRaw(t, ts.addr)
	root := rc.mount("/vol")
	_, f := rc.lookup(root, "f")
	st, _, _ := rc.write(f, 0, []byte("x"), fileSync)
	wantStatus(t, "write", st, nfsErrROFS)
	st, _ = rc.create(root, "g", 0o644)
	wantStatus(t, "create", st, nfsErrROFS)
	st, _ = rc.mkdir(root, "d", 0o755)
	wantStatus(t, "mkdir", st, nfsErrROFS)
	st, _ = rc.call(procSetattr, args(f, sattrArgs{mode: u32p(0o600)}.enc(), false))
	wantStatus(t, "setattr", st, nfsErrROFS)
	wantStatus(t, "remove", rc.remove(root, "f"), nfsErrROFS)
	st, _ = rc.call(procRename, args(root, "f", root, "h"))
	wantStatus(t, "rename", st, nfsErrROFS)
	st, _ = rc.call(procLink, args(f, root, "h"))
	wantStatus(t, "link", st, nfsErrROFS)
	st, r := rc.call(procAccess, args(f, uint32(0x3f)))
	mustOK(t, "access", st)
	readPostOp(r)
	if got := r.u32(); got&(accessModify|accessExtend|accessDelete) != 0 {
		t.Fatalf("ACCESS grants %#x on a read-only export", got)
	}
	st, data, _ := rc.read(f, 0, 10)
	mustOK(t, "read", st)
	_ = data
}

// TestFilesystemInfo: FSSTAT reports the volume's figures, FSINFO and
// PATHCONF the gateway's real limits.
func TestFilesystemInfo(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, nil)
		rc := dialRaw(t, ts.addr)
		root := rc.mount("/vol")
		sf, e := fs.StatFS(t.Context(), vfs.RootGFID)
		if e != 0 {
			t.Fatal(e)
		}
		st, r := rc.call(procFsstat, args(root))
		mustOK(t, "fsstat", st)
		readPostOp(r)
		tbytes, fbytes, abytes := r.u64(), r.u64(), r.u64()
		tfiles := r.u64()
		if tbytes != sf.Blocks*uint64(sf.Frsize) || tfiles != sf.Files || abytes > fbytes || fbytes > tbytes {
			t.Fatalf("fsstat %d/%d/%d files %d; statfs %+v", tbytes, fbytes, abytes, tfiles, sf)
		}
		st, r = rc.call(procFsinfo, args(root))
		mustOK(t, "fsinfo", st)
		readPostOp(r)
		if rtmax := r.u32(); rtmax != maxIO {
			t.Fatalf("rtmax %d", rtmax)
		}
		r.u32()
		r.u32()
		if wtmax := r.u32(); wtmax != maxIO {
			t.Fatalf("wtmax %d", wtmax)
		}
		st, r = rc.call(procPathconf, args(root))
		mustOK(t, "pathconf", st)
		readPostOp(r)
		if lm, nm := r.u32(), r.u32(); lm < 1000 || nm != 255 {
			t.Fatalf("pathconf linkmax %d namemax %d", lm, nm)
		}
	})
}

// TestExclusiveCreate: a retransmitted EXCLUSIVE create with the same
// verifier succeeds with the same file; another verifier gets EXIST.
func TestExclusiveCreate(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, func(c *Config) { c.NoRootSquash = true })
		rc := dialRaw(t, ts.addr)
		root := rc.mount("/vol")
		verf := rawBytes{1, 2, 3, 4, 5, 6, 7, 8}
		create := func(v rawBytes) (uint32, []byte) {
			st, r := rc.call(procCreate, args(root, "x", uint32(createExclusive), v))
			if st != nfsOK {
				return st, nil
			}
			r.bool()
			return st, append([]byte(nil), r.opaque(64)...)
		}
		st, h1 := create(verf)
		mustOK(t, "exclusive create", st)
		st, h2 := create(verf)
		mustOK(t, "retransmitted exclusive create", st)
		if !bytes.Equal(h1, h2) {
			t.Fatal("retransmission returned another file")
		}
		st, _ = create(rawBytes{8, 7, 6, 5, 4, 3, 2, 1})
		wantStatus(t, "exclusive create of existing file", st, nfsErrExist)
		// the creator writes it although its mode is 0600 and then 0
		st, _ = rc.call(procSetattr, args(h1, sattrArgs{mode: u32p(0)}.enc(), false))
		mustOK(t, "setattr", st)
		st, _, _ = rc.write(h1, 0, []byte("data"), fileSync)
		mustOK(t, "write new file", st)
		// GUARDED on an existing name is EXIST, UNCHECKED truncates
		st, _ = rc.create(root, "x", 0o644)
		wantStatus(t, "guarded create", st, nfsErrExist)
		st, r := rc.call(procCreate, args(root, "x", uint32(createUnchecked), sattrArgs{size: u64p(0)}.enc()))
		mustOK(t, "unchecked create", st)
		r.bool()
		r.opaque(64)
		if a := readPostOp(r); a == nil || a.size != 0 {
			t.Fatalf("unchecked create did not truncate: %+v", a)
		}
	})
}

// TestRPCErrors: the RPC layer rejects what it cannot serve.
func TestRPCErrors(t *testing.T) {
	ts := startServer(t, newMem(), nil)
	rc := dialRaw(t, ts.addr)
	if rep := rc.callRaw(100099, 1, 0, nil); rep.stat != acceptProgUnavail {
		t.Fatalf("unknown program: %+v", rep)
	}
	if rep := rc.callRaw(progNFS, 4, 0, nil); rep.stat != acceptProgMismatch || rep.body.u32() != 3 {
		t.Fatalf("NFSv4: %+v", rep)
	}
	if rep := rc.callRaw(progNFS, 3, 22, nil); rep.stat != acceptProcUnavail {
		t.Fatalf("procedure 22: %+v", rep)
	}
	if rep := rc.callRaw(progNFS, 3, procWrite, []byte{0, 0}); rep.stat != acceptGarbageArgs {
		t.Fatalf("truncated WRITE: %+v", rep)
	}
	if rep := rc.callRaw(progNFS, 3, procNull, nil); rep.stat != acceptSuccess {
		t.Fatalf("NULL: %+v", rep)
	}
	rc.flav, rc.cred = 6, []byte{1, 2, 3, 4} // RPCSEC_GSS
	if rep := rc.callRaw(progNFS, 3, procGetattr, nil); !rep.denied || rep.stat != rejectAuthError {
		t.Fatalf("RPCSEC_GSS: %+v", rep)
	}
	rc.as(0, 0)
	w := &xdrWriter{}
	w.string("/nope")
	rep := rc.callRaw(progMount, 3, 1, w.b)
	if rep.stat != 0 || rep.body.u32() != 2 {
		t.Fatalf("mount of unknown export: %+v", rep)
	}
	// with a single export, "/" is the export
	rc.mount("/")
	// EXPORT lists the volume (libnfs and showmount ask for it)
	rep = rc.callRaw(progMount, 3, 5, nil)
	if rep.stat != 0 || !rep.body.bool() || rep.body.string(100) != "/vol" || rep.body.bool() || rep.body.bool() {
		t.Fatalf("EXPORT: %+v", rep)
	}
	if rep := rc.callRaw(progMount, 3, 2, nil); rep.stat != 0 || rep.body.bool() {
		t.Fatalf("DUMP: %+v", rep)
	}
	// the connection still works after all that
	if rep := rc.callRaw(progNFS, 3, procNull, nil); rep.stat != acceptSuccess {
		t.Fatalf("NULL: %+v", rep)
	}
}

// TestGoNFSAdapter runs the common operations with go-nfs serving every
// procedure but LINK through the billy adapter, which proves the adapter
// and the stateless handles work with go-nfs's own procedures.
func TestGoNFSAdapter(t *testing.T) {
	forStacks(t, func(t *testing.T, fs vfs.Translator) {
		ts := startServer(t, fs, func(c *Config) {
			c.NoRootSquash = true
			for p := uint32(1); p <= procCommit; p++ {
				if p != procLink {
					c.GoNFSProcs = append(c.GoNFSProcs, p)
				}
			}
		})
		tg := goClient(t, ts.addr)
		data := bytes.Repeat([]byte("go-nfs "), 100000)
		writeFile(t, tg, "f", data)
		if got := readFile(t, tg, "f"); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes", len(got))
		}
		if _, err := tg.Mkdir("d", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := tg.Rename("f", "d/g"); err != nil {
			t.Fatal(err)
		}
		if err := tg.Symlink("g", "d/l"); err != nil {
			t.Fatal(err)
		}
		if got := names(t, tg, "d"); len(got) != 2 {
			t.Fatalf("d holds %v", got)
		}
		// handles from go-nfs are the same stateless handles
		rc := dialRaw(t, ts.addr)
		root := rc.mount("/vol")
		st, dh := rc.lookup(root, "d")
		mustOK(t, "lookup", st)
		_, gh, err := tg.Lookup("d/g")
		if err != nil {
			t.Fatal(err)
		}
		if _, g, err := DecodeHandle(gh); err != nil || g.IsZero() {
			t.Fatalf("go-nfs handed out a foreign handle %x", gh)
		}
		ts.restart()
		rc = dialRaw(t, ts.addr)
		st, _ = rc.getattr(dh)
		mustOK(t, "getattr through go-nfs after restart", st)
		if err := tg.RemoveAll("d"); err != nil {
			t.Fatal(err)
		}
		st, _ = rc.getattr(gh)
		wantStatus(t, "getattr of removed file through go-nfs", st, nfsErrStale)
	})
}

// TestGoNFSReaddirSnapshot: with go-nfs serving READDIRPLUS, the listing
// is served from the VerifierFor/DataForVerifier snapshot, so removing
// names between pages gives neither BAD_COOKIE nor duplicates.
func TestGoNFSReaddirSnapshot(t *testing.T) {
	mem := newMem()
	ctx := t.Context()
	d, _ := mem.Mkdir(ctx, vfs.RootGFID, "big", &vfs.CreateIn{Mode: 0o777})
	const n = 3000
	for i := 0; i < n; i++ {
		mem.Mknod(ctx, d.GFID, fmt.Sprintf("f%05d", i), &vfs.CreateIn{Mode: syscall.S_IFREG | 0o644})
	}
	ts := startServer(t, mem, func(c *Config) {
		c.NoRootSquash = true
		c.GoNFSProcs = []uint32{procReaddirplus}
	})
	rc := dialRaw(t, ts.addr)
	root := rc.mount("/vol")
	_, dir := rc.lookup(root, "big")
	removed := 0
	got := readdirAll(t, rc, dir, true, 8192, func(int) {
		for i := 0; i < 10 && removed < n; i++ {
			mustOK(t, "remove", rc.remove(dir, fmt.Sprintf("f%05d", n-1-removed)))
			removed++
		}
	})
	seen := map[string]bool{}
	for _, s := range got {
		if seen[s] {
			t.Fatalf("%s listed twice", s)
		}
		seen[s] = true
	}
	if len(got) != n {
		t.Fatalf("snapshot listing gave %d names, want the %d of the snapshot", len(got), n)
	}
}

package vfstest

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"sync"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

func ioCases() []Case {
	return []Case{
		{Name: "OpenFlags", Fn: testOpenFlags},
		{Name: "Append", Fn: testAppend},
		{Name: "LargeFile", Fn: testLargeFile},
		{Name: "AnonymousIO", Fn: testAnonymousIO},
		{Name: "SparseFile", Fn: testSparseFile},
		{Name: "Fallocate", Fn: testFallocate},
		{Name: "UnlinkedWhileOpen", Fn: testUnlinkedWhileOpen},
		{Name: "RenamedWhileOpen", Fn: testRenamedWhileOpen},
		{Name: "BadHandles", Fn: testBadHandles},
		{Name: "SyncCalls", Fn: testSyncCalls},
		{Name: "ConcurrentWriters", Fn: testConcurrentWriters},
	}
}

func testOpenFlags(e *Env) {
	f := e.File(Root, "f", 0o644, []byte("0123456789"))
	ro, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_RDONLY)
	e.OK("open O_RDONLY", errno)
	buf := make([]byte, 4)
	n, errno := e.FS.Read(e.Ctx, f.GFID, ro, buf, 3)
	e.OK("read", errno)
	if string(buf[:n]) != "3456" {
		e.Errorf("read %q", buf[:n])
	}
	n, errno = e.FS.Read(e.Ctx, f.GFID, ro, buf, 8)
	if errno != 0 || string(buf[:n]) != "89" {
		e.Errorf("short read at EOF: %q %v", buf[:n], errno)
	}
	n, errno = e.FS.Read(e.Ctx, f.GFID, ro, buf, 100)
	if errno != 0 || n != 0 {
		e.Errorf("read past EOF: %d %v", n, errno)
	}
	_, errno = e.FS.Write(e.Ctx, f.GFID, ro, []byte("x"), 0)
	e.Want("write on an O_RDONLY handle", errno, syscall.EBADF)
	e.OK("release", e.FS.Release(e.Ctx, f.GFID, ro))

	wo, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_WRONLY)
	e.OK("open O_WRONLY", errno)
	_, errno = e.FS.Read(e.Ctx, f.GFID, wo, buf, 0)
	e.Want("read on an O_WRONLY handle", errno, syscall.EBADF)
	n, errno = e.FS.Write(e.Ctx, f.GFID, wo, []byte("ab"), 1)
	if errno != 0 || n != 2 {
		e.Errorf("write %d %v", n, errno)
	}
	e.OK("release", e.FS.Release(e.Ctx, f.GFID, wo))
	if got := string(e.ReadAll(f.GFID)); got != "0ab3456789" {
		e.Errorf("content %q", got)
	}

	tr, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_WRONLY|syscall.O_TRUNC)
	e.OK("open O_TRUNC", errno)
	e.OK("release", e.FS.Release(e.Ctx, f.GFID, tr))
	if a := e.GetAttr(f.GFID); a.Size != 0 {
		e.Errorf("O_TRUNC left size %d", a.Size)
	}

	_, errno = e.FS.Open(e.Ctx, f.GFID, syscall.O_RDWR|syscall.O_CREAT)
	e.Want("open with O_CREAT", errno, syscall.EINVAL)
	d := e.Mkdir(Root, "d", 0o755)
	_, errno = e.FS.Open(e.Ctx, d.GFID, syscall.O_WRONLY)
	e.Want("open a directory for writing", errno, syscall.EISDIR)
	dh, errno := e.FS.Open(e.Ctx, d.GFID, syscall.O_RDONLY)
	if errno == 0 {
		_, errno = e.FS.Read(e.Ctx, d.GFID, dh, buf, 0)
		e.Want("read of a directory handle", errno, syscall.EISDIR)
		e.FS.Release(e.Ctx, d.GFID, dh)
	}
	_, errno = e.FS.Read(e.Ctx, d.GFID, 0, buf, 0)
	e.Want("anonymous read of a directory", errno, syscall.EISDIR)
	_, errno = e.FS.Open(e.Ctx, vfs.NewGFID(), syscall.O_RDONLY)
	e.Want("open of an unknown gfid", errno, syscall.ESTALE, syscall.ENOENT)
}

func testAppend(e *Env) {
	f := e.File(Root, "f", 0o644, []byte("abc"))
	fh, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_WRONLY|syscall.O_APPEND)
	e.OK("open O_APPEND", errno)
	for _, s := range []string{"de", "f"} {
		if _, errno := e.FS.Write(e.Ctx, f.GFID, fh, []byte(s), 0); errno != 0 {
			e.Fatalf("append: %v", errno)
		}
	}
	e.OK("release", e.FS.Release(e.Ctx, f.GFID, fh))
	if got := string(e.ReadAll(f.GFID)); got != "abcdef" {
		e.Errorf("after appends %q", got)
	}
}

func testLargeFile(e *Env) {
	const size = 6<<20 + 12345
	data := make([]byte, size)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	r.Read(data)
	a, fh, errno := e.FS.Create(e.Ctx, Root, "big", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	e.OK("create", errno)
	const wchunk = 128<<10 + 7
	for off := 0; off < size; off += wchunk {
		end := min(off+wchunk, size)
		n, errno := e.FS.Write(e.Ctx, a.GFID, fh, data[off:end], int64(off))
		if errno != 0 || n != end-off {
			e.Fatalf("write at %d: %d %v", off, n, errno)
		}
	}
	e.OK("fsync", e.FS.Fsync(e.Ctx, a.GFID, fh, false))
	e.OK("flush", e.FS.Flush(e.Ctx, a.GFID, fh))
	e.OK("release", e.FS.Release(e.Ctx, a.GFID, fh))
	if got := e.GetAttr(a.GFID); got.Size != size || got.Blocks*512 < size {
		e.Errorf("size %d blocks %d, want %d", got.Size, got.Blocks, size)
	}
	rh, errno := e.FS.Open(e.Ctx, a.GFID, syscall.O_RDONLY)
	e.OK("open", errno)
	defer e.FS.Release(e.Ctx, a.GFID, rh)
	h := sha256.New()
	buf := make([]byte, 100<<10+3)
	var off int64
	for {
		n, errno := e.FS.Read(e.Ctx, a.GFID, rh, buf, off)
		e.OK("read", errno)
		if n == 0 {
			break
		}
		h.Write(buf[:n])
		off += int64(n)
	}
	if want := sha256.Sum256(data); off != size || !bytes.Equal(h.Sum(nil), want[:]) {
		e.Errorf("read back %d bytes, checksum mismatch=%v", off, !bytes.Equal(h.Sum(nil), want[:]))
	}
}

func testAnonymousIO(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	n, errno := e.FS.Write(e.Ctx, f.GFID, 0, []byte("anonymous"), 0)
	if errno != 0 || n != 9 {
		e.Fatalf("anonymous write %d %v", n, errno)
	}
	buf := make([]byte, 32)
	n, errno = e.FS.Read(e.Ctx, f.GFID, 0, buf, 4)
	if errno != 0 || string(buf[:n]) != "ymous" {
		e.Errorf("anonymous read %q %v", buf[:n], errno)
	}
	_, errno = e.FS.Write(e.Ctx, vfs.NewGFID(), 0, []byte("x"), 0)
	e.Want("anonymous write to an unknown gfid", errno, syscall.ESTALE, syscall.ENOENT)
	_, errno = e.FS.Read(e.Ctx, f.GFID, 0, buf, -1)
	e.Want("read at a negative offset", errno, syscall.EINVAL)
}

func testSparseFile(e *Env) {
	const hole = 4 << 20
	a, fh, errno := e.FS.Create(e.Ctx, Root, "sparse", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	e.OK("create", errno)
	defer e.FS.Release(e.Ctx, a.GFID, fh)
	_, errno = e.FS.Write(e.Ctx, a.GFID, fh, []byte("head"), 0)
	e.OK("write head", errno)
	_, errno = e.FS.Write(e.Ctx, a.GFID, fh, []byte("tail"), hole)
	e.OK("write tail", errno)
	got := e.GetAttr(a.GFID)
	if got.Size != hole+4 {
		e.Errorf("size %d", got.Size)
	}
	if got.Blocks*512 >= hole {
		e.Errorf("a sparse file allocates %d bytes", got.Blocks*512)
	}
	buf := make([]byte, 8)
	n, errno := e.FS.Read(e.Ctx, a.GFID, fh, buf, hole/2)
	if errno != 0 || n != 8 || !bytes.Equal(buf, make([]byte, 8)) {
		e.Errorf("read in the hole %q %v", buf[:n], errno)
	}
	const seekData, seekHole = 3, 4
	off, errno := e.FS.Lseek(e.Ctx, a.GFID, fh, 0, seekHole)
	e.OK("SEEK_HOLE", errno)
	if off <= 0 || off > hole {
		e.Errorf("SEEK_HOLE from 0 = %d", off)
	}
	off, errno = e.FS.Lseek(e.Ctx, a.GFID, fh, hole/2, seekData)
	e.OK("SEEK_DATA", errno)
	if off <= hole/2 || off > hole {
		e.Errorf("SEEK_DATA from the hole = %d, want in (%d, %d]", off, hole/2, hole)
	}
	_, errno = e.FS.Lseek(e.Ctx, a.GFID, fh, hole+100, seekData)
	e.Want("SEEK_DATA past EOF", errno, syscall.ENXIO)
	off, errno = e.FS.Lseek(e.Ctx, a.GFID, 0, hole+1, seekHole)
	if errno != 0 || off != hole+4 {
		e.Errorf("anonymous SEEK_HOLE in the tail = %d %v, want EOF %d", off, errno, hole+4)
	}
}

func testFallocate(e *Env) {
	const (
		keepSize  = 0x01
		punchHole = 0x02
		mib       = 1 << 20
	)
	data := bytes.Repeat([]byte{0xAB}, 2*mib)
	f := e.File(Root, "f", 0o644, data)
	fh, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_RDWR)
	e.OK("open", errno)
	defer e.FS.Release(e.Ctx, f.GFID, fh)
	errno = e.FS.Fallocate(e.Ctx, f.GFID, fh, punchHole|keepSize, mib/2, mib)
	if errno == syscall.EOPNOTSUPP || errno == syscall.ENOSYS {
		e.Skipf("hole punching not supported: %v", errno)
	}
	e.OK("punch hole", errno)
	got := e.ReadAll(f.GFID)
	if len(got) != 2*mib {
		e.Fatalf("size after punch %d", len(got))
	}
	for i, c := range got {
		in := i >= mib/2 && i < mib/2+mib
		if (in && c != 0) || (!in && c != 0xAB) {
			e.Fatalf("byte %d = %#x after punching [%d,%d)", i, c, mib/2, mib/2+mib)
		}
	}
	if a := e.GetAttr(f.GFID); a.Blocks*512 > 2*mib-mib/2 {
		e.Errorf("punched file still allocates %d bytes", a.Blocks*512)
	}
	e.OK("preallocate beyond EOF", e.FS.Fallocate(e.Ctx, f.GFID, fh, 0, 2*mib, mib))
	if a := e.GetAttr(f.GFID); a.Size != 3*mib {
		e.Errorf("size after fallocate %d, want %d", a.Size, 3*mib)
	}
	e.OK("preallocate keep size", e.FS.Fallocate(e.Ctx, f.GFID, fh, keepSize, 3*mib, mib))
	if a := e.GetAttr(f.GFID); a.Size != 3*mib {
		e.Errorf("size after FALLOC_FL_KEEP_SIZE %d", a.Size)
	}
	ro, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_RDONLY)
	e.OK("open", errno)
	e.Want("fallocate on an O_RDONLY handle", e.FS.Fallocate(e.Ctx, f.GFID, ro, 0, 0, 10), syscall.EBADF)
	e.FS.Release(e.Ctx, f.GFID, ro)
}

func testUnlinkedWhileOpen(e *Env) {
	d := e.Mkdir(Root, "d", 0o755)
	f := e.File(d.GFID, "f", 0o644, []byte("still here"))
	fh, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_RDWR)
	e.OK("open", errno)
	e.OK("unlink", e.FS.Unlink(e.Ctx, d.GFID, "f"))
	e.Gone(d.GFID, "f")
	if names := Names(e.List(d.GFID, 0, false)); len(names) != 0 {
		e.Errorf("unlinked file still listed: %q", names)
	}
	buf := make([]byte, 32)
	n, errno := e.FS.Read(e.Ctx, f.GFID, fh, buf, 0)
	if errno != 0 || string(buf[:n]) != "still here" {
		e.Errorf("read after unlink %q %v", buf[:n], errno)
	}
	_, errno = e.FS.Write(e.Ctx, f.GFID, fh, []byte("STILL"), 0)
	e.OK("write after unlink", errno)
	a, errno := e.FS.GetAttr(e.Ctx, f.GFID, fh)
	e.OK("fstat after unlink", errno)
	if a.Nlink != 0 || a.Size != 10 {
		e.Errorf("fstat after unlink %+v", a)
	}
	// A name with the same spelling is a new file.
	g := e.File(d.GFID, "f", 0o644, []byte("new"))
	if g.GFID == f.GFID {
		e.Errorf("re-created name reused the gfid")
	}
	n, errno = e.FS.Read(e.Ctx, f.GFID, fh, buf, 0)
	if errno != 0 || string(buf[:n]) != "STILL here" {
		e.Errorf("read through the old handle %q %v", buf[:n], errno)
	}
	_, errno = e.FS.SetAttr(e.Ctx, f.GFID, fh, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 3})
	e.OK("ftruncate after unlink", errno)
	e.OK("release", e.FS.Release(e.Ctx, f.GFID, fh))
	e.Stale(f.GFID)
	if string(e.ReadAll(g.GFID)) != "new" {
		e.Errorf("new file disturbed")
	}
	// The same through a rename over the open file.
	h := e.File(d.GFID, "h", 0o644, []byte("victim"))
	hh, errno := e.FS.Open(e.Ctx, h.GFID, syscall.O_RDONLY)
	e.OK("open", errno)
	e.OK("rename over an open file", e.FS.Rename(e.Ctx, d.GFID, "f", d.GFID, "h", 0))
	n, errno = e.FS.Read(e.Ctx, h.GFID, hh, buf, 0)
	if errno != 0 || string(buf[:n]) != "victim" {
		e.Errorf("read of a replaced open file %q %v", buf[:n], errno)
	}
	e.OK("release", e.FS.Release(e.Ctx, h.GFID, hh))
	e.Stale(h.GFID)
}

func testRenamedWhileOpen(e *Env) {
	d := e.Mkdir(Root, "d", 0o755)
	f := e.File(d.GFID, "f", 0o644, []byte("x"))
	fh, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_RDWR)
	e.OK("open", errno)
	defer e.FS.Release(e.Ctx, f.GFID, fh)
	e.OK("rename dir", e.FS.Rename(e.Ctx, Root, "d", Root, "d2", 0))
	e.OK("rename file", e.FS.Rename(e.Ctx, d.GFID, "f", Root, "f2", 0))
	_, errno = e.FS.Write(e.Ctx, f.GFID, fh, []byte("y"), 1)
	e.OK("write after renames", errno)
	if string(e.ReadAll(e.Lookup(Root, "f2").GFID)) != "xy" {
		e.Errorf("content after renames")
	}
}

func testBadHandles(e *Env) {
	f := e.File(Root, "f", 0o644, []byte("x"))
	g := e.File(Root, "g", 0o644, []byte("y"))
	fh, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_RDONLY)
	e.OK("open", errno)
	buf := make([]byte, 1)
	_, errno = e.FS.Read(e.Ctx, g.GFID, fh, buf, 0)
	e.Want("read with another file's handle", errno, syscall.EBADF, 0)
	e.OK("release", e.FS.Release(e.Ctx, f.GFID, fh))
	_, errno = e.FS.Read(e.Ctx, f.GFID, fh, buf, 0)
	e.Want("read with a released handle", errno, syscall.EBADF)
	_, errno = e.FS.Read(e.Ctx, f.GFID, 987654321, buf, 0)
	e.Want("read with a made-up handle", errno, syscall.EBADF)
	e.Want("release of a made-up handle", e.FS.Release(e.Ctx, f.GFID, 987654321), syscall.EBADF, 0)
}

func testSyncCalls(e *Env) {
	f := e.File(Root, "f", 0o644, []byte("x"))
	e.OK("anonymous fsync", e.FS.Fsync(e.Ctx, f.GFID, 0, false))
	e.OK("anonymous fdatasync", e.FS.Fsync(e.Ctx, f.GFID, 0, true))
	fh, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_WRONLY)
	e.OK("open", errno)
	e.OK("flush", e.FS.Flush(e.Ctx, f.GFID, fh))
	e.OK("fsync", e.FS.Fsync(e.Ctx, f.GFID, fh, true))
	e.OK("release", e.FS.Release(e.Ctx, f.GFID, fh))
	dh, errno := e.FS.OpenDir(e.Ctx, Root)
	e.OK("opendir", errno)
	e.OK("fsyncdir", e.FS.FsyncDir(e.Ctx, Root, dh, false))
	e.OK("releasedir", e.FS.ReleaseDir(e.Ctx, Root, dh))
	e.OK("anonymous fsyncdir", e.FS.FsyncDir(e.Ctx, Root, 0, true))
	st, errno := e.FS.StatFS(e.Ctx, Root)
	e.OK("statfs", errno)
	if st.Blocks == 0 || st.Bsize == 0 || st.NameLen < 255 || st.Bfree > st.Blocks || st.Bavail > st.Blocks {
		e.Errorf("statfs %+v", st)
	}
	if _, errno := e.FS.StatFS(e.Ctx, f.GFID); errno != 0 {
		e.Errorf("statfs of a file: %v", errno)
	}
}

func testConcurrentWriters(e *Env) {
	f := e.File(Root, "f", 0o644, nil)
	const workers, block = 8, 64 << 10
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fh, errno := e.FS.Open(e.Ctx, f.GFID, syscall.O_WRONLY)
			if errno != 0 {
				e.Errorf("open: %v", errno)
				return
			}
			defer e.FS.Release(e.Ctx, f.GFID, fh)
			if _, errno := e.FS.Write(e.Ctx, f.GFID, fh, bytes.Repeat([]byte{byte('a' + w)}, block), int64(w*block)); errno != 0 {
				e.Errorf("write: %v", errno)
			}
		}()
	}
	wg.Wait()
	got := e.ReadAll(f.GFID)
	if len(got) != workers*block {
		e.Fatalf("size %d", len(got))
	}
	for w := 0; w < workers; w++ {
		if !bytes.Equal(got[w*block:(w+1)*block], bytes.Repeat([]byte{byte('a' + w)}, block)) {
			e.Errorf("block %d corrupted", w)
		}
	}
}

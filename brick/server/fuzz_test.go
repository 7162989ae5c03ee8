package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/posix"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
	"google.golang.org/protobuf/proto"
)

// FuzzRequests feeds arbitrary bytes, decoded as the request of an
// arbitrary method, through the interceptor and handlers of a server over
// storage/posix in a temp dir (memfs when not root). It asserts that
// nothing panics, every call returns within a bound, replies carry a sane
// errno, and nothing outside the export directory changes: no escape.
func FuzzRequests(f *testing.F) {
	methods := brickpb.Brick_ServiceDesc.Methods
	seed := func(method string, m proto.Message) {
		for i, md := range methods {
			if md.MethodName == method {
				b, err := proto.Marshal(m)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(uint8(i), b)
				return
			}
		}
		f.Fatalf("no method %s", method)
	}
	g2 := vfs.GFID{15: 2}
	rw := uint32(syscall.O_RDWR)
	seed("Lookup", &brickpb.LookupRequest{Parent: root, Name: []byte("a")})
	seed("Lookup", &brickpb.LookupRequest{Parent: root, Name: []byte(".cairn")})
	seed("Create", &brickpb.CreateRequest{Parent: root, Name: []byte("a"), In: &brickpb.CreateIn{Gfid: g2[:], Mode: 0o644, Flags: rw}})
	seed("Mkdir", &brickpb.MkdirRequest{Parent: root, Name: []byte("d"), In: &brickpb.CreateIn{Mode: 0o755}})
	seed("Symlink", &brickpb.SymlinkRequest{Parent: root, Name: []byte("s"), Target: []byte("../../outside/secret")})
	seed("Mknod", &brickpb.MknodRequest{Parent: root, Name: []byte("n"), In: &brickpb.CreateIn{Mode: syscall.S_IFIFO | 0o644}})
	seed("Link", &brickpb.LinkRequest{Gfid: g2[:], NewParent: root, NewName: []byte("l")})
	seed("Rename", &brickpb.RenameRequest{OldParent: root, OldName: []byte("a"), NewParent: root, NewName: []byte("b")})
	seed("Open", &brickpb.OpenRequest{Gfid: g2[:], Flags: rw})
	seed("Write", &brickpb.WriteRequest{Gfid: g2[:], Fh: 1, Data: []byte("hello")})
	seed("Write", &brickpb.WriteRequest{Gfid: g2[:], Offset: 1 << 40, Data: []byte("x")})
	seed("Read", &brickpb.ReadRequest{Gfid: g2[:], Size: 100})
	seed("SetAttr", &brickpb.SetAttrRequest{Gfid: g2[:], In: &brickpb.SetAttrIn{Valid: uint32(vfs.SetSize), Size: 3}})
	seed("ReadDir", &brickpb.ReadDirRequest{Gfid: root, Plus: true})
	seed("SetXattr", &brickpb.SetXattrRequest{Gfid: g2[:], Name: []byte("trusted.cairn.gfid"), Value: root})
	seed("XattrOp", &brickpb.XattrOpRequest{Gfid: g2[:], Operands: []*brickpb.Xattr{{Name: []byte("trusted.cairn.pending.x"), Value: make([]byte, 12)}}})
	seed("Unlink", &brickpb.UnlinkRequest{Parent: root, Name: []byte("b")})
	seed("Compound", &brickpb.CompoundRequest{Ops: []*brickpb.SubRequest{
		{Op: &brickpb.SubRequest_Mkdir{Mkdir: &brickpb.MkdirRequest{Parent: root, Name: []byte("c"), In: &brickpb.CreateIn{Mode: 0o755}}}},
		{Op: &brickpb.SubRequest_Rmdir{Rmdir: &brickpb.RmdirRequest{Parent: root, Name: []byte("c")}}},
	}})
	seed("GetVolfile", &brickpb.GetVolfileRequest{Name: []byte("../../etc/passwd")})

	base := f.TempDir()
	export := filepath.Join(base, "export")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{export, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	secret := []byte("must not change")
	if err := os.WriteFile(filepath.Join(outside, "secret"), secret, 0o600); err != nil {
		f.Fatal(err)
	}
	var xl vfs.Translator
	if os.Geteuid() == 0 {
		p, err := posix.New(posix.Config{Directory: export})
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { p.Close() })
		xl = p
	} else {
		xl = memfs.New(memfs.Config{})
	}
	r := newRig(f, xl, nil)
	c := r.conn("127.0.0.1")

	f.Fuzz(func(t *testing.T, method uint8, data []byte) {
		md := methods[int(method)%len(methods)]
		ctx, cancel := context.WithTimeout(r.ctx(c), 5*time.Second)
		defer cancel()
		dec := func(v any) error { return proto.Unmarshal(data, v.(proto.Message)) }
		start := time.Now()
		rep, err := md.Handler(r.svc, ctx, dec, r.s.intercept)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("%s took %v", md.MethodName, d)
		}
		if err == nil {
			if rep == nil {
				t.Fatalf("%s: nil reply without error", md.MethodName)
			}
			if e, ok := rep.(interface{ GetErrno() uint32 }); ok && e.GetErrno() >= 4096 {
				t.Fatalf("%s: errno %d", md.MethodName, e.GetErrno())
			}
		}
		checkNoEscape(t, base, outside, secret)
	})
}

func checkNoEscape(t *testing.T, base, outside string, secret []byte) {
	t.Helper()
	names := func(dir string) []string {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		sort.Strings(out)
		return out
	}
	if got := names(base); len(got) != 2 || got[0] != "export" || got[1] != "outside" {
		t.Fatalf("entries appeared next to the export: %v", got)
	}
	if got := names(outside); len(got) != 1 || got[0] != "secret" {
		t.Fatalf("entries appeared outside the export: %v", got)
	}
	b, err := os.ReadFile(filepath.Join(outside, "secret"))
	if err != nil || !bytes.Equal(b, secret) {
		t.Fatalf("file outside the export changed: %q, %v", b, err)
	}
	fi, err := os.Lstat(filepath.Join(outside, "secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file outside the export changed mode: %v, %v", fi.Mode(), err)
	}
}

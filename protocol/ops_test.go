package protocol

import (
	"reflect"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
	"google.golang.org/protobuf/proto"
)

// TestOpRoundTrip: every compound member survives encode → wire → decode.
func TestOpRoundTrip(t *testing.T) {
	g, p, q := vfs.NewGFID(), vfs.NewGFID(), vfs.NewGFID()
	in := vfs.CreateIn{GFID: q, Mode: 0o640, Flags: 2, Rdev: 7}
	sa := vfs.SetAttrIn{Valid: vfs.SetMode | vfs.SetMtime, Mode: 0o600, UID: 1, GID: 2, Size: 3,
		Atime: vfs.Timespec{Sec: 4, Nsec: 5}, Mtime: vfs.Timespec{Sec: 6, Nsec: 7}, Ctime: vfs.Timespec{Sec: 8, Nsec: 9}}
	lk := vfs.Lock{Type: vfs.WriteLock, Start: 10, End: 20, Pid: 30, Owner: 40}
	ops := []compound.Op{
		compound.Lookup(p, "a"),
		compound.LookupXattrs(p, "a", []string{"trusted.x", "user.y"}),
		compound.GetAttr(g, 3),
		compound.GetAttrXattrs(g, 3, []string{"trusted.x"}),
		compound.SetAttr(g, 3, sa),
		compound.Create(p, "c", in),
		compound.Mknod(p, "n", in),
		compound.Mkdir(p, "d", in),
		compound.Symlink(p, "s", "target", in),
		compound.Link(g, p, "l"),
		compound.Unlink(p, "u"),
		compound.UnlinkHeld(p, "h"),
		compound.UnlinkUndo(p, "h"),
		compound.UnlinkCommit(p, "h"),
		compound.Rmdir(p, "r"),
		compound.Rename(p, "old", q, "new", vfs.RenameNoReplace),
		compound.Open(g, uint32(syscall.O_RDWR)),
		compound.Read(g, 3, 100, 4096),
		compound.Write(g, 3, []byte("data"), 200),
		compound.Flush(g, 3),
		compound.Fsync(g, 3, true),
		compound.Release(g, 3),
		compound.Fallocate(g, 3, 1, 5, 6),
		compound.GetXattr(g, "user.x"),
		compound.SetXattr(g, "user.x", []byte("v"), vfs.XattrCreate),
		compound.RemoveXattr(g, "user.x"),
		compound.XattrOp(g, vfs.XattrAddArray64, map[string][]byte{"a": {1}, "b": {2}}),
		compound.InodeLk("dom", g, lk, true),
		compound.EntryLk("dom", p, "e", vfs.ReadLock, 99, true),
	}
	for _, op := range ops {
		sub := EncodeSubRequest(&op)
		if sub == nil {
			t.Fatalf("%v: not encoded", op.Kind)
		}
		b, err := proto.Marshal(sub)
		if err != nil {
			t.Fatal(err)
		}
		var back brickpb.SubRequest
		if err := proto.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		got, ok := DecodeSubRequest(&back)
		if !ok || !reflect.DeepEqual(got, op) {
			t.Errorf("%v:\n got %+v\nwant %+v", op.Kind, got, op)
		}
	}
}

func TestResultRoundTrip(t *testing.T) {
	a := vfs.Attr{GFID: vfs.NewGFID(), Mode: 0o100644, Nlink: 1, Size: 9, Mtime: vfs.Timespec{Sec: 1, Nsec: 2}}
	cases := []struct {
		k compound.Kind
		r compound.Result
	}{
		{compound.OpLookup, compound.Result{Attr: a}},
		{compound.OpLookup, compound.Result{Errno: syscall.ENOENT}},
		{compound.OpLookup, compound.Result{Attr: a, Xattrs: map[string][]byte{"trusted.x": {1, 2}}}},
		{compound.OpGetAttr, compound.Result{Attr: a, Xattrs: map[string][]byte{"trusted.x": {3}}}},
		{compound.OpCreate, compound.Result{Attr: a, Fh: 5}},
		{compound.OpOpen, compound.Result{Fh: 6}},
		{compound.OpRead, compound.Result{Data: []byte("abc")}},
		{compound.OpWrite, compound.Result{N: 3}},
		{compound.OpGetXattr, compound.Result{Data: []byte("v")}},
		{compound.OpXattrOp, compound.Result{Xattrs: map[string][]byte{"a": {1, 2}}}},
		{compound.OpUnlink, compound.Result{Errno: syscall.EACCES}},
		{compound.OpInodeLk, compound.Result{}},
	}
	for _, tc := range cases {
		b, _ := proto.Marshal(EncodeResult(tc.k, &tc.r))
		var back brickpb.SubReply
		if err := proto.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		got := DecodeResult(tc.k, &back)
		if tc.r.Xattrs == nil && tc.k == compound.OpXattrOp {
			tc.r.Xattrs = map[string][]byte{}
		}
		if !reflect.DeepEqual(got, tc.r) {
			t.Errorf("%v:\n got %+v\nwant %+v", tc.k, got, tc.r)
		}
	}
	// A reply of the wrong shape is EIO.
	if r := DecodeResult(compound.OpWrite, EncodeResult(compound.OpRead, &compound.Result{})); r.Errno != syscall.EIO {
		t.Errorf("mismatched reply: %+v", r)
	}
}

func TestCaller(t *testing.T) {
	for _, c := range []vfs.Caller{{}, {UID: 1000, GID: 100, Pid: 7}, {UID: 1, GID: 2, Pid: 3, Groups: []uint32{4, 5, 6}}} {
		got, err := DecodeCaller(EncodeCaller(&c))
		if err != nil || got.UID != c.UID || got.GID != c.GID || got.Pid != c.Pid || !reflect.DeepEqual(got.Groups, c.Groups) {
			t.Errorf("%+v → %+v, %v", c, got, err)
		}
	}
	for _, bad := range []string{"1", "1:2", "a:2:3", "1:2:3:x", "1:2:3:4,", "99999999999:1:1"} {
		if _, err := DecodeCaller(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	many := vfs.Caller{Groups: make([]uint32, MaxGroups+10)}
	if got, err := DecodeCaller(EncodeCaller(&many)); err != nil || len(got.Groups) != MaxGroups {
		t.Errorf("groups not truncated to MaxGroups: %d, %v", len(got.Groups), err)
	}
}

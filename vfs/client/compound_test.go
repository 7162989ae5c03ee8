package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

func counters(vals ...int32) []byte {
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.BigEndian.PutUint32(b[4*i:], uint32(v))
	}
	return b
}

// TestCompoundTransaction runs replicate's write transaction as one batch:
// inodelk, pre-op xattrop, write, post-op xattrop, unlock.
func TestCompoundTransaction(t *testing.T) {
	c, _ := connected(t, locks.New(memfs.New(memfs.Config{})), nil)
	ctx := context.Background()
	a, fh, e := c.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	const key = "trusted.cairn.pending.b0"
	lk := vfs.Lock{Type: vfs.WriteLock, End: vfs.LockEOF, Owner: 9}
	unlk := lk
	unlk.Type = vfs.Unlock
	ops := []compound.Op{
		compound.InodeLk("replicate", a.GFID, lk, true),
		compound.XattrOp(a.GFID, vfs.XattrAddArray32, map[string][]byte{key: counters(1, 0, 0)}),
		compound.Write(a.GFID, fh, []byte("data"), 0),
		compound.XattrOp(a.GFID, vfs.XattrAddArray32, map[string][]byte{key: counters(-1, 0, 0)}),
		compound.InodeLk("replicate", a.GFID, unlk, false),
	}
	res, e := compound.Run(ctx, c, ops)
	if e != 0 || len(res) != len(ops) {
		t.Fatalf("compound: %v, %d results", e, len(res))
	}
	if got := res[1].Xattrs[key]; !bytes.Equal(got, counters(1, 0, 0)) {
		t.Errorf("pre-op result %x", got)
	}
	if res[2].N != 4 {
		t.Errorf("write result %d", res[2].N)
	}
	if got := res[3].Xattrs[key]; !bytes.Equal(got, counters(0, 0, 0)) {
		t.Errorf("post-op result %x", got)
	}
	buf := make([]byte, 8)
	if n, e := c.Read(ctx, a.GFID, fh, buf, 0); e != 0 || string(buf[:n]) != "data" {
		t.Fatalf("read back %q %v", buf[:n], e)
	}
}

// TestCompoundStopsAtFailure: the failing member is the last result and
// nothing after it runs.
func TestCompoundStopsAtFailure(t *testing.T) {
	c, _ := connected(t, memfs.New(memfs.Config{}), nil)
	ctx := context.Background()
	ops := []compound.Op{
		compound.Mkdir(vfs.RootGFID, "a", vfs.CreateIn{Mode: 0o755}),
		compound.Unlink(vfs.RootGFID, "missing"),
		compound.Mkdir(vfs.RootGFID, "b", vfs.CreateIn{Mode: 0o755}),
	}
	res, e := c.Compound(ctx, ops)
	if e != syscall.ENOENT || len(res) != 2 || res[0].Errno != 0 || res[1].Errno != syscall.ENOENT {
		t.Fatalf("got %v, %+v", e, res)
	}
	if !res[0].Attr.IsDir() {
		t.Errorf("mkdir result %+v", res[0].Attr)
	}
	if _, e := c.Lookup(ctx, vfs.RootGFID, "b"); e != syscall.ENOENT {
		t.Fatalf("member after the failure ran: lookup b = %v", e)
	}
	// A malformed member fails the whole batch before anything runs.
	ops = []compound.Op{
		compound.Mkdir(vfs.RootGFID, "c", vfs.CreateIn{Mode: 0o755}),
		compound.Mkdir(vfs.RootGFID, "bad/name", vfs.CreateIn{Mode: 0o755}),
	}
	if res, e := c.Compound(ctx, ops); e != syscall.EINVAL || len(res) != 0 {
		t.Fatalf("malformed batch: %v, %+v", e, res)
	}
	if _, e := c.Lookup(ctx, vfs.RootGFID, "c"); e != syscall.ENOENT {
		t.Fatal("member of a malformed batch ran")
	}
}

// TestCompoundHandles: handles made in a batch are client handles; a batch
// naming a handle the restarted brick forgot reopens it and retries.
func TestCompoundHandles(t *testing.T) {
	fs := memfs.New(memfs.Config{})
	b := startBrick(t, fs, nil)
	c := newClient(t, b.port, nil)
	ctx := context.Background()
	g := vfs.NewGFID()
	res, e := c.Compound(ctx, []compound.Op{
		compound.Create(vfs.RootGFID, "f", vfs.CreateIn{GFID: g, Mode: 0o644, Flags: syscall.O_RDWR}),
	})
	if e != 0 || res[0].Attr.GFID != g || res[0].Fh == 0 {
		t.Fatalf("create in batch: %v %+v", e, res)
	}
	fh := res[0].Fh
	if _, e := c.Write(ctx, g, fh, []byte("x"), 0); e != 0 {
		t.Fatal("write through a batch-made handle:", e)
	}
	b.stop()
	waitFor(t, "client sees the brick down", 5*time.Second, func() bool { return !c.Up() })
	b.restart()
	waitFor(t, "reconnect", 5*time.Second, c.Up)
	res, e = c.Compound(ctx, []compound.Op{
		compound.Write(g, fh, []byte("yz"), 1),
		compound.Read(g, fh, 0, 10),
		compound.Release(g, fh),
	})
	if e != 0 || len(res) != 3 || string(res[1].Data) != "xyz" {
		t.Fatalf("batch on a reopened handle: %v %+v", e, res)
	}
	if _, e := c.GetAttr(ctx, g, fh); e != syscall.EBADF {
		t.Fatalf("handle released in a batch still usable: %v", e)
	}
}

// TestCompoundFallback: compound.Run on a translator that is not a
// Compounder has the same semantics.
func TestCompoundFallback(t *testing.T) {
	fs := memfs.New(memfs.Config{})
	ctx := context.Background()
	res, e := compound.Run(ctx, fs, []compound.Op{
		compound.Mkdir(vfs.RootGFID, "a", vfs.CreateIn{Mode: 0o755}),
		compound.Rmdir(vfs.RootGFID, "missing"),
		compound.Mkdir(vfs.RootGFID, "b", vfs.CreateIn{Mode: 0o755}),
	})
	if e != syscall.ENOENT || len(res) != 2 {
		t.Fatalf("%v %+v", e, res)
	}
}

// TestLookupWithXattrs checks that a lookup or getattr asking for xattrs
// gets the values the object has, and nothing for those it lacks, in the
// same round trip (replicate reads its changelog this way).
func TestLookupWithXattrs(t *testing.T) {
	c, _ := connected(t, locks.New(memfs.New(memfs.Config{})), nil)
	ctx := context.Background()
	a, e := c.Mkdir(ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	if e != 0 {
		t.Fatal(e)
	}
	if e := c.SetXattr(ctx, a.GFID, "trusted.cairn.pending.b0", counters(1, 2, 3), 0); e != 0 {
		t.Fatal(e)
	}
	keys := []string{"trusted.cairn.pending.b0", "trusted.cairn.pending.b1"}
	for _, op := range []compound.Op{
		compound.LookupXattrs(vfs.RootGFID, "d", keys),
		compound.GetAttrXattrs(a.GFID, 0, keys),
	} {
		res, e := compound.Run(ctx, c, []compound.Op{op})
		if e != 0 || len(res) != 1 {
			t.Fatalf("%v: %v, %d results", op.Kind, e, len(res))
		}
		if res[0].Attr.GFID != a.GFID {
			t.Errorf("%v: GFID %v, want %v", op.Kind, res[0].Attr.GFID, a.GFID)
		}
		if got := res[0].Xattrs[keys[0]]; !bytes.Equal(got, counters(1, 2, 3)) {
			t.Errorf("%v: %s = %x", op.Kind, keys[0], got)
		}
		if _, ok := res[0].Xattrs[keys[1]]; ok || len(res[0].Xattrs) != 1 {
			t.Errorf("%v: xattrs %v, want only %s", op.Kind, res[0].Xattrs, keys[0])
		}
	}
	res, e := compound.Run(ctx, c, []compound.Op{compound.LookupXattrs(vfs.RootGFID, "missing", keys)})
	if e != syscall.ENOENT || len(res) != 1 || res[0].Errno != syscall.ENOENT {
		t.Errorf("lookup of a missing name: %v %+v", e, res)
	}
}

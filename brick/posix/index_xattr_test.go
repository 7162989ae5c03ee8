package posix

import (
	"bytes"
	"context"
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// newIndexedFile makes a brick with one closed file, f.
func newIndexedFile(t *testing.T) (*Posix, vfs.Attr) {
	t.Helper()
	p, _ := newTestPosix(t)
	ctx := context.Background()
	a, fh, e := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	p.Release(ctx, a.GFID, fh)
	return p, a
}

// The dirty index is readable remotely as a virtual xattr of the root, and
// only by root.
func TestDirtyIndexVirtualXattr(t *testing.T) {
	p, a := newIndexedFile(t)
	ctx := context.Background()
	v, e := p.GetXattr(ctx, vfs.RootGFID, XattrIndexDirty)
	if e != 0 || len(v) != 0 {
		t.Fatalf("clean brick: %x %v", v, e)
	}
	one := make([]byte, 12)
	binary.BigEndian.PutUint32(one, 1)
	if _, e := p.XattrOp(ctx, a.GFID, vfs.XattrAddArray32, map[string][]byte{XattrPendingPrefix + "b2": one}); e != 0 {
		t.Fatal(e)
	}
	v, e = p.GetXattr(ctx, vfs.RootGFID, XattrIndexDirty)
	if e != 0 || !bytes.Equal(v, a.GFID[:]) {
		t.Fatalf("dirty index = %x %v, want %x", v, e, a.GFID[:])
	}
	user := vfs.WithCaller(ctx, &vfs.Caller{UID: 1000, GID: 1000})
	if _, e := p.GetXattr(user, vfs.RootGFID, XattrIndexDirty); e != syscall.EPERM {
		t.Fatalf("non-root read: %v, want EPERM", e)
	}
}

// The dirty counter (replicate's trusted.cairn.dirty) is indexed like the
// pending ones: listed while non-zero, unlisted when it is back to zero.
func TestDirtyCounterIndexed(t *testing.T) {
	p, a := newIndexedFile(t)
	ctx := context.Background()
	add := func(d int32) {
		t.Helper()
		v := make([]byte, 12)
		binary.BigEndian.PutUint32(v, uint32(d))
		if _, e := p.XattrOp(ctx, a.GFID, vfs.XattrAddArray32, map[string][]byte{XattrDirty: v}); e != 0 {
			t.Fatal(e)
		}
	}
	listed := func() bool {
		t.Helper()
		gs, err := p.DirtyGFIDs()
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			if g == a.GFID {
				return true
			}
		}
		return false
	}
	add(1)
	if !listed() {
		t.Fatal("a non-zero dirty counter is not in the dirty index")
	}
	add(-1)
	if listed() {
		t.Fatal("a dirty counter back at zero is still in the dirty index")
	}
}

package posix

import (
	"context"
	"encoding/binary"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// Changelog xattrs written after the application's last change must not
// move the ctime clients see (tar: "file changed as we read it"), while
// every client-visible change still does.
func TestInternalXattrsKeepCtime(t *testing.T) {
	p, _ := newTestPosix(t)
	ctx := context.Background()
	a, fh, e := p.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	defer p.Release(ctx, a.GFID, fh)
	if _, e := p.Write(ctx, a.GFID, fh, []byte("data"), 0); e != 0 {
		t.Fatal(e)
	}
	seen, _ := p.GetAttr(ctx, a.GFID, 0)
	counter := func(n int32) map[string][]byte {
		v := make([]byte, 12)
		binary.BigEndian.PutUint32(v, uint32(n))
		return map[string][]byte{XattrPendingPrefix + "b1": v}
	}
	for _, n := range []int32{1, -1, 1} { // pre-op, post-op, pre-op
		time.Sleep(5 * time.Millisecond)
		if _, e := p.XattrOp(ctx, a.GFID, vfs.XattrAddArray32, counter(n)); e != 0 {
			t.Fatal(e)
		}
		if now, _ := p.GetAttr(ctx, a.GFID, 0); now.Ctime != seen.Ctime {
			t.Fatalf("ctime moved by a changelog update: %v -> %v", seen.Ctime, now.Ctime)
		}
	}
	time.Sleep(5 * time.Millisecond)
	if e := p.SetXattr(ctx, a.GFID, XattrPendingPrefix+"b1", make([]byte, 12), 0); e != 0 {
		t.Fatal(e)
	}
	if now, _ := p.GetAttr(ctx, a.GFID, 0); now.Ctime != seen.Ctime {
		t.Fatalf("ctime moved by a heal clearing the changelog: %v -> %v", seen.Ctime, now.Ctime)
	}
	time.Sleep(5 * time.Millisecond)
	if e := p.SetXattr(ctx, a.GFID, "user.visible", []byte("x"), 0); e != 0 {
		t.Fatal(e)
	}
	after, _ := p.GetAttr(ctx, a.GFID, 0)
	if after.Ctime == seen.Ctime {
		t.Fatal("a client's setxattr did not change ctime")
	}
	time.Sleep(5 * time.Millisecond)
	p.Write(ctx, a.GFID, fh, []byte("more"), 4)
	if again, _ := p.GetAttr(ctx, a.GFID, 0); again.Ctime == after.Ctime {
		t.Fatal("a write did not change ctime")
	}
}

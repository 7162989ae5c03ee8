package replicate

import (
	"context"
	"slices"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

var tarAttrs = vfs.SetAttrIn{
	Valid: vfs.SetMtime | vfs.SetUID | vfs.SetGID | vfs.SetMode,
	Mtime: vfs.Timespec{Sec: 1788809622}, UID: 7, GID: 8, Mode: 0o640,
}

// TestWriteSetAttrOneRequest: a new file's last write and the setattrs
// after it (what write-behind sends at tar's close) are one request per
// brick, and both land on both bricks.
func TestWriteSetAttrOneRequest(t *testing.T) {
	e, cs := countedEnv(t)
	r := e.r
	a, fh, errno := r.Create(e.ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o600, Flags: syscall.O_WRONLY | syscall.O_EXCL})
	e.must("create", errno)
	r.flushDeferred()
	before := counts(cs)
	data := []byte("the file's content")
	n, got, errno := r.WriteSetAttr(e.ctx, a.GFID, fh, data, 0, &tarAttrs)
	e.must("write+setattr", errno)
	if n != len(data) || got.Size != uint64(len(data)) || got.Mode&07777 != 0o640 || got.UID != 7 || got.Mtime.Sec != 1788809622 {
		t.Errorf("answered n=%d %+v", n, got)
	}
	after := counts(cs)
	for i := range cs {
		if after[i]-before[i] != 1 {
			t.Errorf("brick %d: %d requests, want 1", i, after[i]-before[i])
		}
		if ops := opNames(cs[i].lastCompound()); !slices.Equal(ops, []string{"write", "setattr"}) {
			t.Errorf("brick %d: last request %v", i, ops)
		}
	}
	e.must("release", r.Release(e.ctx, a.GFID, fh))
	e.compareBricks()
}

// TestWriteSetAttrBlame: a brick where only the setattr fails is blamed
// for the metadata, and reads of the attributes come from the other; one
// where the write fails gets neither half.
func TestWriteSetAttrBlame(t *testing.T) {
	for _, failing := range []string{"SetAttr", "Write"} {
		t.Run(failing, func(t *testing.T) {
			e := newEnv(t, 2, noBackgroundHeal())
			r := e.r
			a, fh, errno := r.Create(e.ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o600, Flags: syscall.O_WRONLY | syscall.O_EXCL})
			e.must("create", errno)
			e.bricks[1].setHook(func(ctx context.Context, op string) syscall.Errno {
				if op == failing {
					return syscall.EIO
				}
				return 0
			})
			data := []byte("content")
			if _, _, errno := r.WriteSetAttr(e.ctx, a.GFID, fh, data, 0, &tarAttrs); errno != 0 {
				t.Fatalf("write+setattr with one brick failing %s: %v", failing, errno)
			}
			e.bricks[1].setHook(nil)
			e.must("release", r.Release(e.ctx, a.GFID, fh))
			r.FlushTransactions(e.ctx)
			blame := e.pending(0, "f")["client-1"]
			if blame[metaKind] == 0 || (failing == "Write" && blame[dataKind] == 0) {
				t.Errorf("brick 0 blames brick 1 with %v", blame)
			}
			if p := e.pending(0, "f")["client-0"]; !p.zero() {
				t.Errorf("brick 0 blames itself: %v", p)
			}
			got, errno := r.GetAttr(e.ctx, a.GFID, 0)
			e.must("getattr", errno)
			if got.Mode&07777 != 0o640 || got.UID != 7 || got.Size != uint64(len(data)) {
				t.Errorf("read back %+v", got)
			}
		})
	}
}

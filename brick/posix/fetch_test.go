package posix

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// TestLookupFetchMatchesGeneral checks that posix's one-descriptor lookup
// answers exactly what a lookup, a GetXattr per key and an anonymous Read
// answer (vfs.FetchLookup through a translator that hides LookupFetch), for
// every kind of object, for keys present and absent, for content that fits,
// does not fit or may not be read, and for a caller that is not root.
func TestLookupFetchMatchesGeneral(t *testing.T) {
	p, _ := newTestPosix(t)
	root := vfs.RootGFID
	ctx := context.Background()
	general := vfs.Passthrough{Child: p} // no LookupFetch: the general path

	mk := func(name string, mode uint32, data []byte) vfs.Attr {
		t.Helper()
		a, fh, e := p.Create(ctx, root, name, &vfs.CreateIn{Mode: mode, Flags: syscall.O_RDWR})
		if e != 0 {
			t.Fatal("create", name, e)
		}
		if len(data) > 0 {
			if _, e := p.Write(ctx, a.GFID, fh, data, 0); e != 0 {
				t.Fatal("write", name, e)
			}
		}
		p.Release(ctx, a.GFID, fh)
		return a
	}
	small := mk("small", 0o644, []byte("hello, brick"))
	mk("empty", 0o644, nil)
	mk("big", 0o644, bytes.Repeat([]byte("x"), 9000))
	mk("secret", 0o600, []byte("not for others"))
	d, e := p.Mkdir(ctx, root, "dir", &vfs.CreateIn{Mode: 0o755})
	if e != 0 {
		t.Fatal(e)
	}
	if _, e := p.Symlink(ctx, root, "link", "small", &vfs.CreateIn{}); e != 0 {
		t.Fatal(e)
	}
	if _, e := p.Mknod(ctx, root, "fifo", &vfs.CreateIn{Mode: syscall.S_IFIFO | 0o644}); e != 0 {
		t.Fatal(e)
	}
	for _, g := range []vfs.GFID{small.GFID, d.GFID} {
		if e := p.SetXattr(ctx, g, "trusted.cairn.pending.b1", []byte{0, 0, 0, 1}, 0); e != 0 {
			t.Fatal(e)
		}
		if e := p.SetXattr(ctx, g, "user.note", []byte("n"), 0); e != 0 {
			t.Fatal(e)
		}
	}
	keys := []string{"trusted.cairn.pending.b1", "trusted.cairn.pending.b2", "user.note", XattrGFID}
	callers := map[string]context.Context{
		"root":  ctx,
		"other": vfs.WithCaller(ctx, &vfs.Caller{UID: 1000, GID: 1000}),
	}
	for _, name := range []string{"small", "empty", "big", "secret", "dir", "link", "fifo", "missing"} {
		for cname, cctx := range callers {
			for _, tc := range []struct {
				keys    []string
				readMax int64
			}{{nil, 0}, {keys, 0}, {nil, 4096}, {keys, 4096}, {keys[:1], 1 << 20}} {
				t.Run(fmt.Sprintf("%s/%s/%d-keys/%d", name, cname, len(tc.keys), tc.readMax), func(t *testing.T) {
					want, we := vfs.FetchLookup(cctx, general, root, name, tc.keys, tc.readMax)
					got, ge := p.LookupFetch(cctx, root, name, tc.keys, tc.readMax)
					if ge != we {
						t.Fatalf("errno %v, general path %v", ge, we)
					}
					// Atime may move with the general path's read.
					want.Attr.Atime, got.Attr.Atime = vfs.Timespec{}, vfs.Timespec{}
					if len(want.Xattrs) == 0 && len(got.Xattrs) == 0 {
						want.Xattrs, got.Xattrs = nil, nil
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("got  %+v\nwant %+v", got, want)
					}
				})
			}
		}
	}
	// The cases that must have come out a certain way, lest both paths be
	// wrong together.
	f, e := p.LookupFetch(ctx, root, "small", keys, 4096)
	if e != 0 || !f.HasData || string(f.Data) != "hello, brick" || !bytes.Equal(f.Xattrs["trusted.cairn.pending.b1"], []byte{0, 0, 0, 1}) ||
		string(f.Xattrs["user.note"]) != "n" || len(f.Xattrs) != 2 {
		t.Fatalf("small: %+v %v", f, e)
	}
	other := callers["other"]
	// trusted.* is hidden from others; user.* of a file they may not read
	// is refused, as getxattr(2) does.
	if f, e := p.LookupFetch(other, root, "secret", keys[:2], 4096); e != 0 || f.HasData || len(f.Xattrs) != 0 {
		t.Fatalf("secret for uid 1000: %+v %v", f, e)
	}
	if _, e := p.LookupFetch(other, root, "secret", keys, 0); e != syscall.EACCES {
		t.Fatalf("user.* of secret for uid 1000: %v", e)
	}
	if f, e := p.LookupFetch(other, root, "small", keys, 4096); e != 0 || !f.HasData || len(f.Xattrs) != 1 {
		t.Fatalf("small for uid 1000 (user.* only): %+v %v", f, e)
	}
	if f, e := p.LookupFetch(ctx, root, "big", nil, 4096); e != 0 || f.HasData {
		t.Fatalf("big: %+v %v", f, e)
	}
	if _, e := p.LookupFetch(ctx, root, ".cairn", keys, 4096); e != syscall.ENOENT {
		t.Fatal(".cairn:", e)
	}
}

package iostats

import (
	"context"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// batcher is a child with the optional interfaces io-stats must pass on:
// it records batches, a connection state and lookups with content.
type batcher struct {
	vfs.Translator
	batches  [][]compound.Op
	up       bool
	contents int
}

func (b *batcher) Compound(ctx context.Context, ops []compound.Op) ([]compound.Result, syscall.Errno) {
	b.batches = append(b.batches, ops)
	return compound.Exec(ctx, b.Translator, ops)
}

func (b *batcher) Up() bool { return b.up }

func (b *batcher) LookupContent(ctx context.Context, parent vfs.GFID, name string, readMax int64) (vfs.Attr, []byte, bool, syscall.Errno) {
	b.contents++
	a, e := b.Translator.Lookup(ctx, parent, name)
	return a, []byte("content"), e == 0, e
}

// TestForwardsOptionalInterfaces checks that io-stats between two
// translators changes nothing they see: a batch reaches a batching child
// as one batch (counted per operation), the child's state and lookups with
// content go through, and over a child without them io-stats behaves as if
// it were absent.
func TestForwardsOptionalInterfaces(t *testing.T) {
	fs := locks.New(memfs.New(memfs.Config{}))
	a, fh, e := fs.Create(bg, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal(e)
	}
	fs.Release(bg, a.GFID, fh)
	b := &batcher{Translator: fs, up: false}
	s, _ := New(Config{Name: "v"}, b)

	ops := []compound.Op{
		compound.InodeLk("d", a.GFID, vfs.Lock{Type: vfs.WriteLock, Owner: 1, End: ^uint64(0)}, false),
		compound.Lookup(vfs.RootGFID, "f"),
		compound.Lookup(vfs.RootGFID, "missing"),
	}
	res, e := compound.Run(bg, s, ops)
	if len(b.batches) != 1 || len(b.batches[0]) != 3 {
		t.Fatalf("child saw batches %v, want one of 3", b.batches)
	}
	if e != syscall.ENOENT || len(res) != 3 || res[1].Attr.GFID != a.GFID {
		t.Fatalf("batch: %+v %v", res, e)
	}
	snap := s.Snapshot()
	if st := snap.Ops["lookup"]; st.Calls != 2 || st.Errors != 1 {
		t.Errorf("lookup counted %+v, want 2 calls, 1 error", st)
	}
	if st := snap.Ops["inodelk"]; st.Calls != 1 || st.Errors != 0 {
		t.Errorf("inodelk counted %+v", st)
	}
	if s.Up() {
		t.Error("Up: true, child says down")
	}
	if _, data, ok, e := s.LookupContent(bg, vfs.RootGFID, "f", 100); e != 0 || !ok || string(data) != "content" || b.contents != 1 {
		t.Errorf("LookupContent: %q %v %v (child asked %d times)", data, ok, e, b.contents)
	}

	// Over a child with none of them.
	plain, _ := New(Config{Name: "p"}, fs)
	res, e = compound.Run(bg, plain, ops[1:2])
	if e != 0 || len(res) != 1 || res[0].Attr.GFID != a.GFID {
		t.Fatalf("batch over a plain child: %+v %v", res, e)
	}
	if !plain.Up() {
		t.Error("Up over a child without state: false")
	}
	if at, data, ok, e := plain.LookupContent(bg, vfs.RootGFID, "f", 100); e != 0 || ok || data != nil || at.GFID != a.GFID {
		t.Errorf("LookupContent over a plain child: %v %q %v", ok, data, e)
	}
	if st := plain.Snapshot().Ops["lookup"]; st.Calls != 2 {
		t.Errorf("plain lookups counted %+v, want 2", st)
	}
}

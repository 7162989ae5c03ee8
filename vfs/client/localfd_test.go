package client

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/server"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/vfstest"
)

// readCounter counts the reads and descriptor shares that reach the brick's
// translator.
type readCounter struct {
	vfs.Passthrough
	reads, shares atomic.Int64
}

func (r *readCounter) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	r.reads.Add(1)
	return r.Child.Read(ctx, gfid, fh, dest, off)
}

func (r *readCounter) ShareReadFD(ctx context.Context, gfid vfs.GFID) (int, syscall.Errno) {
	r.shares.Add(1)
	return vfs.ShareReadFD(ctx, r.Child, gfid)
}

// localReadRig is a brick offering local descriptors and two clients of
// it, one reading locally.
func localReadRig(t *testing.T) (local, other *Client, rc *readCounter, b *testBrick) {
	t.Helper()
	rc = &readCounter{Passthrough: vfs.Passthrough{Child: newPosix(t)}}
	b = startBrick(t, rc, func(c *server.Config) { c.LocalReadFDs = true })
	local = newClient(t, b.port, func(c *Config) { c.LocalRead = true })
	other = newClient(t, b.port, nil)
	for _, c := range []*Client{local, other} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.WaitConnect(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	return local, other, rc, b
}

func mustCreate(t *testing.T, c *Client, ctx context.Context, name string, mode uint32, data []byte) vfs.GFID {
	t.Helper()
	a, fh, e := c.Create(ctx, vfs.RootGFID, name, &vfs.CreateIn{GFID: vfs.NewGFID(), Mode: mode, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatalf("create %s: %v", name, e)
	}
	if len(data) > 0 {
		if n, e := c.Write(ctx, a.GFID, fh, data, 0); e != 0 || n != len(data) {
			t.Fatalf("write %s: %d %v", name, n, e)
		}
	}
	c.Release(ctx, a.GFID, fh)
	return a.GFID
}

func readAt(t *testing.T, c *Client, ctx context.Context, g vfs.GFID, fh vfs.Handle, size int, off int64) ([]byte, syscall.Errno) {
	t.Helper()
	buf := make([]byte, size)
	n, e := c.Read(ctx, g, fh, buf, off)
	return buf[:n], e
}

// TestLocalRead: the first read of a file goes to the brick, the second
// fetches a descriptor, later ones read it without the brick; what they
// read follows every write that reaches the brick (from this client or
// another), a truncate, and a file deleted and recreated under its GFID.
func TestLocalRead(t *testing.T) {
	local, other, rc, _ := localReadRig(t)
	ctx := vfs.WithCaller(context.Background(), &vfs.Caller{})
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	g := mustCreate(t, other, ctx, "f", 0o644, data)

	// The client's first call opens its side connection, which learns
	// the local socket: the first read goes to the brick for that.
	if _, e := local.GetAttr(ctx, vfs.RootGFID, 0); e != 0 {
		t.Fatal(e)
	}
	if local.ReadsLocally(ctx, g) {
		t.Fatal("ReadsLocally before any read")
	}
	for i := 0; i < 5; i++ {
		got, e := readAt(t, local, ctx, g, 0, 4096, int64(i)*8192)
		if e != 0 || !bytes.Equal(got, data[i*8192:i*8192+4096]) {
			t.Fatalf("read %d: %v, %d bytes, wrong data %v", i, e, len(got), !bytes.Equal(got, data[i*8192:i*8192+4096]))
		}
	}
	if r, s := rc.reads.Load(), rc.shares.Load(); r != 1 || s != 1 {
		t.Fatalf("after 5 reads the brick served %d reads and %d shares, want 1 and 1", r, s)
	}
	if !local.ReadsLocally(ctx, g) {
		t.Fatal("ReadsLocally false with a descriptor")
	}
	if local.ReadsLocally(vfs.WithCaller(context.Background(), &vfs.Caller{UID: 5}), g) {
		t.Fatal("ReadsLocally true for another caller")
	}
	// A read larger than the brick's largest, past the end of file.
	if got, e := readAt(t, local, ctx, g, 0, 3<<20, 1000); e != 0 || !bytes.Equal(got, data[1000:]) {
		t.Fatalf("large read: %v, %d bytes", e, len(got))
	}

	// Another client's write, then a truncate, are seen at once.
	fh, e := other.Open(ctx, g, syscall.O_RDWR)
	if e != 0 {
		t.Fatal(e)
	}
	if _, e := other.Write(ctx, g, fh, []byte("NEW!"), 100); e != 0 {
		t.Fatal(e)
	}
	if got, _ := readAt(t, local, ctx, g, 0, 8, 98); string(got) != "23NEW!89" {
		t.Fatalf("after another client's write: %q", got)
	}
	if _, e := other.SetAttr(ctx, g, fh, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 50}); e != 0 {
		t.Fatal(e)
	}
	if got, _ := readAt(t, local, ctx, g, 0, 100, 0); !bytes.Equal(got, data[:50]) {
		t.Fatalf("after truncate to 50: %d bytes", len(got))
	}
	other.Release(ctx, g, fh)
	if r := rc.reads.Load(); r != 1 {
		t.Fatalf("brick reads %d, want 1", r)
	}

	// A write-only handle still gets the brick's EBADF.
	wfh, e := local.Open(ctx, g, syscall.O_WRONLY)
	if e != 0 {
		t.Fatal(e)
	}
	if _, e := readAt(t, local, ctx, g, wfh, 10, 0); e != syscall.EBADF {
		t.Fatalf("read of a write-only handle: %v, want EBADF", e)
	}
	local.Release(ctx, g, wfh)

	// Deleted: the descriptor is dropped and the read goes to the brick,
	// which no longer has the file.
	if e := other.Unlink(ctx, vfs.RootGFID, "f"); e != 0 {
		t.Fatal(e)
	}
	if _, e := readAt(t, local, ctx, g, 0, 10, 0); e == 0 {
		t.Fatal("read of a deleted file succeeded")
	}
}

// TestLocalReadPermissions: a descriptor serves only the identity the brick
// checked, and only while the file's mode and owner are unchanged.
func TestLocalReadPermissions(t *testing.T) {
	local, other, rc, _ := localReadRig(t)
	root := vfs.WithCaller(context.Background(), &vfs.Caller{})
	alice := vfs.WithCaller(context.Background(), &vfs.Caller{UID: 1000, GID: 1000})
	bob := vfs.WithCaller(context.Background(), &vfs.Caller{UID: 1001, GID: 1001})
	data := []byte(strings.Repeat("x", 10000))
	g := mustCreate(t, other, root, "p", 0o600, data)
	if _, e := other.SetAttr(root, g, 0, &vfs.SetAttrIn{Valid: vfs.SetUID | vfs.SetGID, UID: 1000, GID: 1000}); e != 0 {
		t.Fatal(e)
	}
	for i := 0; i < 3; i++ {
		if got, e := readAt(t, local, alice, g, 0, 100, 0); e != 0 || len(got) != 100 {
			t.Fatalf("alice read %d: %v", i, e)
		}
	}
	if s := rc.shares.Load(); s != 1 {
		t.Fatalf("shares %d, want 1", s)
	}
	for i := 0; i < 3; i++ {
		if _, e := readAt(t, local, bob, g, 0, 100, 0); e != syscall.EACCES {
			t.Fatalf("bob read %d: %v, want EACCES", i, e)
		}
	}
	// The brick refused bob's share once; his reads go to the brick.
	if s := rc.shares.Load(); s != 2 {
		t.Fatalf("shares %d after bob, want 2", s)
	}
	// chmod 000: alice's descriptor no longer counts, the brick says no.
	if _, e := other.SetAttr(root, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0}); e != 0 {
		t.Fatal(e)
	}
	if _, e := readAt(t, local, alice, g, 0, 100, 0); e != syscall.EACCES {
		t.Fatalf("alice read after chmod 000: %v, want EACCES", e)
	}
}

// TestLocalReadEpoch: when the brick goes, the descriptors close and no
// read is served from them; after the brick is back, reads are local again.
func TestLocalReadEpoch(t *testing.T) {
	local, other, rc, b := localReadRig(t)
	ctx := vfs.WithCaller(context.Background(), &vfs.Caller{})
	data := bytes.Repeat([]byte{7}, 8192)
	g := mustCreate(t, other, ctx, "e", 0o644, data)
	for i := 0; i < 3; i++ {
		if _, e := readAt(t, local, ctx, g, 0, 4096, 0); e != 0 {
			t.Fatal(e)
		}
	}
	ep := local.ep.Load()
	l := ep.local.Load()
	if l == nil {
		t.Fatal("no local descriptors after reads")
	}
	// The client's own descriptors of the file (other descriptors of it
	// in this process, the brick's, come and go on their own schedule).
	var mine []int
	l.mu.Lock()
	for k, e := range l.m {
		if fd := e.Value.(*localFD).fd; k.g == g && fd >= 0 {
			mine = append(mine, fd)
		}
	}
	l.mu.Unlock()
	if len(mine) == 0 || !fdsOf(t, g, mine) {
		t.Fatalf("the client holds no descriptor of the file after reads (%v)", mine)
	}
	b.stop()
	waitFor(t, "the brick declared down", 10*time.Second, func() bool { return !local.Up() })
	if _, e := readAt(t, local, ctx, g, 0, 4096, 0); e != syscall.ENOTCONN {
		t.Fatalf("read with the brick down: %v, want ENOTCONN", e)
	}
	if local.ReadsLocally(ctx, g) {
		t.Fatal("ReadsLocally with the brick down")
	}
	// The client's descriptors are closed with the epoch (their numbers
	// may have been reused since, for something else).
	if fdsOf(t, g, mine) {
		t.Fatalf("the client's descriptors %v of the file are still open after the brick stopped", mine)
	}
	b.restart()
	waitFor(t, "reconnect", 10*time.Second, local.Up)
	before := rc.reads.Load()
	for i := 0; i < 6; i++ {
		if got, e := readAt(t, local, ctx, g, 0, 4096, 0); e != 0 || !bytes.Equal(got, data[:4096]) {
			t.Fatalf("read %d after the restart: %v", i, e)
		}
	}
	// One read opens the new connection's side connection, one is
	// counted, then the descriptor serves.
	if got := rc.reads.Load() - before; got != 2 {
		t.Fatalf("after the restart the brick served %d of 6 reads, want 2", got)
	}
}

// fdsOf reports whether any of the descriptors fds is open on g's file.
func fdsOf(t *testing.T, g vfs.GFID, fds []int) bool {
	t.Helper()
	for _, fd := range fds {
		if target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil && strings.Contains(target, g.String()) {
			return true
		}
	}
	return false
}

// TestLocalReadFreshness: a brick that has not answered for
// localFreshness (frozen, perhaps) gets the read itself; its reply makes
// local reads resume.
func TestLocalReadFreshness(t *testing.T) {
	local, other, rc, _ := localReadRig(t)
	ctx := vfs.WithCaller(context.Background(), &vfs.Caller{})
	data := bytes.Repeat([]byte{3}, 8192)
	g := mustCreate(t, other, ctx, "q", 0o644, data)
	for i := 0; i < 4; i++ {
		if _, e := readAt(t, local, ctx, g, 0, 4096, 0); e != 0 {
			t.Fatal(e)
		}
	}
	before := rc.reads.Load()
	local.lastAck.Store(time.Now().Add(-local.localFreshness() - time.Millisecond).UnixNano())
	for i := 0; i < 3; i++ {
		if got, e := readAt(t, local, ctx, g, 0, 4096, 0); e != 0 || !bytes.Equal(got, data[:4096]) {
			t.Fatalf("read %d: %v", i, e)
		}
	}
	if got := rc.reads.Load() - before; got != 1 {
		t.Fatalf("with the brick quiet the brick served %d of 3 reads, want 1", got)
	}
}

// TestConformanceLocalRead runs the conformance suite with local reads.
func TestConformanceLocalRead(t *testing.T) {
	vfstest.Run(t, func(t *testing.T) vfs.Translator {
		b := startBrick(t, newPosix(t), func(c *server.Config) { c.LocalReadFDs = true })
		c := newClient(t, b.port, func(c *Config) { c.LocalRead = true })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.WaitConnect(ctx); err != nil {
			t.Fatal(err)
		}
		return c
	})
}

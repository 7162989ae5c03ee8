package replicate

import (
	"bytes"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// TestLookupContent: a lookup can bring back a small file's content from a
// good copy; not for files over the limit, directories, or a file whose
// first brick missed writes (blamed) until it is healed.
func TestLookupContent(t *testing.T) {
	e := newEnv(t, 2, testConfig())
	data := []byte("small file content")
	e.writeFile(e.r, vfs.RootGFID, "f", data)
	e.r.FlushTransactions(e.ctx)
	a, got, ok, errno := e.r.LookupContent(e.ctx, vfs.RootGFID, "f", 64<<10)
	e.must("lookup content", errno)
	if !ok || !bytes.Equal(got, data) || a.Size != uint64(len(data)) {
		t.Fatalf("content %q (%v), size %d", got, ok, a.Size)
	}
	if _, _, ok, _ := e.r.LookupContent(e.ctx, vfs.RootGFID, "f", 4); ok {
		t.Error("content of a file over the limit")
	}
	_, errno = e.r.Mkdir(e.ctx, vfs.RootGFID, "d", &vfs.CreateIn{Mode: 0o755})
	e.must("mkdir", errno)
	if _, _, ok, _ := e.r.LookupContent(e.ctx, vfs.RootGFID, "d", 64<<10); ok {
		t.Error("content of a directory")
	}
	if _, _, _, errno := e.r.LookupContent(e.ctx, vfs.RootGFID, "missing", 64<<10); errno != syscall.ENOENT {
		t.Errorf("missing name: %v", errno)
	}

	// Brick 0 (the one asked for content) misses a write: its copy is
	// blamed, so no content comes back from it, and the data read is the
	// new one.
	e.down(0)
	g := e.writeFile(e.r, vfs.RootGFID, "f", []byte("new content"))
	e.r.FlushTransactions(e.ctx)
	e.bricks[0].setDown(false)
	if _, got, ok, errno := e.r.LookupContent(e.ctx, vfs.RootGFID, "f", 64<<10); errno == 0 && ok && !bytes.Equal(got, []byte("new content")) {
		t.Errorf("stale content %q from the blamed brick", got)
	}
	if b, errno := e.readAll(e.r, g); errno != 0 || string(b) != "new content" {
		t.Errorf("read %q %v", b, errno)
	}
}

package nfs

import (
	"bytes"
	"context"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"golang.org/x/sys/unix"
)

// How pipeVolume answers ReadToPipe.
const (
	pipeMove    = iota // the bytes Read returns, into the pipe
	pipeDecline        // EOPNOTSUPP, nothing moved
	pipeBreak          // garbage into the pipe, then EIO
)

// pipeVolume is a volume whose ReadToPipe writes into the pipe what its
// Read returns: a stand-in for protocol/client's splice from a brick's
// file, in the mode the test sets.
type pipeVolume struct {
	vfs.Translator
	mode  atomic.Int32
	moved atomic.Int64 // ReadToPipe calls that moved the bytes
}

func (p *pipeVolume) ReadToPipe(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	mode := p.mode.Load()
	if mode == pipeDecline {
		return 0, syscall.EOPNOTSUPP
	}
	buf := make([]byte, n)
	k, e := p.Translator.Read(ctx, gfid, fh, buf, off)
	if e != 0 {
		return 0, e
	}
	if mode == pipeBreak {
		writeAll(pipe, bytes.Repeat([]byte("X"), max(k/2, 1)))
		return 0, syscall.EIO
	}
	if err := writeAll(pipe, buf[:k]); err != nil {
		return 0, syscall.EIO
	}
	p.moved.Add(1)
	return k, 0
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		k, err := unix.Write(fd, b)
		if err != nil {
			return err
		}
		b = b[k:]
	}
	return nil
}

// pattern is size bytes that differ at every offset that matters here.
func pattern(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// TestSplicedReads: large READs are served from the pipe the volume fills
// (ReadToPipe) with the right data, count, end-of-file flag and XDR pad;
// small ones are not; a volume that declines is read with Read; a pipe
// the volume failed with is never used again (the next READ would send
// its garbage).
func TestSplicedReads(t *testing.T) {
	vol := &pipeVolume{Translator: newMem()}
	ts := startServer(t, vol, func(c *Config) { c.NoRootSquash = true })
	rc := dialRaw(t, ts.addr)
	root := rc.mount("/vol")
	_, file := rc.create(root, "f", 0o644)
	const size = 300_001 // the last READ is short and needs a pad
	data := pattern(size)
	for off := 0; off < size; off += 64 << 10 {
		st, _, _ := rc.write(file, uint64(off), data[off:min(off+64<<10, size)], fileSync)
		mustOK(t, "write", st)
	}

	read := func(what string, off, count int, wantMoved int64) {
		t.Helper()
		before := vol.moved.Load()
		st, got, eof := rc.read(file, uint64(off), uint32(count))
		mustOK(t, what, st)
		start, end := min(off, size), min(off+count, size)
		if !bytes.Equal(got, data[start:end]) {
			t.Fatalf("%s: %d bytes at %d, want %d, equal prefix %d", what, len(got), off, end-start, commonPrefix(got, data[start:end]))
		}
		if wantEOF := end == size && count > 0; eof != wantEOF {
			t.Fatalf("%s: eof %v, want %v", what, eof, wantEOF)
		}
		if moved := vol.moved.Load() - before; moved != wantMoved {
			t.Fatalf("%s: %d READs spliced, want %d", what, moved, wantMoved)
		}
	}
	read("first", 0, 128<<10, 1)
	read("second", 128<<10, 128<<10, 1)
	read("last, short", 256<<10, 128<<10, 1)
	read("past the end", size+3, 128<<10, 1)
	read("small", 1000, 4096, 0)

	vol.mode.Store(pipeBreak)
	read("volume failing", 1, 128<<10, 0)
	vol.mode.Store(pipeMove)
	read("after a failure", 0, 128<<10, 1)

	vol.mode.Store(pipeDecline)
	read("declined", 5, 200<<10, 0)
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestPipelinedSplicedReads: READs sent back to back on one connection
// are served at once, each through its own pipe, and their replies (head
// and spliced bytes written under the connection's lock) must not mix,
// even when the client is slow to read them.
func TestPipelinedSplicedReads(t *testing.T) {
	vol := &pipeVolume{Translator: slowVolume{Translator: newMem(), reads: 10 * time.Millisecond}}
	ts := startServer(t, vol, func(c *Config) { c.NoRootSquash = true })
	rc := dialRaw(t, ts.addr)
	root := rc.mount("/vol")
	_, file := rc.create(root, "f", 0o644)
	// Odd counts: every reply has a pad. Together more than the socket
	// buffers hold, so that senders wait for room in mid-reply.
	const n, count = 16, 512<<10 + 2
	data := pattern(n * count)
	for off := 0; off < len(data); off += 512 << 10 {
		st, _, _ := rc.write(file, uint64(off), data[off:min(off+512<<10, len(data))], fileSync)
		mustOK(t, "write", st)
	}
	var stream []byte
	for i := range n {
		stream = append(stream, rc.callRecord(uint32(5000+i), procRead, args(file, uint64(i*count), uint32(count)))...)
	}
	rc.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := rc.c.Write(stream); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // all served, the socket full
	seen := map[uint32]bool{}
	for range n {
		xid, r := rc.replyOK()
		readPostOp(r)
		r.u32()
		r.bool()
		got := r.opaque(maxIO)
		i := int(xid) - 5000
		if r.err != nil || r.off != len(r.b) {
			t.Fatalf("xid %d: malformed reply (%v, %d bytes left)", xid, r.err, len(r.b)-r.off)
		}
		if want := data[i*count : (i+1)*count]; !bytes.Equal(got, want) {
			t.Fatalf("xid %d: wrong data (equal prefix %d of %d)", xid, commonPrefix(got, want), len(want))
		}
		seen[xid] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct replies, want %d", len(seen), n)
	}
	if moved := vol.moved.Load(); moved != n {
		t.Fatalf("%d READs spliced, want %d", moved, n)
	}
}

// TestPipePoolBounded: a server has at most maxPipes pipes (READs beyond
// them are read with Read); a discarded pipe makes room for a new one, a
// pipe put back is reused, and closing the pool closes every pipe.
func TestPipePoolBounded(t *testing.T) {
	var p pipePool
	var held []*readPipe
	for i := range maxPipes {
		rp := p.get()
		if rp == nil {
			t.Fatalf("pipe %d of %d: none", i+1, maxPipes)
		}
		held = append(held, rp)
	}
	if rp := p.get(); rp != nil {
		t.Fatalf("a pipe beyond the %d allowed", maxPipes)
	}
	p.discard(held[0])
	if held[0] = p.get(); held[0] == nil {
		t.Fatal("no pipe after one was discarded")
	}
	p.put(held[1])
	if rp := p.get(); rp != held[1] {
		t.Fatal("a pipe put back was not reused")
	}
	for _, rp := range held {
		p.put(rp)
	}
	p.close()
	if p.live != 0 || len(p.free) != 0 {
		t.Fatalf("after close: %d pipes live, %d kept", p.live, len(p.free))
	}
	if rp := p.get(); rp != nil {
		t.Fatal("a pipe from a closed pool")
	}
}

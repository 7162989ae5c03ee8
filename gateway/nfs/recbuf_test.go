package nfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/writebehind"
)

// slowVolume holds every Read and Write for a while, so that a
// connection's pipelined READs or large WRITE records are in flight
// together.
type slowVolume struct {
	vfs.Translator
	reads, writes time.Duration
}

func (s slowVolume) Read(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, dest []byte, off int64) (int, syscall.Errno) {
	time.Sleep(s.reads)
	return s.Translator.Read(ctx, gfid, fh, dest, off)
}

func (s slowVolume) Write(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) (int, syscall.Errno) {
	time.Sleep(s.writes)
	return s.Translator.Write(ctx, gfid, fh, data, off)
}

// TestPipelinedLargeWrites: large WRITE records live in pooled buffers
// until their call is answered. Records sent back to back on one
// connection, in flight at once, must each write their own data.
func TestPipelinedLargeWrites(t *testing.T) {
	ts := startServer(t, slowVolume{Translator: newMem(), writes: 20 * time.Millisecond}, func(c *Config) { c.NoRootSquash = true })
	rc := dialRaw(t, ts.addr)
	root := rc.mount("/vol")
	_, file := rc.create(root, "f", 0o644)
	pipelineWrites(t, rc, file, fileSync)
}

// TestLargeWritesKeptBehind: with write-behind in the volume, a large
// UNSTABLE WRITE's record buffer is handed to write-behind (vfs.DataGift)
// and comes back to the gateway's pool only once the slow child has
// written it: records read meanwhile into reused buffers must not change
// data write-behind still holds.
func TestLargeWritesKeptBehind(t *testing.T) {
	wb, err := writebehind.New(writebehind.Config{CacheSize: 4 << 20, AggregateSize: 128 << 10, TotalSize: 64 << 20}, slowVolume{Translator: newMem(), writes: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, wb, func(c *Config) { c.NoRootSquash = true })
	rc := dialRaw(t, ts.addr)
	root := rc.mount("/vol")
	_, file := rc.create(root, "f", 0o644)
	pipelineWrites(t, rc, file, unstable)
	if st := wb.Stats(); st.Kept != pipelined {
		t.Fatalf("write-behind kept %d of %d writes in the gateway's buffers (stats %+v)", st.Kept, pipelined, st)
	}
	if st, _ := rc.call(procCommit, args(file, uint64(0), uint32(0))); st != nfsOK {
		t.Fatalf("commit: status %d", st)
	}
	checkPipelined(t, rc, file)
}

// pipelined WRITE records of pipelinedSize bytes each, above smallRecord.
const pipelined, pipelinedSize = 12, 300 << 10

// pipelineWrites sends pipelined WRITEs back to back on rc, record i
// filled with 'a'+i, and waits for every reply; with stable other than
// unstable it then checks the file's contents.
func pipelineWrites(t *testing.T, rc *rawClient, file []byte, stable uint32) {
	t.Helper()
	const n, size = pipelined, pipelinedSize
	var stream []byte
	for i := range n {
		data := bytes.Repeat([]byte{byte('a' + i)}, size)
		stream = append(stream, rc.callRecord(uint32(1000+i), procWrite, args(file, uint64(i*size), uint32(size), stable, data))...)
	}
	rc.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := rc.c.Write(stream); err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]bool{}
	for range n {
		xid, _ := rc.replyOK()
		seen[xid] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct replies, want %d", len(seen), n)
	}
	if stable != unstable {
		checkPipelined(t, rc, file)
	}
}

// checkPipelined checks that every record of pipelineWrites wrote its own
// data.
func checkPipelined(t *testing.T, rc *rawClient, file []byte) {
	t.Helper()
	const n, size = pipelined, pipelinedSize
	for i := range n {
		for off := 0; off < size; off += 64 << 10 {
			count := min(64<<10, size-off)
			st, got, _ := rc.read(file, uint64(i*size+off), uint32(count))
			mustOK(t, "read", st)
			if want := bytes.Repeat([]byte{byte('a' + i)}, count); !bytes.Equal(got, want) {
				t.Fatalf("record %d at +%d: wrong data (first byte %q)", i, off, got[0])
			}
		}
	}
}

// callRecord returns an NFSv3 call record (record mark included) with
// rc's credentials, for tests that send several before reading replies.
func (rc *rawClient) callRecord(xid, proc uint32, callArgs []byte) []byte {
	return rc.record(xid, progNFS, 3, proc, callArgs)
}

// record returns a call record of any program with rc's credentials.
func (rc *rawClient) record(xid, prog, vers, proc uint32, callArgs []byte) []byte {
	w := &xdrWriter{}
	w.u32(xid)
	w.u32(msgCall)
	w.u32(rpcVersion)
	w.u32(prog)
	w.u32(vers)
	w.u32(proc)
	w.u32(rc.flav)
	w.opaque(rc.cred)
	w.u32(0)
	w.u32(0)
	w.fixed(callArgs)
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(w.b))|0x80000000)
	return append(hdr[:], w.b...)
}

// replyOK reads the next reply record, which must be accepted and
// successful with status NFS3_OK, and returns its xid and the results
// after the status.
func (rc *rawClient) replyOK() (uint32, *xdrReader) {
	rc.t.Helper()
	rec, err := readRecord(rc.br, nil)
	if err != nil {
		rc.t.Fatal(err)
	}
	r := &xdrReader{b: rec}
	xid := r.u32()
	r.u32()
	if r.u32() != replyAccepted {
		rc.t.Fatalf("xid %d denied", xid)
	}
	r.u32()
	r.opaque(400)
	if st := r.u32(); st != acceptSuccess {
		rc.t.Fatalf("xid %d: accept status %d", xid, st)
	}
	if st := r.u32(); st != nfsOK {
		rc.t.Fatalf("xid %d: nfs status %d", xid, st)
	}
	return xid, r
}

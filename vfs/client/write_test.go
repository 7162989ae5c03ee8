package client

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// Writes hand the caller's buffer to gRPC without copying it (writeFrom):
// every size, around the copy threshold and the chunk size, arrives intact.
func TestWriteSizes(t *testing.T) {
	c, _ := connected(t, locks.New(memfs.New(memfs.Config{})), nil)
	ctx := context.Background()
	a, fh, e := c.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal("create:", e)
	}
	for _, size := range []int{0, 1, smallWrite, smallWrite + 1, 1 << 20, 1<<20 + 5, 3<<20 - 1} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*31 + size)
		}
		if _, e := c.SetAttr(ctx, a.GFID, fh, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: 0}); e != 0 {
			t.Fatal("truncate:", e)
		}
		if n, e := c.Write(ctx, a.GFID, fh, data, 3); e != 0 || n != size {
			t.Fatalf("write of %d: %d, %v", size, n, e)
		}
		// The buffer is the caller's again: scribbling on it must not
		// change what was written.
		for i := range data {
			data[i] ^= 0xff
		}
		got := make([]byte, size+10)
		n, e := c.Read(ctx, a.GFID, fh, got, 3)
		if e != 0 || n != size {
			t.Fatalf("read back of %d: %d, %v", size, n, e)
		}
		for i := range data {
			data[i] ^= 0xff
		}
		if !bytes.Equal(got[:n], data) {
			t.Fatalf("write of %d bytes: data differs", size)
		}
	}
}

// A write whose context ends mid-call returns only once gRPC has let go of
// the buffer, so the caller may reuse it at once (the race detector checks
// that nothing still reads it), and on a frozen brick it still fails with
// ENOTCONN within ping-timeout.
func TestWriteBufferReuseAfterFailure(t *testing.T) {
	const pingTimeout = time.Second
	b := startBrick(t, locks.New(memfs.New(memfs.Config{})), nil)
	p := newProxy(t, b.addr)
	c := newClient(t, p.port(), func(cfg *Config) { cfg.PingTimeout = pingTimeout })
	ctx := context.Background()
	if err := c.WaitConnect(ctx); err != nil {
		t.Fatal(err)
	}
	a, fh, e := c.Create(ctx, vfs.RootGFID, "f", &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
	if e != 0 {
		t.Fatal("create:", e)
	}
	buf := make([]byte, 1<<20)
	for i := 0; i < 20; i++ {
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(time.Duration(i)*50*time.Microsecond, cancel)
		_, e := c.Write(cctx, a.GFID, fh, buf, int64(i)<<20)
		cancel()
		if e != 0 && e != syscall.EINTR {
			t.Fatalf("cancelled write: %v", e)
		}
		for j := range buf {
			buf[j] = byte(i + j)
		}
	}
	if _, e := c.Write(ctx, a.GFID, fh, buf, 0); e != 0 {
		t.Fatal("write after cancelled ones:", e)
	}

	time.Sleep(pingTimeout / 2)
	p.setFrozen(true)
	frozenAt := time.Now()
	done := make(chan syscall.Errno, 1)
	go func() {
		var e syscall.Errno
		// Enough writes to fill the socket buffers of the frozen path.
		for i := 0; i < 64 && e == 0; i++ {
			_, e = c.Write(ctx, a.GFID, fh, buf, 0)
			for j := range buf {
				buf[j]++
			}
		}
		done <- e
	}()
	select {
	case e := <-done:
		if e != syscall.ENOTCONN {
			t.Errorf("write to a frozen brick: %v, want ENOTCONN", e)
		}
		if d := time.Since(frozenAt); d > pingTimeout+500*time.Millisecond {
			t.Errorf("ENOTCONN after %v, ping-timeout is %v", d, pingTimeout)
		}
	case <-time.After(5 * pingTimeout):
		t.Fatal("write to a frozen brick hangs")
	}
	p.setFrozen(false)
	waitFor(t, "client recovers after thaw", 5*time.Second, c.Up)
	if _, e := c.Write(ctx, a.GFID, fh, buf, 0); e != 0 {
		t.Fatal("write after thaw:", e)
	}
}

package ninep

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"syscall"

	"github.com/hugelgupf/p9/linux"

	"github.com/cairnfs/cairn/vfs"
)

// FuzzSniffer: whatever the client sends, the sniffer passes exactly the
// same bytes on, and never panics decoding Tattach.
func FuzzSniffer(f *testing.F) {
	att := &enc{}
	att.u32(0)
	att.u32(7)
	att.u32(1)
	att.u32(noFID)
	att.str("root")
	att.str("vol")
	att.u32(0)
	binary.LittleEndian.PutUint32(att.b, uint32(len(att.b)))
	att.b[4] = msgTattach
	f.Add(att.b)
	f.Add([]byte{3, 0, 0, 0, msgTattach, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 100, 0, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &conn{attachQ: make(chan attachInfo, 1)}
		go func() {
			for range time.Tick(time.Millisecond) {
				select {
				case <-c.attachQ:
				default:
				}
				return
			}
		}()
		s := &sniffer{br: bufio.NewReader(bytes.NewReader(in)), c: c, failed: true}
		out, _ := io.ReadAll(s)
		if !bytes.Equal(out, in[:len(out)]) {
			t.Fatal("sniffer changed the stream")
		}
	})
}

func FuzzParseTattach(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) { parseTattach(b) })
}

// TestErrno: volume errnos reach the client unchanged.
func TestErrno(t *testing.T) {
	for _, e := range []syscall.Errno{syscall.ENOENT, syscall.EACCES, syscall.EEXIST, syscall.ENOTEMPTY,
		syscall.EROFS, syscall.ESTALE, syscall.ENOSPC, syscall.EXDEV, syscall.ELOOP, syscall.ENAMETOOLONG} {
		if got := errno(e); got != linux.Errno(e) {
			t.Errorf("%v → %v", e, got)
		}
	}
	if errno(0) != nil {
		t.Error("0 is not nil")
	}
	var _ net.Conn
	_ = vfs.RootGFID
}

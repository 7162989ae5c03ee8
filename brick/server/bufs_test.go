package server

import (
	"testing"
	"unsafe"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// TestWriteBufs: a write large enough for storage/posix's O_DIRECT
// arrives in a buffer of the huge-page mapping (one disk request per
// write); reads and small writes use heap buffers, leaving the mapping's
// buffers to the writes that gain from them.
func TestWriteBufs(t *testing.T) {
	s, err := New(Config{Subvolumes: map[string]vfs.Translator{"brick": memfs.New(memfs.Config{})}})
	if err != nil {
		t.Fatal(err)
	}
	big := s.getWriteBuf(protocol.MaxIOSize)
	small := s.getWriteBuf(4096)
	read := s.getBuf()
	for _, c := range []struct {
		name string
		b    *[]byte
		huge bool
	}{{"1 MiB write", big, true}, {"4 KiB write", small, false}, {"read", read, false}} {
		if len(*c.b) != protocol.MaxIOSize {
			t.Fatalf("%s: buffer of %d bytes", c.name, len(*c.b))
		}
		if at := uintptr(unsafe.Pointer(unsafe.SliceData(*c.b))); at%4096 != 0 {
			t.Fatalf("%s: buffer not page-aligned", c.name)
		}
		if got := s.bufs.Mapped(*c.b); got != c.huge {
			t.Errorf("%s: in the huge-page mapping %v, want %v", c.name, got, c.huge)
		}
		s.putBuf(c.b)
	}
}

package hugebuf

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

func TestPool(t *testing.T) {
	const size, count = 1 << 20, 4
	p := New(size, count)
	var got []*[]byte
	for range count {
		b := p.Get()
		if len(*b) != size || cap(*b) != size {
			t.Fatalf("buffer len %d cap %d, want %d", len(*b), cap(*b), size)
		}
		if at := uintptr(unsafe.Pointer(unsafe.SliceData(*b))); at%4096 != 0 {
			t.Fatalf("buffer at %#x is not page-aligned (O_DIRECT needs it)", at)
		}
		if !p.Mapped(*b) {
			t.Fatal("a buffer came from the heap while the mapping had free ones")
		}
		got = append(got, b)
	}
	extra := p.Get()
	if p.Mapped(*extra) || len(*extra) != size {
		t.Fatal("with the mapping used up, Get must fall back to a heap buffer of the same size")
	}
	// Buffers do not overlap.
	for i, b := range got {
		clear(*b)
		(*b)[0], (*b)[size-1] = byte(i+1), byte(i+1)
	}
	for i, b := range got {
		if (*b)[0] != byte(i+1) || (*b)[size-1] != byte(i+1) {
			t.Fatalf("buffer %d overlaps another", i)
		}
	}
	h := p.GetHeap()
	if p.Mapped(*h) || len(*h) != size {
		t.Fatal("GetHeap handed out a buffer of the mapping")
	}
	p.Put(h)
	short := make([]byte, 10)
	p.Put(&short) // another size: dropped
	p.Put(extra)
	for _, b := range got {
		*b = (*b)[:7] // a caller's reslice: Put restores the length
		p.Put(b)
	}
	if len(p.free) != count {
		t.Fatalf("%d buffers free in the mapping after Put, want %d", len(p.free), count)
	}
	if b := p.Get(); len(*b) != size || unsafe.SliceData(*b) != unsafe.SliceData(*got[count-1]) {
		t.Fatal("Get after Put should hand out the most recently returned mapping buffer, at full length")
	}
}

// TestHugePages: where transparent huge pages may be used (enabled is
// "always" or "madvise"), the mapping's touched buffers are backed by
// them: that is the point of the pool.
func TestHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skipf("transparent huge pages are off here (%q, %v): the pool then gives ordinary pages", mode, err)
	}
	p := New(1<<20, 8)
	var bufs []*[]byte
	for range 8 {
		b := p.Get()
		for i := range *b {
			(*b)[i] = byte(i)
		}
		bufs = append(bufs, b)
	}
	lo := p.lo.Load()
	if kb := anonHugeKB(t, lo); kb < 2048 {
		t.Fatalf("the mapping at %#x has %d kB of huge pages after its 8 MiB were written; want at least one 2 MiB page (THP %q)", lo, kb, strings.TrimSpace(string(mode)))
	}
	for _, b := range bufs {
		if !bytes.Equal((*b)[:4], []byte{0, 1, 2, 3}) {
			t.Fatal("buffer content lost")
		}
		p.Put(b)
	}
}

// anonHugeKB reads AnonHugePages of the mapping that contains addr from
// /proc/self/smaps.
func anonHugeKB(t *testing.T, addr uintptr) int {
	t.Helper()
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, line := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if r := strings.SplitN(f[0], "-", 2); len(r) == 2 && !strings.HasSuffix(f[0], ":") {
			lo, err1 := strconv.ParseUint(r[0], 16, 64)
			hi, err2 := strconv.ParseUint(r[1], 16, 64)
			in = err1 == nil && err2 == nil && uint64(addr) >= lo && uint64(addr) < hi
			continue
		}
		if in && f[0] == "AnonHugePages:" {
			kb, _ := strconv.Atoi(f[1])
			return kb
		}
	}
	t.Fatalf("no mapping holds %#x in /proc/self/smaps", addr)
	return 0
}

func TestPoolConcurrent(t *testing.T) {
	p := New(64<<10, 8)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				b := p.Get()
				(*b)[0], (*b)[len(*b)-1] = byte(w), byte(i)
				if (*b)[0] != byte(w) || (*b)[len(*b)-1] != byte(i) {
					t.Error("buffer shared between two users")
				}
				p.Put(b)
			}
		}()
	}
	wg.Wait()
	if len(p.free) != 8 {
		t.Fatalf("%d mapping buffers free at the end, want 8", len(p.free))
	}
}

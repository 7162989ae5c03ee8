package memfs

import "math/bits"

// blockSize is the allocation unit of files. Data is held densely; the
// allocation map only records which blocks were written or preallocated,
// so that st_blocks, SEEK_DATA/SEEK_HOLE and hole punching behave as on a
// sparse-file filesystem.
const blockSize = 4096

// allocMap is a bitmap of allocated blocks.
type allocMap []uint64

func (m allocMap) has(b int64) bool {
	w := b / 64
	return w < int64(len(m)) && m[w]&(1<<(b%64)) != 0
}

// set marks the blocks touching [off, end).
func (m *allocMap) set(off, end int64) {
	if end <= off {
		return
	}
	last := (end - 1) / blockSize
	if need := last/64 + 1; need > int64(len(*m)) {
		*m = append(*m, make([]uint64, need-int64(len(*m)))...)
	}
	for b := off / blockSize; b <= last; b++ {
		(*m)[b/64] |= 1 << (b % 64)
	}
}

// clear unmarks the blocks lying wholly inside [off, end); partly covered
// blocks stay allocated, as with FALLOC_FL_PUNCH_HOLE.
func (m allocMap) clear(off, end int64) {
	first := (off + blockSize - 1) / blockSize
	for b := first; (b+1)*blockSize <= end && b/64 < int64(len(m)); b++ {
		m[b/64] &^= 1 << (b % 64)
	}
}

// truncate drops the blocks at or beyond size.
func (m *allocMap) truncate(size int64) {
	m.clear(size, int64(len(*m))*64*blockSize)
	// A partly kept last block stays; trim whole words past it.
	words := ((size+blockSize-1)/blockSize + 63) / 64
	if words < int64(len(*m)) {
		*m = (*m)[:words]
	}
}

// blocks returns the allocated size in 512-byte units (st_blocks).
func (m allocMap) blocks() uint64 {
	n := 0
	for _, w := range m {
		n += bits.OnesCount64(w)
	}
	return uint64(n) * blockSize / 512
}

// seek finds, from off, the first byte in an allocated (data) or
// unallocated (hole) block; the end of the file counts as a hole. It
// returns -1 when there is no such byte before size.
func (m allocMap) seek(off, size int64, data bool) int64 {
	for b := off / blockSize; b*blockSize < size; b++ {
		if m.has(b) == data {
			return max(off, b*blockSize)
		}
	}
	if data {
		return -1
	}
	return size
}

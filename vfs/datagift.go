package vfs

import (
	"context"
	"sync/atomic"
	"unsafe"
)

// A DataGift lets the caller of Write hand over the buffer its data lies
// in, so that a translator that keeps written data past the call
// (write-behind) holds that buffer instead of copying it. The taker gives
// the buffer back with the release function once it no longer refers to
// it; a caller whose gift was taken must neither change nor reuse the
// buffer before then. A gift is taken at most once, and only for the very
// slice offered (same first byte, same length): a translator that passes
// down other bytes cannot hand over its caller's buffer by mistake.
//
// The NFS gateway offers the record buffer a WRITE's data arrived in:
// without it, write-behind copied every MiB it acknowledged.
type DataGift struct {
	data    []byte
	release func()
	taken   atomic.Bool
}

type dataGiftKey struct{}

// OfferData returns ctx carrying a gift of data; release is called by the
// taker once it is done with the buffer (never if the gift is not taken).
func OfferData(ctx context.Context, data []byte, release func()) (context.Context, *DataGift) {
	g := &DataGift{data: data, release: release}
	return context.WithValue(ctx, dataGiftKey{}, g), g
}

// Taken reports whether a translator took the gift; its buffer then
// belongs to that translator until the release function is called.
func (g *DataGift) Taken() bool { return g.taken.Load() }

// DataOffered reports whether ctx carries an untaken gift of exactly data,
// without taking it.
func DataOffered(ctx context.Context, data []byte) bool {
	g := giftOf(ctx, data)
	return g != nil && !g.taken.Load()
}

// TakeData takes the gift of ctx if it is exactly data: the caller may
// then keep data (capped at its length: appending must not reach the
// giver's bytes beyond it) and must call release when done with it.
func TakeData(ctx context.Context, data []byte) (kept []byte, release func(), ok bool) {
	g := giftOf(ctx, data)
	if g == nil || !g.taken.CompareAndSwap(false, true) {
		return nil, nil, false
	}
	return data[:len(data):len(data)], g.release, true
}

func giftOf(ctx context.Context, data []byte) *DataGift {
	g, _ := ctx.Value(dataGiftKey{}).(*DataGift)
	if g == nil || len(data) == 0 || len(g.data) != len(data) || unsafe.SliceData(g.data) != unsafe.SliceData(data) {
		return nil
	}
	return g
}

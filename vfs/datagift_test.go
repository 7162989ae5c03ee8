package vfs

import (
	"context"
	"testing"
)

func TestDataGift(t *testing.T) {
	buf := make([]byte, 64)
	data := buf[8:40]
	released := 0
	ctx, gift := OfferData(context.Background(), data, func() { released++ })

	if DataOffered(context.Background(), data) {
		t.Fatal("offered without a gift in the context")
	}
	if DataOffered(ctx, buf[8:39]) || DataOffered(ctx, buf[9:41]) || DataOffered(ctx, append([]byte(nil), data...)) {
		t.Fatal("a slice other than the one offered is offered")
	}
	if _, _, ok := TakeData(ctx, buf[8:39]); ok {
		t.Fatal("took a shorter slice of the gift")
	}
	if !DataOffered(ctx, data) || gift.Taken() {
		t.Fatal("the gift is not on offer")
	}
	kept, release, ok := TakeData(ctx, data)
	if !ok || !gift.Taken() {
		t.Fatal("TakeData of the offered slice failed")
	}
	if &kept[0] != &data[0] || len(kept) != len(data) || cap(kept) != len(data) {
		t.Fatalf("kept slice: len %d cap %d, want the offered bytes capped at %d", len(kept), cap(kept), len(data))
	}
	if _, _, ok := TakeData(ctx, data); ok || DataOffered(ctx, data) {
		t.Fatal("a gift was taken twice")
	}
	if released != 0 {
		t.Fatal("released before the taker called release")
	}
	release()
	if released != 1 {
		t.Fatalf("released %d times", released)
	}
	if _, _, ok := TakeData(context.Background(), nil); ok {
		t.Fatal("took nil data")
	}
}

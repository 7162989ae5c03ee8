package protocol

import (
	"testing"

	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
)

func TestChangeRoundTrip(t *testing.T) {
	g := vfs.GFID{1, 2, 3}
	for _, c := range []vfs.Change{
		{GFID: g},
		{Parent: vfs.RootGFID, Name: "n"},
		{All: true},
	} {
		if got := ChangeFromPB(ChangeToPB(&c)); got != c {
			t.Errorf("%+v came back as %+v", c, got)
		}
	}
	// What the receiver cannot make sense of means anything may have changed.
	for _, p := range []*brickpb.Change{
		{},
		{Gfid: []byte{1}},
		{Parent: []byte{1, 2}, Name: []byte("n")},
		{Name: []byte("n")},
	} {
		if got := ChangeFromPB(p); !got.All {
			t.Errorf("%v: %+v, want All", p, got)
		}
	}
}

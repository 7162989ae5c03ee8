package stack

import (
	"context"
	"fmt"
	"testing"

	"github.com/cairnfs/cairn/vfs/replicate"
	"github.com/cairnfs/cairn/vfs/volfile"
)

// The cluster/replicate options reach the translator's Config: reads stay
// on the first good brick unless split-reads or read-hash-mode say
// otherwise.
func TestReplicateReadOptions(t *testing.T) {
	for _, c := range []struct {
		options       string
		split         bool
		readSubvolume int
	}{
		{"", false, 0},
		{"option split-reads on\n", true, 0},
		{"option split-reads off\n", false, 0},
		{"option read-hash-mode 1\n", false, -1},
		{"option read-subvolume b2\noption split-reads on\n", true, 1},
	} {
		text := fmt.Sprintf(`volume b1
  type storage/posix
  option directory %s
end-volume
volume b2
  type storage/posix
  option directory %s
end-volume
volume mirror
  type cluster/replicate
  option self-heal-daemon off
%s  subvolumes b1 b2
end-volume
`, t.TempDir(), t.TempDir(), c.options)
		f, err := volfile.Parse("test.vol", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		g, err := volfile.BuildGraph(context.Background(), f, Registry(Env{}))
		if err != nil {
			t.Fatalf("%q: %v", c.options, err)
		}
		r, ok := g.Top().(*replicate.Replicate)
		if !ok {
			t.Fatalf("top is %T", g.Top())
		}
		cfg := r.Config()
		if cfg.SplitReads != c.split || cfg.ReadSubvolume != c.readSubvolume {
			t.Errorf("%q: split-reads %v read-subvolume %d, want %v %d", c.options, cfg.SplitReads, cfg.ReadSubvolume, c.split, c.readSubvolume)
		}
		g.Close()
	}
}

package stack

import (
	"context"
	"fmt"
	"testing"

	"github.com/cairnfs/cairn/vfs/client"
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

// filter-O_DIRECT (and its volume-option name network.remote-dio) reaches
// protocol/client's Config; it is off unless set, as in GlusterFS, and the
// client volfile cairn generates sets it on every brick.
func TestClientFilterODirectOption(t *testing.T) {
	for _, c := range []struct {
		option string
		want   bool
	}{
		{"", false},
		{"option filter-O_DIRECT on\n", true},
		{"option filter-O_DIRECT off\n", false},
		{"option network.remote-dio enable\n", true},
		{"option network.remote-dio disable\n", false},
	} {
		text := fmt.Sprintf("volume b1\n  type protocol/client\n  option remote-host 127.0.0.1\n  option remote-port 1\n  option remote-subvolume x\n%send-volume\n", c.option)
		if got := builtClients(t, text)["b1"].Config().FilterODirect; got != c.want {
			t.Errorf("%q: FilterODirect %v, want %v", c.option, got, c.want)
		}
	}
	v := VolumeSpec{Name: "cairn", Bricks: []BrickSpec{{Host: "127.0.0.1", Port: 1}, {Host: "127.0.0.1", Port: 2}}}
	clients := builtClients(t, v.ClientVolfile())
	if len(clients) != 2 {
		t.Fatalf("generated client volfile has %d protocol/client volumes, want 2", len(clients))
	}
	for name, cl := range clients {
		if !cl.Config().FilterODirect {
			t.Errorf("generated client volfile: %s does not filter O_DIRECT", name)
		}
	}
}

// builtClients builds the volfile text and returns its protocol/client
// translators by volume name (closed with the test).
func builtClients(t *testing.T, text string) map[string]*client.Client {
	t.Helper()
	f, err := volfile.Parse("test.vol", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	g, err := volfile.BuildGraph(context.Background(), f, Registry(Env{}))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	t.Cleanup(func() { g.Close() })
	clients := map[string]*client.Client{}
	for _, v := range f.Volumes {
		if cl, ok := g.Volume(v.Name).(*client.Client); ok {
			clients[v.Name] = cl
		}
	}
	return clients
}

package stack

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cairnfs/cairn/vfs/volfile"
)

// The generated volfiles must pass the same checks as hand-written ones.
func TestGeneratedVolfilesCheck(t *testing.T) {
	v := VolumeSpec{Name: "cairn", ClientVolfilePath: "/x/client.vol", Bricks: []BrickSpec{
		{Host: "127.0.0.1", Port: 6996, Directory: "/x/b1"},
		{Host: "127.0.0.1", Port: 6997, Directory: "/x/b2"},
	}}
	reg := Registry(Env{})
	for name, text := range map[string]string{"brick1.vol": v.BrickVolfile(0), "brick2.vol": v.BrickVolfile(1), "client.vol": v.ClientVolfile()} {
		f, err := volfile.Parse(name, []byte(text))
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, text)
		}
		if err := volfile.Check(f, reg); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, text)
		}
	}
}

// The example volfiles shipped in examples/ must stay valid.
func TestExampleVolfilesCheck(t *testing.T) {
	paths, err := filepath.Glob("../../examples/*.vol")
	if err != nil || len(paths) < 2 {
		t.Fatalf("examples: %v %v", paths, err)
	}
	reg := Registry(Env{})
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := volfile.Parse(p, data)
		if err == nil {
			err = volfile.Check(f, reg)
		}
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

package volfile

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// diamond shares one posix volume between two locks volumes under a
// replicate, and has a volume the top does not reach.
const diamond = `volume p
  type storage/posix
  option directory /x
end-volume
volume l1
  type features/locks
  subvolumes p
end-volume
volume l2
  type features/locks
  subvolumes p
end-volume
volume r
  type cluster/replicate
  subvolumes l1 l2
end-volume
volume unused
  type storage/posix
  option directory /y
end-volume
volume top
  type performance/io-threads
  subvolumes r
end-volume
`

func TestBuildSharedSubvolumeOnce(t *testing.T) {
	f := mustParse(t, "d.vol", diamond)
	rec := &recorder{}
	tr, err := Build(context.Background(), f, fakeRegistry(rec))
	if err != nil {
		t.Fatal(err)
	}
	g := tr.(*Graph)
	if want := []string{"p", "l1", "l2", "r", "top"}; !slices.Equal(rec.built, want) {
		t.Errorf("built %v, want %v (each once, unused not built)", rec.built, want)
	}
	l1, l2 := g.Volume("l1").(*fakeXlator), g.Volume("l2").(*fakeXlator)
	if l1.children[0] != l2.children[0] || l1.children[0] != g.Volume("p") {
		t.Error("the shared subvolume must be one translator")
	}
	if g.Volume("unused") != nil || g.Volume("nope") != nil {
		t.Error("Volume of an unbuilt name")
	}
	if g.File() != f || g.Top() != g.Volume("top") {
		t.Error("File/Top")
	}
	// The Graph is the top translator: calls go through the stack.
	if _, errno := tr.Lookup(context.Background(), vfs.RootGFID, "x"); errno != syscall.ENOENT {
		t.Errorf("lookup through the graph: %v", errno)
	}
	if err := vfs.Close(tr); err != nil {
		t.Fatal(err)
	}
	if want := []string{"top", "r", "l2", "l1", "p"}; !slices.Equal(rec.closed, want) {
		t.Errorf("closed %v, want %v (parents first, each once)", rec.closed, want)
	}
	if err := g.Close(); err != nil || len(rec.closed) != 5 {
		t.Errorf("second Close: %v, closed %v", err, rec.closed)
	}
}

func TestBuildFailureClosesWhatWasBuilt(t *testing.T) {
	f := mustParse(t, "d.vol", diamond)
	rec := &recorder{failOn: "r"}
	tr, err := Build(context.Background(), f, fakeRegistry(rec))
	if tr != nil {
		t.Error("a translator returned with an error")
	}
	checkErrors(t, "d.vol", err, []want{{13, `volume "r" (cluster/replicate): fake build failure`, "-"}})
	if !errors.Is(err, errFake) {
		t.Error("the BuildFunc's error must stay reachable with errors.Is")
	}
	if want := []string{"l2", "l1", "p"}; !slices.Equal(rec.closed, want) {
		t.Errorf("closed %v, want %v", rec.closed, want)
	}
}

func TestBuildErrorsFromBuildFuncs(t *testing.T) {
	f := mustParse(t, "d.vol", diamond)

	// A BuildFunc pointing at an option line keeps its position.
	reg := fakeRegistry(nil)
	spec := *reg["storage/posix"]
	spec.Build = func(ctx context.Context, v *Volume, o Options, _ []vfs.Translator) (vfs.Translator, error) {
		e := o.Errorf("directory", "cannot open %s: %v", o.String("directory"), syscall.ENOENT)
		e.Hint = "create the directory first"
		e.Err = syscall.ENOENT
		return nil, e
	}
	reg["storage/posix"] = &spec
	_, err := Build(context.Background(), f, reg)
	checkErrors(t, "d.vol", err, []want{{3, "option directory: cannot open /x: no such file or directory", "create the directory first"}})
	if !errors.Is(err, syscall.ENOENT) {
		t.Error("errors.Is(ENOENT)")
	}

	// A type registered without Build can be checked but not built.
	reg = fakeRegistry(nil)
	reg["features/locks"] = &TypeSpec{MinChildren: 1, MaxChildren: 1}
	if err := Check(f, reg); err != nil {
		t.Fatal(err)
	}
	_, err = Build(context.Background(), f, reg)
	checkErrors(t, "d.vol", err, []want{{5, "type features/locks cannot be built by this program", "-"}})

	// A Build returning nothing is a translator bug, reported as such.
	reg = fakeRegistry(nil)
	reg["features/locks"] = &TypeSpec{MinChildren: 1, MaxChildren: 1,
		Build: func(context.Context, *Volume, Options, []vfs.Translator) (vfs.Translator, error) { return nil, nil }}
	_, err = Build(context.Background(), f, reg)
	checkErrors(t, "d.vol", err, []want{{5, "Build returned no translator", ""}})

	// A cancelled context stops the build before any BuildFunc runs.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &recorder{}
	_, err = Build(ctx, f, fakeRegistry(rec))
	if !errors.Is(err, context.Canceled) || len(rec.built) != 0 {
		t.Errorf("cancelled: %v, built %v", err, rec.built)
	}
}

func TestBuildRefusesInvalidFiles(t *testing.T) {
	f := mustParse(t, "d.vol", strings.Replace(diamond, "subvolumes l1 l2", "subvolumes l1 l3", 1))
	rec := &recorder{}
	_, err := Build(context.Background(), f, fakeRegistry(rec))
	checkErrors(t, "d.vol", err, []want{{15, `subvolume "l3" is not defined`, `did you mean "l1"?`}})
	if len(rec.built) != 0 {
		t.Errorf("built %v", rec.built)
	}
	if _, err := BuildGraph(context.Background(), &File{Name: "empty"}, fakeRegistry(nil)); err == nil {
		t.Error("building an empty File")
	}
}

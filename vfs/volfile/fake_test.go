package volfile

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cairnfs/cairn/vfs"
)

// recorder notes what the fake translators did, per test (no globals).
type recorder struct {
	mu     sync.Mutex
	built  []string
	closed []string
	failOn string // volume whose Build fails
}

func (r *recorder) log(list *[]string, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, name)
}

// fakeXlator stands in for a real translator: it forwards everything to its
// first child and remembers how it was built.
type fakeXlator struct {
	vfs.Passthrough
	name     string
	typ      string
	children []vfs.Translator
	opts     Options
	rec      *recorder
}

// Lookup answers ENOENT at the bottom of a stack, so that calls can be
// sent through a built graph.
func (x *fakeXlator) Lookup(ctx context.Context, parent vfs.GFID, name string) (vfs.Attr, syscall.Errno) {
	if x.Child == nil {
		return vfs.Attr{}, syscall.ENOENT
	}
	return x.Child.Lookup(ctx, parent, name)
}

func (x *fakeXlator) Close() error {
	x.rec.log(&x.rec.closed, x.name)
	return nil
}

var errFake = errors.New("fake build failure")

// fakeRegistry mirrors the GlusterFS types and options the seed volfiles
// use, with GlusterFS's defaults and limits where it has them.
func fakeRegistry(rec *recorder) Registry {
	if rec == nil {
		rec = &recorder{}
	}
	build := func(ctx context.Context, v *Volume, opts Options, children []vfs.Translator) (vfs.Translator, error) {
		if v.Name == rec.failOn {
			return nil, errFake
		}
		rec.log(&rec.built, v.Name)
		x := &fakeXlator{name: v.Name, typ: v.Type, children: children, opts: opts, rec: rec}
		if len(children) > 0 {
			x.Child = children[0]
		}
		return x, nil
	}
	transport := OptionSpec{Key: "transport-type", Kind: Enum, Enum: []string{"tcp", "socket", "rdma", "unix"}, Default: "tcp"}
	nodelay := OptionSpec{Key: "transport.socket.nodelay", Kind: Bool, Default: "on"}
	replicate := &TypeSpec{
		Options: []OptionSpec{
			{Key: "favorite-child-policy", Kind: Enum, Enum: []string{"none", "mtime", "size", "majority"}, Default: "none"},
			{Key: "quorum-count", Kind: Int, Min: "1"},
		},
		MinChildren: 2, MaxChildren: Unlimited, Build: build,
	}
	return Registry{
		"storage/posix": {
			Options: []OptionSpec{{Key: "directory", Kind: Path, Required: true, Help: "the export directory"}},
			Build:   build,
		},
		"features/locks": {MinChildren: 1, MaxChildren: 1, Build: build,
			Options: []OptionSpec{{Key: "mandatory-locks", Aliases: []string{"mandatory"}, Kind: Bool, Default: "off"}},
		},
		"performance/io-threads": {
			Options:     []OptionSpec{{Key: "thread-count", Kind: Int, Default: "16", Min: "1", Max: "64"}},
			MinChildren: 1, MaxChildren: 1, Build: build,
		},
		"protocol/server": {
			Options: []OptionSpec{
				transport,
				{Key: "transport.socket.listen-port", Aliases: []string{"listen-port"}, Kind: Int, Default: "6996", Min: "1", Max: "65535"},
				{Key: "transport.socket.bind-address", Kind: String},
				nodelay,
				{Key: "auth.addr.*.allow", Kind: List},
				{Key: "auth.addr.*.reject", Kind: List},
				{Key: "volume-filename.*", Kind: Path},
			},
			MinChildren: 1, MaxChildren: Unlimited, Build: build,
		},
		"protocol/client": {
			Options: []OptionSpec{
				transport,
				{Key: "remote-host", Kind: String, Required: true},
				{Key: "remote-port", Kind: Int, Default: "6996", Min: "1", Max: "65535"},
				{Key: "remote-subvolume", Kind: String, Required: true},
				{Key: "ping-timeout", Kind: Duration, Default: "42", Min: "1s", Max: "1013s"},
				nodelay,
			},
			Build: build,
		},
		"cluster/replicate": replicate,
		"cluster/afr":       replicate,
		"performance/io-cache": {
			Options: []OptionSpec{
				{Key: "cache-size", Kind: Size, Default: "32MB", Min: "4MB", Max: "32GB"},
				{Key: "cache-timeout", Aliases: []string{"force-revalidate-timeout"}, Kind: Duration, Default: "1", Min: "0", Max: "60"},
				{Key: "min-free-disk", Kind: Percent, Default: "10%"},
			},
			MinChildren: 1, MaxChildren: 1, Build: build,
		},
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, name, src string) *File {
	t.Helper()
	f, err := Parse(name, []byte(src))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return f
}

// want describes one expected error: its line, and substrings of its
// message and hint ("" checks nothing; "-" requires no hint).
type want struct {
	line int
	msg  string
	hint string
}

// checkErrors compares err's *Error list with wants, in order, all fields
// of the file:line exactly.
func checkErrors(t *testing.T, file string, err error, wants []want) {
	t.Helper()
	got := Errors(err)
	if len(got) != len(wants) {
		t.Fatalf("got %d errors, want %d:\n%v", len(got), len(wants), err)
	}
	for i, w := range wants {
		g := got[i]
		if g.File != file || g.Line != w.line {
			t.Errorf("error %d at %s:%d, want %s:%d: %v", i, g.File, g.Line, file, w.line, g)
		}
		if !strings.Contains(g.Msg, w.msg) {
			t.Errorf("error %d message %q does not contain %q", i, g.Msg, w.msg)
		}
		switch {
		case w.hint == "-" && g.Hint != "":
			t.Errorf("error %d has hint %q, want none", i, g.Hint)
		case w.hint != "-" && !strings.Contains(g.Hint, w.hint):
			t.Errorf("error %d hint %q does not contain %q", i, g.Hint, w.hint)
		}
		prefix := file + ":" + itoa(w.line) + ": "
		if !strings.HasPrefix(g.Error(), prefix) {
			t.Errorf("error %d text %q does not start with %q", i, g.Error(), prefix)
		}
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

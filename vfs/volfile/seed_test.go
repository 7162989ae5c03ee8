package volfile

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// The seed tutorial's two volfiles are the acceptance test of the design.

func TestSeedBrickVolfileBuilds(t *testing.T) {
	f, err := Parse("glusterfsd.vol", readTestdata(t, "glusterfsd.vol"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Top().Name; got != "server-tcp" {
		t.Errorf("top = %q, want server-tcp", got)
	}
	rec := &recorder{}
	g, err := BuildGraph(context.Background(), f, fakeRegistry(rec))
	if err != nil {
		t.Fatal(err)
	}
	wantBuilt := []string{"dir_web_sites", "lock_web_sites", "export_web_sites", "server-tcp"}
	if !slices.Equal(rec.built, wantBuilt) {
		t.Errorf("built %v, want %v", rec.built, wantBuilt)
	}
	top := g.Top().(*fakeXlator)
	if top.name != "server-tcp" || len(top.children) != 1 || top.children[0] != g.Volume("export_web_sites") {
		t.Errorf("top %s has children %v", top.name, top.children)
	}
	o := top.opts
	if o.String("transport-type") != "tcp" || !o.Bool("transport.socket.nodelay") {
		t.Errorf("transport options: %q %v", o.String("transport-type"), o.Bool("transport.socket.nodelay"))
	}
	if o.Int("transport.socket.listen-port") != 6996 || o.IsSet("transport.socket.listen-port") {
		t.Errorf("listen-port default: %d set=%v", o.Int("transport.socket.listen-port"), o.IsSet("transport.socket.listen-port"))
	}
	allow := o.Matching("auth.addr.*.allow")
	if len(allow) != 1 || allow[0].Wild != "export_web_sites" || allow[0].Value != "*" || allow[0].Pos.Line != 18 {
		t.Errorf("auth.addr.*.allow = %+v", allow)
	}
	if l := o.List("auth.addr.export_web_sites.allow"); !slices.Equal(l, []string{"*"}) {
		t.Errorf("allow list = %q", l)
	}
	vf := o.Matching("volume-filename.*")
	if len(vf) != 1 || vf[0].Wild != "web_sites" || vf[0].Value != "/etc/glusterfs/web_sites.vol" {
		t.Errorf("volume-filename.* = %+v", vf)
	}
	if n := g.Volume("export_web_sites").(*fakeXlator).opts.Int("thread-count"); n != 64 {
		t.Errorf("thread-count = %d", n)
	}
	if d := g.Volume("dir_web_sites").(*fakeXlator).opts.String("directory"); d != "/gfs/web/sites/export" {
		t.Errorf("directory = %q", d)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	wantClosed := []string{"server-tcp", "export_web_sites", "lock_web_sites", "dir_web_sites"}
	if !slices.Equal(rec.closed, wantClosed) {
		t.Errorf("closed %v, want %v", rec.closed, wantClosed)
	}
}

func TestSeedClientVolfileVerbatimFails(t *testing.T) {
	src := readTestdata(t, "web_sites.vol")
	f, err := Parse("web_sites.vol", src)
	if err != nil {
		t.Fatalf("the seed client volfile must parse verbatim: %v", err)
	}
	wants := []want{{17, `volume "mirror_web_sites": subvolume "brick1_web_sites" is not defined`,
		`did you mean "brick1_com_web_sites"? It is defined at line 1 and no volume uses it`}}
	checkErrors(t, "web_sites.vol", f.CheckGraph(), wants)
	checkErrors(t, "web_sites.vol", Check(f, fakeRegistry(nil)), wants)

	rec := &recorder{}
	_, err = Build(context.Background(), f, fakeRegistry(rec))
	checkErrors(t, "web_sites.vol", err, wants)
	if len(rec.built) != 0 {
		t.Errorf("built %v despite the error", rec.built)
	}
	const text = `web_sites.vol:17: volume "mirror_web_sites": subvolume "brick1_web_sites" is not defined (hint: did you mean "brick1_com_web_sites"? It is defined at line 1 and no volume uses it)`
	if err.Error() != text {
		t.Errorf("error text\n got %s\nwant %s", err, text)
	}
	if u := f.Unused(); len(u) != 1 || u[0].Name != "brick1_com_web_sites" {
		t.Errorf("unused = %v", u)
	}
}

func TestSeedClientVolfileFixedBuilds(t *testing.T) {
	fixed := readTestdata(t, "web_sites_fixed.vol")
	orig := readTestdata(t, "web_sites.vol")
	// The fixed file differs from the seed in that one name only.
	if string(fixed) != strings.Replace(string(orig), "subvolumes brick1_web_sites ", "subvolumes brick1_com_web_sites ", 1) {
		t.Fatal("testdata/web_sites_fixed.vol must differ from web_sites.vol in the one name only")
	}
	f, err := Parse("web_sites_fixed.vol", fixed)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	g, err := BuildGraph(context.Background(), f, fakeRegistry(rec))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	wantBuilt := []string{"brick1_com_web_sites", "brick2_com_web_sites", "mirror_web_sites", "iothreads_web_sites", "iocache_web_sites"}
	if !slices.Equal(rec.built, wantBuilt) {
		t.Errorf("built %v, want %v", rec.built, wantBuilt)
	}
	top := g.Top().(*fakeXlator)
	if top.name != "iocache_web_sites" {
		t.Fatalf("top = %s", top.name)
	}
	if n := top.opts.Size("cache-size"); n != 512*1024*1024 {
		t.Errorf("cache-size = %d, want 512 MiB", n)
	}
	if d := top.opts.Duration("cache-timeout"); d != 60*time.Second {
		t.Errorf("cache-timeout = %v", d)
	}
	mirror := g.Volume("mirror_web_sites").(*fakeXlator)
	if len(mirror.children) != 2 || mirror.children[0] != g.Volume("brick1_com_web_sites") || mirror.children[1] != g.Volume("brick2_com_web_sites") {
		t.Errorf("mirror children %v", mirror.children)
	}
	c := g.Volume("brick2_com_web_sites").(*fakeXlator).opts
	if c.String("remote-host") != "brick2.my.domain" || c.String("remote-subvolume") != "export_web_sites" ||
		c.Int("remote-port") != 6996 || c.Duration("ping-timeout") != 42*time.Second {
		t.Errorf("client options: %q %q %d %v", c.String("remote-host"), c.String("remote-subvolume"), c.Int("remote-port"), c.Duration("ping-timeout"))
	}
	if u := f.Unused(); len(u) != 0 {
		t.Errorf("unused = %v", u)
	}
}

func TestSeedTree(t *testing.T) {
	f := mustParse(t, "glusterfsd.vol", string(readTestdata(t, "glusterfsd.vol")))
	const want = `server-tcp (protocol/server) glusterfsd.vol:14
│   option transport-type tcp
│   option transport.socket.nodelay on
│   option auth.addr.export_web_sites.allow *
│   option volume-filename.web_sites /etc/glusterfs/web_sites.vol
└── export_web_sites (performance/io-threads) glusterfsd.vol:9
    │   option thread-count 64
    └── lock_web_sites (features/locks) glusterfsd.vol:5
        └── dir_web_sites (storage/posix) glusterfsd.vol:1
                option directory /gfs/web/sites/export
`
	if got := f.Tree(); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}

	c := mustParse(t, "web_sites.vol", string(readTestdata(t, "web_sites.vol")))
	const wantClient = `iocache_web_sites (performance/io-cache) web_sites.vol:24
│   option cache-size 512MB
│   option cache-timeout 60
└── iothreads_web_sites (performance/io-threads) web_sites.vol:19
    │   option thread-count 64
    └── mirror_web_sites (cluster/replicate) web_sites.vol:15
        ├── brick1_web_sites (not defined) web_sites.vol:17
        └── brick2_com_web_sites (protocol/client) web_sites.vol:8
                option transport-type tcp
                option transport.socket.nodelay on
                option remote-host brick2.my.domain
                option remote-subvolume export_web_sites

not reachable from the top:
brick1_com_web_sites (protocol/client) web_sites.vol:1
    option transport-type tcp
    option transport.socket.nodelay on
    option remote-host brick1.my.domain
    option remote-subvolume export_web_sites
`
	if got := c.Tree(); got != wantClient {
		t.Errorf("tree:\n%s\nwant:\n%s", got, wantClient)
	}
}

func TestSeedFormatRoundTrip(t *testing.T) {
	for _, name := range []string{"glusterfsd.vol", "web_sites.vol", "web_sites_fixed.vol"} {
		f := mustParse(t, name, string(readTestdata(t, name)))
		out := f.Format()
		g := mustParse(t, name, out)
		if !sameGraph(f, g) {
			t.Errorf("%s: Format does not round-trip:\n%s", name, out)
		}
		if g.Format() != out {
			t.Errorf("%s: Format is not a fixed point", name)
		}
	}
	f := mustParse(t, "glusterfsd.vol", string(readTestdata(t, "glusterfsd.vol")))
	const want = `volume dir_web_sites
    type storage/posix
    option directory /gfs/web/sites/export
end-volume

volume lock_web_sites
    type features/locks
    subvolumes dir_web_sites
end-volume

volume export_web_sites
    type performance/io-threads
    option thread-count 64
    subvolumes lock_web_sites
end-volume

volume server-tcp
    type protocol/server
    option transport-type tcp
    option transport.socket.nodelay on
    option auth.addr.export_web_sites.allow *
    option volume-filename.web_sites /etc/glusterfs/web_sites.vol
    subvolumes export_web_sites
end-volume
`
	if got := f.Format(); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
}

// sameGraph compares two files ignoring positions and comments.
func sameGraph(a, b *File) bool {
	if len(a.Volumes) != len(b.Volumes) {
		return false
	}
	for i, v := range a.Volumes {
		w := b.Volumes[i]
		if v.Name != w.Name || v.Type != w.Type || len(v.Options) != len(w.Options) || len(v.Subvolumes) != len(w.Subvolumes) {
			return false
		}
		for j, o := range v.Options {
			if o.Key != w.Options[j].Key || o.Value != w.Options[j].Value {
				return false
			}
		}
		for j, r := range v.Subvolumes {
			if r.Name != w.Subvolumes[j].Name {
				return false
			}
		}
	}
	return true
}

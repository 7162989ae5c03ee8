package volfile

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOptionsAccessors(t *testing.T) {
	reg := fakeRegistry(nil)
	o, err := NewOptions(reg["protocol/server"], map[string]string{
		"transport-type":                  "TCP", // enums read back in the spec's spelling
		"listen-port":                     "24007",
		"auth.addr.export.allow":          "10.0.0.1, 10.0.0.2,10.0.0.3",
		"auth.addr.other.vol.allow":       "*",
		"auth.addr.export.reject":         "10.9.9.9",
		"volume-filename.web_sites":       "/etc/glusterfs/web_sites.vol",
		"transport.socket.bind-address":   "0.0.0.0",
		"volume-filename.other.client.vo": "/etc/x.vol",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := o.String("transport-type"); got != "tcp" {
		t.Errorf("transport-type = %q", got)
	}
	// An alias reads under its key and under itself.
	if o.Int("transport.socket.listen-port") != 24007 || o.Int("listen-port") != 24007 || !o.IsSet("transport.socket.listen-port") {
		t.Errorf("listen-port = %d", o.Int("transport.socket.listen-port"))
	}
	if !o.Bool("transport.socket.nodelay") || o.IsSet("transport.socket.nodelay") {
		t.Error("nodelay default on, not set")
	}
	if l := o.List("auth.addr.export.allow"); !slices.Equal(l, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}) {
		t.Errorf("allow = %q", l)
	}
	m := o.Matching("auth.addr.*.allow")
	if len(m) != 2 || m[0].Wild != "export" || m[1].Wild != "other.vol" || m[1].Value != "*" {
		t.Errorf("Matching = %+v", m)
	}
	if r := o.Matching("auth.addr.*.reject"); len(r) != 1 || r[0].Key != "auth.addr.export.reject" {
		t.Errorf("reject = %+v", r)
	}
	if o.Matching("transport-type") != nil {
		t.Error("Matching on a plain key")
	}
	if o.String("auth.addr.nobody.allow") != "" || o.List("auth.addr.nobody.allow") != nil {
		t.Error("an unset wildcard key reads as zero")
	}
	if o.String("transport.socket.bind-address") != "0.0.0.0" {
		t.Error("bind-address")
	}

	c, err := NewOptions(reg["performance/io-cache"], nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Size("cache-size") != 32<<20 || c.Duration("cache-timeout") != time.Second || c.Percent("min-free-disk") != 10 {
		t.Errorf("defaults: %d %v %v", c.Size("cache-size"), c.Duration("cache-timeout"), c.Percent("min-free-disk"))
	}
	if c.String("cache-size") != "32MB" {
		t.Errorf("String of a size = %q", c.String("cache-size"))
	}
	if p := c.Pos("cache-size"); p.File != "<options>" {
		t.Errorf("Pos of a default = %v", p)
	}

	// Unset and without default: zero values.
	cl, err := NewOptions(reg["protocol/client"], map[string]string{"remote-host": "h", "remote-subvolume": "s"})
	if err != nil {
		t.Fatal(err)
	}
	if cl.Int("remote-port") != 6996 || cl.Duration("ping-timeout") != 42*time.Second {
		t.Error("client defaults")
	}
	rep, _ := NewOptions(reg["cluster/replicate"], nil)
	if rep.Int("quorum-count") != 0 || rep.IsSet("quorum-count") {
		t.Error("unset int without default")
	}
}

func TestOptionsErrors(t *testing.T) {
	reg := fakeRegistry(nil)
	_, err := NewOptions(reg["performance/io-cache"], map[string]string{"cache-size": "lots"})
	if err == nil || !strings.Contains(err.Error(), `malformed size "lots"`) {
		t.Errorf("NewOptions: %v", err)
	}
	if _, err := NewOptions(nil, nil); err == nil {
		t.Error("NewOptions(nil)")
	}
	if _, err := NewOptions(&TypeSpec{Options: []OptionSpec{{Key: "k", Kind: Enum}}}, nil); err == nil {
		t.Error("NewOptions with a bad spec")
	}

	f := mustParse(t, "e.vol", over("performance/io-cache", "cache-size 64MB"))
	opts, errs := validate(f, reg)
	if len(errs) != 0 {
		t.Fatal(errs.err())
	}
	o := opts[f.Volume("top")]
	e := o.Errorf("cache-size", "too big for this host (%d bytes)", o.Size("cache-size"))
	if e.Error() != "e.vol:7: option cache-size: too big for this host (67108864 bytes)" {
		t.Error(e)
	}
	if e := o.Errorf("cache-timeout", "x"); e.Line != 5 {
		t.Errorf("Errorf on an unset option points at line %d, want the volume's 5", e.Line)
	}
	if e := f.Volume("top").Errorf("cannot %s", "start"); e.Error() != `e.vol:5: volume "top": cannot start` {
		t.Error(e)
	}
}

func TestOptionsTranslatorBugsPanic(t *testing.T) {
	o, err := NewOptions(fakeRegistry(nil)["performance/io-cache"], nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(){
		"undeclared key": func() { o.Size("cache-sise") },
		"wrong kind":     func() { o.Bool("cache-size") },
		"zero Options":   func() { Options{}.String("x") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, key string
		ok           bool
		wild         string
	}{
		{"auth.addr.*.allow", "auth.addr.export_web_sites.allow", true, "export_web_sites"},
		{"auth.addr.*.allow", "auth.addr.a.b.allow", true, "a.b"},
		{"auth.addr.*.allow", "auth.addr..allow", false, ""},
		{"auth.addr.*.allow", "auth.addr.x.reject", false, ""},
		{"volume-filename.*", "volume-filename.web_sites", true, "web_sites"},
		{"volume-filename.*", "volume-filename.", false, ""},
		{"a*b*c", "axxbyyc", true, "xxbyy"},
		{"a*b*c", "abc", false, ""},
	}
	for _, tt := range tests {
		if got := match(tt.pattern, tt.key); got != tt.ok {
			t.Errorf("match(%q, %q) = %v", tt.pattern, tt.key, got)
		}
		if tt.ok {
			if w := wildPart(tt.pattern, tt.key); w != tt.wild {
				t.Errorf("wildPart(%q, %q) = %q", tt.pattern, tt.key, w)
			}
		}
	}
}

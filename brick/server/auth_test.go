package server

import (
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

func TestAuthorize(t *testing.T) {
	cases := []struct {
		allow, reject string
		peer          string
		ok            bool
	}{
		{"*", "", "192.168.1.7", true},
		{"192.168.*", "", "192.168.1.7", true},
		{"192.168.*", "", "192.169.1.7", false},
		{"192.168.1.?", "", "192.168.1.7", true},
		{"192.168.1.?", "", "192.168.1.17", false},
		{"10.0.0.0/8", "", "10.200.3.4", true},
		{"10.0.0.0/8", "", "11.0.0.1", false},
		{"10.1.2.3/8", "", "10.9.9.9", true}, // host bits are masked, as inet_net_pton does
		{"127.0.0.1, 192.168.1.7", "", "192.168.1.7", true},
		{"*", "192.168.1.7", "192.168.1.7", false}, // reject wins
		{"192.168.1.7", "192.168.0.0/16", "192.168.1.7", false},
		{"*", "192.168.1.8", "192.168.1.7", true},
		{"", "", "192.168.1.7", false}, // no allow: refused
		{"", "10.0.0.1", "192.168.1.7", false},
		{"fe80::*", "", "fe80::1", true},
		{"fd00::/8", "", "fd12::5", true},
		{"fd00::/8", "", "10.0.0.1", false},
		{"127.0.0.1", "", "::ffff:127.0.0.1", true}, // v4-mapped peers match v4 rules
		{"example.com", "", "93.184.216.34", false}, // names are not resolved
	}
	for _, tc := range cases {
		allow, err := compilePatterns("allow", ParseAuthList(tc.allow))
		if err != nil {
			t.Fatal(err)
		}
		reject, err := compilePatterns("reject", ParseAuthList(tc.reject))
		if err != nil {
			t.Fatal(err)
		}
		sv := &subvol{name: "b", allow: allow, reject: reject}
		ip, text := peerIP(&net.TCPAddr{IP: net.ParseIP(tc.peer), Port: 1000})
		reason := sv.authorize(ip, text)
		if (reason == "") != tc.ok {
			t.Errorf("allow %q reject %q peer %s: reason %q, want ok=%v", tc.allow, tc.reject, tc.peer, reason, tc.ok)
		}
	}
}

func TestNonTCPPeer(t *testing.T) {
	star, _ := compilePatterns("allow", []string{"*"})
	exact, _ := compilePatterns("allow", []string{"127.0.0.1", "10.0.0.0/8"})
	ip, text := peerIP(&net.UnixAddr{Name: "@sock", Net: "unix"})
	if r := (&subvol{name: "b", allow: star}).authorize(ip, text); r != "" {
		t.Errorf("* refused a unix peer: %s", r)
	}
	if r := (&subvol{name: "b", allow: exact}).authorize(ip, text); r == "" {
		t.Error("address rules accepted a unix peer")
	}
}

func TestParseAuthOptions(t *testing.T) {
	got, err := ParseAuthOptions(map[string]string{
		"auth.addr.brick.allow":  "192.168.*, 10.0.0.0/8",
		"auth.addr.brick.reject": "192.168.1.66",
		"auth.addr.x.y.allow":    "*",
		"transport-type":         "tcp",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]AuthRules{
		"brick": {Allow: []string{"192.168.*", "10.0.0.0/8"}, Reject: []string{"192.168.1.66"}},
		"x.y":   {Allow: []string{"*"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	for _, bad := range []string{"auth.addr.brick", "auth.addr.brick.permit", "auth.addr..allow"} {
		if _, err := ParseAuthOptions(map[string]string{bad: "*"}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestNewErrors(t *testing.T) {
	fs := memfs.New(memfs.Config{})
	sub := map[string]vfs.Translator{"brick": fs}
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no subvolumes"},
		{Config{Subvolumes: map[string]vfs.Translator{"brick": nil}}, "nil translator"},
		{Config{Subvolumes: sub, Auth: map[string]AuthRules{"other": {Allow: []string{"*"}}}}, "no subvolume \"other\""},
		{Config{Subvolumes: sub, Auth: map[string]AuthRules{"brick": {Allow: []string{"10.0.0.0/33"}}}}, "not a CIDR prefix"},
		{Config{Subvolumes: sub, Auth: map[string]AuthRules{"brick": {Reject: []string{"10.[0"}}}}, "bad wildcard"},
	}
	for _, tc := range cases {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want error containing %q", tc.cfg, err, tc.want)
		}
	}
}

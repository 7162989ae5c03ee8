package client

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/server"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// TestAuth connects from 127.0.0.2 (all of 127/8 is loopback) to bricks
// with various auth.addr rules and checks what the client sees.
func TestAuth(t *testing.T) {
	cases := []struct {
		name  string
		rules *server.AuthRules // nil: no rules at all for the subvolume
		local string
		want  string // "" = accepted; else the exact tail of Err's message
	}{
		{"allowed exact", &server.AuthRules{Allow: []string{"127.0.0.2"}}, "127.0.0.2", ""},
		{"allowed wildcard", &server.AuthRules{Allow: []string{"10.*", "127.0.0.*"}}, "127.0.0.2", ""},
		{"allowed cidr", &server.AuthRules{Allow: []string{"127.0.0.0/8"}}, "127.0.0.2", ""},
		{"allowed star", &server.AuthRules{Allow: []string{"*"}}, "", ""},
		{"rejected", &server.AuthRules{Allow: []string{"*"}, Reject: []string{"127.0.0.2"}}, "127.0.0.2",
			"refused connection from 127.0.0.2 to subvolume brick: rejected by auth.addr.brick.reject"},
		{"reject wins", &server.AuthRules{Allow: []string{"127.0.0.2"}, Reject: []string{"127.0.0.0/30"}}, "127.0.0.2",
			"refused connection from 127.0.0.2 to subvolume brick: rejected by auth.addr.brick.reject"},
		{"not allowed", &server.AuthRules{Allow: []string{"127.0.0.1"}}, "127.0.0.2",
			"refused connection from 127.0.0.2 to subvolume brick: not allowed by auth.addr.brick.allow"},
		{"no allow", nil, "127.0.0.2",
			"refused connection from 127.0.0.2 to subvolume brick: no auth.addr.brick.allow is configured, so every client is refused"},
		{"reject only", &server.AuthRules{Reject: []string{"10.0.0.1"}}, "127.0.0.2",
			"refused connection from 127.0.0.2 to subvolume brick: no auth.addr.brick.allow is configured, so every client is refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := startBrick(t, memfs.New(memfs.Config{}), func(cfg *server.Config) {
				cfg.Auth = map[string]server.AuthRules{}
				if tc.rules != nil {
					cfg.Auth["brick"] = *tc.rules
				}
			})
			c := newClient(t, b.port, func(cfg *Config) { cfg.LocalAddr = tc.local })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := c.WaitConnect(ctx)
			_, errno := c.GetAttr(ctx, vfs.RootGFID, 0)
			if tc.want == "" {
				if err != nil || errno != 0 || !c.Up() {
					t.Fatalf("want accepted: err %v, getattr %v, up %v", err, errno, c.Up())
				}
				return
			}
			if err == nil {
				t.Fatal("want refused, WaitConnect succeeded")
			}
			t.Logf("Err: %v", err)
			if !errors.Is(err, syscall.EACCES) {
				t.Errorf("Err %v does not wrap EACCES", err)
			}
			full := "brick " + b.addr + " " + tc.want
			if !strings.HasSuffix(err.Error(), full) {
				t.Errorf("Err:\n  %v\nwant it to end with:\n  %s", err, full)
			}
			if errno != syscall.EACCES {
				t.Errorf("getattr on a refusing brick: %v, want EACCES", errno)
			}
			if c.Up() {
				t.Error("Up() on a refusing brick")
			}
		})
	}
}

func TestUnknownSubvolume(t *testing.T) {
	b := startBrick(t, memfs.New(memfs.Config{}), nil)
	c := newClient(t, b.port, func(cfg *Config) { cfg.RemoteSubvolume = "nosuch" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.WaitConnect(ctx)
	if !errors.Is(err, syscall.ENOTCONN) || !strings.Contains(err.Error(), `has no subvolume "nosuch"`) {
		t.Fatalf("Err = %v, want ENOTCONN naming the subvolume", err)
	}
	if _, e := c.GetAttr(ctx, vfs.RootGFID, 0); e != syscall.ENOTCONN {
		t.Fatalf("getattr: %v, want ENOTCONN", e)
	}
}

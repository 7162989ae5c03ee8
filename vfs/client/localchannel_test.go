package client

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/brick/locks"
	"github.com/cairnfs/cairn/brick/server"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/memfs"
)

// TestLocalChannel: with a brick on this host that names a local channel
// socket, the side connection is a Unix one and carries large raw writes
// and reads intact; it stays on TCP when either end has it off or the
// Unix dial fails, and a restarted brick's new socket is found.
func TestLocalChannel(t *testing.T) {
	ctx := context.Background()
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	cases := []struct {
		name         string
		brick        bool // server.Config.LocalChannels
		client       bool // Config.LocalChannel
		refuseUnix   bool // the Unix dial fails (as for a brick on another host)
		bindAddress  string
		wantNetwork  string
		wantRestarts string
	}{
		{"both on", true, true, false, "", "unix", "unix"},
		{"with a TCP source address", true, true, false, "127.0.0.1", "unix", "unix"},
		{"brick off", false, true, false, "", "tcp", "tcp"},
		{"client off", true, false, false, "", "tcp", "tcp"},
		{"unix dial fails", true, true, true, "", "tcp", "tcp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := startBrick(t, locks.New(memfs.New(memfs.Config{})), func(c *server.Config) { c.LocalChannels = tc.brick })
			c := newClient(t, b.port, func(c *Config) {
				c.LocalChannel = tc.client
				c.LocalAddr = tc.bindAddress
				if tc.refuseUnix {
					c.sideDialControl = func(network, address string, _ syscall.RawConn) error {
						if network == "unix" {
							return fmt.Errorf("refused by the test: %s", address)
						}
						return nil
					}
				}
			})
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := c.WaitConnect(wctx); err != nil {
				t.Fatal(err)
			}
			roundTrip := func(name string) {
				t.Helper()
				a, fh, e := c.Create(ctx, vfs.RootGFID, name, &vfs.CreateIn{Mode: 0o644, Flags: syscall.O_RDWR})
				if e != 0 {
					t.Fatal(e)
				}
				defer c.Release(ctx, a.GFID, fh)
				if n, e := c.Write(ctx, a.GFID, fh, data, 0); e != 0 || n != len(data) {
					t.Fatalf("write: %d %v", n, e)
				}
				got := make([]byte, len(data))
				if n, e := c.Read(ctx, a.GFID, fh, got, 0); e != 0 || n != len(data) || !bytes.Equal(got, data) {
					t.Fatalf("read: %d %v, same bytes %v", n, e, bytes.Equal(got, data))
				}
			}
			roundTrip("f")
			ch := waitSide(t, c, 10*time.Second)
			if ch == nil || ch.network != tc.wantNetwork {
				t.Fatalf("side connection over %q, want one over %s", sideNetwork(ch), tc.wantNetwork)
			}
			if !ch.raw {
				t.Error("raw payloads not agreed on the side connection")
			}

			b.stop()
			b.restart()
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, e := c.GetAttr(ctx, vfs.RootGFID, 0); e == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no getattr after the brick restarted")
				}
				time.Sleep(50 * time.Millisecond)
			}
			ch2 := waitSide(t, c, 10*time.Second)
			if ch2 == nil || ch2 == ch || ch2.network != tc.wantRestarts {
				t.Fatalf("after the restart: side connection over %q (new: %v), want a new one over %s", sideNetwork(ch2), ch2 != ch, tc.wantRestarts)
			}
			roundTrip("g")
		})
	}
}

// sideNetwork is ch's network, or "" for none.
func sideNetwork(ch *channel) string {
	if ch == nil {
		return ""
	}
	return ch.network
}

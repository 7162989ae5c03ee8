package replicate

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairnfs/cairn/vfs"
)

// makeSplitBrain writes the file with each brick down in turn: b0 gets
// a0 (written while b1 was down), b1 gets a1.
func makeSplitBrain(t *testing.T, e *env, name string, a0, a1 []byte) vfs.GFID {
	t.Helper()
	g := e.writeFile(e.r, vfs.RootGFID, name, []byte("base"))
	e.down(1)
	e.must("write while b1 down", e.writeAt(e.r, g, a0, 0))
	e.r.FlushTransactions(e.ctx)
	e.bricks[1].setDown(false)
	time.Sleep(5 * time.Millisecond) // distinct mtimes
	e.down(0)
	e.r.forgetState(g)
	e.must("write while b0 down", e.writeAt(e.r, g, a1, 0))
	e.r.FlushTransactions(e.ctx)
	e.bricks[0].setDown(false)
	e.r.forgetState(g)
	return g
}

func noBackgroundHeal() Config {
	c := testConfig()
	c.BackgroundSelfHealCount = -1
	return c
}

func TestSplitBrainEIOAndResolution(t *testing.T) {
	for _, c := range []struct {
		policy, brick string
		want          string
	}{
		{"source-brick", "client-0", "from b0, longer"},
		{"source-brick", "client-1", "b1"},
		{"latest-mtime", "", "b1"},
		{"bigger-file", "", "from b0, longer"},
	} {
		t.Run(c.policy+c.brick, func(t *testing.T) {
			e := newEnv(t, 2, noBackgroundHeal())
			g := makeSplitBrain(t, e, "f", []byte("from b0, longer"), []byte("b1"))
			if _, errno := e.readAll(e.r, g); errno != syscall.EIO {
				t.Fatalf("read of split-brain: %v, want EIO", errno)
			}
			if errno := e.writeAt(e.r, g, []byte("x"), 0); errno != syscall.EIO {
				t.Fatalf("write of split-brain: %v, want EIO", errno)
			}
			if !strings.Contains(e.log.String(), "split-brain") || !strings.Contains(e.log.String(), "client-1") {
				t.Errorf("no log line naming the bricks:\n%s", e.log.String())
			}
			info, err := e.r.Info(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, b := range info {
				for _, ie := range b.Entries {
					if ie.GFID == g && ie.SplitBrain && ie.Path == "/f" {
						found = true
					}
				}
			}
			if !found {
				t.Fatalf("heal info does not list /f in split-brain: %+v", info)
			}
			// Heal without a policy leaves it alone.
			st, _ := e.r.HealIndex(e.ctx)
			if st.SplitBrain == 0 {
				t.Errorf("index heal did not report the split-brain: %+v", st)
			}
			src, err := e.r.ResolveSplitBrain(e.ctx, "/f", c.policy, c.brick)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("source %s", src)
			got, errno := e.readAll(e.r, g)
			e.must("read after resolution", errno)
			want := append([]byte(c.want), []byte("base")[min(len(c.want), 4):]...)
			if !bytes.Equal(got, want) {
				t.Fatalf("read %q, want %q", got, want)
			}
			e.compareBricks()
		})
	}
}

func TestFavoriteChildPolicy(t *testing.T) {
	for _, c := range []struct {
		policy string
		want   string
	}{
		{PolicyMtime, "b1"},
		{PolicyCtime, "b1"},
		{PolicySize, "from b0, longer"},
	} {
		t.Run(c.policy, func(t *testing.T) {
			cfg := noBackgroundHeal()
			cfg.FavoriteChildPolicy = c.policy
			e := newEnv(t, 2, cfg)
			g := makeSplitBrain(t, e, "f", []byte("from b0, longer"), []byte("b1"))
			st, err := e.r.HealIndex(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.SplitBrain != 0 {
				t.Fatalf("policy did not resolve: %+v", st)
			}
			got, errno := e.readAll(e.r, g)
			e.must("read", errno)
			if !bytes.HasPrefix(got, []byte(c.want)) {
				t.Fatalf("read %q, want prefix %q", got, c.want)
			}
			e.compareBricks()
		})
	}
	t.Run(PolicyMajority, func(t *testing.T) {
		cfg := noBackgroundHeal()
		cfg.FavoriteChildPolicy = PolicyMajority
		e := newEnv(t, 3, cfg)
		g := e.writeFile(e.r, vfs.RootGFID, "f", []byte("base"))
		// b0 and b1 take "AB"; b2 takes "C"; each blames the other.
		e.down(2)
		e.must("write", e.writeAt(e.r, g, []byte("AB"), 0))
		e.r.FlushTransactions(e.ctx)
		e.bricks[2].setDown(false)
		e.down(0)
		e.down(1)
		e.r.forgetState(g)
		e.must("write", e.writeAt(e.r, g, []byte("CC"), 0))
		e.r.FlushTransactions(e.ctx)
		e.bricks[0].setDown(false)
		e.bricks[1].setDown(false)
		// Every brick stamps its own mtime: make the two agreeing copies
		// differ by a second, which must not split the majority.
		for i, b := range e.bricks[:2] {
			ts := time.Unix(1_700_000_000+int64(i), 0)
			if err := os.Chtimes(filepath.Join(b.dir, "f"), ts, ts); err != nil {
				t.Fatal(err)
			}
		}
		e.r.forgetState(g)
		if _, errno := e.readAll(e.r, g); errno != syscall.EIO {
			t.Fatalf("read: %v, want EIO", errno)
		}
		st, err := e.r.HealIndex(e.ctx)
		if err != nil || st.SplitBrain != 0 {
			t.Fatalf("majority did not resolve: %+v %v", st, err)
		}
		got, errno := e.readAll(e.r, g)
		e.must("read", errno)
		if string(got) != "ABse" {
			t.Fatalf("read %q", got)
		}
		e.compareBricks()
	})
}

func TestQuorumFixed(t *testing.T) {
	cfg := testConfig()
	cfg.QuorumType, cfg.QuorumCount = QuorumFixed, 2
	e := newEnv(t, 2, cfg)
	g := e.writeFile(e.r, vfs.RootGFID, "f", []byte("data"))
	e.down(1)
	if errno := e.writeAt(e.r, g, []byte("x"), 0); errno != syscall.ENOTCONN {
		t.Errorf("write without quorum: %v, want ENOTCONN", errno)
	}
	if _, _, errno := e.r.Create(e.ctx, vfs.RootGFID, "g", &vfs.CreateIn{Mode: 0o644}); errno != syscall.ENOTCONN {
		t.Errorf("create without quorum: %v, want ENOTCONN", errno)
	}
	if _, errno := e.r.SetAttr(e.ctx, g, 0, &vfs.SetAttrIn{Valid: vfs.SetMode, Mode: 0o600}); errno != syscall.ENOTCONN {
		t.Errorf("chmod without quorum: %v, want ENOTCONN", errno)
	}
	got, errno := e.readAll(e.r, g)
	e.must("read without quorum", errno)
	if string(got) != "data" {
		t.Errorf("read %q", got)
	}
	if _, errno := e.r.Lookup(e.ctx, vfs.RootGFID, "f"); errno != 0 {
		t.Errorf("lookup without quorum: %v", errno)
	}
	e.bricks[1].setDown(false)
	e.must("write with quorum", e.writeAt(e.r, g, []byte("x"), 0))
	e.compareBricks()
}

func TestQuorumAuto(t *testing.T) {
	cfg := testConfig()
	cfg.QuorumType = QuorumAuto
	e := newEnv(t, 2, cfg)
	g := e.writeFile(e.r, vfs.RootGFID, "f", []byte("data"))
	// Half the children including the first: allowed.
	e.down(1)
	e.must("write with first child", e.writeAt(e.r, g, []byte("x"), 0))
	e.bricks[1].setDown(false)
	e.r.FlushTransactions(e.ctx)
	e.down(0)
	if errno := e.writeAt(e.r, g, []byte("y"), 0); errno != syscall.ENOTCONN {
		t.Errorf("write without first child: %v, want ENOTCONN", errno)
	}
	e.bricks[0].setDown(false)
}

func TestGFIDMismatch(t *testing.T) {
	e := newEnv(t, 2, noBackgroundHeal())
	// Make the same name with different GFIDs behind replicate's back.
	for i, b := range e.bricks {
		_, errno := b.Mknod(e.ctx, vfs.RootGFID, "twin", &vfs.CreateIn{Mode: syscall.S_IFREG | 0o644, GFID: vfs.NewGFID()})
		e.must("mknod on brick", errno)
		_ = i
	}
	if _, errno := e.r.Lookup(e.ctx, vfs.RootGFID, "twin"); errno != syscall.EIO {
		t.Fatalf("lookup of gfid split-brain: %v, want EIO", errno)
	}
	log := e.log.String()
	if !strings.Contains(log, "gfid split-brain") || !strings.Contains(log, "/twin") || !strings.Contains(log, "client-0=") || !strings.Contains(log, "client-1=") {
		t.Fatalf("log does not name file and bricks:\n%s", log)
	}
	// The operator picks b1's copy.
	if _, err := e.r.ResolveSplitBrain(e.ctx, "/twin", "source-brick", "client-1"); err != nil {
		t.Fatal(err)
	}
	if _, errno := e.r.Lookup(e.ctx, vfs.RootGFID, "twin"); errno != 0 {
		t.Fatalf("lookup after resolution: %v", errno)
	}
	e.r.HealIndex(e.ctx)
	e.compareBricks()
}

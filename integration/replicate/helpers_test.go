package replicate

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairnfs/cairn/integration/harness"
	"github.com/cairnfs/cairn/vfs"
	"github.com/cairnfs/cairn/vfs/client"
	"github.com/cairnfs/cairn/vfs/replicate"
	"github.com/cairnfs/cairn/vfs/stack"
	"github.com/cairnfs/cairn/vfs/volfile"
)

// mount is one client: a graph built from a client volfile.
type mount struct {
	g   *volfile.Graph
	top vfs.Translator
	r   *replicate.Replicate
}

// newMount builds a client over bricks with the harness's volfile shape
// (protocol/client per brick → replicate → io-threads → io-cache).
func newMount(t testing.TB, bricks []*harness.Brick, pingTimeout string, opts ...string) *mount {
	t.Helper()
	return mountText(t, harness.ClientVolfile(bricks, pingTimeout, opts...))
}

func mountText(t testing.TB, text string) *mount {
	t.Helper()
	path := filepath.Join(t.TempDir(), "client.vol")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := volfile.Parse(path, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := volfile.BuildGraph(ctx, f, stack.Registry(stack.Env{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	if err := stack.WaitConnected(ctx, g); err != nil {
		t.Fatal(err)
	}
	m := &mount{g: g, top: g.Top()}
	m.r, _ = g.Volume("mirror").(*replicate.Replicate)
	return m
}

// waitUp waits until every protocol/client of the mount is connected.
func (m *mount) waitUp(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		all := true
		for _, v := range m.g.File().Volumes {
			if c, ok := m.g.Volume(v.Name).(*client.Client); ok && !c.Up() {
				all = false
			}
		}
		if all {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("clients did not reconnect")
}

// heal runs index heals until nothing is pending.
func (m *mount) heal(t testing.TB) replicate.HealStats {
	t.Helper()
	m.waitUp(t)
	ctx := context.Background()
	m.r.FlushTransactions(ctx)
	var total replicate.HealStats
	for range 10 {
		st, err := m.r.HealIndex(ctx)
		if err != nil {
			t.Fatalf("heal: %v", err)
		}
		total.Healed += st.Healed
		total.Bytes += st.Bytes
		total.Created += st.Created
		total.Removed += st.Removed
		total.Pending = st.Pending
		total.SplitBrain += st.SplitBrain
		if st.Pending == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if total.Pending != 0 || total.SplitBrain != 0 {
		t.Fatalf("heal did not finish: %+v", total)
	}
	return total
}

// block returns the deterministic content of block k of a stream.
func block(k, size int) []byte {
	b := make([]byte, size)
	x := uint64(k)*0x9e3779b97f4a7c15 + 1
	for i := 0; i+8 <= size; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	return b
}

// exportEntry describes one entry of a brick's export directory.
type exportEntry struct {
	mode  uint32
	size  int64
	nlink uint64
	gfid  string
	sum   string
	dirty bool
}

// scanExport walks an export directory (without .cairn).
func scanExport(t testing.TB, dir string) map[string]exportEntry {
	t.Helper()
	out := map[string]exportEntry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == vfs.ReservedName {
			return filepath.SkipDir
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		e := exportEntry{mode: st.Mode}
		if !d.IsDir() {
			e.size, e.nlink = st.Size, st.Nlink
		}
		g := make([]byte, 16)
		if n, err := unix.Lgetxattr(p, "trusted.cairn.gfid", g); err == nil {
			e.gfid = fmt.Sprintf("%x", g[:n])
		}
		if d.Type().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			io.Copy(h, f)
			f.Close()
			e.sum = fmt.Sprintf("%x", h.Sum(nil))
		}
		if sz, _ := unix.Llistxattr(p, nil); sz > 0 {
			buf := make([]byte, sz)
			sz, _ = unix.Llistxattr(p, buf)
			for _, n := range strings.Split(string(buf[:sz]), "\x00") {
				if strings.HasPrefix(n, replicate.PendingPrefix) || n == replicate.DirtyKey {
					v := make([]byte, 64)
					if m, err := unix.Lgetxattr(p, n, v); err == nil {
						for _, c := range v[:m] {
							if c != 0 {
								e.dirty = true
							}
						}
					}
				}
			}
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameExports fails unless the bricks' exports are identical (names,
// types, modes, sizes, link counts, contents, GFIDs) and clean.
func sameExports(t testing.TB, bricks ...*harness.Brick) map[string]exportEntry {
	t.Helper()
	ref := scanExport(t, bricks[0].Dir)
	for _, b := range bricks[1:] {
		other := scanExport(t, b.Dir)
		bad := 0
		for p, e := range ref {
			o, ok := other[p]
			if !ok {
				t.Errorf("%s lacks %s", b.Dir, p)
				bad++
			} else if e != o {
				t.Errorf("%s differs: %+v vs %+v", p, e, o)
				bad++
			}
			if bad > 20 {
				t.FailNow()
			}
		}
		for p := range other {
			if _, ok := ref[p]; !ok {
				t.Errorf("%s has extra %s", b.Dir, p)
			}
		}
	}
	for p, e := range ref {
		if e.dirty {
			t.Errorf("%s still has pending counters", p)
		}
	}
	return ref
}

// proxy forwards TCP connections to a brick until it is cut: then every
// connection is closed and new ones are refused (accepted and closed).
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { l.Close(); p.setCut(true) })
	go p.serve()
	return p
}

func (p *proxy) port() int { return p.l.Addr().(*net.TCPAddr).Port }

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close(); c.Close() }()
		go func() { io.Copy(c, up); up.Close(); c.Close() }()
	}
}

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

func must(t testing.TB, what string, e syscall.Errno) {
	t.Helper()
	if e != 0 {
		t.Fatalf("%s: %v", what, e)
	}
}

func readAll(ctx context.Context, t vfs.Translator, g vfs.GFID) ([]byte, syscall.Errno) {
	fh, e := t.Open(ctx, g, syscall.O_RDONLY)
	if e != 0 {
		return nil, e
	}
	defer t.Release(ctx, g, fh)
	var out []byte
	buf := make([]byte, 1<<20)
	for {
		n, e := t.Read(ctx, g, fh, buf, int64(len(out)))
		if e != 0 {
			return out, e
		}
		if n == 0 {
			return out, 0
		}
		out = append(out, buf[:n]...)
	}
}

package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	spec, err := ParseMountArgs(strings.Fields("brick1:web_sites /m -o backupvolfile-server=brick2:7000,backup-volfile-servers=brick3"))
	if err != nil {
		t.Fatal(err)
	}
	up := map[string]bool{}
	var tried []string
	fetch := func(ctx context.Context, addr, vol string) ([]byte, error) {
		tried = append(tried, addr)
		if vol != "web_sites" {
			return nil, errors.New("wrong volume")
		}
		if _, ok := ctx.Deadline(); !ok {
			return nil, errors.New("no deadline")
		}
		if !up[addr] {
			return nil, errors.New("connection refused")
		}
		return []byte("volume " + addr), nil
	}

	up["brick1:6996"], up["brick2:7000"] = true, true
	b, s, err := Resolve(context.Background(), spec, fetch)
	if err != nil || string(b) != "volume brick1:6996" || s.String() != "brick1:6996" {
		t.Fatalf("primary up: %q %v %v", b, s, err)
	}

	up["brick1:6996"], tried = false, nil
	b, s, err = Resolve(context.Background(), spec, fetch)
	if err != nil || string(b) != "volume brick2:7000" || s != (Server{"brick2", 7000}) {
		t.Fatalf("primary down: %q %v %v", b, s, err)
	}
	if strings.Join(tried, " ") != "brick1:6996 brick2:7000" {
		t.Errorf("tried %v", tried)
	}

	up["brick2:7000"] = false
	_, _, err = Resolve(context.Background(), spec, fetch)
	if err == nil || !strings.Contains(err.Error(), "brick1:6996: connection refused; brick2:7000: connection refused; brick3:6996: connection refused") {
		t.Fatalf("all down: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Resolve(ctx, spec, fetch); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestResolveVolfileFlag(t *testing.T) {
	p := filepath.Join(t.TempDir(), "v.vol")
	if err := os.WriteFile(p, []byte("volume x\nend-volume\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := ParseMountArgs([]string{"--volfile", p, "/m"})
	if err != nil {
		t.Fatal(err)
	}
	b, s, err := Resolve(context.Background(), spec, nil)
	if err != nil || !strings.HasPrefix(string(b), "volume x") || s != (Server{}) {
		t.Fatalf("%q %v %v", b, s, err)
	}
	spec.VolfilePath = p + ".missing"
	if _, _, err := Resolve(context.Background(), spec, nil); err == nil {
		t.Error("missing volfile: no error")
	}
}

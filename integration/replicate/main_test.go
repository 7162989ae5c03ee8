// Package replicate holds end-to-end tests of cluster/replicate over real
// `cairn brick` processes: bricks killed (SIGKILL) during a streaming write
// and during renames and directory removals, then restarted and healed; a
// brick frozen with SIGSTOP under ping-timeout 2; a client cut off from one
// brick by a TCP proxy while another client must not read the stale copy;
// and benchmarks of replicate over two loopback bricks against one brick.
//
// The tests need the cairn binary (./cmd/cairn). When it cannot be built
// they skip with a loud message, except under CI=true, where that is a
// failure.
package replicate

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/cairnfs/cairn/integration/harness"
)

var buildErr error

func TestMain(m *testing.M) {
	cmd := exec.Command("go", "build", "-o", os.DevNull, "./cmd/cairn")
	cmd.Dir = harness.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go build ./cmd/cairn: %v\n%s", err, out)
		fmt.Fprintf(os.Stderr, "\n*** integration/replicate: the cairn binary cannot be built; tests will %s ***\n%v\n\n",
			map[bool]string{true: "FAIL (CI=true)", false: "be SKIPPED"}[os.Getenv("CI") == "true"], buildErr)
	}
	os.Exit(m.Run())
}

// needBinary skips (or under CI fails) a test that needs cairn processes.
func needBinary(t testing.TB) {
	t.Helper()
	if buildErr == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("cairn binary needed under CI: %v", buildErr)
	}
	t.Skipf("SKIPPED LOUDLY: cairn binary cannot be built yet: %v", buildErr)
}

package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os/exec"
	"strings"
	"testing"

	fuseclient "github.com/cairnfs/cairn/client"
)

// Every subcommand's --help must mention every flag it accepts, and the
// top-level help every subcommand.
func TestHelpIsComplete(t *testing.T) {
	var top bytes.Buffer
	if code := run([]string{"cairn", "--help"}, &top, &top); code != 0 {
		t.Fatalf("cairn --help: exit %d", code)
	}
	for _, c := range commands() {
		if !strings.Contains(top.String(), "  "+c.name+" ") {
			t.Errorf("cairn --help does not list %q:\n%s", c.name, top.String())
		}
		if c.setup == nil {
			continue // mount: its own parser, checked below
		}
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := run([]string{"cairn", c.name, "--help"}, &out, &out); code != 0 {
				t.Fatalf("exit %d:\n%s", code, out.String())
			}
			fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
			c.setup(fs, &env{stdout: &out, stderr: &out})
			fs.VisitAll(func(f *flag.Flag) {
				if !strings.Contains(out.String(), "-"+f.Name+" ") && !strings.Contains(out.String(), "-"+f.Name+"\n") {
					t.Errorf("help lacks -%s:\n%s", f.Name, out.String())
				}
			})
			if !strings.Contains(out.String(), "Usage: cairn "+c.name) {
				t.Errorf("help lacks the usage line:\n%s", out.String())
			}
		})
	}
	var mount bytes.Buffer
	if code := run([]string{"cairn", "mount", "--help"}, &mount, &mount); code != 0 {
		t.Fatalf("cairn mount --help: exit %d", code)
	}
	for _, o := range fuseclient.ValidOptions() {
		if !strings.Contains(mount.String(), o) {
			t.Errorf("cairn mount --help lacks option %q", o)
		}
	}
	for _, f := range []string{"--volfile", "--foreground", "--log-file", "--log-level"} {
		if !strings.Contains(mount.String(), f) {
			t.Errorf("cairn mount --help lacks %s", f)
		}
	}
}

func TestUnknownCommandSuggests(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"cairn", "brik"}, &out, &out); code != 2 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out.String(), `did you mean "brick"`) {
		t.Errorf("no suggestion:\n%s", out.String())
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"cairn", "--version"}, {"cairn", "version"}} {
		var out bytes.Buffer
		if code := run(args, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "cairn ") {
			t.Errorf("%v: exit %d, %q", args, code, out.String())
		}
	}
}

func TestBadUsageExitsTwo(t *testing.T) {
	cases := [][]string{
		{"cairn", "brick"},
		{"cairn", "heal", "info"},
		{"cairn", "heal", "--volfile", "x", "bogus"},
		{"cairn", "up", "extra"},
		{"cairn", "volfile", "lint", "x"},
		{"cairn", "brick", "--no-such-flag"},
	}
	for _, args := range cases {
		var out bytes.Buffer
		if code := run(args, &out, &out); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, out.String())
		}
	}
}

// The completion script is valid bash and knows every command and flag.
func TestBashCompletion(t *testing.T) {
	script := bashCompletion()
	for _, c := range commands() {
		if !strings.Contains(script, "    "+c.name+") ") {
			t.Errorf("completion lacks %s", c.name)
		}
	}
	if !strings.Contains(script, "--volfile-server") || !strings.Contains(script, "backupvolfile-server") {
		t.Error("completion lacks flags or mount options")
	}
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
}

// --log-format json gives one JSON object per line; --log-level filters.
func TestLogFlags(t *testing.T) {
	var buf bytes.Buffer
	l := logFlags{format: "json", level: "warn"}
	log, closer, err := l.logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer closer()
	log.Info("hidden")
	log.Warn("brick disconnected", "brick", "127.0.0.1:6996")
	line := strings.TrimSpace(buf.String())
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("not one JSON line: %q: %v", line, err)
	}
	if m["msg"] != "brick disconnected" || m["brick"] != "127.0.0.1:6996" || m["level"] != "WARN" {
		t.Errorf("unexpected record %v", m)
	}
	for _, bad := range []logFlags{{level: "loud"}, {format: "xml"}} {
		if _, _, err := bad.logger(&buf); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestBrickProcs(t *testing.T) {
	for _, c := range []struct{ cpus, want int }{{1, 1}, {2, 1}, {3, 1}, {4, 2}, {16, 8}} {
		if got := brickProcs(c.cpus); got != c.want {
			t.Errorf("brickProcs(%d) = %d, want %d", c.cpus, got, c.want)
		}
	}
}

func TestFUSEProcs(t *testing.T) {
	for _, c := range []struct{ procs, want int }{{1, 3}, {2, 4}, {4, 8}, {16, 32}, {32, 48}} {
		if got := fuseProcs(c.procs); got != c.want {
			t.Errorf("fuseProcs(%d) = %d, want %d", c.procs, got, c.want)
		}
	}
}

// Command cairn is the one binary of cairn: brick daemon, FUSE mount (also
// installed as mount.cairn), NFS/9P gateway, the embedded default volume
// (`cairn up`), heal and status tools, and volfile checking.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	fuseclient "github.com/cairnfs/cairn/client"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// command is one subcommand of cairn.
type command struct {
	name    string
	summary string
	usage   string // argument synopsis after the command name
	// setup registers the command's flags on fs and returns the function
	// that runs it with the remaining arguments.
	setup func(fs *flag.FlagSet, env *env) func(ctx context.Context, args []string) error
}

// env is what every subcommand gets: its output streams and common flags.
type env struct {
	stdout, stderr io.Writer
	log            logFlags
}

func commands() []*command {
	cmds := []*command{
		brickCommand(),
		volfileCommand(),
		versionCommand(),
		mountCommand(),
		upCommand(),
		healCommand(),
		statusCommand(),
		completionCommand(),
		gatewayCommand(),
		topCommand(),
	}
	cmds = append(cmds, extraCommands()...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes cairn with argv and returns the process exit code.
func run(argv []string, stdout, stderr io.Writer) int {
	if filepath.Base(argv[0]) == "mount.cairn" {
		return runMountHelper(argv, stdout, stderr)
	}
	args := argv[1:]
	if len(args) == 0 {
		topUsage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 {
			return run([]string{argv[0], args[1], "--help"}, stdout, stderr)
		}
		topUsage(stdout)
		return 0
	case "-v", "--version":
		fmt.Fprintf(stdout, "cairn %s\n", version)
		return 0
	}
	if args[0] == "mount" {
		return fuseclient.Main(argv, args[1:], stderr, mountDeps())
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		return runCommand(c, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "cairn: unknown command %q\n", args[0])
	if s := suggest(args[0], commandNames()); s != "" {
		fmt.Fprintf(stderr, "hint: did you mean %q?\n", s)
	}
	fmt.Fprintln(stderr, "Run 'cairn --help' for the list of commands.")
	return 2
}

func runCommand(c *command, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cairn "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	e := &env{stdout: stdout, stderr: stderr}
	runFn := c.setup(fs, e)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: cairn %s %s\n\n%s\n\nFlags:\n", c.name, c.usage, c.summary)
		fs.PrintDefaults()
	}
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runFn(ctx, fs.Args()); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "cairn %s: %v\n", c.name, err)
			fmt.Fprintf(stderr, "Run 'cairn %s --help' for usage.\n", c.name)
			return 2
		}
		fmt.Fprintf(stderr, "cairn %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

// usageError marks errors caused by wrong command-line arguments.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

func topUsage(w io.Writer) {
	fmt.Fprintf(w, "cairn %s — a replicated distributed filesystem in the GlusterFS lineage\n\n", version)
	fmt.Fprintln(w, "Usage: cairn COMMAND [flags] [args]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, firstLine(c.summary))
	}
	fmt.Fprintln(w, "\nGlobal flags:\n  --help      show help (also: cairn COMMAND --help)\n  --version   print the version")
	fmt.Fprintln(w, "\nInstalled as mount.cairn it is the mount(8) helper: mount.cairn SPEC DIR -o OPTIONS")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// suggest returns the candidate closest to s by edit distance, if close.
func suggest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= 2 || (bestD <= len(s)/2 && bestD < 4) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "Print the version of cairn.",
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			return func(ctx context.Context, args []string) error {
				fmt.Fprintf(e.stdout, "cairn %s\n", version)
				return nil
			}
		},
	}
}

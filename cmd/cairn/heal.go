package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cairnfs/cairn/vfs/replicate"
	"golang.org/x/sys/unix"
)

func healCommand() *command {
	return &command{
		name: "heal",
		usage: "(--volfile FILE | --volfile-server HOST --volume NAME) info\n" +
			"       cairn heal ... full\n" +
			"       cairn heal ... split-brain (latest-mtime | bigger-file | source-brick BRICK) PATH",
		summary: "Inspect and heal a replicated volume (gluster volume heal).\n\n" +
			"info         list the entries each brick's index marks as needing heal,\n" +
			"             split-brain entries marked\n" +
			"full         crawl the whole volume and heal everything, with progress\n" +
			"             (entries and bytes done, rate, ETA)\n" +
			"split-brain  resolve a split-brain file by policy or by naming the source brick",
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			var vf volumeFlags
			vf.register(fs)
			e.log.register(fs)
			quietByDefault(fs)
			return func(ctx context.Context, args []string) error {
				if len(args) == 0 {
					return usagef("missing sub-command: info, full or split-brain")
				}
				switch args[0] {
				case "info", "full":
					if len(args) != 1 {
						return usagef("%s takes no arguments", args[0])
					}
				case "split-brain":
					if len(args) < 3 {
						return usagef("split-brain needs a policy and a PATH")
					}
				default:
					return usagef("unknown heal sub-command %q (want info, full or split-brain)", args[0])
				}
				log, closeLog, err := e.log.logger(e.stderr)
				if err != nil {
					return err
				}
				defer closeLog()
				g, err := vf.build(ctx, log)
				if err != nil {
					return err
				}
				defer g.Close()
				r, name, err := findReplicate(g)
				if err != nil {
					return err
				}
				switch args[0] {
				case "info":
					return healInfo(ctx, r, e.stdout)
				case "full":
					return healFull(ctx, r, name, e.stdout)
				default:
					return healSplitBrain(ctx, r, args[1:], e.stdout)
				}
			}
		},
	}
}

func healInfo(ctx context.Context, r *replicate.Replicate, w io.Writer) error {
	infos, err := r.Info(ctx)
	if err != nil {
		return err
	}
	for _, b := range infos {
		fmt.Fprintf(w, "Brick %s\n", b.Brick)
		if !b.Up {
			fmt.Fprintf(w, "Status: Transport endpoint is not connected")
			if b.Err != nil {
				fmt.Fprintf(w, " (%v)", b.Err)
			}
			fmt.Fprintf(w, "\nNumber of entries: -\n\n")
			continue
		}
		fmt.Fprintf(w, "Status: Connected\n")
		split := 0
		for _, en := range b.Entries {
			mark := ""
			if en.SplitBrain {
				mark = " - Is in split-brain"
				split++
			}
			fmt.Fprintf(w, "%s%s (%s)\n", en.Path, mark, strings.Join(en.Kinds, ","))
		}
		fmt.Fprintf(w, "Number of entries: %d\n", len(b.Entries))
		fmt.Fprintf(w, "Number of entries in split-brain: %d\n\n", split)
	}
	return nil
}

// healFull runs a full heal, drawing a progress bar on a terminal and
// printing a plain line every few seconds otherwise.
func healFull(ctx context.Context, r *replicate.Replicate, name string, w io.Writer) error {
	tty := isTerminal(w)
	var last time.Time
	progress := func(p replicate.Progress) {
		if !p.Done && time.Since(last) < pick(tty, 200*time.Millisecond, 2*time.Second) {
			return
		}
		last = time.Now()
		line := progressLine(p)
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
			if p.Done {
				fmt.Fprintln(w)
			}
		} else {
			fmt.Fprintln(w, line)
		}
	}
	stats, err := r.HealFull(ctx, progress)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "heal of %s finished: %s\n", name, statsLine(stats))
	return nil
}

func healSplitBrain(ctx context.Context, r *replicate.Replicate, args []string, w io.Writer) error {
	policy, brick, path := args[0], "", ""
	switch policy {
	case "latest-mtime", "bigger-file":
		if len(args) != 2 {
			return usagef("split-brain %s takes one PATH", policy)
		}
		path = args[1]
	case "source-brick":
		if len(args) != 3 {
			return usagef("split-brain source-brick takes BRICK and PATH")
		}
		brick, path = args[1], args[2]
	default:
		return usagef("unknown split-brain policy %q (want latest-mtime, bigger-file or source-brick BRICK)", policy)
	}
	msg, err := r.ResolveSplitBrain(ctx, path, policy, brick)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, msg)
	return nil
}

func progressLine(p replicate.Progress) string {
	elapsed := time.Since(p.Started)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.HealStats.Bytes) / elapsed.Seconds()
	}
	bar := ""
	pct := -1.0
	if p.EstEntries > 0 {
		pct = min(100, 100*float64(p.HealStats.Scanned)/float64(p.EstEntries))
	}
	eta := "?"
	if pct > 0 && !p.Done {
		remain := time.Duration(float64(elapsed) * (100 - pct) / pct)
		eta = remain.Round(time.Second).String()
	}
	if p.Done {
		pct, eta = 100, "0s"
	}
	if pct >= 0 {
		n := int(pct / 5)
		bar = fmt.Sprintf("[%s%s] %3.0f%% ", strings.Repeat("#", n), strings.Repeat(".", 20-n), pct)
	}
	return fmt.Sprintf("%sentries %d scanned, %d healed, %s healed, %s/s, ETA %s", bar, p.HealStats.Scanned, p.HealStats.Healed, humanBytes(float64(p.HealStats.Bytes)), humanBytes(rate), eta)
}

func statsLine(s replicate.HealStats) string {
	return fmt.Sprintf("%d entries scanned, %d healed, %d failed, %d in split-brain, %s copied", s.Scanned, s.Healed, s.Failed, s.SplitBrain, humanBytes(float64(s.Bytes)))
}

func humanBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", b, units[i])
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func pick[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

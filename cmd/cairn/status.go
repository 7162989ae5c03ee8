package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cairnfs/cairn/vfs"
	brickclient "github.com/cairnfs/cairn/vfs/client"
	"github.com/cairnfs/cairn/vfs/replicate"
	"github.com/cairnfs/cairn/vfs/volfile"
)

// XattrBrickClients is the virtual root xattr through which a brick's
// protocol/server lists its connected clients, one per line.
const xattrBrickClients = "trusted.cairn.brick.clients"

func statusCommand() *command {
	return &command{
		name:  "status",
		usage: "(--volfile FILE | --volfile-server HOST[:PORT] --volume NAME)",
		summary: "Show a volume's bricks and heal state (gluster volume status).\n\n" +
			"For each brick: up or down, address, round-trip latency, free space and\n" +
			"connected clients; then pending heal entries and split-brain entries.",
		setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
			var vf volumeFlags
			vf.register(fs)
			e.log.register(fs)
			quietByDefault(fs)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				log, closeLog, err := e.log.logger(e.stderr)
				if err != nil {
					return err
				}
				defer closeLog()
				ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				g, err := vf.build(ctx, log)
				if err != nil {
					return err
				}
				defer g.Close()
				return printStatus(ctx, g, e.stdout)
			}
		},
	}
}

type brickStatus struct {
	name, addr string
	up         bool
	err        error
	latency    time.Duration
	stat       vfs.StatFS
	clients    []string
}

func printStatus(ctx context.Context, g *volfile.Graph, w io.Writer) error {
	var bricks []brickStatus
	for _, v := range g.File().Volumes {
		c, ok := g.Volume(v.Name).(*brickclient.Client)
		if !ok {
			continue
		}
		bs := brickStatus{name: v.Name, addr: c.Addr()}
		// Latency is the median of a few root getattrs: one round trip each.
		var rtts []time.Duration
		var errno syscall.Errno
		for range 5 {
			start := time.Now()
			if _, errno = c.GetAttr(ctx, vfs.RootGFID, 0); errno != 0 {
				break
			}
			rtts = append(rtts, time.Since(start))
		}
		if len(rtts) > 0 {
			slices.Sort(rtts)
			bs.latency = rtts[len(rtts)/2]
		}
		bs.up = errno == 0 && c.Up()
		if !bs.up {
			bs.err = c.Err()
			if bs.err == nil && errno != 0 {
				bs.err = errno
			}
		} else {
			bs.stat, _ = c.StatFS(ctx, vfs.RootGFID)
			if v, errno := c.GetXattr(ctx, vfs.RootGFID, xattrBrickClients); errno == 0 {
				bs.clients = strings.Fields(string(v))
			}
		}
		bricks = append(bricks, bs)
	}
	fmt.Fprintf(w, "Status of volume %s\n", g.File().Top().Name)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Brick\tAddress\tOnline\tLatency\tFree\tTotal\tClients")
	for _, b := range bricks {
		if !b.up {
			fmt.Fprintf(tw, "%s\t%s\tN\t-\t-\t-\t-\n", b.name, b.addr)
			continue
		}
		free := humanBytes(float64(b.stat.Bavail) * float64(b.stat.Frsize))
		total := humanBytes(float64(b.stat.Blocks) * float64(b.stat.Frsize))
		clients := "-"
		if b.clients != nil {
			clients = fmt.Sprint(len(b.clients))
		}
		fmt.Fprintf(tw, "%s\t%s\tY\t%s\t%s\t%s\t%s\n", b.name, b.addr, b.latency.Round(time.Microsecond), free, total, clients)
	}
	tw.Flush()
	for _, b := range bricks {
		if b.err != nil {
			fmt.Fprintf(w, "%s is down: %v\n", b.name, b.err)
		}
	}
	for _, b := range bricks {
		if len(b.clients) > 0 {
			fmt.Fprintf(w, "Clients of %s: %s\n", b.name, strings.Join(b.clients, ", "))
		}
	}
	r, _, err := findReplicate(g)
	if err != nil {
		return nil // a single-brick volume has no heal state
	}
	return printHealSummary(ctx, r, w)
}

func printHealSummary(ctx context.Context, r *replicate.Replicate, w io.Writer) error {
	infos, err := r.Info(ctx)
	if err != nil {
		return err
	}
	pending, split := 0, 0
	fmt.Fprintln(w, "\nHeal")
	for _, b := range infos {
		if !b.Up {
			fmt.Fprintf(w, "  %s: down\n", b.Brick)
			continue
		}
		s := 0
		for _, en := range b.Entries {
			if en.SplitBrain {
				s++
			}
		}
		pending += len(b.Entries)
		split += s
		fmt.Fprintf(w, "  %s: %d pending heal, %d in split-brain\n", b.Brick, len(b.Entries), s)
	}
	fmt.Fprintf(w, "Pending heal entries: %d\nSplit-brain entries: %d\n", pending, split)
	return nil
}

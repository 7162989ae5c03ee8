package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	fuseclient "github.com/cairnfs/cairn/client"
	brickclient "github.com/cairnfs/cairn/vfs/client"
	"github.com/cairnfs/cairn/vfs/replicate"
	"github.com/cairnfs/cairn/vfs/stack"
	"github.com/cairnfs/cairn/vfs/volfile"
)

// volumeFlags choose a volume by client volfile or by volfile server, for
// the tools that act as a client (heal, status).
type volumeFlags struct {
	volfile       string
	volfileServer string
	volume        string
	// fallbacks are further volfile servers tried in order when
	// volfileServer does not answer (backup-volfile-server).
	fallbacks []string
}

func (v *volumeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&v.volfile, "volfile", "", "client volfile `FILE` of the volume")
	fs.StringVar(&v.volfileServer, "volfile-server", "", "brick `HOST[:PORT]` to fetch the client volfile from (with --volume)")
	fs.StringVar(&v.volume, "volume", "", "volume `NAME` served by --volfile-server")
}

// load returns the client volfile's text and a name for messages.
func (v *volumeFlags) load(ctx context.Context) (name string, data []byte, err error) {
	switch {
	case v.volfile != "" && v.volfileServer != "":
		return "", nil, usagef("give --volfile or --volfile-server, not both")
	case v.volfile != "":
		data, err := os.ReadFile(v.volfile)
		return v.volfile, data, err
	case v.volfileServer != "":
		if v.volume == "" {
			return "", nil, usagef("--volfile-server needs --volume NAME")
		}
		var errs []error
		for _, hp := range append([]string{v.volfileServer}, v.fallbacks...) {
			servers, _, err := fuseclient.ParseSource(hp + ":" + v.volume)
			if err != nil {
				return "", nil, usagef("volfile server %q: %v", hp, err)
			}
			s := servers[0]
			data, err := brickclient.FetchVolfile(ctx, s.Host, s.Port, v.volume)
			if err == nil {
				return fmt.Sprintf("%s:%s", s, v.volume), data, nil
			}
			errs = append(errs, err)
		}
		return "", nil, errors.Join(errs...)
	}
	return "", nil, usagef("--volfile FILE or --volfile-server HOST --volume NAME is required")
}

// build builds the volume's client stack. The self-heal daemon is not
// started: the tools do their work in the foreground.
func (v *volumeFlags) build(ctx context.Context, log *slog.Logger) (*volfile.Graph, error) {
	return v.buildWith(ctx, stack.Env{Logger: log})
}

func (v *volumeFlags) buildWith(ctx context.Context, env stack.Env) (*volfile.Graph, error) {
	name, data, err := v.load(ctx)
	if err != nil {
		return nil, err
	}
	f, err := volfile.Parse(name, data)
	if err != nil {
		return nil, err
	}
	g, err := volfile.BuildGraph(ctx, f, stack.Registry(env))
	if err != nil {
		return nil, err
	}
	// A tool must report bricks that are down, not fail on them.
	_ = stack.WaitConnected(ctx, g)
	return g, nil
}

// findReplicate returns the first cluster/replicate volume of g.
func findReplicate(g *volfile.Graph) (*replicate.Replicate, string, error) {
	for _, v := range g.File().Volumes {
		if r, ok := g.Volume(v.Name).(*replicate.Replicate); ok {
			return r, v.Name, nil
		}
	}
	return nil, "", fmt.Errorf("%s has no cluster/replicate volume: nothing to heal", g.File().Name)
}

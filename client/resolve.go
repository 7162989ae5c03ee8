package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// VolfileFetcher fetches the client volfile of volume from the volfile
// server at addr (host:port, as Server.String). vfs/client.FetchVolfile
// is the gRPC one; tests pass fakes.
type VolfileFetcher func(ctx context.Context, addr, volume string) ([]byte, error)

// FetchTimeout bounds each attempt of Resolve, so that an unreachable
// primary server (a brick host that is down and silently drops packets)
// does not hold up the fallback to the backup servers.
const FetchTimeout = 10 * time.Second

// Resolve obtains the client volfile for spec: from spec.VolfilePath if
// set, otherwise from spec.Servers in order — the primary, then the backup
// volfile servers — returning the first that answers and which server it
// was. The error names every server tried and why it failed.
func Resolve(ctx context.Context, spec MountSpec, fetch VolfileFetcher) ([]byte, Server, error) {
	if spec.VolfilePath != "" {
		b, err := os.ReadFile(spec.VolfilePath)
		if err != nil {
			return nil, Server{}, fmt.Errorf("volfile: %w", err)
		}
		return b, Server{}, nil
	}
	if len(spec.Servers) == 0 {
		return nil, Server{}, errors.New("no volfile server given")
	}
	if fetch == nil {
		return nil, Server{}, errors.New("no volfile fetcher")
	}
	var failures []string
	for _, s := range spec.Servers {
		if err := ctx.Err(); err != nil {
			return nil, Server{}, err
		}
		fctx, cancel := context.WithTimeout(ctx, FetchTimeout)
		b, err := fetch(fctx, s.String(), spec.Volume)
		cancel()
		if err == nil && len(b) == 0 {
			err = errors.New("empty volfile")
		}
		if err == nil {
			return b, s, nil
		}
		failures = append(failures, fmt.Sprintf("%s: %v", s, err))
	}
	return nil, Server{}, fmt.Errorf("fetch volfile of volume %q: every volfile server failed: %s",
		spec.Volume, strings.Join(failures, "; "))
}

package stack

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairnfs/cairn/vfs/client"
	"github.com/cairnfs/cairn/vfs/volfile"
)

// WaitConnected waits until every protocol/client of g has had its first
// answer from its brick (or ctx ends), as a GlusterFS mount waits for its
// children to come up before serving. It returns nil when at least one
// brick is usable — a replicated volume works with bricks down — and
// otherwise the bricks' errors joined.
func WaitConnected(ctx context.Context, g *volfile.Graph) error {
	var errs []error
	clients := 0
	for _, v := range g.File().Volumes {
		c, ok := g.Volume(v.Name).(*client.Client)
		if !ok {
			continue
		}
		clients++
		if err := c.WaitConnect(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", v.Name, c.Addr(), err))
		}
	}
	if clients > 0 && len(errs) == clients {
		return errors.Join(errs...)
	}
	return nil
}

package volfile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Graph is a built translator stack. It is itself the top translator (the
// embedded Translator), so it can be mounted or served directly, and its
// Close closes every translator of the stack.
//
// Ownership: the graph, not the translators, closes subvolumes. A
// translator's Close releases only what it holds itself, never its
// children, because a subvolume may be shared by several parents.
//
// Optional interfaces of the top translator (found by type assertion) are
// not visible through the Graph: assert on Top() instead.
type Graph struct {
	vfs.Translator

	file  *File
	built map[string]vfs.Translator
	order []*Volume // build order: every volume after its subvolumes

	mu     sync.Mutex
	closed bool
}

var _ vfs.Closer = (*Graph)(nil)

// Build validates f against reg (everything Check reports) and builds the
// graph under f.Top(), bottom-up, each volume once. It returns a *Graph.
// When validation fails nothing is built; when a BuildFunc fails, the
// translators already built are closed (parents before children) and the
// error carries the failing volume's file and line.
func Build(ctx context.Context, f *File, reg Registry) (vfs.Translator, error) {
	g, err := BuildGraph(ctx, f, reg)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// BuildGraph is Build returning the *Graph type.
func BuildGraph(ctx context.Context, f *File, reg Registry) (*Graph, error) {
	opts, errs := validate(f, reg)
	if len(errs) > 0 {
		return nil, errs.err()
	}
	top := f.Top()
	if top == nil {
		// Only a File built by hand can get here: Parse refuses empty
		// files and validate refuses cycles.
		return nil, &Error{File: f.Name, Line: 1, Msg: "no top volume to build"}
	}
	g := &Graph{file: f, built: map[string]vfs.Translator{}}
	t, err := g.build(ctx, top, opts, reg)
	if err != nil {
		if cerr := g.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	g.Translator = t
	return g, nil
}

func (g *Graph) build(ctx context.Context, v *Volume, opts map[*Volume]Options, reg Registry) (vfs.Translator, error) {
	if t, ok := g.built[v.Name]; ok {
		return t, nil
	}
	children := make([]vfs.Translator, len(v.Subvolumes))
	for i, r := range v.Subvolumes {
		c, err := g.build(ctx, g.file.Volume(r.Name), opts, reg)
		if err != nil {
			return nil, err
		}
		children[i] = c
	}
	fail := func(err error) error {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return &Error{File: v.Pos.File, Line: v.Pos.Line, Msg: fmt.Sprintf("volume %q (%s): %v", v.Name, v.Type, err), Err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(err)
	}
	spec := reg[v.Type]
	if spec.Build == nil {
		return nil, fail(fmt.Errorf("type %s cannot be built by this program (no Build function registered)", v.Type))
	}
	t, err := spec.Build(ctx, v, opts[v], children)
	if err != nil {
		if t != nil {
			_ = vfs.Close(t)
		}
		return nil, fail(err)
	}
	if t == nil {
		return nil, fail(errors.New("Build returned no translator (translator bug)"))
	}
	g.built[v.Name] = t
	g.order = append(g.order, v)
	return t, nil
}

// Top returns the top translator itself, for type assertions.
func (g *Graph) Top() vfs.Translator { return g.Translator }

// ReadToPipe forwards to the top translator (vfs.PipeReader): a server
// given the graph as its volume splices its large reads when the stack
// can.
func (g *Graph) ReadToPipe(ctx context.Context, gfid vfs.GFID, fh vfs.Handle, pipe int, n int, off int64) (int, syscall.Errno) {
	return vfs.ReadToPipe(ctx, g.Translator, gfid, fh, pipe, n, off)
}

// Volume returns the translator built for the named volume, or nil (not
// defined, or not reachable from the top and so not built). Tools such as
// the heal daemon use it to find a cluster/replicate volume by name.
func (g *Graph) Volume(name string) vfs.Translator { return g.built[name] }

// File returns the volfile the graph was built from.
func (g *Graph) File() *File { return g.file }

// Close closes every translator of the graph once, parents before
// children, so that a parent can still flush through its children. It
// returns the errors joined; later calls do nothing.
func (g *Graph) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	var errs []error
	for i := len(g.order) - 1; i >= 0; i-- {
		v := g.order[i]
		if err := vfs.Close(g.built[v.Name]); err != nil {
			errs = append(errs, fmt.Errorf("closing volume %q (%s): %w", v.Name, v.Type, err))
		}
	}
	return errors.Join(errs...)
}

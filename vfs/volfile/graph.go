package volfile

import (
	"fmt"
	"strings"
)

// Top returns the top of the graph: the volume no other volume names as a
// subvolume, or the last defined of several such volumes, as GlusterFS
// chooses. It is nil when there is none (no volumes, or every volume is
// named by another, which only a cycle allows).
func (f *File) Top() *Volume {
	named := f.namedByOthers()
	for i := len(f.Volumes) - 1; i >= 0; i-- {
		if v := f.Volumes[i]; !named[v.Name] {
			return v
		}
	}
	return nil
}

// namedByOthers returns the names that appear on another volume's
// subvolumes line.
func (f *File) namedByOthers() map[string]bool {
	named := map[string]bool{}
	for _, v := range f.Volumes {
		for _, r := range v.Subvolumes {
			if r.Name != v.Name {
				named[r.Name] = true
			}
		}
	}
	return named
}

// index maps each name to the index of its first definition.
func (f *File) index() map[string]int {
	idx := make(map[string]int, len(f.Volumes))
	for i, v := range f.Volumes {
		if _, dup := idx[v.Name]; !dup {
			idx[v.Name] = i
		}
	}
	return idx
}

// Unused returns the volumes that cannot be reached from Top by following
// subvolumes: GlusterFS accepts them, but nothing can send them requests,
// so they usually betray a typo (as in the seed's client volfile).
func (f *File) Unused() []*Volume {
	idx := f.index()
	reached := make([]bool, len(f.Volumes))
	var walk func(i int)
	walk = func(i int) {
		if reached[i] {
			return
		}
		reached[i] = true
		for _, r := range f.Volumes[i].Subvolumes {
			if j, ok := idx[r.Name]; ok {
				walk(j)
			}
		}
	}
	if top := f.Top(); top != nil {
		walk(idx[top.Name])
	}
	var out []*Volume
	for i, v := range f.Volumes {
		if !reached[i] {
			out = append(out, v)
		}
	}
	return out
}

// CheckGraph checks the references between volumes: every subvolume must be
// a volume defined earlier in the file (GlusterFS's rule), not the volume
// itself, and the graph must have no cycle. It needs no registry.
func (f *File) CheckGraph() error {
	var errs errList
	f.checkGraph(&errs)
	return errs.err()
}

func (f *File) checkGraph(errs *errList) {
	idx := f.index()
	named := f.namedByOthers()
	scc := f.components(idx)
	cycleReported := map[int]bool{}
	for i, v := range f.Volumes {
		for _, r := range v.Subvolumes {
			j, ok := idx[r.Name]
			switch {
			case !ok:
				errs.add(r.Pos, f.undefinedHint(v, i, r, named), "volume %q: subvolume %q is not defined", v.Name, r.Name)
			case j == i:
				errs.add(r.Pos, "a volume cannot be its own subvolume", "volume %q lists itself as a subvolume", v.Name)
			case j < i:
				// Defined earlier: fine. A back edge cannot close a
				// cycle on its own; cycles need a forward reference.
			case scc[i] == scc[j]:
				if cycleReported[scc[i]] {
					continue
				}
				cycleReported[scc[i]] = true
				errs.add(r.Pos, "a volume cannot be its own (indirect) subvolume: remove one of these references",
					"cycle in the volume graph: %s", f.cyclePath(idx, i, j))
			default:
				w := f.Volumes[j]
				errs.add(r.Pos, fmt.Sprintf("%q is defined later, at line %d; GlusterFS requires a volume to be defined before the volumes that list it: move its block above line %d",
					r.Name, w.Pos.Line, v.Pos.Line),
					"volume %q: subvolume %q is used before it is defined", v.Name, r.Name)
			}
		}
	}
}

func (f *File) undefinedHint(v *Volume, i int, r *Ref, named map[string]bool) string {
	// Prefer volumes defined earlier: only they are valid subvolumes here.
	var before, after []string
	for k, w := range f.Volumes {
		switch {
		case k < i:
			before = append(before, w.Name)
		case k > i:
			after = append(after, w.Name)
		}
	}
	s, ok := suggest(r.Name, before)
	if !ok {
		s, ok = suggest(r.Name, after)
	}
	if !ok {
		return fmt.Sprintf("no volume of that name is defined in %s; define it above line %d", f.Name, v.Pos.Line)
	}
	w := f.Volume(s)
	hint := fmt.Sprintf("did you mean %q? It is defined at line %d", s, w.Pos.Line)
	if !named[s] {
		hint += " and no volume uses it"
	}
	return hint
}

// components labels each volume with its strongly connected component
// (Tarjan's algorithm), over references to defined volumes other than
// self-references, which are reported on their own.
func (f *File) components(idx map[string]int) []int {
	n := len(f.Volumes)
	comp := make([]int, n)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next, ncomp := 0, 0
	var visit func(i int)
	visit = func(i int) {
		index[i], low[i] = next, next
		next++
		stack = append(stack, i)
		onStack[i] = true
		for _, r := range f.Volumes[i].Subvolumes {
			j, ok := idx[r.Name]
			if !ok || j == i {
				continue
			}
			if index[j] < 0 {
				visit(j)
				low[i] = min(low[i], low[j])
			} else if onStack[j] {
				low[i] = min(low[i], index[j])
			}
		}
		if low[i] == index[i] {
			for {
				k := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[k] = false
				comp[k] = ncomp
				if k == i {
					break
				}
			}
			ncomp++
		}
	}
	for i := range f.Volumes {
		if index[i] < 0 {
			visit(i)
		}
	}
	return comp
}

// cyclePath describes a shortest cycle through the reference from volume i
// to volume j: "i -> j -> ... -> i".
func (f *File) cyclePath(idx map[string]int, i, j int) string {
	prev := map[int]int{j: -1}
	queue := []int{j}
	for len(queue) > 0 && !has(prev, i) {
		k := queue[0]
		queue = queue[1:]
		for _, r := range f.Volumes[k].Subvolumes {
			m, ok := idx[r.Name]
			if !ok || has(prev, m) {
				continue
			}
			prev[m] = k
			queue = append(queue, m)
		}
	}
	if !has(prev, i) {
		// Not reachable after all (cannot happen for one component).
		return f.Volumes[i].Name + " -> " + f.Volumes[j].Name
	}
	var path []string
	for k := i; k != -1; k = prev[k] {
		path = append(path, f.Volumes[k].Name)
	}
	// path is i, ..., j (walking back from i); the cycle reads i -> j -> ... -> i.
	out := []string{f.Volumes[i].Name}
	for k := len(path) - 1; k >= 0; k-- {
		out = append(out, path[k])
	}
	return strings.Join(out, " -> ")
}

func has(m map[int]int, k int) bool { _, ok := m[k]; return ok }

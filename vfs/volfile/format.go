package volfile

import (
	"fmt"
	"strings"
)

// Format writes f back as a volfile in the canonical layout glusterd uses
// (four-space indentation, a blank line between volumes). Comments and
// line numbers are not kept; parsing the result gives the same volumes,
// types, options and subvolumes.
func (f *File) Format() string {
	var b strings.Builder
	for i, v := range f.Volumes {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "volume %s\n", v.Name)
		if v.Type != "" {
			fmt.Fprintf(&b, "    type %s\n", v.Type)
		}
		for _, o := range v.Options {
			fmt.Fprintf(&b, "    option %s %s\n", o.Key, formatValue(o.Value))
		}
		if len(v.Subvolumes) > 0 {
			b.WriteString("    subvolumes")
			for _, r := range v.Subvolumes {
				b.WriteString(" " + r.Name)
			}
			b.WriteByte('\n')
		}
		b.WriteString("end-volume\n")
	}
	return b.String()
}

// formatValue quotes a value when writing it bare would read back
// differently: empty, starting with a quote, with white space at either
// end, or with a '#' that would start a comment.
func formatValue(v string) string {
	need := v == "" || v[0] == '"' || v[0] == '#' || isSpace(v[0]) || isSpace(v[len(v)-1])
	for i := 1; i < len(v) && !need; i++ {
		need = v[i] == '#' && isSpace(v[i-1])
	}
	if !need {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(v) + `"`
}

// Tree draws the graph from the top down, one volume per line with its type
// and position and the options it sets, for `cairn volfile check`:
//
//	server-tcp (protocol/server) glusterfsd.vol:14
//	│   option transport-type tcp
//	└── export_web_sites (performance/io-threads) glusterfsd.vol:9
//	    │   option thread-count 64
//	    └── lock_web_sites (features/locks) glusterfsd.vol:5
//	        └── dir_web_sites (storage/posix) glusterfsd.vol:1
//	                option directory /gfs/web/sites/export
//
// A subvolume shared by several parents is drawn in full once and then
// marked "(shared, shown above)". Undefined subvolumes and cycles are
// marked rather than followed, so Tree works on files that fail
// CheckGraph. Volumes not reachable from the top follow under a heading.
func (f *File) Tree() string {
	t := &treePrinter{f: f, idx: f.index(), shown: map[string]bool{}, path: map[string]bool{}}
	top := f.Top()
	if top == nil && len(f.Volumes) > 0 {
		// Every volume is somebody's subvolume: a cycle. Start from
		// the last one, as GlusterFS would.
		top = f.Volumes[len(f.Volumes)-1]
	}
	if top != nil {
		t.node(top, "", "")
	}
	var rest []*Volume
	for _, v := range f.Volumes {
		if !t.shown[v.Name] {
			rest = append(rest, v)
		}
	}
	if len(rest) > 0 {
		t.b.WriteString("\nnot reachable from the top:\n")
		for _, v := range rest {
			if !t.shown[v.Name] {
				t.node(v, "", "")
			}
		}
	}
	return t.b.String()
}

type treePrinter struct {
	f     *File
	idx   map[string]int
	b     strings.Builder
	shown map[string]bool
	path  map[string]bool // volumes on the current branch, to stop at cycles
}

// node draws v; first prefixes its own line, indent the lines below it.
func (t *treePrinter) node(v *Volume, first, indent string) {
	fmt.Fprintf(&t.b, "%s%s (%s) %s", first, v.Name, v.Type, v.Pos)
	switch {
	case t.path[v.Name]:
		t.b.WriteString(" (cycle)\n")
		return
	case t.shown[v.Name]:
		t.b.WriteString(" (shared, shown above)\n")
		return
	}
	t.b.WriteByte('\n')
	t.shown[v.Name] = true
	t.path[v.Name] = true
	defer delete(t.path, v.Name)
	bar := "    "
	if len(v.Subvolumes) > 0 {
		bar = "│   "
	}
	for _, o := range v.Options {
		fmt.Fprintf(&t.b, "%s%soption %s %s\n", indent, bar, o.Key, formatValue(o.Value))
	}
	for i, r := range v.Subvolumes {
		branch, next := "├── ", "│   "
		if i == len(v.Subvolumes)-1 {
			branch, next = "└── ", "    "
		}
		j, ok := t.idx[r.Name]
		if !ok {
			fmt.Fprintf(&t.b, "%s%s%s (not defined) %s\n", indent, branch, r.Name, r.Pos)
			continue
		}
		t.node(t.f.Volumes[j], indent+branch, indent+next)
	}
}

package volfile

import (
	"strings"
	"testing"
)

// vol writes a one-line-per-statement block for graph tests.
func vol(name, typ string, subs ...string) string {
	s := "volume " + name + "\ntype " + typ + "\n"
	if len(subs) > 0 {
		s += "subvolumes " + strings.Join(subs, " ") + "\n"
	}
	return s + "end-volume\n"
}

func TestCheckGraphErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		wants []want
	}{
		{"undefined subvolume with did-you-mean",
			vol("posix_one", "x/p") + vol("top", "x/t", "posix_on"),
			// line 1..3 posix_one, 4..7 top: subvolumes on line 6
			[]want{{6, `volume "top": subvolume "posix_on" is not defined`, `did you mean "posix_one"? It is defined at line 1 and no volume uses it`}}},
		{"undefined subvolume, suggestion already in use",
			vol("brick", "x/p") + vol("mid", "x/m", "brick") + vol("top", "x/t", "mid", "brik"),
			[]want{{10, `subvolume "brik" is not defined`, `did you mean "brick"? It is defined at line 1` + "\x00"}}},
		{"undefined subvolume without suggestion",
			vol("a", "x/p") + vol("top", "x/t", "zzzzzz"),
			[]want{{6, `subvolume "zzzzzz" is not defined`, "no volume of that name is defined in t.vol; define it above line 4"}}},
		{"subvolume defined later",
			vol("top", "x/t", "brick") + vol("brick", "x/p"),
			[]want{{3, `volume "top": subvolume "brick" is used before it is defined`, `"brick" is defined later, at line 5; GlusterFS requires a volume to be defined before the volumes that list it: move its block above line 1`}}},
		{"self reference",
			vol("a", "x/p") + vol("loop", "x/t", "a", "loop"),
			[]want{{6, `volume "loop" lists itself as a subvolume`, "its own subvolume"}}},
		{"two-volume cycle",
			vol("a", "x/a", "b") + vol("b", "x/b", "a"),
			[]want{{3, "cycle in the volume graph: a -> b -> a", "remove one of these references"}}},
		{"three-volume cycle reported once",
			vol("a", "x/a", "c") + vol("b", "x/b", "a") + vol("c", "x/c", "b") + vol("top", "x/t", "c"),
			[]want{{3, "cycle in the volume graph: a -> c -> b -> a", ""}}},
		{"two separate problems",
			vol("top", "x/t", "later", "nowhere") + vol("later", "x/p"),
			[]want{{3, `subvolume "later" is used before it is defined`, ""}, {3, `subvolume "nowhere" is not defined`, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, "t.vol", tt.src)
			err := f.CheckGraph()
			// "\x00" at the end of a hint means: and nothing more.
			for i := range tt.wants {
				if h, ok := strings.CutSuffix(tt.wants[i].hint, "\x00"); ok {
					got := Errors(err)
					if i < len(got) && got[i].Hint != h {
						t.Errorf("hint %q, want exactly %q", got[i].Hint, h)
					}
					tt.wants[i].hint = h
				}
			}
			checkErrors(t, "t.vol", err, tt.wants)
			// Check reports graph problems too (the types are unknown
			// to an empty registry, so filter those out).
			var graphOnly []*Error
			for _, e := range Errors(Check(f, Registry{})) {
				if !strings.Contains(e.Msg, "unknown translator type") {
					graphOnly = append(graphOnly, e)
				}
			}
			if len(graphOnly) != len(tt.wants) {
				t.Errorf("Check reported %d graph errors, want %d", len(graphOnly), len(tt.wants))
			}
		})
	}
}

func TestTop(t *testing.T) {
	tests := []struct {
		src, top string
	}{
		{vol("a", "x/a"), "a"},
		{vol("a", "x/a") + vol("b", "x/b", "a"), "b"},
		// Several volumes nobody names: the last defined, as GlusterFS.
		{vol("a", "x/a") + vol("b", "x/b", "a") + vol("c", "x/c"), "c"},
		{vol("a", "x/a") + vol("c", "x/c") + vol("b", "x/b", "a"), "b"},
		// A cycle leaves no top.
		{vol("a", "x/a", "b") + vol("b", "x/b", "a"), ""},
	}
	for _, tt := range tests {
		f := mustParse(t, "t.vol", tt.src)
		got := ""
		if v := f.Top(); v != nil {
			got = v.Name
		}
		if got != tt.top {
			t.Errorf("Top of\n%s= %q, want %q", tt.src, got, tt.top)
		}
	}
	if (&File{}).Top() != nil {
		t.Error("Top of an empty File")
	}
}

func TestUnused(t *testing.T) {
	f := mustParse(t, "t.vol", vol("a", "x/a")+vol("b", "x/b")+vol("c", "x/c", "b"))
	u := f.Unused()
	if len(u) != 1 || u[0].Name != "a" {
		t.Errorf("unused = %v", u)
	}
}

func TestTreeSharedAndCycles(t *testing.T) {
	f := mustParse(t, "t.vol", vol("brick", "x/p")+vol("left", "x/l", "brick")+vol("right", "x/r", "brick")+vol("top", "x/t", "left", "right"))
	const want = `top (x/t) t.vol:12
├── left (x/l) t.vol:4
│   └── brick (x/p) t.vol:1
└── right (x/r) t.vol:8
    └── brick (x/p) t.vol:1 (shared, shown above)
`
	if got := f.Tree(); got != want {
		t.Errorf("tree:\n%s\nwant:\n%s", got, want)
	}
	c := mustParse(t, "t.vol", vol("a", "x/a", "b")+vol("b", "x/b", "a"))
	const wantCycle = `b (x/b) t.vol:5
└── a (x/a) t.vol:1
    └── b (x/b) t.vol:5 (cycle)
`
	if got := c.Tree(); got != wantCycle {
		t.Errorf("tree:\n%s\nwant:\n%s", got, wantCycle)
	}
}

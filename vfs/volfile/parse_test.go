package volfile

import (
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		wants []want
	}{
		{"unknown keyword with did-you-mean",
			"volume a\n  type storage/posix\n  optoin directory /x\nend-volume\n",
			[]want{{3, `unknown keyword "optoin"`, `did you mean "option"?`}}},
		{"keywords are lower case",
			"volume a\nType storage/posix\nend-volume\n",
			[]want{{1, `volume "a" has no type`, "type storage/posix"}, {2, `unknown keyword "Type"`, `did you mean "type"? Keywords are lower case`}}},
		{"option without the option keyword",
			"volume a\ntype performance/io-threads\nthread-count 64 # default is 1\nend-volume\n",
			[]want{{3, `unknown keyword "thread-count"`, "options are written `option thread-count 64`"}}},
		{"unknown keyword outside a volume",
			"volumes a\n",
			[]want{{1, `unknown keyword "volumes"`, `did you mean "volume"?`}, {1, "empty volfile", "volume NAME"}}},
		{"unknown keyword without a suggestion",
			"volume a\ntype x/y\nfrobnicate\nend-volume\n",
			[]want{{3, `unknown keyword "frobnicate"`, "each line starts with volume, type, option, subvolumes or end-volume"}}},
		{"missing end-volume at EOF",
			"volume a\ntype storage/posix\noption directory /x\n",
			[]want{{3, `volume "a" (line 1) has no end-volume at end of file`, "add `end-volume`"}}},
		{"missing end-volume at EOF without final newline",
			"volume a\ntype storage/posix\n\n# trailing comment",
			[]want{{4, `volume "a" (line 1) has no end-volume`, "end-volume"}}},
		{"missing end-volume and type at EOF",
			"volume a\n",
			[]want{{1, `volume "a" (line 1) has no end-volume at end of file`, ""}, {1, `volume "a" has no type`, ""}}},
		{"volume inside a volume",
			"volume a\ntype x/a\nvolume b\ntype x/b\nend-volume\n",
			[]want{{3, `volume "b" starts inside volume "a" (line 1), which has no end-volume`, "add `end-volume` before this line to close \"a\""}}},
		{"option outside a volume, after one",
			"volume a\ntype x/a\nend-volume\noption k v\n",
			[]want{{4, "option outside a volume block", `volume "a" ended at line 3: move this line above its end-volume`}}},
		{"type outside any volume",
			"type x/a\nvolume a\ntype x/a\nend-volume\n",
			[]want{{1, "type outside a volume block", "statements belong between `volume NAME` and `end-volume`"}}},
		{"subvolumes outside a volume",
			"volume a\ntype x/a\nend-volume\n\nsubvolumes a\n",
			[]want{{5, "subvolumes outside a volume block", `volume "a" ended at line 3`}}},
		{"end-volume without volume",
			"volume a\ntype x/a\nend-volume\nend-volume\n",
			[]want{{4, "end-volume without a matching volume line", ""}}},
		{"missing type",
			"volume a\noption k v\nend-volume\n",
			[]want{{1, `volume "a" has no type`, "add a line `type CATEGORY/NAME`"}}},
		{"type twice",
			"volume a\ntype x/a\ntype x/b\nend-volume\n",
			[]want{{3, `volume "a" already has type "x/a" (line 2)`, "exactly one type"}}},
		{"type without a name",
			"volume a\ntype\nend-volume\n",
			[]want{{1, `volume "a" has no type`, ""}, {2, "type without a translator name", "type storage/posix"}}},
		{"type with two words",
			"volume a\ntype x/a x/b\nend-volume\n",
			[]want{{1, `has no type`, ""}, {2, "type takes one translator name, got 2 words", ""}}},
		{"duplicate volume names point to the first",
			"volume a\ntype x/a\nend-volume\n\nvolume a\ntype x/b\nend-volume\n",
			[]want{{5, `volume "a" defined twice`, "it is first defined at t.vol:1"}}},
		{"duplicate option keys",
			"volume a\ntype x/a\noption k 1\noption k 2\nend-volume\n",
			[]want{{4, `option "k" set twice in volume "a"`, "first set at line 3; GlusterFS would silently keep the last value"}}},
		{"option without value",
			"volume a\ntype x/a\noption k\nend-volume\n",
			[]want{{3, `option "k" has no value`, "option KEY VALUE"}}},
		{"option whose value is a comment",
			"volume a\ntype x/a\noption k # not a value\nend-volume\n",
			[]want{{3, `option "k" has no value`, ""}}},
		{"option alone",
			"volume a\ntype x/a\noption\nend-volume\n",
			[]want{{3, "option without a key or value", "option KEY VALUE"}}},
		{"unterminated quoted value",
			"volume a\ntype x/a\noption k \"abc\nend-volume\n",
			[]want{{3, `option "k": unterminated quoted value`, "quoted value"}}},
		{"text after a quoted value",
			"volume a\ntype x/a\noption k \"abc\" def\nend-volume\n",
			[]want{{3, `option "k": unexpected "def" after the quoted value`, ""}}},
		{"volume without a name",
			"volume\ntype x/a\nend-volume\n",
			[]want{{1, "volume without a name", "volume NAME"}}},
		{"volume name of two words",
			"volume my vol\ntype x/a\nend-volume\n",
			[]want{{1, "volume name must be one word, got 2 words", ""}}},
		{"subvolumes without names",
			"volume a\ntype x/a\nsubvolumes # none\nend-volume\n",
			[]want{{3, "subvolumes without any volume name", ""}}},
		{"second subvolumes line",
			"volume b\ntype x/b\nend-volume\nvolume c\ntype x/c\nend-volume\nvolume a\ntype x/a\nsubvolumes b\nsubvolumes c\nend-volume\n",
			[]want{{10, `volume "a" has a second subvolumes line (first at line 9)`, "subvolumes A B"}}},
		{"subvolume listed twice",
			"volume b\ntype x/b\nend-volume\nvolume a\ntype x/a\nsubvolumes b b\nend-volume\n",
			[]want{{6, `subvolume "b" listed twice in volume "a"`, ""}}},
		{"end-volume with arguments",
			"volume a\ntype x/a\nend-volume a\n",
			[]want{{3, `unexpected "a" after end-volume`, ""}}},
		{"empty file",
			"",
			[]want{{1, "empty volfile: no volume defined", "volume NAME"}}},
		{"only comments and blank lines",
			"# nothing here\n\n   \t\n# still nothing\n",
			[]want{{1, "empty volfile: no volume defined", ""}}},
		{"several errors, all reported in line order",
			"volume a\n  type x/a\n  option k 1\n  option k 2\n  subvolume b\nend-volume\nvolume a\nend-volume\nvolume c\n  type x/c\n",
			[]want{
				{4, `option "k" set twice`, ""},
				{5, `unknown keyword "subvolume"`, `did you mean "subvolumes"?`},
				{7, `volume "a" defined twice`, "t.vol:1"},
				{10, `volume "c" (line 9) has no end-volume`, ""},
			}},
		{"CRLF line endings keep line numbers",
			"volume a\r\ntype x/a\r\noptoin k v\r\nend-volume\r\n",
			[]want{{3, `unknown keyword "optoin"`, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("t.vol", []byte(tt.src))
			if f != nil {
				t.Errorf("Parse returned a File with errors")
			}
			checkErrors(t, "t.vol", err, tt.wants)
		})
	}
}

func TestParseAccepts(t *testing.T) {
	src := "\ufeff# header comment\r\n" +
		"volume\tbrick # trailing comment\r\n" +
		"\t  type   storage/posix\r\n" +
		"    option directory /data/export#1   # the export\r\n" +
		"    option spaced   several words here  \r\n" +
		"    option quoted \"a # not a comment \\\"x\\\" \\\\\"  # comment\r\n" +
		"    option empty \"\"\r\n" +
		"    option glued \"v\"#comment\r\n" +
		"end-volume\r\n" +
		"\r\n" +
		"volume top\n" +
		"subvolumes brick\n" + // statement order inside a block is free
		"type features/locks\n" +
		"end-volume"
	f := mustParse(t, "ok.vol", src)
	if len(f.Volumes) != 2 || f.Lines != 14 {
		t.Fatalf("volumes %d, lines %d", len(f.Volumes), f.Lines)
	}
	b := f.Volumes[0]
	if b.Name != "brick" || b.Type != "storage/posix" || b.Pos.Line != 2 || b.TypePos.Line != 3 || b.EndPos.Line != 9 {
		t.Errorf("brick = %+v", b)
	}
	wantOpts := []struct {
		key, val string
		line     int
	}{
		{"directory", "/data/export#1", 4},
		{"spaced", "several words here", 5},
		{"quoted", `a # not a comment "x" \`, 6},
		{"empty", "", 7},
		{"glued", "v", 8},
	}
	if len(b.Options) != len(wantOpts) {
		t.Fatalf("options %+v", b.Options)
	}
	for i, w := range wantOpts {
		o := b.Options[i]
		if o.Key != w.key || o.Value != w.val || o.Pos != (Pos{"ok.vol", w.line}) {
			t.Errorf("option %d = %q %q at %v, want %q %q at line %d", i, o.Key, o.Value, o.Pos, w.key, w.val, w.line)
		}
	}
	if b.Option("spaced") == nil || b.Option("nope") != nil {
		t.Error("Volume.Option lookup")
	}
	top := f.Volumes[1]
	if top.Type != "features/locks" || len(top.Subvolumes) != 1 || top.Subvolumes[0].Name != "brick" ||
		top.Subvolumes[0].Pos.Line != 12 || top.SubvolumesPos.Line != 12 || top.EndPos.Line != 14 {
		t.Errorf("top = %+v", top)
	}
	if f.Top() != top || f.Volume("brick") != b || f.Volume("x") != nil {
		t.Error("Top/Volume lookups")
	}
	// Values that need quoting are quoted by Format and read back equal.
	out := f.Format()
	for _, s := range []string{`option quoted "a # not a comment \"x\" \\"`, `option empty ""`, "option directory /data/export#1\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("Format output lacks %q:\n%s", s, out)
		}
	}
	if g := mustParse(t, "ok.vol", out); !sameGraph(f, g) {
		t.Errorf("round trip differs:\n%s", out)
	}
}

func TestParseEmptyName(t *testing.T) {
	f := mustParse(t, "", "volume a\ntype x/y\nend-volume\n")
	if f.Name != "<volfile>" || f.Volumes[0].Pos.String() != "<volfile>:1" {
		t.Errorf("name %q pos %v", f.Name, f.Volumes[0].Pos)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "a.vol", Line: 3, Msg: "bad", Hint: "fix it"}
	if e.Error() != "a.vol:3: bad (hint: fix it)" {
		t.Error(e.Error())
	}
	e.Hint = ""
	if e.Error() != "a.vol:3: bad" {
		t.Error(e.Error())
	}
	if Errors(nil) != nil {
		t.Error("Errors(nil)")
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		name  string
		cands []string
		want  string
	}{
		{"brick1_web_sites", []string{"brick1_com_web_sites", "brick2_com_web_sites"}, "brick1_com_web_sites"},
		{"optoin", keywords, "option"},
		{"subvolume", keywords, "subvolumes"},
		{"VOLUME", keywords, "volume"},
		{"io-threads", []string{"performance/io-cache", "performance/io-threads"}, "performance/io-threads"},
		{"performance/iothreads", []string{"performance/io-cache", "performance/io-threads"}, "performance/io-threads"},
		{"zzz", keywords, ""},
		{"a", []string{"a"}, ""}, // never the name itself
	}
	for _, tt := range tests {
		got, ok := suggest(tt.name, tt.cands)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("suggest(%q) = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
	if d := distance("kitten", "sitting"); d != 3 {
		t.Errorf("distance = %d", d)
	}
}

package volfile

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes the parser, the checks, the tree
// printer or the builder panic; that every error points at a line of the
// input; and that whatever parses survives Format → Parse unchanged.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.vol")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"volume a\ntype storage/posix\noption directory /x\nend-volume\n",
		"volume a\r\n\ttype x/y # c\r\n option k \"q \\\" # x\"\r\nend-volume",
		"volume a\ntype x/a\nsubvolumes b\nend-volume\nvolume b\ntype x/b\nsubvolumes a\nend-volume\n",
		"volume a\nvolume b\nend-volume\nend-volume\noption x y\n",
		"\ufeffvolume a#b\ntype t\noption k a#b #c\nsubvolumes a#b\nend-volume\n",
		diamond,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n"))
		if len(data) == 0 || data[len(data)-1] != '\n' {
			lines++
		}
		inFile := func(stage string, err error) {
			t.Helper()
			for _, e := range Errors(err) {
				if e.File != "fuzz.vol" || e.Line < 1 || e.Line > lines {
					t.Fatalf("%s: error outside the file (%d lines): %v", stage, lines, e)
				}
			}
		}
		file, err := Parse("fuzz.vol", data)
		inFile("Parse", err)
		if err != nil {
			if file != nil {
				t.Fatal("Parse returned both a File and an error")
			}
			return
		}
		if file.Lines != lines {
			t.Fatalf("File.Lines = %d, want %d", file.Lines, lines)
		}
		inFile("CheckGraph", file.CheckGraph())
		reg := fakeRegistry(nil)
		inFile("Check", Check(file, reg))
		_ = file.Tree()
		_ = file.Unused()
		if g, err := BuildGraph(context.Background(), file, reg); err == nil {
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
		} else {
			inFile("Build", err)
		}

		out := file.Format()
		again, err := Parse("fuzz.vol", []byte(out))
		if err != nil {
			t.Fatalf("Format output does not parse: %v\n%s", err, out)
		}
		if !sameGraph(file, again) {
			t.Fatalf("Format → Parse changed the graph:\n%s", out)
		}
		if again.Format() != out {
			t.Fatalf("Format is not a fixed point:\n%s", out)
		}
	})
}

package volfile

import (
	"fmt"
	"strings"
)

// File is a parsed volfile: its volumes in definition order.
type File struct {
	// Name is the file name given to Parse, used in every Pos.
	Name string
	// Volumes are in the order they are defined.
	Volumes []*Volume
	// Lines is the number of lines of the source (at least 1).
	Lines int
}

// Volume is one `volume NAME ... end-volume` block.
type Volume struct {
	Name string
	Pos  Pos // the `volume NAME` line
	// Type is the translator type, such as "storage/posix".
	Type    string
	TypePos Pos
	// Options are in file order; keys are unique within a volume.
	Options []*Option
	// Subvolumes are the children, in the order listed.
	Subvolumes    []*Ref
	SubvolumesPos Pos // the subvolumes line; zero when there is none
	EndPos        Pos // the end-volume line
}

// Option is an `option KEY VALUE` line.
type Option struct {
	Key   string
	Value string
	Pos   Pos
}

// Ref is one name on a subvolumes line.
type Ref struct {
	Name string
	Pos  Pos
}

// Option returns the option with the given key as written, or nil.
func (v *Volume) Option(key string) *Option {
	for _, o := range v.Options {
		if o.Key == key {
			return o
		}
	}
	return nil
}

// Errorf returns an *Error positioned at the volume's `volume` line, for a
// translator's Build function to report a problem with the volume as a whole.
func (v *Volume) Errorf(format string, args ...any) *Error {
	return &Error{File: v.Pos.File, Line: v.Pos.Line, Msg: fmt.Sprintf("volume %q: ", v.Name) + fmt.Sprintf(format, args...)}
}

// Volume returns the volume with the given name, or nil.
func (f *File) Volume(name string) *Volume {
	for _, v := range f.Volumes {
		if v.Name == name {
			return v
		}
	}
	return nil
}

const (
	kwVolume     = "volume"
	kwType       = "type"
	kwOption     = "option"
	kwSubvolumes = "subvolumes"
	kwEnd        = "end-volume"
)

var keywords = []string{kwVolume, kwType, kwOption, kwSubvolumes, kwEnd}

// isSpace reports the white space of GlusterFS's lexer ([ \t\r\n]; lines
// are already split at \n), which makes CRLF files parse unchanged.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

type word struct {
	text       string
	start, end int
}

// words splits a line into white-space separated words, stopping at a word
// that begins with '#' (a comment). A '#' inside a word is part of it, as
// in GlusterFS's lexer.
func words(line string) []word {
	var ws []word
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) || line[i] == '#' {
			return ws
		}
		j := i
		for j < len(line) && !isSpace(line[j]) {
			j++
		}
		ws = append(ws, word{line[i:j], i, j})
		i = j
	}
}

func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

// optionValue extracts an option's value from the text after its key: a
// double-quoted string (quotes removed, `\x` meaning x), or else everything
// up to a comment, trimmed. ok is false with a message when it is malformed
// or missing.
func optionValue(rest string) (val string, msg string, ok bool) {
	rest = trimSpace(rest)
	if rest == "" || rest[0] == '#' {
		return "", "", false
	}
	if rest[0] != '"' {
		for i := 1; i < len(rest); i++ {
			if rest[i] == '#' && isSpace(rest[i-1]) {
				rest = rest[:i]
				break
			}
		}
		return trimSpace(rest), "", true
	}
	var b strings.Builder
	for i := 1; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '\\' && i+1 < len(rest):
			i++
			b.WriteByte(rest[i])
		case c == '"':
			after := trimSpace(rest[i+1:])
			if after != "" && after[0] != '#' {
				return "", fmt.Sprintf("unexpected %q after the quoted value", after), false
			}
			return b.String(), "", true
		default:
			b.WriteByte(c)
		}
	}
	return "", "unterminated quoted value", false
}

type parser struct {
	f    *File
	errs errList
	// first definition of each name, for duplicates and references
	byName map[string]*Volume
	// the block being read; keep is false for a block whose name is
	// missing or repeated: it is read (to report its own problems and
	// not to misread its lines as stray statements) but not kept.
	cur       *Volume
	keep      bool
	options   map[string]*Option
	seen      map[string]bool // subvolume names on the current line
	lastEnd   *Volume         // the last block closed, for hints
	sawVolume bool
}

// Parse reads a volfile. filename is used in positions and messages (""
// becomes "<volfile>"). On success every volume has a name, a type, unique
// option keys and at most one subvolumes line; references between volumes
// are not checked here but by CheckGraph, Check and Build. On failure the
// File is nil and err lists every problem found (see Errors).
func Parse(filename string, data []byte) (*File, error) {
	if filename == "" {
		filename = "<volfile>"
	}
	p := &parser{f: &File{Name: filename}, byName: map[string]*Volume{}}
	src := strings.TrimPrefix(string(data), "\ufeff")
	lines := strings.Split(src, "\n")
	if len(lines) > 1 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	p.f.Lines = len(lines)
	for i, line := range lines {
		p.line(i+1, line)
	}
	if p.cur != nil {
		p.errs.add(p.pos(p.f.Lines), "add `end-volume` after the last line of the block",
			"volume %q (line %d) has no end-volume at end of file", p.cur.Name, p.cur.Pos.Line)
		p.close(Pos{})
	}
	if !p.sawVolume {
		p.errs.add(p.pos(1), "a volfile is a list of `volume NAME` ... `end-volume` blocks",
			"empty volfile: no volume defined")
	}
	if err := p.errs.err(); err != nil {
		return nil, err
	}
	return p.f, nil
}

func (p *parser) pos(line int) Pos { return Pos{File: p.f.Name, Line: line} }

func (p *parser) line(n int, line string) {
	ws := words(line)
	if len(ws) == 0 {
		return
	}
	pos := p.pos(n)
	kw, args := ws[0].text, ws[1:]
	switch kw {
	case kwVolume:
		p.volume(pos, args)
		return
	case kwEnd:
		if p.cur == nil {
			p.errs.add(pos, p.outsideHint(), "end-volume without a matching volume line")
			return
		}
		if len(args) > 0 {
			p.errs.add(pos, "write `end-volume` alone on its line", "unexpected %q after end-volume", args[0].text)
		}
		p.close(pos)
		return
	case kwType, kwOption, kwSubvolumes:
		if p.cur == nil {
			p.errs.add(pos, p.outsideHint(), "%s outside a volume block", kw)
			return
		}
	default:
		hint := "each line starts with volume, type, option, subvolumes or end-volume; # starts a comment"
		if s, ok := suggest(kw, keywords); ok {
			hint = fmt.Sprintf("did you mean %q?", s)
			if strings.EqualFold(s, kw) {
				hint += " Keywords are lower case"
			}
		} else if p.cur != nil && len(args) > 0 {
			hint = fmt.Sprintf("options are written `option %s %s`", kw, trimSpace(line[args[0].start:args[len(args)-1].end]))
		}
		p.errs.add(pos, hint, "unknown keyword %q", kw)
		return
	}
	v := p.cur
	switch kw {
	case kwType:
		switch {
		case len(args) == 0:
			p.errs.add(pos, "write `type CATEGORY/NAME`, for example `type storage/posix`", "type without a translator name")
		case len(args) > 1:
			p.errs.add(pos, "a type is one word, for example `type storage/posix`", "type takes one translator name, got %d words", len(args))
		case v.Type != "":
			p.errs.add(pos, "a volume has exactly one type line", "volume %q already has type %q (line %d)", v.Name, v.Type, v.TypePos.Line)
		default:
			v.Type, v.TypePos = args[0].text, pos
		}
	case kwOption:
		if len(args) == 0 {
			p.errs.add(pos, "write `option KEY VALUE`", "option without a key or value")
			return
		}
		key := args[0].text
		val, msg, ok := optionValue(line[args[0].end:])
		if !ok {
			if msg == "" {
				msg = fmt.Sprintf("option %q has no value", key)
			} else {
				msg = fmt.Sprintf("option %q: %s", key, msg)
			}
			p.errs.add(pos, "write `option KEY VALUE`; a quoted value ends with \" and may contain \\\" and \\\\", "%s", msg)
			return
		}
		if prev, dup := p.options[key]; dup {
			p.errs.add(pos, fmt.Sprintf("it is first set at line %d; GlusterFS would silently keep the last value: keep one line", prev.Pos.Line),
				"option %q set twice in volume %q", key, v.Name)
			return
		}
		o := &Option{Key: key, Value: val, Pos: pos}
		p.options[key] = o
		v.Options = append(v.Options, o)
	case kwSubvolumes:
		if len(args) == 0 {
			p.errs.add(pos, "write `subvolumes NAME1 NAME2 ...`", "subvolumes without any volume name")
			return
		}
		if v.SubvolumesPos.Line != 0 {
			p.errs.add(pos, "list all subvolumes on one line: `subvolumes A B ...`",
				"volume %q has a second subvolumes line (first at line %d)", v.Name, v.SubvolumesPos.Line)
			return
		}
		v.SubvolumesPos = pos
		for _, a := range args {
			if p.seen[a.text] {
				p.errs.add(pos, "name each subvolume once", "subvolume %q listed twice in volume %q", a.text, v.Name)
				continue
			}
			p.seen[a.text] = true
			v.Subvolumes = append(v.Subvolumes, &Ref{Name: a.text, Pos: pos})
		}
	}
}

func (p *parser) volume(pos Pos, args []word) {
	p.sawVolume = true
	name := ""
	if len(args) > 0 {
		name = args[0].text
	}
	if p.cur != nil {
		p.errs.add(pos, fmt.Sprintf("add `end-volume` before this line to close %q", p.cur.Name),
			"volume %q starts inside volume %q (line %d), which has no end-volume", name, p.cur.Name, p.cur.Pos.Line)
		p.close(Pos{})
	}
	keep := true
	switch {
	case len(args) == 0:
		p.errs.add(pos, "write `volume NAME`", "volume without a name")
		keep = false
	case len(args) > 1:
		p.errs.add(pos, "a volume name is one word without spaces", "volume name must be one word, got %d words", len(args))
		keep = false
	default:
		if first, dup := p.byName[name]; dup {
			p.errs.add(pos, fmt.Sprintf("it is first defined at %s; volume names must be unique", first.Pos),
				"volume %q defined twice", name)
			keep = false
		}
	}
	p.cur = &Volume{Name: name, Pos: pos}
	p.keep = keep
	p.options = map[string]*Option{}
	p.seen = map[string]bool{}
	if keep {
		p.byName[name] = p.cur
	}
}

// close ends the current block at end (zero when it ends implicitly: at a
// nested volume line or at end of file).
func (p *parser) close(end Pos) {
	v := p.cur
	p.cur = nil
	v.EndPos = end
	if !p.keep {
		return
	}
	if v.Type == "" {
		p.errs.add(v.Pos, "add a line `type CATEGORY/NAME` to the block, for example `type storage/posix`",
			"volume %q has no type", v.Name)
	}
	p.f.Volumes = append(p.f.Volumes, v)
	p.lastEnd = v
}

func (p *parser) outsideHint() string {
	if p.lastEnd != nil && p.lastEnd.EndPos.Line != 0 {
		return fmt.Sprintf("volume %q ended at line %d: move this line above its end-volume, or start a block with `volume NAME`",
			p.lastEnd.Name, p.lastEnd.EndPos.Line)
	}
	return "statements belong between `volume NAME` and `end-volume`"
}

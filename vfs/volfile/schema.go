package volfile

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/cairnfs/cairn/vfs"
)

// Unlimited as TypeSpec.MaxChildren allows any number of subvolumes.
const Unlimited = -1

// OptionSpec declares one option a translator type accepts.
type OptionSpec struct {
	// Key is the option's name. It may contain "*" wildcards, which match
	// one or more characters (dots included), for families of options such
	// as "auth.addr.*.allow" or "volume-filename.*".
	Key string
	// Aliases are older names accepted for the same option (GlusterFS
	// renamed several); the value is read back under Key. Wildcard keys
	// have no aliases.
	Aliases []string
	Kind    Kind
	// Default is used when the volfile does not set the option, written in
	// the kind's syntax ("32MB", "1", "on"). Empty means no default: the
	// accessors return the zero value. Wildcard keys have no default.
	Default string
	// Enum lists the allowed values of an Enum option.
	Enum []string
	// Min and Max bound Int, Size, Duration and Percent options, written in
	// the kind's syntax ("1", "4MB", "1s"); empty means unbounded.
	Min, Max string
	// Required options must be set in the volfile.
	Required bool
	// Help is a one-line description, shown by `cairn volfile` tools.
	Help string
}

// BuildFunc constructs the translator of one volume from its validated
// options and its already built children (children[i] is the translator of
// v.Subvolumes[i]). It must not keep ctx: the context only bounds the
// construction (connecting, opening the export, ...). An error may be
// an *Error (see Volume.Errorf and Options.Errorf) to point at a line;
// any other error is reported at the volume's line and stays reachable with
// errors.Is/As.
type BuildFunc func(ctx context.Context, v *Volume, opts Options, children []vfs.Translator) (vfs.Translator, error)

// TypeSpec declares a translator type: its options, how many subvolumes it
// takes, and how to build it.
type TypeSpec struct {
	Options []OptionSpec
	// MinChildren and MaxChildren bound the number of subvolumes.
	// MaxChildren 0 means none (storage/posix, protocol/client); use
	// Unlimited for no upper bound.
	MinChildren, MaxChildren int
	Build                    BuildFunc
	// Help is a one-line description of the translator.
	Help string
}

// Registry maps translator types ("storage/posix") to their specs. It is
// built by the program (the brick and the client register different
// translators) and passed in; there is no global registry. Two names may
// share one *TypeSpec to accept an old name ("cluster/afr" for
// "cluster/replicate").
type Registry map[string]*TypeSpec

// Types returns the registered type names, sorted.
func (r Registry) Types() []string {
	names := make([]string, 0, len(r))
	for n, t := range r {
		if t != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Check validates f completely without building anything: the graph (as
// CheckGraph) and every volume against reg (type, options, values,
// required options, number of subvolumes). It returns every problem found.
func Check(f *File, reg Registry) error {
	_, errs := validate(f, reg)
	return errs.err()
}

// validate checks f and returns the options of every volume whose type is
// known.
func validate(f *File, reg Registry) (map[*Volume]Options, errList) {
	var errs errList
	f.checkGraph(&errs)
	opts := make(map[*Volume]Options, len(f.Volumes))
	specErrs := map[*TypeSpec]string{}
	for _, v := range f.Volumes {
		spec := reg[v.Type]
		typePos := v.TypePos
		if typePos.Line == 0 {
			typePos = v.Pos
		}
		if spec == nil {
			hint := "registered types are " + strings.Join(reg.Types(), ", ")
			if len(reg) == 0 {
				hint = "no translator types are registered in this program"
			} else if s, ok := suggest(v.Type, reg.Types()); ok {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			errs.add(typePos, hint, "volume %q: unknown translator type %q", v.Name, v.Type)
			continue
		}
		msg, checked := specErrs[spec]
		if !checked {
			msg = checkSpec(spec)
			specErrs[spec] = msg
		}
		if msg != "" {
			errs.add(typePos, "this is a bug in the program's translator registration, not in the volfile",
				"volume %q: registration of type %q is invalid: %s", v.Name, v.Type, msg)
			continue
		}
		o, ok := volumeOptions(v, spec, &errs)
		if ok {
			opts[v] = o
		}
		checkChildren(v, spec, &errs)
	}
	return opts, errs
}

// checkSpec finds mistakes in a registration, so that they are reported
// plainly rather than as confusing volfile errors. "" means none.
func checkSpec(t *TypeSpec) string {
	if t.MinChildren < 0 || (t.MaxChildren != Unlimited && (t.MaxChildren < 0 || t.MaxChildren < t.MinChildren)) {
		return fmt.Sprintf("bad subvolume bounds %d..%d", t.MinChildren, t.MaxChildren)
	}
	keys := map[string]bool{}
	for i := range t.Options {
		s := &t.Options[i]
		if s.Key == "" {
			return "an option has no key"
		}
		for _, k := range append([]string{s.Key}, s.Aliases...) {
			if keys[k] {
				return fmt.Sprintf("option key %q declared twice", k)
			}
			keys[k] = true
		}
		if !s.Kind.valid() {
			return fmt.Sprintf("option %q has unknown kind %v", s.Key, s.Kind)
		}
		if s.Kind == Enum && len(s.Enum) == 0 {
			return fmt.Sprintf("enum option %q has no values", s.Key)
		}
		wild := strings.Contains(s.Key, "*")
		if wild && (s.Default != "" || len(s.Aliases) > 0 || s.Required) {
			return fmt.Sprintf("wildcard option %q cannot have a default, aliases or be required", s.Key)
		}
		if _, _, err := specBounds(s); err != nil {
			return fmt.Sprintf("option %q: %v", s.Key, err)
		}
		if s.Default != "" {
			v, verr := parseKind(s, s.Default)
			if verr == nil && ranged(s.Kind) {
				verr = checkRange(s, v)
			}
			if verr != nil {
				return fmt.Sprintf("option %q: bad default: %s", s.Key, verr.msg)
			}
		}
	}
	return ""
}

// lookup finds the spec of a key as written: an exact key or alias first,
// then wildcards in declaration order. canon is the key values are stored
// under (the spec's Key, or the key itself for a wildcard).
func (t *TypeSpec) lookup(key string) (spec *OptionSpec, canon string) {
	for i := range t.Options {
		s := &t.Options[i]
		if strings.Contains(s.Key, "*") {
			continue
		}
		if s.Key == key {
			return s, s.Key
		}
		for _, a := range s.Aliases {
			if a == key {
				return s, s.Key
			}
		}
	}
	for i := range t.Options {
		s := &t.Options[i]
		if strings.Contains(s.Key, "*") && match(s.Key, key) {
			return s, key
		}
	}
	return nil, ""
}

// match reports whether key matches pattern, where each "*" stands for one
// or more characters.
func match(pattern, key string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == key
	}
	if !strings.HasPrefix(key, pattern[:star]) {
		return false
	}
	rest, key := pattern[star+1:], key[star:]
	// The star takes at least one character; try every length.
	for n := 1; n <= len(key); n++ {
		if match(rest, key[n:]) {
			return true
		}
	}
	return false
}

// wildPart returns the part of key matched by the pattern's wildcards: key
// without the pattern's literal prefix (before the first "*") and suffix
// (after the last "*").
func wildPart(pattern, key string) string {
	pre := pattern[:strings.IndexByte(pattern, '*')]
	suf := pattern[strings.LastIndexByte(pattern, '*')+1:]
	if len(pre)+len(suf) > len(key) {
		return ""
	}
	return key[len(pre) : len(key)-len(suf)]
}

// optionCandidates lists the keys a misspelt key may have meant; for a
// wildcard, its fields are filled from the key so that a typo in
// "auth.addr.export.alow" is one edit from "auth.addr.export.allow".
func (t *TypeSpec) optionCandidates(key string) (cands []string, display map[string]string) {
	display = map[string]string{}
	kf := strings.Split(key, ".")
	for _, s := range t.Options {
		if !strings.Contains(s.Key, "*") {
			cands = append(cands, s.Key)
			cands = append(cands, s.Aliases...)
			continue
		}
		pf := strings.Split(s.Key, ".")
		if len(pf) == len(kf) {
			for i := range pf {
				if strings.Contains(pf[i], "*") {
					pf[i] = kf[i]
				}
			}
		}
		c := strings.Join(pf, ".")
		cands = append(cands, c)
		display[c] = s.Key
	}
	return cands, display
}

// volumeOptions validates v's options against spec and returns them with
// defaults applied. ok is false when an option was malformed.
func volumeOptions(v *Volume, spec *TypeSpec, errs *errList) (Options, bool) {
	o := Options{vol: v, spec: spec, vals: map[string]*optValue{}}
	ok := true
	written := map[string]bool{} // canonical keys set, even if malformed
	for _, opt := range v.Options {
		s, canon := spec.lookup(opt.Key)
		if s != nil {
			written[canon] = true
		}
		if s == nil {
			errs.add(opt.Pos, unknownOptionHint(v.Type, spec, opt.Key),
				"unknown option %q for %s", opt.Key, v.Type)
			ok = false
			continue
		}
		if prev := o.vals[canon]; prev != nil {
			errs.add(opt.Pos, fmt.Sprintf("%q and %q are names of the same option; keep one", prev.written, opt.Key),
				"option %q repeats option %q (line %d)", opt.Key, prev.written, prev.pos.Line)
			ok = false
			continue
		}
		val, verr := parseKind(s, opt.Value)
		if verr == nil && ranged(s.Kind) {
			verr = checkRange(s, val)
		}
		if verr != nil {
			errs.add(opt.Pos, verr.hint, "option %s: %s", opt.Key, verr.msg)
			ok = false
			continue
		}
		o.vals[canon] = &optValue{spec: s, written: opt.Key, raw: opt.Value, val: val, set: true, pos: opt.Pos}
	}
	for i := range spec.Options {
		s := &spec.Options[i]
		if strings.Contains(s.Key, "*") || written[s.Key] {
			continue
		}
		if s.Required {
			hint := fmt.Sprintf("add `option %s VALUE`", s.Key)
			if s.Help != "" {
				hint += " (" + s.Help + ")"
			}
			errs.add(v.Pos, hint, "volume %q (%s) needs option %q", v.Name, v.Type, s.Key)
			ok = false
			continue
		}
		if s.Default != "" {
			val, _ := parseKind(s, s.Default) // checked by checkSpec
			o.vals[s.Key] = &optValue{spec: s, written: s.Key, raw: s.Default, val: val, pos: v.Pos}
		}
	}
	return o, ok
}

func unknownOptionHint(typ string, spec *TypeSpec, key string) string {
	cands, display := spec.optionCandidates(key)
	if s, ok := suggest(key, cands); ok {
		if d, wild := display[s]; wild {
			return fmt.Sprintf("did you mean %q (option %s)?", s, d)
		}
		return fmt.Sprintf("did you mean %q?", s)
	}
	if len(spec.Options) == 0 {
		return typ + " takes no options"
	}
	keys := make([]string, len(spec.Options))
	for i, s := range spec.Options {
		keys[i] = s.Key
	}
	return fmt.Sprintf("%s accepts %s", typ, strings.Join(keys, ", "))
}

func checkChildren(v *Volume, spec *TypeSpec, errs *errList) {
	n := len(v.Subvolumes)
	switch {
	case n < spec.MinChildren:
		p := v.SubvolumesPos
		if p.Line == 0 {
			p = v.Pos
		}
		errs.add(p, "list them with `subvolumes NAME1 NAME2 ...`",
			"volume %q: %s needs at least %d subvolume%s, got %d", v.Name, v.Type, spec.MinChildren, plural(spec.MinChildren), n)
	case spec.MaxChildren == 0 && n > 0:
		errs.add(v.SubvolumesPos, "it sits at the bottom of a graph: remove the subvolumes line",
			"volume %q: %s takes no subvolumes", v.Name, v.Type)
	case spec.MaxChildren != Unlimited && n > spec.MaxChildren:
		errs.add(v.SubvolumesPos, "stack the other subvolumes under a cluster translator such as cluster/replicate",
			"volume %q: %s takes at most %d subvolume%s, got %d", v.Name, v.Type, spec.MaxChildren, plural(spec.MaxChildren), n)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// NewOptions validates values (key → value as written in a volfile)
// against spec and applies defaults, as Check does for a volume. It lets
// translator packages test their BuildFunc without writing a volfile.
func NewOptions(spec *TypeSpec, values map[string]string) (Options, error) {
	if spec == nil {
		return Options{}, fmt.Errorf("volfile: NewOptions: nil TypeSpec")
	}
	if msg := checkSpec(spec); msg != "" {
		return Options{}, fmt.Errorf("volfile: invalid registration: %s", msg)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	v := &Volume{Name: "options", Pos: Pos{File: "<options>"}}
	for _, k := range keys {
		v.Options = append(v.Options, &Option{Key: k, Value: values[k], Pos: v.Pos})
	}
	var errs errList
	o, _ := volumeOptions(v, spec, &errs)
	if err := errs.err(); err != nil {
		return Options{}, err
	}
	return o, nil
}

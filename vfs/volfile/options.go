package volfile

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Options are the validated options of one volume, with defaults applied,
// handed to a BuildFunc. Values were parsed during validation, so the typed
// accessors cannot fail on user input.
//
// The accessors take an option's Key (or one of its Aliases, or for a
// wildcard spec a concrete key such as "auth.addr.export.allow"). An option
// that is neither set nor defaulted reads as the zero value. Asking for a
// key the type does not declare, or with the accessor of another kind,
// panics: that is a bug in the translator, which tests find at once, and
// silently reading zero would hide it.
type Options struct {
	vol  *Volume
	spec *TypeSpec
	vals map[string]*optValue // by canonical key
}

type optValue struct {
	spec    *OptionSpec
	written string // the key as written in the volfile (maybe an alias)
	raw     string // the value as written, or the default
	val     any
	set     bool
	pos     Pos
}

// Match is one option set under a wildcard key.
type Match struct {
	// Key is the key as written, such as "auth.addr.export_web_sites.allow".
	Key string
	// Wild is the part the wildcard matched, such as "export_web_sites".
	Wild  string
	Value string
	Pos   Pos
}

// get returns the value of key (nil when unset without default), checking
// that the key is declared and, unless kind is -1, of that kind.
func (o Options) get(key string, kind Kind) *optValue {
	if o.spec == nil {
		panic(fmt.Sprintf("volfile: option %q read from zero Options", key))
	}
	s, canon := o.spec.lookup(key)
	if s == nil {
		panic(fmt.Sprintf("volfile: option %q is not declared for %s (translator bug)", key, o.vol.Type))
	}
	if kind >= 0 && s.Kind != kind {
		panic(fmt.Sprintf("volfile: option %q of %s is a %v, read as a %v (translator bug)", key, o.vol.Type, s.Kind, kind))
	}
	return o.vals[canon]
}

// String returns the value as written (for an Enum, in the spec's
// spelling), or the default. It works for options of every kind.
func (o Options) String(key string) string {
	v := o.get(key, -1)
	if v == nil {
		return ""
	}
	if s, ok := v.val.(string); ok {
		return s
	}
	return v.raw
}

// Bool returns a Bool option.
func (o Options) Bool(key string) bool {
	if v := o.get(key, Bool); v != nil {
		return v.val.(bool)
	}
	return false
}

// Int returns an Int option.
func (o Options) Int(key string) int64 {
	if v := o.get(key, Int); v != nil {
		return v.val.(int64)
	}
	return 0
}

// Size returns a Size option in bytes.
func (o Options) Size(key string) int64 {
	if v := o.get(key, Size); v != nil {
		return v.val.(int64)
	}
	return 0
}

// Duration returns a Duration option.
func (o Options) Duration(key string) time.Duration {
	if v := o.get(key, Duration); v != nil {
		return v.val.(time.Duration)
	}
	return 0
}

// Percent returns a Percent option, from 0 to 100.
func (o Options) Percent(key string) float64 {
	if v := o.get(key, Percent); v != nil {
		return v.val.(float64)
	}
	return 0
}

// List returns a List option (a fresh slice the caller may keep).
func (o Options) List(key string) []string {
	if v := o.get(key, List); v != nil {
		return slices.Clone(v.val.([]string))
	}
	return nil
}

// IsSet reports whether the volfile sets the option (a default does not
// count).
func (o Options) IsSet(key string) bool {
	v := o.get(key, -1)
	return v != nil && v.set
}

// Pos returns where the option is set, or the volume's line when it is not.
func (o Options) Pos(key string) Pos {
	if v := o.get(key, -1); v != nil && v.set {
		return v.pos
	}
	return o.vol.Pos
}

// Matching returns the options set under a wildcard Key of the spec (such
// as "auth.addr.*.allow"), in file order.
func (o Options) Matching(pattern string) []Match {
	if !strings.Contains(pattern, "*") {
		return nil
	}
	var out []Match
	for _, v := range o.vals {
		if v.set && v.spec.Key == pattern {
			out = append(out, Match{Key: v.written, Wild: wildPart(pattern, v.written), Value: v.raw, Pos: v.pos})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Pos.Line < out[j].Pos.Line || (out[i].Pos.Line == out[j].Pos.Line && out[i].Key < out[j].Key)
	})
	return out
}

// Errorf returns an *Error positioned at the option's line (or the
// volume's, when the option is not set), for a BuildFunc to reject a value
// that is well-formed but unusable (a host that does not resolve, a
// directory that does not exist). Set Hint on the result to help the user.
func (o Options) Errorf(key string, format string, args ...any) *Error {
	p := o.Pos(key)
	return &Error{File: p.File, Line: p.Line, Msg: fmt.Sprintf("option %s: ", key) + fmt.Sprintf(format, args...)}
}

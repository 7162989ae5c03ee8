package volfile

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of an option's value.
type Kind int

const (
	// String accepts any value, as written.
	String Kind = iota
	// Bool accepts on/off, yes/no, true/false, enable/disable, 1/0 (any case).
	Bool
	// Int is a decimal integer (no octal or hex: "010" is ten).
	Int
	// Size is a byte count: a number with an optional binary unit, as
	// GlusterFS reads sizes (512MB = 512*1024*1024). See ParseSize.
	Size
	// Duration is a number of seconds (GlusterFS's form) or a Go duration
	// such as 1m30s or 500ms. See ParseDuration.
	Duration
	// Percent is a number from 0 to 100, with or without "%".
	Percent
	// Enum is one of OptionSpec.Enum (any case; read back in the spelling
	// of the spec).
	Enum
	// Path is an absolute path without ".." elements, as GlusterFS's path
	// options require.
	Path
	// List is a list of words separated by commas and/or white space.
	List
)

var kindNames = [...]string{"string", "bool", "int", "size", "duration", "percent", "enum", "path", "list"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func (k Kind) valid() bool { return k >= 0 && int(k) < len(kindNames) }

// Hints shown with malformed values: the expected form.
const (
	hintBool     = "expected on/off, yes/no, true/false, enable/disable or 1/0"
	hintInt      = "expected a whole decimal number, for example 16"
	hintSize     = "expected a number with optional unit KB/MB/GB/TB (or K/M/G/T, KiB/MiB/GiB/TiB); units are binary (1KB = 1024 bytes), no unit means bytes, for example 32MB"
	hintDuration = "expected a number of seconds (for example 60) or a duration with units (for example 60s, 2m, 1h30m, 500ms)"
	hintPercent  = "expected a number from 0 to 100, with or without %, for example 10%"
	hintPath     = "expected an absolute path without .. elements, for example /data/export"
	hintList     = "expected words separated by commas, for example 10.0.0.1,10.0.0.2"
)

var boolWords = map[string]bool{
	"on": true, "yes": true, "true": true, "enable": true, "1": true,
	"off": false, "no": false, "false": false, "disable": false, "0": false,
}

// ParseBool reads a boolean the way GlusterFS does (gf_string2boolean):
// on/off, yes/no, true/false, enable/disable or 1/0, in any case.
func ParseBool(s string) (bool, error) {
	b, ok := boolWords[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return false, fmt.Errorf("malformed boolean %q; %s", s, hintBool)
	}
	return b, nil
}

var sizeUnits = map[string]int64{
	"": 1, "B": 1,
	"K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10,
	"M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20,
	"G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30,
	"T": 1 << 40, "TB": 1 << 40, "TIB": 1 << 40,
	"P": 1 << 50, "PB": 1 << 50, "PIB": 1 << 50,
}

// ParseSize reads a byte size the way GlusterFS does (gf_string2bytesize):
// a number, optionally with a fraction, followed by an optional unit. Units
// are binary whatever their spelling, so 512MB, 512M and 512MiB are all
// 512*1024*1024; a plain number is bytes. Case and a space before the unit
// do not matter.
func ParseSize(s string) (int64, error) {
	bad := func() (int64, error) { return 0, fmt.Errorf("malformed size %q; %s", s, hintSize) }
	t := strings.TrimSpace(s)
	num, unit, ok := splitNumber(t)
	if !ok {
		return bad()
	}
	mult, ok := sizeUnits[strings.ToUpper(strings.TrimSpace(unit))]
	if !ok {
		return bad()
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		return n * mult, nil
	}
	x, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return bad()
	}
	x *= float64(mult)
	if x >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(x), nil
}

// splitNumber splits s into a leading unsigned decimal number (digits with
// at most one '.', at least one digit) and the rest.
func splitNumber(s string) (num, rest string, ok bool) {
	i, digits, dots := 0, 0, 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits++
		} else if c == '.' && dots == 0 {
			dots++
		} else {
			break
		}
	}
	return s[:i], s[i:], digits > 0
}

// ParseDuration reads a duration: a plain number is seconds, as GlusterFS
// writes timeouts (60, or 0.5), and anything time.ParseDuration accepts
// (60s, 2m, 1h30m, 500ms) is accepted too. Negative durations are not.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if num, rest, ok := splitNumber(t); ok && rest == "" {
		x, err := strconv.ParseFloat(num, 64)
		if err != nil || x*1e9 >= math.MaxInt64 {
			return 0, fmt.Errorf("duration %q is too large", s)
		}
		return time.Duration(x * 1e9), nil
	}
	if t == "" || t[0] == '-' || t[0] == '+' {
		return 0, fmt.Errorf("malformed duration %q; %s", s, hintDuration)
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("malformed duration %q; %s", s, hintDuration)
	}
	return d, nil
}

// ParsePercent reads a percentage from 0 to 100, written with or without a
// trailing "%" (GlusterFS's gf_string2percent).
func ParsePercent(s string) (float64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSpace(strings.TrimSuffix(t, "%"))
	num, rest, ok := splitNumber(t)
	if !ok || rest != "" {
		return 0, fmt.Errorf("malformed percentage %q; %s", s, hintPercent)
	}
	x, err := strconv.ParseFloat(num, 64)
	if err != nil || x > 100 {
		return 0, fmt.Errorf("percentage %q is out of range; %s", s, hintPercent)
	}
	return x, nil
}

// parseList splits a list value at commas and white space.
func parseList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\r'
	})
}

// valueError is a malformed value: what is wrong and the expected form.
type valueError struct{ msg, hint string }

// parseKind converts raw to the Go value of the spec's kind: string, bool,
// int64, int64 (bytes), time.Duration, float64, string (enum, in the
// spec's spelling), string (path) or []string.
func parseKind(spec *OptionSpec, raw string) (any, *valueError) {
	switch spec.Kind {
	case String:
		return raw, nil
	case Bool:
		b, err := ParseBool(raw)
		if err != nil {
			return nil, &valueError{fmt.Sprintf("malformed boolean %q", raw), hintBool}
		}
		return b, nil
	case Int:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return nil, &valueError{fmt.Sprintf("integer %q is out of range", raw), rangeHint(spec, hintInt)}
			}
			return nil, &valueError{fmt.Sprintf("malformed integer %q", raw), hintInt}
		}
		return n, nil
	case Size:
		n, err := ParseSize(raw)
		if err != nil {
			if strings.HasPrefix(err.Error(), "malformed") {
				return nil, &valueError{fmt.Sprintf("malformed size %q", raw), hintSize}
			}
			return nil, &valueError{err.Error(), rangeHint(spec, hintSize)}
		}
		return n, nil
	case Duration:
		d, err := ParseDuration(raw)
		if err != nil {
			if strings.HasPrefix(err.Error(), "malformed") {
				return nil, &valueError{fmt.Sprintf("malformed duration %q", raw), hintDuration}
			}
			return nil, &valueError{err.Error(), rangeHint(spec, hintDuration)}
		}
		return d, nil
	case Percent:
		x, err := ParsePercent(raw)
		if err != nil {
			if strings.HasPrefix(err.Error(), "malformed") {
				return nil, &valueError{fmt.Sprintf("malformed percentage %q", raw), hintPercent}
			}
			return nil, &valueError{fmt.Sprintf("percentage %q is out of range", raw), hintPercent}
		}
		return x, nil
	case Enum:
		for _, e := range spec.Enum {
			if strings.EqualFold(e, raw) {
				return e, nil
			}
		}
		hint := "expected one of " + strings.Join(spec.Enum, ", ")
		if s, ok := suggest(raw, spec.Enum); ok {
			hint = fmt.Sprintf("did you mean %q? Expected one of %s", s, strings.Join(spec.Enum, ", "))
		}
		return nil, &valueError{fmt.Sprintf("invalid value %q", raw), hint}
	case Path:
		if !strings.HasPrefix(raw, "/") {
			return nil, &valueError{fmt.Sprintf("%q is not an absolute path", raw), hintPath}
		}
		for _, el := range strings.Split(raw, "/") {
			if el == ".." {
				return nil, &valueError{fmt.Sprintf("path %q contains ..", raw), hintPath}
			}
		}
		return raw, nil
	case List:
		l := parseList(raw)
		if len(l) == 0 {
			return nil, &valueError{fmt.Sprintf("empty list %q", raw), hintList}
		}
		return l, nil
	}
	return nil, &valueError{fmt.Sprintf("option has unknown kind %v", spec.Kind), "this is a bug in the translator's registration"}
}

// checkRange checks a parsed numeric value against the spec's Min and Max
// (written in the kind's own syntax; parsed by checkSpec beforehand).
func checkRange(spec *OptionSpec, val any) *valueError {
	lo, hi, err := specBounds(spec)
	if err != nil {
		return nil // reported by checkSpec
	}
	switch {
	case lo != nil && compare(val, lo) < 0:
		return &valueError{fmt.Sprintf("%s is below the minimum %s", describe(spec, val), spec.Min), rangeHint(spec, "")}
	case hi != nil && compare(val, hi) > 0:
		return &valueError{fmt.Sprintf("%s is above the maximum %s", describe(spec, val), spec.Max), rangeHint(spec, "")}
	}
	return nil
}

func describe(spec *OptionSpec, val any) string {
	switch v := val.(type) {
	case time.Duration:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64) + "%"
	case int64:
		if spec.Kind == Size {
			return fmt.Sprintf("%d bytes", v)
		}
		return strconv.FormatInt(v, 10)
	}
	return fmt.Sprint(val)
}

func rangeHint(spec *OptionSpec, fallback string) string {
	switch {
	case spec.Min != "" && spec.Max != "":
		return fmt.Sprintf("allowed range is %s to %s", spec.Min, spec.Max)
	case spec.Min != "":
		return "the minimum is " + spec.Min
	case spec.Max != "":
		return "the maximum is " + spec.Max
	}
	return fallback
}

// compare orders two values of the same numeric kind exactly (int64 via
// float64 would round near the limits).
func compare(a, b any) int {
	switch x := a.(type) {
	case int64:
		return cmp.Compare(x, b.(int64))
	case time.Duration:
		return cmp.Compare(x, b.(time.Duration))
	case float64:
		return cmp.Compare(x, b.(float64))
	}
	return 0
}

// ranged reports whether Min and Max apply to the kind.
func ranged(k Kind) bool { return k == Int || k == Size || k == Duration || k == Percent }

// specBounds parses Min and Max (nil when empty).
func specBounds(spec *OptionSpec) (lo, hi any, err error) {
	if !ranged(spec.Kind) {
		return nil, nil, nil
	}
	parse := func(s string) (any, error) {
		if s == "" {
			return nil, nil
		}
		v, verr := parseKind(&OptionSpec{Kind: spec.Kind}, s)
		if verr != nil {
			return nil, errors.New(verr.msg)
		}
		return v, nil
	}
	if lo, err = parse(spec.Min); err != nil {
		return nil, nil, fmt.Errorf("bad Min: %v", err)
	}
	if hi, err = parse(spec.Max); err != nil {
		return nil, nil, fmt.Errorf("bad Max: %v", err)
	}
	return lo, hi, nil
}

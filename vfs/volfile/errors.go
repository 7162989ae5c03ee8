package volfile

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Pos is a place in a volfile.
type Pos struct {
	File string
	Line int // 1-based; 0 when unknown (a File built by hand)
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Error is one problem found in a volfile. Several are returned joined with
// errors.Join; Errors splits them again.
type Error struct {
	File string
	Line int
	Msg  string
	// Hint says how to fix it (the expected form, a did-you-mean, ...).
	Hint string
	// Err is the underlying cause when the problem came from elsewhere
	// (a translator's Build function, a cancelled context), so that
	// errors.Is(err, syscall.ECONNREFUSED) and the like keep working.
	Err error
}

// Error formats the problem as "file:line: msg (hint: ...)".
func (e *Error) Error() string {
	s := fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	if e.Hint != "" {
		s += " (hint: " + e.Hint + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errors returns the *Error values inside err (as returned by Parse, Check or
// Build), in order. Errors that are not *Error (none are expected) are
// wrapped in one without a position.
func Errors(err error) []*Error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		return []*Error{e}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*Error
		for _, e := range j.Unwrap() {
			out = append(out, Errors(e)...)
		}
		return out
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return []*Error{{Msg: err.Error(), Err: err}}
}

// errList collects problems in the order found.
type errList []*Error

func (l *errList) add(p Pos, hint, format string, args ...any) *Error {
	e := &Error{File: p.File, Line: p.Line, Msg: fmt.Sprintf(format, args...), Hint: hint}
	*l = append(*l, e)
	return e
}

// err sorts the problems by file and line (stably, so problems on one line
// keep the order they were found in) and joins them; nil if there are none.
func (l errList) err() error {
	if len(l) == 0 {
		return nil
	}
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].File != l[j].File {
			return l[i].File < l[j].File
		}
		return l[i].Line < l[j].Line
	})
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// suggest returns the candidate closest to name, if one is close enough to
// be a plausible typo: within an edit distance of a third of the name's
// length (at least 1), equal but for case, or equal to the candidate's part
// after a "/" (a translator type written without its category). Ties go to
// the earliest candidate.
func suggest(name string, candidates []string) (string, bool) {
	best, bestD := "", -1
	limit := len(name) / 3
	if limit < 1 {
		limit = 1
	}
	for _, c := range candidates {
		if c == name {
			continue
		}
		d := distance(name, c)
		if strings.EqualFold(c, name) {
			d = 0
		} else if i := strings.LastIndexByte(c, '/'); i >= 0 && c[i+1:] == name {
			d = 0
		} else if d > limit {
			continue
		}
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD >= 0
}

// distance is the optimal-string-alignment edit distance (insertions,
// deletions, substitutions and transpositions of adjacent bytes), so that
// "optoin" is one edit from "option".
func distance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		// Names this long are not typos of each other; keep the
		// quadratic cost bounded for hostile input.
		if a == b {
			return 0
		}
		return max(len(a), len(b))
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

package volfile

import (
	"strings"
	"testing"
)

// posix is a valid storage/posix block on lines 1-4.
const posix = "volume p\ntype storage/posix\noption directory /x\nend-volume\n"

// over stacks a block of the given type and option lines over p, starting
// at line 5: volume on 5, type on 6, options from 7, then subvolumes p.
func over(typ string, options ...string) string {
	s := "volume top\ntype " + typ + "\n"
	for _, o := range options {
		s += "option " + o + "\n"
	}
	return posix + s + "subvolumes p\nend-volume\n"
}

func TestCheckErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		wants []want
	}{
		{"unknown type with did-you-mean",
			over("performance/iothreads"),
			[]want{{6, `volume "top": unknown translator type "performance/iothreads"`, `did you mean "performance/io-threads"?`}}},
		{"unknown type without category",
			over("io-cache"),
			[]want{{6, `unknown translator type "io-cache"`, `did you mean "performance/io-cache"?`}}},
		{"unknown type lists the registered ones",
			over("storage/zfs-on-mars"),
			[]want{{6, `unknown translator type "storage/zfs-on-mars"`, "registered types are cluster/afr, cluster/replicate, features/locks"}}},
		{"unknown option with did-you-mean",
			over("performance/io-cache", "cache-sise 64MB"),
			[]want{{7, `unknown option "cache-sise" for performance/io-cache`, `did you mean "cache-size"?`}}},
		{"unknown option lists the known ones",
			over("performance/io-threads", "frobnication 3"),
			[]want{{7, `unknown option "frobnication"`, "performance/io-threads accepts thread-count"}}},
		{"unknown wildcard option with did-you-mean",
			over("protocol/server", "auth.addr.export.alow *"),
			[]want{{7, `unknown option "auth.addr.export.alow" for protocol/server`, `did you mean "auth.addr.export.allow" (option auth.addr.*.allow)?`}}},
		{"type alias shares the spec",
			posix + "volume r\ntype cluster/afr\noption favourite-child-policy mtime\nsubvolumes p\nend-volume\n",
			[]want{
				{7, `unknown option "favourite-child-policy" for cluster/afr`, `did you mean "favorite-child-policy"?`},
				{8, "cluster/afr needs at least 2 subvolumes, got 1", ""},
			}},
		{"malformed size",
			over("performance/io-cache", "cache-size 512XB # default is 32MB"),
			[]want{{7, `option cache-size: malformed size "512XB"`, "expected a number with optional unit KB/MB/GB/TB (or K/M/G/T, KiB"}}},
		{"size below minimum",
			over("performance/io-cache", "cache-size 1MB"),
			[]want{{7, "option cache-size: 1048576 bytes is below the minimum 4MB", "allowed range is 4MB to 32GB"}}},
		{"malformed integer",
			over("performance/io-threads", "thread-count sixty-four"),
			[]want{{7, `option thread-count: malformed integer "sixty-four"`, "expected a whole decimal number"}}},
		{"integer above maximum",
			over("performance/io-threads", "thread-count 65"),
			[]want{{7, "option thread-count: 65 is above the maximum 64", "allowed range is 1 to 64"}}},
		{"duration above maximum",
			over("performance/io-cache", "cache-timeout 61"),
			[]want{{7, "option cache-timeout: 1m1s is above the maximum 60", "allowed range is 0 to 60"}}},
		{"malformed duration",
			over("performance/io-cache", "cache-timeout soon"),
			[]want{{7, `option cache-timeout: malformed duration "soon"`, "expected a number of seconds (for example 60) or a duration with units"}}},
		{"malformed percent",
			over("performance/io-cache", "min-free-disk 120%"),
			[]want{{7, `option min-free-disk: percentage "120%" is out of range`, "from 0 to 100"}}},
		{"malformed bool",
			over("protocol/server", "transport.socket.nodelay maybe"),
			[]want{{7, `option transport.socket.nodelay: malformed boolean "maybe"`, "on/off, yes/no, true/false, enable/disable or 1/0"}}},
		{"enum with did-you-mean",
			over("protocol/server", "transport-type tpc"),
			[]want{{7, `option transport-type: invalid value "tpc"`, `did you mean "tcp"? Expected one of tcp, socket, rdma, unix`}}},
		{"relative path",
			"volume p\ntype storage/posix\noption directory data/export\nend-volume\n",
			[]want{{3, `option directory: "data/export" is not an absolute path`, "expected an absolute path"}}},
		{"path with ..",
			"volume p\ntype storage/posix\noption directory /data/../etc\nend-volume\n",
			[]want{{3, `option directory: path "/data/../etc" contains ..`, ""}}},
		{"empty list",
			over("protocol/server", "auth.addr.x.allow ,"),
			[]want{{7, `option auth.addr.x.allow: empty list ","`, "separated by commas"}}},
		{"option and its alias",
			over("performance/io-cache", "cache-timeout 1", "force-revalidate-timeout 2"),
			[]want{{8, `option "force-revalidate-timeout" repeats option "cache-timeout" (line 7)`, "names of the same option"}}},
		{"required option missing",
			"volume p\ntype storage/posix\nend-volume\n",
			[]want{{1, `volume "p" (storage/posix) needs option "directory"`, "add `option directory VALUE` (the export directory)"}}},
		{"subvolumes on a bottom translator",
			posix + "volume q\ntype storage/posix\noption directory /y\nsubvolumes p\nend-volume\n",
			[]want{{8, `volume "q": storage/posix takes no subvolumes`, "remove the subvolumes line"}}},
		{"too few subvolumes, none listed",
			"volume l\ntype features/locks\nend-volume\n",
			[]want{{1, `volume "l": features/locks needs at least 1 subvolume, got 0`, "subvolumes NAME1"}}},
		{"too few subvolumes for replicate",
			posix + "volume r\ntype cluster/replicate\nsubvolumes p\nend-volume\n",
			[]want{{7, `volume "r": cluster/replicate needs at least 2 subvolumes, got 1`, ""}}},
		{"too many subvolumes",
			posix + strings.ReplaceAll(posix, "volume p", "volume p2") + "volume l\ntype features/locks\nsubvolumes p p2\nend-volume\n",
			[]want{{11, `volume "l": features/locks takes at most 1 subvolume, got 2`, "cluster/replicate"}}},
		{"graph, type and option errors together, in line order",
			"volume c\ntype protocol/client\noption remote-host h\noption remote-subvolume x\noption ping-timeout -5\nend-volume\n" +
				"volume top\ntype performance/io-cach\nsubvolumes c d\nend-volume\n",
			[]want{
				{5, `option ping-timeout: malformed duration "-5"`, ""},
				{8, `unknown translator type "performance/io-cach"`, `did you mean "performance/io-cache"?`},
				{9, `subvolume "d" is not defined`, ""},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, "t.vol", tt.src)
			checkErrors(t, "t.vol", Check(f, fakeRegistry(nil)), tt.wants)
		})
	}
}

func TestCheckRegistryProblems(t *testing.T) {
	f := mustParse(t, "t.vol", posix)
	// Every type unknown: an empty registry says so.
	checkErrors(t, "t.vol", Check(f, nil), []want{{2, `unknown translator type "storage/posix"`, "no translator types are registered"}})

	bad := []struct {
		name string
		spec TypeSpec
		msg  string
	}{
		{"bad default", TypeSpec{Options: []OptionSpec{{Key: "directory", Kind: Int, Default: "x"}}}, `option "directory": bad default: malformed integer "x"`},
		{"default out of range", TypeSpec{Options: []OptionSpec{{Key: "directory", Kind: Int, Default: "9", Max: "5"}}}, "bad default: 9 is above the maximum 5"},
		{"bad min", TypeSpec{Options: []OptionSpec{{Key: "directory", Kind: Size, Min: "lots"}}}, `bad Min: malformed size "lots"`},
		{"enum without values", TypeSpec{Options: []OptionSpec{{Key: "directory", Kind: Enum}}}, "has no values"},
		{"duplicate key", TypeSpec{Options: []OptionSpec{{Key: "directory"}, {Key: "d", Aliases: []string{"directory"}}}}, "declared twice"},
		{"wildcard default", TypeSpec{Options: []OptionSpec{{Key: "x.*", Default: "1"}}}, "wildcard option"},
		{"bad kind", TypeSpec{Options: []OptionSpec{{Key: "directory", Kind: Kind(42)}}}, "unknown kind Kind(42)"},
		{"bad bounds", TypeSpec{MinChildren: 2, MaxChildren: 1}, "bad subvolume bounds 2..1"},
	}
	for _, b := range bad {
		spec := b.spec
		err := Check(f, Registry{"storage/posix": &spec})
		checkErrors(t, "t.vol", err, []want{{2, b.msg, "bug in the program's translator registration"}})
		if !strings.Contains(err.Error(), `volume "p": registration of type "storage/posix" is invalid: `) {
			t.Errorf("%s: %v", b.name, err)
		}
	}
}

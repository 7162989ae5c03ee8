// Package volfile parses GlusterFS 3.x volfiles and builds translator
// stacks (vfs.Translator graphs) from them.
//
// A volfile is a list of blocks:
//
//	volume NAME
//	    type CATEGORY/TRANSLATOR
//	    option KEY VALUE
//	    subvolumes CHILD1 CHILD2 ...
//	end-volume
//
// Work happens in four levels, each reporting every error it finds (not just
// the first) as *Error values joined with errors.Join, each carrying the file
// name, a line number and usually a hint:
//
//  1. Parse: syntax and the shape of each block (unknown keywords, missing
//     end-volume, statements outside a block, missing or repeated type,
//     repeated options, repeated volume names, an empty file). Both files of
//     the seed tutorial pass this level verbatim.
//  2. (*File).CheckGraph: references between volumes (a subvolume that is
//     not defined, with a did-you-mean; one defined only later; a volume
//     that is its own subvolume; cycles). The seed's client file fails here.
//  3. Check: the above plus the schema of each translator type from a
//     Registry the caller passes in (unknown types and options with
//     did-you-mean, malformed or out-of-range values with the expected form,
//     required options, the number of subvolumes).
//  4. Build: the above, then constructs the translators bottom-up, each
//     volume once (a subvolume shared by two parents is built once and given
//     to both).
//
// Compatibility choices, where GlusterFS 3.x's lexer (graph.l) and grammar
// (graph.y) differ from what a user might expect:
//
//   - Keywords are lower case, as in GlusterFS; `Volume` is an unknown
//     keyword (with a hint).
//   - '#' starts a comment only at the start of a word (at the start of a
//     line or after white space), as in GlusterFS, so `option k a#b` has the
//     value "a#b".
//   - White space is space, tab and CR, so CRLF files parse unchanged. A
//     leading UTF-8 byte-order mark is ignored.
//   - An option's value is the rest of the line, trimmed (GlusterFS accepts
//     a single word only). A value written as one double-quoted string has
//     the quotes removed and backslash escapes resolved (`\x` is x), as
//     GlusterFS's STRING tokens do; Format writes such quotes back when a
//     value needs them. Quotes are not special in names, types or keys.
//   - A subvolume must be defined before the volume that names it (GlusterFS
//     "is not defined prior to usage"); a volume may have one subvolumes
//     line. Any other statement order inside a block is accepted.
//   - A repeated option key is an error, not "the last one wins".
//   - The top of the graph is the volume no other volume names; if several
//     are, the last one defined. Build builds only the volumes reachable from
//     the top (GlusterFS initialises the others too, but nothing can send
//     them requests); Check still validates every volume.
//
// A File is not modified by Check or Build and may be shared between
// goroutines once parsed. Registries are passed in, never global: the
// translator packages do not register themselves.
package volfile

// Package stack is cairn's composition root: the registry that maps each
// GlusterFS translator type a volfile may name (storage/posix,
// features/locks, protocol/server, protocol/client, cluster/replicate, ...)
// to its options and its constructor. Translator packages never import each
// other; this package is the only one that knows them all.
//
// protocol/server is special: it is a listener, not a translator. Its build
// result is a *ServerNode that passes operations through to its first
// subvolume (so the graph stays a tree of translators) and carries the
// gRPC server and listen address for `cairn brick` to serve.
package stack

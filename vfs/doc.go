// Package vfs defines the translator interface that every layer of cairn
// implements, on the brick side (storage/posix, features/locks,
// performance/io-threads) and on the client side (protocol/client,
// cluster/replicate, performance/io-cache, ...), exactly as one xlator API
// serves both sides in GlusterFS.
//
// Conventions every translator follows:
//
//   - Files are addressed by GFID, a 128-bit id stored on every brick in the
//     trusted.cairn.gfid xattr. Namespace operations add a parent GFID and a
//     single path component (never a path: no "/", no NUL, not "." or "..").
//   - context.Context is the first argument; the caller's identity travels in
//     it (WithCaller / CallerFrom) so that bricks can check permissions and
//     set owners of new files.
//   - Errors are syscall.Errno, 0 meaning success, so ENOENT from a brick's
//     disk reaches the application unchanged.
//   - A Handle of 0 is an "anonymous fd" (GlusterFS's term): the operation is
//     done by GFID without an earlier Open. The NFS gateway relies on this.
//   - Translators hold no global state; stacks are built from volfiles.
package vfs

// Package fusetest holds cairn's end-to-end checks of a FUSE mount, shared
// by the client package's tests (stacks built in a server subprocess) and
// by integration/fuse (real brick processes, mount.cairn):
//
//   - Posix: go-fuse's posixtest suite, each test in a fresh directory;
//   - Tools: df, ls -l, cp -a in and out, tar round trip, git, sqlite3,
//     POSIX/OFD/flock locks across processes, shared writable mmap;
//   - Differential: a seeded random sequence of operations done by
//     syscalls on the mount and on a local directory, results compared;
//   - TwoMounts: changes made through one mount are seen through another
//     within the cache timeouts.
//
// The checks never serve FUSE from the process that touches the mount:
// go-fuse documents deadlocks when a process forks or mmaps files of a
// mount it serves itself. Start runs the mount in a subprocess (the test
// binary again, entering Serve from TestMain).
package fusetest

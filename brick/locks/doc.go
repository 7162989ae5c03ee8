// Package locks is cairn's features/locks translator: it keeps every lock a
// brick grants, in memory, in front of storage/posix (which knows nothing of
// locks), exactly where GlusterFS's features/locks sits in a brick graph.
//
// Four independent namespaces are served, none of them forwarded to the
// child:
//
//   - POSIX record locks (SetLk/GetLk with vfs.PosixLock), with fcntl(2)
//     semantics: an owner holds at most one lock type per byte; setting a
//     range replaces, splits and merges the owner's existing ranges; locks of
//     one owner never conflict with each other, so upgrades and downgrades
//     are atomic.
//   - flock(2) locks (vfs.FlockLock): whole-file, one lock per owner. As in
//     Linux, converting a lock first drops the old one, so two shared holders
//     that both upgrade cannot deadlock (and a failed non-blocking
//     conversion leaves no lock).
//   - inode locks (InodeLk, GlusterFS inodelk): byte ranges of a GFID within
//     a named domain, used by cluster/replicate to serialise data and
//     metadata transactions. They are counted, not merged: each grant is a
//     separate lock and each unlock drops one matching grant; unlocking a
//     lock that is not held is EINVAL.
//   - entry locks (EntryLk, GlusterFS entrylk): a name in a parent directory
//     within a domain; the name "" stands for the whole directory and
//     conflicts with every name. Counted like inode locks.
//
// An owner is the pair (vfs.CallerFrom(ctx).Client, lock owner): the same
// 64-bit owner from two client connections is two owners.
//
// Blocking requests (wait=true) queue in arrival order and are granted as
// soon as nothing conflicts; a cancelled context gives EINTR. Queueing is
// fair enough not to starve: a request that would conflict with an earlier
// queued request of another owner queues behind it (so a stream of readers
// cannot starve a waiting writer) unless its owner already holds a lock on
// the same object, which avoids the deadlock of an upgrade waiting behind a
// request that waits for the upgrader. Non-blocking POSIX and flock requests
// are judged against granted locks only, so F_SETLK agrees with F_GETLK;
// non-blocking inode and entry locks respect the queue, as in GlusterFS.
//
// A blocking POSIX request that would close a cycle of owners waiting for
// each other fails with EDEADLK instead of waiting (best effort, as in
// Linux: all threads of a process share an owner).
//
// Locks are not persistent: the brick server calls ReleaseClient when a
// connection closes, and front ends call ReleaseOwner when a process closes
// a file (POSIX drops all of a process's locks on a file at any close).
//
// Errno: EINVAL (bad type or range, unlock of an inode/entry lock not held),
// EAGAIN (conflict, no wait), EINTR (wait cancelled), EDEADLK, ENOTCONN
// (the waiting client disconnected).
//
// One mutex guards all state; every operation under it is a short scan of
// the locks of a single object.
package locks

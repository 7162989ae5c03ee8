// Package replicate is cairn's cluster/replicate translator: GlusterFS AFR
// semantics over two or more children that each hold a full copy.
//
// # Changelog
//
// Every brick keeps, on every file and directory, a row of the changelog
// matrix: three big-endian int32 counters (data, metadata, entry) about
// every child. It is stored as the counters about itself in
// trusted.cairn.dirty (DirtyKey) and, for each other child, the
// difference from those in trusted.cairn.pending.<child> (PendingPrefix),
// so that a transaction that succeeds everywhere writes only the short
// dirty xattr, which stays inside an ext4 inode. A modifying operation is
// a transaction:
//
//  1. lock: an inode lock (domain "replicate", for data and metadata
//     alike) or entry locks on (parent, name) for namespace operations,
//     on every reachable child;
//  2. pre-op: on every locked child, add 1 to every child's counter of the
//     kind (2 for children already unreachable, which blames them at once);
//  3. the operation, on the locked children in parallel;
//  4. post-op: subtract 1 for every child where it succeeded;
//  5. unlock.
//
// Lock and pre-op travel in one compound request per child
// (protocol/compound), and so do post-op and unlock. Transactions are
// eager where it pays:
//
//   - data: the inode lock is kept and the post-op delayed while the file
//     keeps being written (PostOpDelay, EagerLockMaxHold, GlusterFS's
//     eager-lock and post-op-delay-secs), so a write stream costs one
//     round trip per write; Create starts the new file's data transaction
//     in its own request, so the first write costs one round trip too;
//     the last close queues the release, post-op and unlock to travel in
//     front of the next request to each child (the next create of a burst
//     of small files), so a small file costs two requests per child;
//   - entry: a directory that keeps changing keeps one entry pre-op (an
//     "entry window", held by an entry lock in a domain of its own that
//     only entry self-heal's whole-directory lock conflicts with); each
//     namespace operation then only takes its name locks, and creations
//     and unlinks send the name lock and the operation in one request
//     (undone and redone the slow way if another client holds the lock
//     somewhere; bricks hold what such an unlink removes, so that it can
//     be undone);
//     the name unlocks then travel in front of the next request to each
//     child (the release of the new file, the next create), or on their
//     own after a couple of milliseconds;
//   - metadata: data and metadata share one inode window (one lock, in
//     the data domain; the pre-op of each kind is added when the window
//     first needs it), so a new file's owner, mode and times change
//     inside the transaction its create opened, one round trip each, and
//     a metadata change of a file nobody writes opens an eager window of
//     its own.
//
// None of this delays blame: an operation that succeeds on some children
// and fails on others adds +1 for the failed ones on the successful ones
// before it returns, so an acknowledged change is never mistaken for
// missing, even if this client dies before its post-op.
//
// Reading a changelog (judge): on child i, M[i][j] > M[i][i] means i saw
// a transaction complete that j missed, so i blames j. Children nobody
// blames are sources; reads go to a source (a configured read-subvolume,
// else one chosen by GFID hash); blamed children are sinks. When every
// child is blamed the file is in split-brain: reads and writes of that
// kind fail with EIO and a log line names the file and the bricks, until
// favorite-child-policy (mtime, ctime, size, majority) or an operator
// (ResolveSplitBrain) picks a source. Counters that are equal but not zero
// (a client died mid-transaction) blame nobody; heal converges the copies
// on the biggest, then newest.
//
// # GFIDs
//
// Replicate chooses the GFID of every object it creates (vfs.NewGFID), so
// every copy has the same one. Lookup compares GFIDs across children; a
// name with different GFIDs that the parent's changelog cannot explain is
// a GFID split-brain: logged, EIO.
//
// # Quorum
//
// QuorumType none (default), auto (more than half the children, or exactly
// half including the first) or fixed (QuorumCount). A modification that
// cannot lock, or cannot succeed on, a quorum of children fails with
// ENOTCONN, as GlusterFS >= 3.13 does (earlier versions gave EROFS).
// Reads are allowed whenever one good copy is reachable.
//
// # Self-heal
//
// A lookup or getattr that finds non-zero counters, or children that
// disagree about a name, starts a background heal (at most
// BackgroundSelfHealCount at once; more are left to the daemon). Heal takes
// the kind's lock on every reachable child, reads the changelog again,
// copies from a source to the sinks — data (full, or diff: only differing
// blocks; the Checksummer child capability avoids moving sink data),
// metadata (mode, owner, times, user xattrs), entries (missing names
// created with the same GFID, hard links by GFID, renamed directories
// moved, names deleted while a sink was away removed) — then subtracts
// the counters it read. HealIndex walks each child's index of dirty GFIDs
// (DirtyLister, or the virtual xattr XattrIndexDirty on the root for
// remote bricks); HealFull crawls the tree; Info lists dirty entries per
// brick, marking split-brain; ResolveSplitBrain applies an operator's
// choice.
//
// # Children
//
// A child that implements Upper (protocol/client after ping-timeout) and
// reports itself down is skipped; any call failing with ENOTCONN (or
// another transport errno) counts as that child being down for that call.
//
// Errno: every errno of vfs.Translator, plus EIO for split-brain and
// ENOTCONN when quorum is lost or no good copy is reachable.
package replicate

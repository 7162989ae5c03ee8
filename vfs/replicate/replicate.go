package replicate

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/internal/gopool"
	"github.com/cairnfs/cairn/vfs"
)

// Favorite-child policies (GlusterFS cluster.favorite-child-policy).
const (
	PolicyNone     = "none"
	PolicyMtime    = "mtime"
	PolicySize     = "size"
	PolicyCtime    = "ctime"
	PolicyMajority = "majority"
)

// Quorum types (GlusterFS cluster.quorum-type).
const (
	QuorumNone  = "none"
	QuorumAuto  = "auto"
	QuorumFixed = "fixed"
)

// Data self-heal algorithms (GlusterFS cluster.data-self-heal-algorithm).
const (
	HealFullAlgorithm = "full"
	HealDiffAlgorithm = "diff"
)

// Config configures a replicate translator. Field names follow the
// GlusterFS options of cluster/replicate; ConfigFromOptions parses those.
//
// The zero value of the booleans means "off": start from DefaultConfig to
// get GlusterFS's defaults (self-heals on).
type Config struct {
	// ReadSubvolume is the index of the child that serves reads whenever
	// it is readable (option read-subvolume); -1 spreads reads over the
	// readable children by GFID hash (GlusterFS read-hash-mode 1).
	ReadSubvolume int
	// SplitReads lets a large read past a file's first bytes be served
	// by every good copy at once, one part each (see splitRead), whatever
	// ReadSubvolume says; small reads and attributes still come from the
	// read child. Off (the default) keeps every read on the read child,
	// as GlusterFS does. It pays where the bricks have their own disks
	// and CPUs; with both bricks and the client on one 2-core machine
	// and one disk it measured no faster for FUSE and 8-15 % slower for
	// NFS reads (docs/NOTES.md).
	SplitReads bool
	// FavoriteChildPolicy resolves split-brain automatically:
	// none|mtime|size|ctime|majority.
	FavoriteChildPolicy string
	// QuorumType is none|auto|fixed; QuorumCount applies to fixed. A
	// modification that cannot reach quorum fails with ENOTCONN, as
	// GlusterFS >= 3.13 does (earlier versions returned EROFS). Reads are
	// never subject to quorum.
	QuorumType  string
	QuorumCount int
	// DataSelfHeal, MetadataSelfHeal and EntrySelfHeal enable heals
	// triggered by this client's lookups (the daemon heals regardless).
	DataSelfHeal     bool
	MetadataSelfHeal bool
	EntrySelfHeal    bool
	// SelfHealDaemon runs an index heal in a goroutine of this translator
	// every HealInterval and whenever a child comes back up.
	SelfHealDaemon bool
	// BackgroundSelfHealCount bounds the heals triggered by lookups that
	// run at once; more are dropped (the index keeps them for the
	// daemon). 0 means the default, 8; negative disables them.
	BackgroundSelfHealCount int
	// DataSelfHealAlgorithm is full (copy everything) or diff (compare
	// blocks, copy the ones that differ). Empty means diff.
	DataSelfHealAlgorithm string
	// ChildNames name the children in changelog xattrs
	// (trusted.cairn.pending.<name>) and in logs; they must be stable
	// for the life of the volume. Default "client-<i>".
	ChildNames []string
	// Logger receives split-brain reports and heal progress; nil uses
	// slog.Default().
	Logger *slog.Logger

	// PostOpDelay is how long an idle data transaction keeps its lock
	// and defers its post-op, so that consecutive writes cost one round
	// trip each (GlusterFS post-op-delay-secs with eager-lock). 0 means
	// the default, 1s; negative disables eager locking.
	PostOpDelay time.Duration
	// EagerLockMaxHold bounds how long one eager lock is kept by a
	// busy writer before it is released so that other clients and heals
	// get a turn. 0 means the default, 5s.
	EagerLockMaxHold time.Duration
	// StateTTL is how long changelog state read from the bricks is
	// trusted for choosing the read child before it is read again.
	// 0 means the default, 1s.
	StateTTL time.Duration
	// HealInterval is the self-heal daemon's period (GlusterFS
	// cluster.heal-timeout). 0 means the default, 10 minutes.
	HealInterval time.Duration
	// HealBlockSize is the unit of data self-heal. 0 means 1 MiB (the
	// largest brick I/O: a 2 GiB heal is 2,048 reads and writes rather
	// than 16,384).
	HealBlockSize int
}

// DefaultConfig returns GlusterFS's defaults.
func DefaultConfig() Config {
	return Config{
		ReadSubvolume:           -1,
		FavoriteChildPolicy:     PolicyNone,
		QuorumType:              QuorumNone,
		DataSelfHeal:            true,
		MetadataSelfHeal:        true,
		EntrySelfHeal:           true,
		SelfHealDaemon:          false,
		BackgroundSelfHealCount: 8,
		DataSelfHealAlgorithm:   HealDiffAlgorithm,
	}
}

// Upper is implemented by children that know whether their brick is
// reachable (protocol/client after ping-timeout). Children that do not
// implement it are assumed up, and a call failing with ENOTCONN counts as
// that child being down for that operation.
type Upper interface {
	Up() bool
}

// maxChildren is the number of children a bitmask can hold.
const maxChildren = 64

type child struct {
	idx        int
	name       string
	t          vfs.Translator
	upper      Upper
	pendingKey string
}

// Replicate is the cluster/replicate translator. It is safe for concurrent
// use.
type Replicate struct {
	cfg      Config
	children []*child
	all      uint64 // mask of every child
	log      *slog.Logger
	// pendingKeys are the children's changelog xattr names, asked for
	// with lookups and getattrs.
	pendingKeys []string

	// ownerBase makes lock owners unique across the replicate instances
	// (clients) sharing a brick even in one process.
	ownerBase uint64
	ownerSeq  atomic.Uint64

	fdSeq atomic.Uint64

	mu      sync.Mutex
	fds     map[vfs.Handle]*fdCtx
	opens   map[vfs.GFID]int // open file handles per GFID
	windows map[winKey]*window
	states  map[vfs.GFID]*inodeState
	healing map[vfs.GFID]bool
	// names remembers one (parent, name) per GFID seen, for logs and
	// heal info; unlocking holds entry locks still to be released.
	names     map[vfs.GFID]dentry
	unlocking map[entryKey]*unlockTxn
	reported  map[winKey]time.Time // split-brain log lines, rate limited
	closed    bool

	// deferred queues, per child, entry unlocks waiting for a request
	// to travel with (unlockq.go); deferredN counts them all, and
	// unlockTimer, set while any is queued, sends them unless a request
	// takes them first, unlockDelay after the first was queued. Guarded
	// by mu; unlockDelay is set by New (tests may change it before use).
	deferred    [][]*deferredUnlock
	deferredN   int
	unlockTimer *time.Timer
	unlockDelay time.Duration

	// bg bounds background heals; nil when they are disabled.
	bg chan struct{}
	// wg counts goroutines started by the translator (heals, post-ops,
	// the daemon) and namespace transactions whose unlocks are not sent
	// yet, so Close can wait for them.
	wg     sync.WaitGroup
	stop   chan struct{}
	closer sync.Once

	// calls runs parallel's calls beyond the first; they end with stop.
	calls *gopool.Pool
}

// New builds a replicate translator over children (at least two).
func New(cfg Config, children []vfs.Translator) (*Replicate, error) {
	if len(children) < 2 {
		return nil, fmt.Errorf("cluster/replicate: needs at least 2 subvolumes, got %d", len(children))
	}
	if len(children) > maxChildren {
		return nil, fmt.Errorf("cluster/replicate: at most %d subvolumes, got %d", maxChildren, len(children))
	}
	if cfg.ReadSubvolume >= len(children) || cfg.ReadSubvolume < -1 {
		return nil, fmt.Errorf("cluster/replicate: read-subvolume %d out of range", cfg.ReadSubvolume)
	}
	switch cfg.FavoriteChildPolicy {
	case "":
		cfg.FavoriteChildPolicy = PolicyNone
	case PolicyNone, PolicyMtime, PolicySize, PolicyCtime, PolicyMajority:
	default:
		return nil, fmt.Errorf("cluster/replicate: favorite-child-policy %q: want none, mtime, size, ctime or majority", cfg.FavoriteChildPolicy)
	}
	switch cfg.QuorumType {
	case "":
		cfg.QuorumType = QuorumNone
	case QuorumNone, QuorumAuto:
	case QuorumFixed:
		if cfg.QuorumCount < 1 || cfg.QuorumCount > len(children) {
			return nil, fmt.Errorf("cluster/replicate: quorum-count %d: want 1..%d with quorum-type fixed", cfg.QuorumCount, len(children))
		}
	default:
		return nil, fmt.Errorf("cluster/replicate: quorum-type %q: want none, auto or fixed", cfg.QuorumType)
	}
	switch cfg.DataSelfHealAlgorithm {
	case "":
		cfg.DataSelfHealAlgorithm = HealDiffAlgorithm
	case HealFullAlgorithm, HealDiffAlgorithm:
	default:
		return nil, fmt.Errorf("cluster/replicate: data-self-heal-algorithm %q: want full or diff", cfg.DataSelfHealAlgorithm)
	}
	if cfg.ChildNames != nil && len(cfg.ChildNames) != len(children) {
		return nil, fmt.Errorf("cluster/replicate: %d child names for %d subvolumes", len(cfg.ChildNames), len(children))
	}
	if cfg.BackgroundSelfHealCount == 0 {
		cfg.BackgroundSelfHealCount = 8
	}
	if cfg.PostOpDelay == 0 {
		cfg.PostOpDelay = time.Second
	}
	if cfg.EagerLockMaxHold == 0 {
		cfg.EagerLockMaxHold = 5 * time.Second
	}
	if cfg.StateTTL == 0 {
		cfg.StateTTL = time.Second
	}
	if cfg.HealInterval == 0 {
		cfg.HealInterval = 10 * time.Minute
	}
	if cfg.HealBlockSize <= 0 {
		cfg.HealBlockSize = 1 << 20
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &Replicate{
		cfg:     cfg,
		log:     log.With("xlator", "cluster/replicate"),
		fds:     make(map[vfs.Handle]*fdCtx),
		opens:   make(map[vfs.GFID]int),
		windows: make(map[winKey]*window),
		states:  make(map[vfs.GFID]*inodeState),
		healing: make(map[vfs.GFID]bool),
		stop:    make(chan struct{}),

		deferred:    make([][]*deferredUnlock, len(children)),
		unlockDelay: entryUnlockDelay,
	}
	r.calls = gopool.New(r.stop)
	seen := map[string]bool{}
	for i, t := range children {
		if t == nil {
			return nil, fmt.Errorf("cluster/replicate: subvolume %d is nil", i)
		}
		name := fmt.Sprintf("client-%d", i)
		if cfg.ChildNames != nil {
			name = cfg.ChildNames[i]
		}
		if name == "" || seen[name] {
			return nil, fmt.Errorf("cluster/replicate: child name %q empty or repeated", name)
		}
		seen[name] = true
		c := &child{idx: i, name: name, t: t, pendingKey: PendingPrefix + name}
		c.upper, _ = t.(Upper)
		r.children = append(r.children, c)
		r.pendingKeys = append(r.pendingKeys, c.pendingKey)
		r.all |= 1 << i
	}
	r.pendingKeys = append(r.pendingKeys, DirtyKey)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("cluster/replicate: %w", err)
	}
	r.ownerBase = binary.BigEndian.Uint64(b[:]) &^ 0xffffffff
	if cfg.BackgroundSelfHealCount > 0 {
		r.bg = make(chan struct{}, cfg.BackgroundSelfHealCount)
	}
	if cfg.SelfHealDaemon {
		r.wg.Add(1)
		go r.daemon()
	}
	return r, nil
}

// Children returns the names of the children, in order.
func (r *Replicate) Children() []string {
	names := make([]string, len(r.children))
	for i, c := range r.children {
		names[i] = c.name
	}
	return names
}

// Config returns the configuration r runs with.
func (r *Replicate) Config() Config { return r.cfg }

// Close ends every eager transaction (post-op and unlock), waits for the
// background heals and stops the daemon. It does not close the children:
// the graph that built them owns them.
func (r *Replicate) Close() error {
	r.closer.Do(func() {
		close(r.stop)
		r.FlushTransactions(context.Background())
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
	})
	r.wg.Wait()
	return nil
}

// newOwner returns a lock owner no other transaction uses.
func (r *Replicate) newOwner() uint64 {
	return r.ownerBase | (r.ownerSeq.Add(1) & 0xffffffff)
}

// upMask returns the children believed reachable.
func (r *Replicate) upMask() uint64 {
	var m uint64
	for i, c := range r.children {
		if c.upper == nil || c.upper.Up() {
			m |= 1 << i
		}
	}
	return m
}

// isDown reports whether an errno means the brick could not be reached
// (so the operation did not happen there, or its fate is unknown).
func isDown(e syscall.Errno) bool {
	switch e {
	case syscall.ENOTCONN, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ETIMEDOUT,
		syscall.EHOSTDOWN, syscall.EHOSTUNREACH, syscall.ESHUTDOWN, syscall.EPIPE:
		return true
	}
	return false
}

// quorumMet reports whether the children in mask satisfy the quorum.
func (r *Replicate) quorumMet(mask uint64) bool {
	n := bits.OnesCount64(mask)
	switch r.cfg.QuorumType {
	case QuorumFixed:
		return n >= r.cfg.QuorumCount
	case QuorumAuto:
		total := len(r.children)
		if 2*n > total {
			return true
		}
		// Exactly half: GlusterFS requires the first child among them.
		return 2*n == total && mask&1 != 0
	}
	return n >= 1
}

// parallel runs fn for every child in mask at once and waits for all.
func (r *Replicate) parallel(mask uint64, fn func(i int)) {
	n := bits.OnesCount64(mask)
	if n == 0 {
		return
	}
	if n == 1 {
		fn(bits.TrailingZeros64(mask))
		return
	}
	var wg sync.WaitGroup
	last := -1
	for m := mask; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		if last >= 0 {
			wg.Add(1)
			j := last
			r.calls.Go(func() {
				defer wg.Done()
				fn(j)
			})
		}
		last = i
	}
	fn(last)
	wg.Wait()
}

// each calls fn for every child in mask, in index order.
func each(mask uint64, fn func(i int)) {
	for m := mask; m != 0; m &= m - 1 {
		fn(bits.TrailingZeros64(m))
	}
}

// first returns the lowest index in mask, or -1.
func first(mask uint64) int {
	if mask == 0 {
		return -1
	}
	return bits.TrailingZeros64(mask)
}

// backgroundCtx is the context of work that outlives the operation that
// started it (post-ops, unlocks, heals): it keeps the caller's identity
// but not its cancellation, and is bounded so a hung brick cannot pin it.
func backgroundCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
}

// combine picks the errno to return when no child succeeded: the first
// error that is not a transport error (the operation's own answer, such
// as ENOENT), else ENOTCONN.
func combine(errs []syscall.Errno, mask uint64) syscall.Errno {
	for m := mask; m != 0; m &= m - 1 {
		if e := errs[bits.TrailingZeros64(m)]; e != 0 && !isDown(e) {
			return e
		}
	}
	return syscall.ENOTCONN
}

// WatchChanges passes on the changes every child reports: another
// client's change reaches each brick it was made on, and a change to any
// copy is a change to the file. It reports true only when every child
// reports changes.
func (r *Replicate) WatchChanges(fn func(vfs.Change)) bool {
	all := len(r.children) > 0
	for _, c := range r.children {
		w, ok := c.t.(vfs.ChangeWatcher)
		if !ok || !w.WatchChanges(fn) {
			all = false
		}
	}
	return all
}

// ChangesLive reports whether every child's reports flow. While a brick is
// down its reports do not, and the metadata caches above fall back to
// their short timeouts.
func (r *Replicate) ChangesLive() bool {
	for _, c := range r.children {
		if w, ok := c.t.(vfs.ChangeWatcher); !ok || !w.ChangesLive() {
			return false
		}
	}
	return len(r.children) > 0
}

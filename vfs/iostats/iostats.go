// Package iostats is cairn's debug/io-stats translator: it counts the
// calls, errors and latency of every operation passing through it, and the
// bytes read and written, for `cairn status`-style reports (Snapshot) and,
// when given a Prometheus registerer, as metrics:
//
//	cairn_fop_calls_total{fop,volume}      counter
//	cairn_fop_errors_total{fop,volume}     counter (operations returning an errno)
//	cairn_fop_latency_seconds{fop,volume}  histogram
//	cairn_bytes_read_total{volume}         counter
//	cairn_bytes_written_total{volume}      counter
//
// fop is the lower-case operation name ("lookup", "read", "inodelk", see
// Ops). Every errno counts as an error, including the expected ones (ENOENT
// from Lookup, EAGAIN from a lock attempt): the counters describe traffic,
// not faults.
//
// As in GlusterFS, io-stats can sit anywhere in a stack, typically at the
// top of a client volume and of a brick; several instances may share one
// registerer, distinguished by the volume label (instances with the same
// volume name share their metrics). Counting uses atomics only, so the
// translator adds no lock to the data path.
package iostats

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/cairnfs/cairn/vfs"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures an IOStats translator.
type Config struct {
	// Name is the volume label of the exported metrics (the volume
	// name, as GlusterFS io-stats reports per volume).
	Name string
	// Registerer, when not nil, receives the Prometheus metrics.
	Registerer prometheus.Registerer
}

// op indexes the operations.
type op int

const (
	opLookup op = iota
	opGetAttr
	opSetAttr
	opCreate
	opMknod
	opMkdir
	opSymlink
	opReadlink
	opLink
	opUnlink
	opRmdir
	opRename
	opOpen
	opRead
	opWrite
	opFlush
	opFsync
	opRelease
	opFallocate
	opLseek
	opOpenDir
	opReadDir
	opReleaseDir
	opFsyncDir
	opStatFS
	opGetXattr
	opSetXattr
	opListXattr
	opRemoveXattr
	opXattrOp
	opGetLk
	opSetLk
	opInodeLk
	opEntryLk
	numOps
)

// Ops lists the operation names used in snapshots and metric labels, in
// vfs.Translator order.
var Ops = [numOps]string{
	"lookup", "getattr", "setattr", "create", "mknod", "mkdir", "symlink", "readlink",
	"link", "unlink", "rmdir", "rename", "open", "read", "write", "flush", "fsync",
	"release", "fallocate", "lseek", "opendir", "readdir", "releasedir", "fsyncdir",
	"statfs", "getxattr", "setxattr", "listxattr", "removexattr", "xattrop",
	"getlk", "setlk", "inodelk", "entrylk",
}

// IOStats counts the operations passed to its child.
type IOStats struct {
	vfs.Passthrough
	name         string
	ops          [numOps]counters
	bytesRead    atomic.Uint64
	bytesWritten atomic.Uint64
	prom         *promMetrics // nil without a registerer
}

var _ vfs.Translator = (*IOStats)(nil)

type counters struct {
	calls  atomic.Uint64
	errors atomic.Uint64
	total  atomic.Int64 // nanoseconds
	min    atomic.Int64 // nanoseconds; 0 until the first call
	max    atomic.Int64
}

// OpStats are the statistics of one operation.
type OpStats struct {
	Calls      uint64
	Errors     uint64
	Latency    time.Duration // total over all calls
	MinLatency time.Duration
	MaxLatency time.Duration
}

// AvgLatency is the mean latency of a call.
func (s OpStats) AvgLatency() time.Duration {
	if s.Calls == 0 {
		return 0
	}
	return s.Latency / time.Duration(s.Calls)
}

// Snapshot is a copy of the counters at one moment.
type Snapshot struct {
	Volume string
	// Ops holds the operations called at least once, by name (see Ops).
	Ops          map[string]OpStats
	BytesRead    uint64
	BytesWritten uint64
}

// New returns an io-stats translator over child, registering its metrics
// with cfg.Registerer if set.
func New(cfg Config, child vfs.Translator) (*IOStats, error) {
	s := &IOStats{Passthrough: vfs.Passthrough{Child: child}, name: cfg.Name}
	if cfg.Registerer != nil {
		m, err := newPromMetrics(cfg.Registerer, cfg.Name)
		if err != nil {
			return nil, err
		}
		s.prom = m
	}
	return s, nil
}

// Snapshot returns the statistics so far. Counters are read one by one, so
// a snapshot taken under load may be off by the calls in flight.
func (s *IOStats) Snapshot() Snapshot {
	snap := Snapshot{
		Volume:       s.name,
		Ops:          make(map[string]OpStats),
		BytesRead:    s.bytesRead.Load(),
		BytesWritten: s.bytesWritten.Load(),
	}
	for i := range s.ops {
		c := &s.ops[i]
		calls := c.calls.Load()
		if calls == 0 {
			continue
		}
		snap.Ops[Ops[i]] = OpStats{
			Calls:      calls,
			Errors:     c.errors.Load(),
			Latency:    time.Duration(c.total.Load()),
			MinLatency: time.Duration(c.min.Load()),
			MaxLatency: time.Duration(c.max.Load()),
		}
	}
	return snap
}

// done records a finished call of o that started at start.
func (s *IOStats) done(o op, start time.Time, failed bool) {
	d := time.Since(start)
	ns := int64(d)
	if ns <= 0 {
		ns = 1 // keep 0 meaning "no call yet" for min
	}
	c := &s.ops[o]
	c.calls.Add(1)
	c.total.Add(ns)
	for {
		m := c.min.Load()
		if (m != 0 && m <= ns) || c.min.CompareAndSwap(m, ns) {
			break
		}
	}
	for {
		m := c.max.Load()
		if m >= ns || c.max.CompareAndSwap(m, ns) {
			break
		}
	}
	if failed {
		c.errors.Add(1)
	}
	if s.prom != nil {
		s.prom.calls[o].Inc()
		s.prom.latency[o].Observe(d.Seconds())
		if failed {
			s.prom.errors[o].Inc()
		}
	}
}

func (s *IOStats) addRead(n int) {
	if n > 0 {
		s.bytesRead.Add(uint64(n))
		if s.prom != nil {
			s.prom.bytesRead.Add(float64(n))
		}
	}
}

func (s *IOStats) addWritten(n int) {
	if n > 0 {
		s.bytesWritten.Add(uint64(n))
		if s.prom != nil {
			s.prom.bytesWritten.Add(float64(n))
		}
	}
}

// promMetrics holds the metric children of one volume, resolved once so
// that counting costs no label lookup.
type promMetrics struct {
	calls        [numOps]prometheus.Counter
	errors       [numOps]prometheus.Counter
	latency      [numOps]prometheus.Observer
	bytesRead    prometheus.Counter
	bytesWritten prometheus.Counter
}

// LatencyBuckets are the histogram buckets of cairn_fop_latency_seconds:
// 50µs doubling to about 1.6s, from a local brick's metadata operation to
// a slow replicated write.
var LatencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 16)

func newPromMetrics(r prometheus.Registerer, volume string) (*promMetrics, error) {
	calls, err := register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_fop_calls_total", Help: "Operations called, by operation and volume.",
	}, []string{"fop", "volume"}))
	if err != nil {
		return nil, err
	}
	errs, err := register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_fop_errors_total", Help: "Operations that returned an errno, by operation and volume.",
	}, []string{"fop", "volume"}))
	if err != nil {
		return nil, err
	}
	lat, err := register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "cairn_fop_latency_seconds", Help: "Operation latency, by operation and volume.",
		Buckets: LatencyBuckets,
	}, []string{"fop", "volume"}))
	if err != nil {
		return nil, err
	}
	rd, err := register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_bytes_read_total", Help: "Bytes returned by read operations, by volume.",
	}, []string{"volume"}))
	if err != nil {
		return nil, err
	}
	wr, err := register(r, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_bytes_written_total", Help: "Bytes accepted by write operations, by volume.",
	}, []string{"volume"}))
	if err != nil {
		return nil, err
	}
	m := &promMetrics{bytesRead: rd.WithLabelValues(volume), bytesWritten: wr.WithLabelValues(volume)}
	for i, name := range Ops {
		m.calls[i] = calls.WithLabelValues(name, volume)
		m.errors[i] = errs.WithLabelValues(name, volume)
		m.latency[i] = lat.WithLabelValues(name, volume)
	}
	return m, nil
}

// register registers c, or returns the identical collector registered
// before (by another instance in the same process).
func register[C prometheus.Collector](r prometheus.Registerer, c C) (C, error) {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

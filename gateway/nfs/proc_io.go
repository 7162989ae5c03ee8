package nfs

import (
	"math"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// stable_how values of WRITE.
const (
	unstable = 0
	dataSync = 1
	fileSync = 2
)

// read serves READ from a cached open handle. The reply carries no
// attributes (they are optional, and fetching them would double the calls
// to the volume); EOF is a short read, which the volume only returns at
// end of file.
func (q *request) read() error {
	ex, g, st := q.fh()
	off := q.r.u64()
	count := q.r.u32()
	if q.r.err != nil {
		return errGarbage
	}
	if st != nfsOK {
		q.failAttr(st)
		return nil
	}
	count = min(count, maxIO)
	if off > math.MaxInt64-uint64(count) {
		q.w.u32(nfsOK)
		q.w.bool(false)
		q.w.u32(0)
		q.w.bool(true)
		q.w.u32(0)
		return nil
	}
	if n, ok := q.readSpliced(ex, g, count, off); ok {
		q.w.u32(nfsOK)
		q.w.bool(false)
		q.w.u32(uint32(n))
		q.w.bool(n < int(count))
		q.w.u32(uint32(n)) // the data follows from the pipe
		return nil
	}
	// Reply layout: status, no attributes, count, eof, then the data.
	base := q.reserve(20 + int(count) + 3)
	buf := q.w.b[base+20 : base+20+int(count)]
	n, e := q.withHandle(ex, g, false, func(h vfs.Handle) (int, syscall.Errno) {
		return ex.fs.Read(q.ctx, g, h, buf, int64(off))
	})
	q.w.b = q.w.b[:base]
	if e != 0 {
		q.failAttr(fileStatus(e))
		return nil
	}
	q.w.u32(nfsOK)
	q.w.bool(false)
	q.w.u32(uint32(n))
	q.w.bool(count > 0 && n < int(count))
	q.w.u32(uint32(n))
	q.w.b = q.w.b[:len(q.w.b)+n]
	if pad := (4 - n%4) % 4; pad > 0 {
		// The reserved room is not zeroed (a pooled buffer holds an
		// earlier reply): write the pad's zeros.
		q.w.b = append(q.w.b, make([]byte, pad)...)
	}
	return nil
}

// readSpliced moves a large READ's bytes into a pipe (splice.go) when the
// volume can and the connection is a socket; ok false leaves the READ to
// Read, which gives the same answer.
func (q *request) readSpliced(ex *export, g vfs.GFID, count uint32, off uint64) (n int, ok bool) {
	if q.conn == nil || q.conn.raw == nil || count < spliceMin || !fitsPipe(off, count) {
		return 0, false
	}
	rp := q.srv.pipes.get()
	if rp == nil {
		return 0, false
	}
	n, e := q.withHandle(ex, g, false, func(h vfs.Handle) (int, syscall.Errno) {
		return vfs.ReadToPipe(q.ctx, ex.fs, g, h, rp.w, int(count), int64(off))
	})
	switch {
	case e == 0 && n == 0:
		// Nothing to splice (at or past the end of file): the reply goes
		// out as any other.
		q.srv.pipes.put(rp)
		return 0, true
	case e == 0:
		q.pipe, q.pipeN = rp, n
		return n, true
	case e == syscall.EOPNOTSUPP:
		q.srv.pipes.put(rp) // nothing was moved
	default:
		q.srv.pipes.discard(rp) // what it holds is undefined
	}
	return 0, false
}

// withHandle runs op on a cached handle, retrying once with a fresh one
// if the volume no longer knows the cached handle.
func (q *request) withHandle(ex *export, g vfs.GFID, write bool, op func(vfs.Handle) (int, syscall.Errno)) (int, syscall.Errno) {
	for try := 0; ; try++ {
		h, done, e := q.srv.opens.get(q.ctx, ex, g, q.caller, write)
		if e != 0 {
			return 0, e
		}
		n, e := op(h)
		done()
		if e == syscall.EBADF && try == 0 {
			q.srv.opens.forget(ex, g, q.caller, write, h)
			continue
		}
		return n, e
	}
}

// write honours the stable flag: DATA_SYNC and FILE_SYNC data is synced on
// the bricks before the reply says so; UNSTABLE data waits for COMMIT, and
// the per-server verifier makes the client resend it if the gateway
// restarted in between.
func (q *request) write() error {
	ex, g, st := q.fh()
	off := q.r.u64()
	count := q.r.u32()
	stable := q.r.u32()
	data := q.r.opaque(maxIO)
	if stable > fileSync {
		q.r.fail()
	}
	if q.r.err != nil {
		return errGarbage
	}
	if st != nfsOK {
		q.failWcc(st)
		return nil
	}
	if ex.ro {
		q.failWcc(nfsErrROFS)
		return nil
	}
	if int(count) < len(data) {
		data = data[:count]
	}
	if off > math.MaxInt64-uint64(len(data)) {
		q.failWcc(nfsErrFBig)
		return nil
	}
	var hUsed vfs.Handle
	wctx := q.offerRec(data)
	n, e := q.withHandle(ex, g, true, func(h vfs.Handle) (int, syscall.Errno) {
		n, e := ex.fs.Write(wctx, g, h, data, int64(off))
		if e == 0 && stable != unstable {
			e = ex.fs.Fsync(q.ctx, g, h, stable == dataSync)
		}
		hUsed = h
		return n, e
	})
	if e != 0 {
		a, _ := ex.fs.GetAttr(q.ctx, g, 0)
		q.w.u32(fileStatus(e))
		if a.GFID.IsZero() {
			ex.wcc(&q.w, nil, nil)
		} else {
			ex.wcc(&q.w, nil, &a)
		}
		return nil
	}
	// UNSTABLE replies carry no attributes (wcc_data is optional): with
	// write-behind in the stack a GETATTR waits for the queued data to
	// reach the bricks, which turned a pipelined stream of WRITEs into one
	// brick round trip at a time. Clients then mark their cached
	// attributes stale and fetch them when they need them. Synced writes
	// have flushed already, so their attributes cost one call.
	var post *vfs.Attr
	if stable != unstable {
		if a, e := ex.fs.GetAttr(q.ctx, g, hUsed); e == 0 {
			post = &a
		}
	}
	q.w.u32(nfsOK)
	ex.wcc(&q.w, nil, post)
	q.w.u32(uint32(n))
	q.w.u32(stable)
	q.w.fixed(q.srv.verf[:])
	return nil
}

// commit syncs the file on the bricks.
func (q *request) commit() error {
	ex, g, st := q.fh()
	q.r.u64() // offset and count: the whole file is synced
	q.r.u32()
	if q.r.err != nil {
		return errGarbage
	}
	if st != nfsOK {
		q.failWcc(st)
		return nil
	}
	h, done := q.srv.opens.anyWrite(ex, g)
	e := ex.fs.Fsync(q.ctx, g, h, false)
	done()
	if e == syscall.EBADF || e == syscall.EINVAL {
		// The volume wants an open descriptor to sync; open one.
		var h2 vfs.Handle
		if h2, e = ex.fs.Open(q.ctx, g, syscall.O_RDONLY); e == 0 {
			e = ex.fs.Fsync(q.ctx, g, h2, false)
			_ = ex.fs.Release(q.ctx, g, h2)
		}
	}
	post, _ := q.attrs(ex, g)
	if e != 0 {
		q.w.u32(fileStatus(e))
		ex.wcc(&q.w, nil, post)
		return nil
	}
	q.w.u32(nfsOK)
	ex.wcc(&q.w, nil, post)
	q.w.fixed(q.srv.verf[:])
	return nil
}

package replicate

import (
	"bytes"
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Checksummer is an optional child capability for diff self-heal: a
// strong checksum of a byte range computed where the data is (GlusterFS's
// rchecksum), so comparing two copies moves no data. Without it, diff heal
// reads the sink's block too and compares locally (which still saves the
// writes). protocol/client may implement it with a brick call.
type Checksummer interface {
	Checksum(ctx context.Context, gfid vfs.GFID, off int64, size int) ([]byte, syscall.Errno)
}

// healData heals the content of a regular file.
func (r *Replicate) healData(ctx context.Context, gfid vfs.GFID, o *healOpts) healOutcome {
	ictx := internalCtx(ctx)
	r.flushWindow(ctx, gfid, dataKind)
	locks := []lockReq{{domain: dataDomain, gfid: gfid, typ: vfs.WriteLock}}
	locked, owner := r.healLock(ctx, r.upMask(), locks, o)
	if locked == 0 {
		return healBusy
	}
	defer r.healUnlock(ctx, locked, owner, locks)
	m, mok, _ := r.readMatrix(ictx, gfid, locked)
	attrs, have := r.attrsOf(ictx, gfid, mok)
	if have == 0 {
		return healFailed
	}
	v := judge(m, have, dataKind)
	forced := o.force >= 0 || o.forcePolicy != ""
	if !v.dirty && !forced {
		return healClean
	}
	src, sources, sinks, ok := r.decide(gfid, m, have, dataKind, attrs, o)
	if !ok {
		r.markSplit(gfid, dataKind, have)
		if o.stats != nil {
			o.stats.SplitBrain++
		}
		return healSplitBrain
	}
	// Without blame the copies are probably equal: compare, don't copy.
	diff := r.cfg.DataSelfHealAlgorithm == HealDiffAlgorithm || (v.accused&have == 0 && !forced)
	healed := sources
	results := make([]syscall.Errno, len(r.children))
	written := make([]int64, len(r.children))
	r.parallel(sinks, func(i int) {
		written[i], results[i] = r.copyData(ictx, gfid, src, i, int64(attrs[src].Size), diff, o)
		if results[i] == 0 {
			// Writing changed the sink's times; give it the source's.
			in := vfs.SetAttrIn{Valid: vfs.SetAtime | vfs.SetMtime, Atime: attrs[src].Atime, Mtime: attrs[src].Mtime}
			_, results[i] = r.children[i].t.SetAttr(ictx, gfid, 0, &in)
		}
	})
	each(sinks, func(i int) {
		if results[i] == 0 {
			healed |= 1 << i
		} else {
			r.log.Warn("data self-heal failed", "gfid", gfid.String(), "path", r.pathOf(gfid),
				"source", r.children[src].name, "sink", r.children[i].name, "errno", results[i].Error())
		}
		if o.stats != nil {
			o.stats.Bytes += written[i]
		}
	})
	if e := r.clearCounters(ctx, gfid, m, locked&have, healed, dataKind); e != 0 {
		return healFailed
	}
	if healed != have {
		return healPartial
	}
	if o.stats != nil {
		o.stats.Healed++
	}
	return healDone
}

// copyData makes sink's content of gfid equal to src's (size bytes). With
// diff, only blocks that differ are written (blocks past the sink's old end
// are not compared: they are written unless zero); otherwise the sink is
// truncated and every non-zero block written (zero blocks stay holes).
func (r *Replicate) copyData(ctx context.Context, gfid vfs.GFID, src, sink int, size int64, diff bool, o *healOpts) (int64, syscall.Errno) {
	st, dt := r.children[src].t, r.children[sink].t
	trunc := func(n int64) syscall.Errno {
		_, e := dt.SetAttr(ctx, gfid, 0, &vfs.SetAttrIn{Valid: vfs.SetSize, Size: uint64(n)})
		return e
	}
	// sinkSize is how much of the sink may already hold the right bytes:
	// beyond it the sink reads as zeros (it is extended below), so blocks
	// there are written, or skipped when zero, without comparing.
	var sinkSize int64
	if diff {
		sa, e := dt.GetAttr(ctx, gfid, 0)
		if e != 0 {
			return 0, e
		}
		sinkSize = min(int64(sa.Size), size)
		if int64(sa.Size) > size {
			if e := trunc(size); e != 0 {
				return 0, e
			}
		}
	} else {
		if e := trunc(0); e != 0 {
			return 0, e
		}
	}
	if e := trunc(size); e != 0 {
		return 0, e
	}
	bs := r.cfg.HealBlockSize
	sbuf := make([]byte, bs)
	dbuf := make([]byte, bs)
	zero := make([]byte, bs)
	sc, _ := st.(Checksummer)
	dc, _ := dt.(Checksummer)
	var written int64
	for off := int64(0); off < size; off += int64(bs) {
		if err := ctx.Err(); err != nil {
			return written, syscall.EINTR
		}
		want := bs
		if size-off < int64(want) {
			want = int(size - off)
		}
		compare := diff && off < sinkSize
		if compare && sc != nil && dc != nil {
			a, e1 := sc.Checksum(ctx, gfid, off, want)
			b, e2 := dc.Checksum(ctx, gfid, off, want)
			if e1 == 0 && e2 == 0 && bytes.Equal(a, b) {
				continue
			}
		}
		n, e := readFull(ctx, st, gfid, sbuf[:want], off)
		if e != 0 {
			return written, e
		}
		if n < want {
			// The source is shorter than it said (cannot change under
			// our lock): heal up to its real end.
			want = n
			size = off + int64(n)
		}
		blk := sbuf[:want]
		if compare {
			m, e := readFull(ctx, dt, gfid, dbuf[:want], off)
			if e == 0 && m == want && bytes.Equal(dbuf[:want], blk) {
				continue
			}
		} else if bytes.Equal(blk, zero[:want]) {
			continue
		}
		for done := 0; done < want; {
			w, e := dt.Write(ctx, gfid, 0, blk[done:], off+int64(done))
			if e != 0 {
				return written, e
			}
			if w <= 0 {
				return written, syscall.EIO
			}
			done += w
		}
		written += int64(want)
		if o != nil && o.onBytes != nil {
			o.onBytes(int64(want))
		}
	}
	return written, trunc(size)
}

// readFull reads len(buf) bytes at off unless EOF comes first.
func readFull(ctx context.Context, t vfs.Translator, gfid vfs.GFID, buf []byte, off int64) (int, syscall.Errno) {
	got := 0
	for got < len(buf) {
		n, e := t.Read(ctx, gfid, 0, buf[got:], off+int64(got))
		if e != 0 {
			return got, e
		}
		if n == 0 {
			break
		}
		got += n
	}
	return got, 0
}

package nfs

import (
	"math"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Directory cookies. The volume's readdir cookies stay valid however the
// directory changes (vfs.Translator.ReadDir), so they are passed to the
// client almost as they are: "." and ".." take cookies 1 and 2, and an
// entry whose volume cookie is c has NFS cookie c+2. A listing resumed
// from any cookie continues where it stopped, never from a snapshot, so
// the cookie verifier is constant and NFS3ERR_BAD_COOKIE is never sent
// for a changed directory (the "rm -rf" loop of nfs-ganesha #72 and
// go-nfs's verifier scheme cannot happen).
const (
	cookieAfterDot    = 1
	cookieAfterDotDot = 2
	cookieBias        = 2
)

// verifier is the constant cookie verifier of an export.
func (ex *export) verifier() uint64 { return ex.id.fsid() | 1 }

// readdirArgs is what READDIR and READDIRPLUS share.
type readdirArgs struct {
	ex     *export
	dir    vfs.GFID
	st     uint32
	cookie uint64
}

// dirEnt is one entry to encode, including "." and "..".
type dirEnt struct {
	name   string
	gfid   vfs.GFID
	cookie uint64
	attr   *vfs.Attr
	handle bool
}

// listing fetches up to max entries after cookie, synthesizing "." and
// "..". eof reports that nothing follows the returned entries.
func (q *request) listing(a readdirArgs, dirA *vfs.Attr, max int, plus bool) ([]dirEnt, bool, syscall.Errno) {
	var out []dirEnt
	vc := uint64(0)
	switch {
	case a.cookie == 0:
		out = append(out, dirEnt{name: ".", gfid: a.dir, cookie: cookieAfterDot, attr: dirA, handle: true})
		fallthrough
	case a.cookie == cookieAfterDot:
		out = append(out, dirEnt{name: "..", gfid: a.dir, cookie: cookieAfterDotDot})
	default:
		vc = a.cookie - cookieBias
	}
	ents, eof, e := a.ex.fs.ReadDir(q.ctx, a.dir, 0, vc, max, plus)
	if e != 0 {
		return nil, false, e
	}
	for _, d := range ents {
		if d.Cookie > math.MaxUint64-cookieBias {
			return nil, false, syscall.EOVERFLOW
		}
		de := dirEnt{name: d.Name, gfid: d.GFID, cookie: d.Cookie + cookieBias, attr: d.Attr, handle: plus}
		if plus && de.attr == nil {
			if at, e := a.ex.fs.GetAttr(q.ctx, d.GFID, 0); e == 0 {
				de.attr = &at
			}
		}
		out = append(out, de)
	}
	return out, eof, 0
}

func (q *request) readdirStart() (readdirArgs, *vfs.Attr, bool) {
	var a readdirArgs
	a.ex, a.dir, a.st = q.fh()
	a.cookie = q.r.u64()
	q.r.u64() // cookie verifier: never checked, see above
	if a.st != nfsOK {
		return a, nil, false
	}
	dirA, e := q.attrs(a.ex, a.dir)
	if e != 0 {
		a.st = fileStatus(e)
		return a, nil, false
	}
	if !dirA.IsDir() {
		a.st = nfsErrNotDir
		return a, dirA, false
	}
	return a, dirA, true
}

// readdirFail maps a failed listing. A cookie the volume rejects is a
// BAD_COOKIE, which makes the client restart the listing.
func readdirStatus(e syscall.Errno, cookie uint64) uint32 {
	if (e == syscall.EINVAL || e == syscall.ENOENT) && cookie > cookieAfterDotDot {
		return nfsErrBadCook
	}
	return fileStatus(e)
}

// Fixed sizes of the READDIR(PLUS) reply parts.
const (
	rpcReplyHeader = 24
	fattr3Size     = 84
	postOpAttrSize = 4 + fattr3Size
	postOpFHSize   = 4 + 4 + HandleSize
)

func (q *request) readdir() error {
	a, dirA, ok := q.readdirStart()
	count := q.r.u32()
	if q.r.err != nil {
		return errGarbage
	}
	if !ok {
		q.w.u32(a.st)
		a.exOrNil().postOpAttr(&q.w, dirA)
		return nil
	}
	count = min(count, maxIO)
	// status, dir attributes, verifier, end-of-list marker, eof
	used := 4 + postOpAttrSize + 8 + 4 + 4
	max := (int(count)-used)/24 + 1
	ents, eof, e := q.listing(a, dirA, max, false)
	if e != 0 {
		q.w.u32(readdirStatus(e, a.cookie))
		a.ex.postOpAttr(&q.w, dirA)
		return nil
	}
	q.w.u32(nfsOK)
	a.ex.postOpAttr(&q.w, dirA)
	q.w.u64(a.ex.verifier())
	n := 0
	for _, d := range ents {
		sz := 4 + 8 + xdrLen(len(d.name)) + 8
		if used+sz > int(count) {
			eof = false
			break
		}
		used += sz
		q.w.bool(true)
		q.w.u64(d.gfid.Ino())
		q.w.string(d.name)
		q.w.u64(d.cookie)
		n++
	}
	if n == 0 && len(ents) > 0 {
		q.w.b = q.w.b[:rpcReplyHeader]
		q.w.u32(nfsErrTooSmall)
		a.ex.postOpAttr(&q.w, dirA)
		return nil
	}
	q.w.bool(false)
	q.w.bool(eof)
	return nil
}

func (q *request) readdirplus() error {
	a, dirA, ok := q.readdirStart()
	dircount := q.r.u32()
	maxcount := q.r.u32()
	if q.r.err != nil {
		return errGarbage
	}
	if !ok {
		q.w.u32(a.st)
		a.exOrNil().postOpAttr(&q.w, dirA)
		return nil
	}
	maxcount = min(maxcount, maxIO)
	used := 4 + postOpAttrSize + 8 + 4 + 4
	dirUsed := 0
	max := (int(maxcount)-used)/(4+8+8+8+postOpAttrSize+postOpFHSize) + 1
	ents, eof, e := q.listing(a, dirA, max, true)
	if e != 0 {
		q.w.u32(readdirStatus(e, a.cookie))
		a.ex.postOpAttr(&q.w, dirA)
		return nil
	}
	q.w.u32(nfsOK)
	a.ex.postOpAttr(&q.w, dirA)
	q.w.u64(a.ex.verifier())
	n := 0
	for _, d := range ents {
		dsz := 8 + xdrLen(len(d.name)) + 8
		sz := 4 + dsz + 4 + 4
		if d.attr != nil {
			sz += fattr3Size
		}
		if d.handle {
			sz += 4 + HandleSize
		}
		if used+sz > int(maxcount) || (dircount > 0 && dirUsed+dsz > int(dircount) && n > 0) {
			eof = false
			break
		}
		used += sz
		dirUsed += dsz
		q.w.bool(true)
		q.w.u64(d.gfid.Ino())
		q.w.string(d.name)
		q.w.u64(d.cookie)
		a.ex.postOpAttr(&q.w, d.attr)
		if d.handle {
			q.postOpFH(a.ex, d.gfid)
		} else {
			q.w.bool(false)
		}
		n++
	}
	if n == 0 && len(ents) > 0 {
		q.w.b = q.w.b[:rpcReplyHeader]
		q.w.u32(nfsErrTooSmall)
		a.ex.postOpAttr(&q.w, dirA)
		return nil
	}
	q.w.bool(false)
	q.w.bool(eof)
	return nil
}

// exOrNil lets failure paths write attributes when the handle decoded.
func (a readdirArgs) exOrNil() *export {
	if a.ex == nil {
		return nilExport
	}
	return a.ex
}

// nilExport writes empty post_op_attr for handles that did not decode.
var nilExport = &export{}

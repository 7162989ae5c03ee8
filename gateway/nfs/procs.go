package nfs

import (
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// NFSv3 procedure numbers (RFC 1813).
const (
	procNull        = 0
	procGetattr     = 1
	procSetattr     = 2
	procLookup      = 3
	procAccess      = 4
	procReadlink    = 5
	procRead        = 6
	procWrite       = 7
	procCreate      = 8
	procMkdir       = 9
	procSymlink     = 10
	procMknod       = 11
	procRemove      = 12
	procRmdir       = 13
	procRename      = 14
	procLink        = 15
	procReaddir     = 16
	procReaddirplus = 17
	procFsstat      = 18
	procFsinfo      = 19
	procPathconf    = 20
	procCommit      = 21
)

// maxIO is the largest READ or WRITE the gateway accepts: the Linux
// client's own ceiling (NFS_MAX_FILE_IO_SIZE).
const maxIO = 1 << 20

// maxPath bounds symlink targets (PATH_MAX).
const maxPath = 4096

type procFunc func(*request) error

var procs = [...]procFunc{
	procNull:        func(*request) error { return nil },
	procGetattr:     (*request).getattr,
	procSetattr:     (*request).setattr,
	procLookup:      (*request).lookup,
	procAccess:      (*request).access,
	procReadlink:    (*request).readlink,
	procRead:        (*request).read,
	procWrite:       (*request).write,
	procCreate:      (*request).create,
	procMkdir:       (*request).mkdir,
	procSymlink:     (*request).symlink,
	procMknod:       (*request).mknod,
	procRemove:      (*request).remove,
	procRmdir:       (*request).rmdir,
	procRename:      (*request).rename,
	procLink:        (*request).link,
	procReaddir:     (*request).readdir,
	procReaddirplus: (*request).readdirplus,
	procFsstat:      (*request).fsstat,
	procFsinfo:      (*request).fsinfo,
	procPathconf:    (*request).pathconf,
	procCommit:      (*request).commit,
}

func procTable(p uint32) procFunc {
	if int64(p) < int64(len(procs)) {
		return procs[p]
	}
	return nil
}

// fh decodes an nfs_fh3. The status is BADHANDLE for a malformed handle
// and STALE for a handle of a volume this server does not serve. Callers
// check q.r.err first.
func (q *request) fh() (*export, vfs.GFID, uint32) {
	h := q.r.opaque(64)
	if q.r.err != nil {
		return nil, vfs.GFID{}, nfsErrBadHdl
	}
	vol, g, err := DecodeHandle(h)
	if err != nil {
		return nil, g, nfsErrBadHdl
	}
	ex := q.srv.byID[vol]
	if ex == nil {
		return nil, g, nfsErrStale
	}
	return ex, g, nfsOK
}

// dirop decodes diropargs3: a directory handle and a name.
type dirop struct {
	ex   *export
	dir  vfs.GFID
	name string
	st   uint32
}

func (q *request) dirop() dirop {
	var d dirop
	d.ex, d.dir, d.st = q.fh()
	d.name = q.r.string(vfs.NameMax + 1)
	return d
}

// fileStatus maps the errno of an operation on the handle's own file:
// a vanished GFID is NFS3ERR_STALE, never NOENT.
func fileStatus(e syscall.Errno) uint32 {
	if e == syscall.ENOENT {
		return nfsErrStale
	}
	return statusOf(e)
}

// nameStatus validates a name supplied by the client.
func nameStatus(name string) uint32 {
	if e := vfs.CheckName(name); e != 0 {
		return statusOf(e)
	}
	return nfsOK
}

// attrs fetches the attributes of gfid. A regular file that has lost its
// last name but is still held open by the gateway's own open cache is
// reported STALE after the cache lets go of it, so that a deleted file's
// handle goes stale as clients expect, not after the cache's idle time.
func (q *request) attrs(ex *export, g vfs.GFID) (*vfs.Attr, syscall.Errno) {
	a, e := ex.fs.GetAttr(q.ctx, g, 0)
	if e == 0 && a.Nlink == 0 && !a.IsDir() && q.srv.opens.drop(q.ctx, ex, g) {
		a, e = ex.fs.GetAttr(q.ctx, g, 0)
	}
	if e != 0 {
		return nil, e
	}
	return &a, 0
}

// dirAttrs returns the post-operation attributes of a directory, nil when
// they cannot be had.
func (q *request) dirAttrs(ex *export, g vfs.GFID) *vfs.Attr {
	a, e := ex.fs.GetAttr(q.ctx, g, 0)
	if e != 0 {
		return nil
	}
	return &a
}

// dirFail writes the status of a failed namespace operation followed by
// the directory's wcc_data (pre: its attributes before, from changeDir).
// ENOENT becomes STALE when the directory itself is gone.
func (q *request) dirFail(ex *export, dir vfs.GFID, pre *vfs.Attr, e syscall.Errno) {
	post := q.dirAttrs(ex, dir)
	st := statusOf(e)
	if post == nil && (e == syscall.ENOENT || e == syscall.ESTALE) {
		st = nfsErrStale
	}
	q.w.u32(st)
	ex.wcc(&q.w, pre, post)
}

// failWcc writes a status and empty wcc_data.
func (q *request) failWcc(st uint32) {
	q.w.u32(st)
	q.w.bool(false)
	q.w.bool(false)
}

// failAttr writes a status and an empty post_op_attr.
func (q *request) failAttr(st uint32) {
	q.w.u32(st)
	q.w.bool(false)
}

// postOpFH writes post_op_fh3 for gfid.
func (q *request) postOpFH(ex *export, g vfs.GFID) {
	q.w.bool(true)
	q.w.opaque(EncodeHandle(ex.id, g))
}

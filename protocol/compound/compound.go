// Package compound describes batches of translator operations that travel to
// a brick in one round trip (GlusterFS's compound fops), so that
// cluster/replicate can send "pre-op xattrop + write + post-op xattrop", or
// "entrylk + xattrop + create + xattrop", as one request per brick.
//
// The package holds only vfs-level types, so that replicate can use it
// without importing protocol/client: replicate builds []Op and calls Run on
// its child. If the child implements Compounder (protocol/client does), the
// batch is one RPC, executed by protocol/server with Exec on the brick;
// otherwise Run executes the operations one by one on the child, with the
// same semantics:
//
//   - operations run in order, each after the previous one returned;
//   - the first operation that fails stops the batch: the results hold one
//     entry per operation run, the failed one last, and its errno is also
//     returned;
//   - there is no rollback and no isolation from other clients' operations;
//     callers that need isolation include or hold inode/entry locks.
//
// Handles returned by OpCreate/OpOpen in a batch are ordinary handles of the
// translator Run was called on; they cannot be referred to by later
// operations of the same batch.
package compound

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// MaxOps bounds the operations of one compound request; the brick
// protocol refuses a larger batch whole (protocol.MaxCompoundOps).
const MaxOps = 64

// Kind selects the operation of an Op.
type Kind uint8

// The operations a batch may contain.
const (
	OpLookup Kind = iota + 1
	OpGetAttr
	OpSetAttr
	OpCreate
	OpMknod
	OpMkdir
	OpSymlink
	OpLink
	OpUnlink
	OpRmdir
	OpRename
	OpOpen
	OpRead
	OpWrite
	OpFlush
	OpFsync
	OpRelease
	OpFallocate
	OpGetXattr
	OpSetXattr
	OpRemoveXattr
	OpXattrOp
	OpInodeLk
	OpEntryLk
)

var kindNames = [...]string{
	OpLookup: "lookup", OpGetAttr: "getattr", OpSetAttr: "setattr", OpCreate: "create",
	OpMknod: "mknod", OpMkdir: "mkdir", OpSymlink: "symlink", OpLink: "link",
	OpUnlink: "unlink", OpRmdir: "rmdir", OpRename: "rename", OpOpen: "open",
	OpRead: "read", OpWrite: "write", OpFlush: "flush", OpFsync: "fsync",
	OpRelease: "release", OpFallocate: "fallocate", OpGetXattr: "getxattr",
	OpSetXattr: "setxattr", OpRemoveXattr: "removexattr", OpXattrOp: "xattrop",
	OpInodeLk: "inodelk", OpEntryLk: "entrylk",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "invalid"
}

// Op is one operation. Which fields apply depends on Kind; the constructors
// below fill the right ones and are the intended way to build an Op.
type Op struct {
	Kind Kind
	// GFID is the file operated on, or the parent directory of namespace
	// operations (Lookup, Create, Mknod, Mkdir, Symlink, Unlink, Rmdir,
	// EntryLk) and the old parent of Rename.
	GFID vfs.GFID
	// Name is the entry name, or the xattr name of Get/Set/RemoveXattr.
	Name string
	// NewParent and NewName are the destination of Rename and Link.
	NewParent vfs.GFID
	NewName   string
	Target    string // Symlink
	Fh        vfs.Handle
	// Flags are open(2) flags (Open), rename flags (Rename), setxattr
	// flags (SetXattr) or vfs.UnlinkHold / vfs.UnlinkUndo (Unlink).
	Flags   uint32
	Create  vfs.CreateIn  // Create, Mknod, Mkdir, Symlink
	SetAttr vfs.SetAttrIn // SetAttr
	Off     int64         // Read, Write, Fallocate
	Len     int64         // Read size, Fallocate length
	Mode    uint32        // Fallocate mode
	// Data is the Write data and the SetXattr value; for Read, a buffer
	// with room for Len bytes that Do may read into (optional).
	Data     []byte
	Datasync bool // Fsync
	XattrOp  vfs.XattrOpKind
	Xattrs   map[string][]byte // XattrOp operands
	Domain   string            // InodeLk, EntryLk
	// Lock is the range of InodeLk; EntryLk uses its Type and Owner.
	Lock vfs.Lock
	Wait bool // InodeLk, EntryLk
	// Keys name xattrs whose values Lookup and GetAttr also return (in
	// Result.Xattrs; names the object lacks are left out), as GlusterFS's
	// lookup xdata, so that replicate gets a changelog with the attributes.
	Keys []string
	// ReadMax, for Lookup, also asks for the content of a regular file of
	// at most ReadMax bytes (Result.Data, HasData), read after the lookup
	// and only when the caller may read it (GlusterFS's quick-read).
	ReadMax int64
}

// Result is the outcome of one operation.
type Result struct {
	Errno  syscall.Errno
	Attr   vfs.Attr          // Lookup, GetAttr, SetAttr, Create, Mknod, Mkdir, Symlink, Link
	Fh     vfs.Handle        // Create, Open
	N      int               // Write
	Data   []byte            // Read, GetXattr
	Xattrs map[string][]byte // XattrOp; Lookup and GetAttr with Keys
	// HasData says that Data is the content a Lookup with ReadMax asked
	// for (of Attr.Size bytes).
	HasData bool
}

// Compounder is implemented by translators that can run a batch in one round
// trip (protocol/client). It has Run's semantics.
type Compounder interface {
	Compound(ctx context.Context, ops []Op) ([]Result, syscall.Errno)
}

// Run executes ops on t: in one round trip when t is a Compounder,
// otherwise with Exec.
func Run(ctx context.Context, t vfs.Translator, ops []Op) ([]Result, syscall.Errno) {
	if c, ok := t.(Compounder); ok {
		return c.Compound(ctx, ops)
	}
	return Exec(ctx, t, ops)
}

// Exec executes ops on t one after the other, stopping at the first failure.
func Exec(ctx context.Context, t vfs.Translator, ops []Op) ([]Result, syscall.Errno) {
	results := make([]Result, 0, len(ops))
	for i := range ops {
		r := Do(ctx, t, &ops[i])
		results = append(results, r)
		if r.Errno != 0 {
			return results, r.Errno
		}
	}
	return results, 0
}

// Do executes one operation on t. An unknown Kind gives EINVAL.
func Do(ctx context.Context, t vfs.Translator, op *Op) Result {
	var r Result
	switch op.Kind {
	case OpLookup:
		var f vfs.Fetched
		f, r.Errno = vfs.FetchLookup(ctx, t, op.GFID, op.Name, op.Keys, op.ReadMax)
		if r.Errno == 0 {
			r.Attr, r.Xattrs, r.Data, r.HasData = f.Attr, f.Xattrs, f.Data, f.HasData
		}
	case OpGetAttr:
		r.Attr, r.Errno = t.GetAttr(ctx, op.GFID, op.Fh)
		if r.Errno == 0 && len(op.Keys) > 0 {
			r.Xattrs, r.Errno = vfs.GetXattrs(ctx, t, r.Attr.GFID, op.Keys)
		}
	case OpSetAttr:
		in := op.SetAttr
		r.Attr, r.Errno = t.SetAttr(ctx, op.GFID, op.Fh, &in)
	case OpCreate:
		in := op.Create
		r.Attr, r.Fh, r.Errno = t.Create(ctx, op.GFID, op.Name, &in)
	case OpMknod:
		in := op.Create
		r.Attr, r.Errno = t.Mknod(ctx, op.GFID, op.Name, &in)
	case OpMkdir:
		in := op.Create
		r.Attr, r.Errno = t.Mkdir(ctx, op.GFID, op.Name, &in)
	case OpSymlink:
		in := op.Create
		r.Attr, r.Errno = t.Symlink(ctx, op.GFID, op.Name, op.Target, &in)
	case OpLink:
		r.Attr, r.Errno = t.Link(ctx, op.GFID, op.NewParent, op.NewName)
	case OpUnlink:
		uctx := ctx
		if op.Flags != 0 {
			uctx = vfs.WithUnlinkFlags(ctx, op.Flags)
		}
		r.Errno = t.Unlink(uctx, op.GFID, op.Name)
	case OpRmdir:
		r.Errno = t.Rmdir(ctx, op.GFID, op.Name)
	case OpRename:
		r.Errno = t.Rename(ctx, op.GFID, op.Name, op.NewParent, op.NewName, op.Flags)
	case OpOpen:
		r.Fh, r.Errno = t.Open(ctx, op.GFID, op.Flags)
	case OpRead:
		if op.Len < 0 {
			r.Errno = syscall.EINVAL
			break
		}
		// A caller may lend the buffer (Data with room for Len bytes),
		// e.g. a brick reading into its pool.
		buf := op.Data
		if int64(cap(buf)) >= op.Len {
			buf = buf[:op.Len]
		} else {
			buf = make([]byte, op.Len)
		}
		var n int
		n, r.Errno = t.Read(ctx, op.GFID, op.Fh, buf, op.Off)
		if r.Errno == 0 {
			r.Data = buf[:n]
		}
	case OpWrite:
		r.N, r.Errno = t.Write(ctx, op.GFID, op.Fh, op.Data, op.Off)
	case OpFlush:
		r.Errno = t.Flush(ctx, op.GFID, op.Fh)
	case OpFsync:
		r.Errno = t.Fsync(ctx, op.GFID, op.Fh, op.Datasync)
	case OpRelease:
		r.Errno = t.Release(ctx, op.GFID, op.Fh)
	case OpFallocate:
		r.Errno = t.Fallocate(ctx, op.GFID, op.Fh, op.Mode, op.Off, op.Len)
	case OpGetXattr:
		r.Data, r.Errno = t.GetXattr(ctx, op.GFID, op.Name)
	case OpSetXattr:
		r.Errno = t.SetXattr(ctx, op.GFID, op.Name, op.Data, op.Flags)
	case OpRemoveXattr:
		r.Errno = t.RemoveXattr(ctx, op.GFID, op.Name)
	case OpXattrOp:
		r.Xattrs, r.Errno = t.XattrOp(ctx, op.GFID, op.XattrOp, op.Xattrs)
	case OpInodeLk:
		r.Errno = t.InodeLk(ctx, op.Domain, op.GFID, op.Lock, op.Wait)
	case OpEntryLk:
		r.Errno = t.EntryLk(ctx, op.Domain, op.GFID, op.Name, op.Lock.Type, op.Lock.Owner, op.Wait)
	default:
		r.Errno = syscall.EINVAL
	}
	return r
}

// Constructors, one per Kind.

func Lookup(parent vfs.GFID, name string) Op {
	return Op{Kind: OpLookup, GFID: parent, Name: name}
}
func GetAttr(gfid vfs.GFID, fh vfs.Handle) Op { return Op{Kind: OpGetAttr, GFID: gfid, Fh: fh} }

// LookupXattrs is Lookup that also returns the xattrs keys of the object.
func LookupXattrs(parent vfs.GFID, name string, keys []string) Op {
	return Op{Kind: OpLookup, GFID: parent, Name: name, Keys: keys}
}

// LookupContent is LookupXattrs that also returns the content of a regular
// file of at most readMax bytes (see Op.ReadMax).
func LookupContent(parent vfs.GFID, name string, keys []string, readMax int64) Op {
	return Op{Kind: OpLookup, GFID: parent, Name: name, Keys: keys, ReadMax: readMax}
}

// GetAttrXattrs is GetAttr that also returns the xattrs keys.
func GetAttrXattrs(gfid vfs.GFID, fh vfs.Handle, keys []string) Op {
	return Op{Kind: OpGetAttr, GFID: gfid, Fh: fh, Keys: keys}
}
func SetAttr(gfid vfs.GFID, fh vfs.Handle, in vfs.SetAttrIn) Op {
	return Op{Kind: OpSetAttr, GFID: gfid, Fh: fh, SetAttr: in}
}
func Create(parent vfs.GFID, name string, in vfs.CreateIn) Op {
	return Op{Kind: OpCreate, GFID: parent, Name: name, Create: in}
}
func Mknod(parent vfs.GFID, name string, in vfs.CreateIn) Op {
	return Op{Kind: OpMknod, GFID: parent, Name: name, Create: in}
}
func Mkdir(parent vfs.GFID, name string, in vfs.CreateIn) Op {
	return Op{Kind: OpMkdir, GFID: parent, Name: name, Create: in}
}
func Symlink(parent vfs.GFID, name, target string, in vfs.CreateIn) Op {
	return Op{Kind: OpSymlink, GFID: parent, Name: name, Target: target, Create: in}
}
func Link(gfid, newParent vfs.GFID, newName string) Op {
	return Op{Kind: OpLink, GFID: gfid, NewParent: newParent, NewName: newName}
}
func Unlink(parent vfs.GFID, name string) Op { return Op{Kind: OpUnlink, GFID: parent, Name: name} }

// UnlinkHeld is Unlink with vfs.UnlinkHold: it can be undone for a while.
func UnlinkHeld(parent vfs.GFID, name string) Op {
	return Op{Kind: OpUnlink, GFID: parent, Name: name, Flags: vfs.UnlinkHold}
}

// UnlinkUndo undoes an UnlinkHeld of the same name (vfs.UnlinkUndo).
func UnlinkUndo(parent vfs.GFID, name string) Op {
	return Op{Kind: OpUnlink, GFID: parent, Name: name, Flags: vfs.UnlinkUndo}
}

// UnlinkCommit ends the hold of an UnlinkHeld of the same name
// (vfs.UnlinkCommit).
func UnlinkCommit(parent vfs.GFID, name string) Op {
	return Op{Kind: OpUnlink, GFID: parent, Name: name, Flags: vfs.UnlinkCommit}
}
func Rmdir(parent vfs.GFID, name string) Op { return Op{Kind: OpRmdir, GFID: parent, Name: name} }
func Rename(oldParent vfs.GFID, oldName string, newParent vfs.GFID, newName string, flags uint32) Op {
	return Op{Kind: OpRename, GFID: oldParent, Name: oldName, NewParent: newParent, NewName: newName, Flags: flags}
}
func Open(gfid vfs.GFID, flags uint32) Op { return Op{Kind: OpOpen, GFID: gfid, Flags: flags} }
func Read(gfid vfs.GFID, fh vfs.Handle, off int64, size int) Op {
	return Op{Kind: OpRead, GFID: gfid, Fh: fh, Off: off, Len: int64(size)}
}
func Write(gfid vfs.GFID, fh vfs.Handle, data []byte, off int64) Op {
	return Op{Kind: OpWrite, GFID: gfid, Fh: fh, Data: data, Off: off}
}
func Flush(gfid vfs.GFID, fh vfs.Handle) Op { return Op{Kind: OpFlush, GFID: gfid, Fh: fh} }
func Fsync(gfid vfs.GFID, fh vfs.Handle, datasync bool) Op {
	return Op{Kind: OpFsync, GFID: gfid, Fh: fh, Datasync: datasync}
}
func Release(gfid vfs.GFID, fh vfs.Handle) Op { return Op{Kind: OpRelease, GFID: gfid, Fh: fh} }
func Fallocate(gfid vfs.GFID, fh vfs.Handle, mode uint32, off, length int64) Op {
	return Op{Kind: OpFallocate, GFID: gfid, Fh: fh, Mode: mode, Off: off, Len: length}
}
func GetXattr(gfid vfs.GFID, name string) Op { return Op{Kind: OpGetXattr, GFID: gfid, Name: name} }
func SetXattr(gfid vfs.GFID, name string, value []byte, flags uint32) Op {
	return Op{Kind: OpSetXattr, GFID: gfid, Name: name, Data: value, Flags: flags}
}
func RemoveXattr(gfid vfs.GFID, name string) Op {
	return Op{Kind: OpRemoveXattr, GFID: gfid, Name: name}
}
func XattrOp(gfid vfs.GFID, op vfs.XattrOpKind, operands map[string][]byte) Op {
	return Op{Kind: OpXattrOp, GFID: gfid, XattrOp: op, Xattrs: operands}
}
func InodeLk(domain string, gfid vfs.GFID, lk vfs.Lock, wait bool) Op {
	return Op{Kind: OpInodeLk, Domain: domain, GFID: gfid, Lock: lk, Wait: wait}
}
func EntryLk(domain string, parent vfs.GFID, name string, typ vfs.LockType, owner uint64, wait bool) Op {
	return Op{Kind: OpEntryLk, Domain: domain, GFID: parent, Name: name, Lock: vfs.Lock{Type: typ, Owner: owner}, Wait: wait}
}

package vfs

import (
	"context"
	"syscall"
)

// WriteSetAttrer is implemented by translators that can apply a write and
// then a setattr of the same file as one operation: cluster/replicate
// sends both in one request per brick, inside the file's transaction.
// performance/write-behind uses it for the last write of a file it
// created and the setattrs held after it (tar's times, owner and mode).
//
// Translators that keep state about what writes or setattrs change
// (caches) implement it only when they account for both; Passthrough
// does not forward it, so that a translator which does not know of it is
// never skipped.
type WriteSetAttrer interface {
	// WriteSetAttr writes data at off and then, if all of it was
	// written, applies in. It returns how much was written, and the
	// attributes after the setattr. A short write without an error
	// leaves in unapplied: the caller writes the rest and sets the
	// attributes itself. The errno is the write's, or the setattr's
	// when the write went through.
	WriteSetAttr(ctx context.Context, gfid GFID, fh Handle, data []byte, off int64, in *SetAttrIn) (int, Attr, syscall.Errno)
}

// WriteThenSetAttr does what WriteSetAttr does through t: in one
// operation when t is a WriteSetAttrer, as a Write then a SetAttr
// otherwise.
func WriteThenSetAttr(ctx context.Context, t Translator, gfid GFID, fh Handle, data []byte, off int64, in *SetAttrIn) (int, Attr, syscall.Errno) {
	if b, ok := t.(WriteSetAttrer); ok {
		return b.WriteSetAttr(ctx, gfid, fh, data, off, in)
	}
	n, errno := t.Write(ctx, gfid, fh, data, off)
	if errno != 0 || n != len(data) {
		return n, Attr{}, errno
	}
	a, errno := t.SetAttr(ctx, gfid, fh, in)
	return n, a, errno
}

package client

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/cairnfs/cairn/vfs"
)

// fileHandle is an open regular file: the stack's handle plus the GFID it
// was opened on (kept here, not looked up through the node, so that a file
// unlinked while open keeps working on its own identity).
type fileHandle struct {
	m    *mountState
	gfid vfs.GFID
	fh   vfs.Handle
}

// openFlags chooses the FOPEN_* flags for a new handle from the open(2)
// flags and the mount's direct-io mode.
func (m *mountState) openFlags(flags uint32) uint32 {
	if m.opts.DirectIO == DirectIOEnable || flags&syscall.O_DIRECT != 0 {
		return fuse.FOPEN_DIRECT_IO
	}
	if m.opts.NoKeepCache {
		return 0
	}
	return fuse.FOPEN_KEEP_CACHE
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	// The kernel has already handled O_CREAT/O_EXCL (through Lookup and
	// Create); the stack's Open does not accept them.
	flags &^= syscall.O_CREAT | syscall.O_EXCL | syscall.O_NOCTTY
	fh, e := n.m.stack.Open(n.m.opCtx(ctx), n.gfid, flags)
	if e != 0 {
		return nil, 0, errno(e)
	}
	return &fileHandle{m: n.m, gfid: n.gfid, fh: fh}, n.m.openFlags(flags), 0
}

// Read fills dest unless the file ends first. The kernel takes a short
// READ reply (outside direct I/O) to mean end of file: it shrinks its idea
// of the size and leaves the rest of a readahead window unread, to be
// fetched later a page at a time. Translators may return less than asked
// (a cache page or a transport chunk boundary), so Read asks again until
// dest is full or a read returns nothing.
func (f *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	ctx = f.m.opCtx(ctx)
	total := 0
	for total < len(dest) {
		n, e := f.m.stack.Read(ctx, f.gfid, f.fh, dest[total:], off+int64(total))
		if e != 0 {
			if total > 0 {
				break // report what was read; the error recurs on the next call
			}
			return nil, errno(e)
		}
		if n <= 0 {
			break
		}
		total += n
	}
	return fuse.ReadResultData(dest[:total]), 0
}

func (f *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, e := f.m.stack.Write(f.m.opCtx(ctx), f.gfid, f.fh, data, off)
	if e != 0 {
		return 0, errno(e)
	}
	return uint32(n), 0
}

// Flush runs on every close(2). A stack without a flush has nothing to
// report, so its ENOSYS is success for the application; it is not passed on
// because the kernel would then stop sending FLUSH, and with it the lock
// owner that lockReleaser needs.
func (f *fileHandle) Flush(ctx context.Context) syscall.Errno {
	e := f.m.stack.Flush(f.m.opCtx(ctx), f.gfid, f.fh)
	if e == syscall.ENOSYS {
		return 0
	}
	return errno(e)
}

func (f *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return errno(f.m.stack.Fsync(f.m.opCtx(ctx), f.gfid, f.fh, flags&fuseFsyncFdatasync != 0))
}

func (f *fileHandle) Release(ctx context.Context) syscall.Errno {
	return errno(f.m.stack.Release(f.m.opCtx(ctx), f.gfid, f.fh))
}

func (f *fileHandle) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	return kernelErrno(f.m.stack.Fallocate(f.m.opCtx(ctx), f.gfid, f.fh, mode, int64(off), int64(size)), true)
}

// Lseek is only called for SEEK_DATA and SEEK_HOLE; the kernel does the rest.
func (f *fileHandle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	r, e := f.m.stack.Lseek(f.m.opCtx(ctx), f.gfid, f.fh, int64(off), int(whence))
	if e != 0 {
		return 0, kernelErrno(e, true)
	}
	return uint64(r), 0
}

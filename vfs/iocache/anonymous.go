package iocache

import (
	"context"
	"slices"
	"syscall"

	"github.com/cairnfs/cairn/vfs"
)

// Reads without a handle.
//
// A read on an open handle was allowed when the handle was opened, but a
// read without one (handle 0: the NFS and 9P gateways' reads) is checked by
// the bricks against the caller's permission every time. The pages of a
// file are shared by every caller, so an anonymous read is served from them
// only for root (whom the bricks never refuse) and for identities whose own
// anonymous read of the file the child has answered; anyone else's goes to
// the child, which allows it (and the identity is remembered) or refuses
// it. What was allowed is forgotten when the file's entry goes, when a
// chmod or chown passes through here, and when the file's ctime is seen to
// change (a chmod by another client when no reports flow).

// maxAllowed bounds the identities remembered per file; a file read by
// more callers than that forgets the earlier ones.
const maxAllowed = 8

// mayServeAnonymous reports whether the caller of ctx may be served f's
// pages without a handle, and when not, the generation of f's allowances
// that a read by the child must still find for allow to remember it.
func (c *IOCache) mayServeAnonymous(ctx context.Context, f *file) (ok bool, key string, gen uint64) {
	caller := vfs.CallerFrom(ctx)
	if caller.IsRoot() {
		return true, "", 0
	}
	key = caller.IdentityKey()
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(f.allowed, key), key, f.allowedGen
}

// readAnonymous forwards an anonymous read that the cache may not answer
// for its caller and remembers the caller when the child allows it.
func (c *IOCache) readAnonymous(ctx context.Context, f *file, key string, gen uint64, dest []byte, off int64) (int, syscall.Errno) {
	n, errno := c.Child.Read(ctx, f.gfid, 0, dest, off)
	if errno != 0 {
		return n, errno
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.dead || f.allowedGen != gen || slices.Contains(f.allowed, key) {
		return n, 0
	}
	if len(f.allowed) >= maxAllowed {
		f.allowed = slices.Delete(f.allowed, 0, 1)
	}
	f.allowed = append(f.allowed, key)
	return n, 0
}

// forgetAllowedLocked drops f's allowances, and those of reads still in
// flight. Called with mu held.
func forgetAllowedLocked(f *file) {
	f.allowed = nil
	f.allowedGen++
}

// permissionsChanged forgets who may read gfid anonymously after a chmod or
// chown through this translator.
func (c *IOCache) permissionsChanged(gfid vfs.GFID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.files[gfid]; f != nil {
		forgetAllowedLocked(f)
	}
}

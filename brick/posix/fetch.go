package posix

import (
	"context"
	"syscall"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/vfs"
)

var _ vfs.LookupFetcher = (*Posix)(nil)

// LookupFetch is Lookup followed by the xattrs keys of the object found
// and, when readMax > 0, the content of a regular file of at most readMax
// bytes, all read from one descriptor opened by name in the parent already
// held. Resolving the GFID again for every key and for the read (what
// vfs.FetchLookup does with GetXattr and Read) cost about ten system calls
// more per lookup; cluster/replicate asks every brick for this on every
// lookup. Symlinks and special files, which can only be held O_PATH, and
// an object replaced between the stat and the open, take that general
// path.
func (p *Posix) LookupFetch(ctx context.Context, parent vfs.GFID, name string, keys []string, readMax int64) (vfs.Fetched, syscall.Errno) {
	po, st, g, e := p.lookupAt(ctx, parent, name)
	if e != 0 {
		return vfs.Fetched{}, e
	}
	defer po.close()
	c := vfs.CallerFrom(ctx)
	r := vfs.Fetched{Attr: p.attr(g, &st)}
	typ := st.Mode & syscall.S_IFMT
	wantData := readMax > 0 && typ == syscall.S_IFREG && st.Size <= readMax
	if len(keys) == 0 && !wantData {
		return r, 0
	}
	fd := -1
	if typ == syscall.S_IFREG || typ == syscall.S_IFDIR {
		// O_NONBLOCK and O_NOCTTY: should the name have become a FIFO or a
		// device since the stat, opening it must neither block nor act;
		// the inode check below then sends it the general way.
		flags := syscall.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY
		if typ == syscall.S_IFDIR {
			flags |= syscall.O_DIRECTORY
		}
		var err error
		if fd, err = sys.Openat(po.fd, name, flags, 0); err == nil {
			var fst sys.Stat_t
			if sys.Fstat(fd, &fst) != nil || fst.Ino != st.Ino || fst.Dev != st.Dev {
				sys.Close(fd)
				fd = -1
			}
		} else {
			fd = -1
		}
	}
	if fd < 0 {
		return vfs.CompleteFetch(ctx, p, r.Attr, keys, readMax)
	}
	defer sys.Close(fd)
	if len(keys) > 0 {
		r.Xattrs = make(map[string][]byte, len(keys))
		for _, k := range keys {
			if g == vfs.RootGFID && k == XattrIndexDirty {
				v, e := p.dirtyIndexXattr(ctx)
				if e != 0 {
					return vfs.Fetched{}, e
				}
				r.Xattrs[k] = v
				continue
			}
			switch e := checkXattr(c, &st, k, false); e {
			case 0:
			case syscall.ENODATA:
				continue
			default:
				return vfs.Fetched{}, e
			}
			v, err := sys.Fgetxattr(fd, k)
			switch {
			case err == syscall.ENODATA:
				continue
			case err != nil:
				return vfs.Fetched{}, errno(err)
			case v == nil:
				v = []byte{}
			}
			r.Xattrs[k] = v
		}
	}
	// Best effort, as in vfs.FetchLookup: no content for a caller that may
	// not read the file, or when it changed size meanwhile.
	if wantData && access(c, &st, mayRead) == 0 {
		buf := make([]byte, st.Size)
		if n, err := sys.PreadFull(fd, buf, 0); err == nil && n == len(buf) {
			r.Data, r.HasData = buf, true
		}
	}
	return r, 0
}

package nfs

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"net"
	"sync"
	"time"

	billy "github.com/go-git/go-billy/v5"
	gonfs "github.com/willscott/go-nfs"

	"github.com/cairnfs/cairn/vfs"
)

// goHandler is the go-nfs Handler over the exports. It serves MOUNT and
// whatever NFS procedures Config.GoNFSProcs routes to go-nfs. Handles are
// the same stateless volume id + GFID handles cairn's own procedures use;
// FromHandle turns one into a GFID-anchored path for the billy adapter.
type goHandler struct {
	s     *Server
	snaps *snapshots
}

var (
	_ gonfs.Handler        = (*goHandler)(nil)
	_ gonfs.CachingHandler = (*goHandler)(nil)
)

func newGoHandler(s *Server) *goHandler {
	return &goHandler{s: s, snaps: newSnapshots(64, time.Minute)}
}

// Mount accepts "/NAME" (or "/" with a single export). The --allow list
// has already been applied when the connection was accepted.
func (h *goHandler) Mount(ctx context.Context, c net.Conn, req gonfs.MountRequest) (gonfs.MountStatus, billy.Filesystem, []gonfs.AuthFlavor) {
	ex := h.s.exportByPath(string(req.Dirpath))
	if ex == nil {
		return gonfs.MountStatusErrNoEnt, nil, nil
	}
	return gonfs.MountStatusOk, ex.billy, []gonfs.AuthFlavor{gonfs.AuthFlavorUnix}
}

// Change enables SETATTR, MKNOD and LINK in go-nfs; nil for read-only.
func (h *goHandler) Change(f billy.Filesystem) billy.Change {
	b, ok := f.(*billyFS)
	if !ok || b.ex.ro {
		return nil
	}
	return b
}

// FSStat fills in the volume's real figures.
func (h *goHandler) FSStat(ctx context.Context, f billy.Filesystem, st *gonfs.FSStat) error {
	b, ok := f.(*billyFS)
	if !ok {
		return errors.New("nfs: foreign file system")
	}
	sf, e := b.ex.fs.StatFS(b.ctx(), vfs.RootGFID)
	if e != 0 {
		return e
	}
	bs := uint64(sf.Frsize)
	if bs == 0 {
		bs = uint64(sf.Bsize)
	}
	st.TotalSize = sf.Blocks * bs
	st.FreeSize = sf.Bfree * bs
	st.AvailableSize = sf.Bavail * bs
	st.TotalFiles = sf.Files
	st.FreeFiles = sf.Ffree
	st.AvailableFiles = sf.Ffree
	st.CacheHint = 0
	return nil
}

// ToHandle resolves a path to its GFID handle.
func (h *goHandler) ToHandle(f billy.Filesystem, p []string) []byte {
	b, ok := f.(*billyFS)
	if !ok {
		return nil
	}
	a, _, e := b.resolve(b.ctx(), b.Join(p...), false)
	if e != 0 {
		return nil
	}
	return EncodeHandle(b.ex.id, a.GFID)
}

// FromHandle decodes a handle without any table: a GFID the volume no
// longer knows is NFS3ERR_STALE.
func (h *goHandler) FromHandle(fh []byte) (billy.Filesystem, []string, error) {
	vol, g, err := DecodeHandle(fh)
	if err != nil {
		return nil, nil, &gonfs.NFSStatusError{NFSStatus: gonfs.NFSStatusBadHandle, WrappedErr: err}
	}
	ex := h.s.byID[vol]
	if ex == nil {
		return nil, nil, &gonfs.NFSStatusError{NFSStatus: gonfs.NFSStatusStale, WrappedErr: errOtherVolume}
	}
	if _, e := ex.fs.GetAttr(ex.billy.ctx(), g, 0); e != 0 {
		return nil, nil, &gonfs.NFSStatusError{NFSStatus: gonfs.NFSStatusStale, WrappedErr: e}
	}
	return ex.billy, gfidPath(g), nil
}

// InvalidateHandle is a no-op: handles name files, not paths.
func (h *goHandler) InvalidateHandle(billy.Filesystem, []byte) error { return nil }

// HandleLimit is large because go-nfs also uses it to cap READDIR pages.
func (h *goHandler) HandleLimit() int { return math.MaxInt32 }

// VerifierFor keeps a snapshot of the listing go-nfs just made, so the
// pages that follow are served from it and a directory changing during
// the listing does not give BAD_COOKIE.
func (h *goHandler) VerifierFor(p string, contents []fs.FileInfo) uint64 {
	sum := sha256.New()
	sum.Write([]byte(p))
	var nb [8]byte
	binary.BigEndian.PutUint64(nb[:], uint64(time.Now().UnixNano()))
	sum.Write(nb[:])
	for _, c := range contents {
		sum.Write([]byte(c.Name()))
		sum.Write([]byte{0})
	}
	v := binary.BigEndian.Uint64(sum.Sum(nil)) | 1
	h.snaps.put(v, p, contents)
	return v
}

// DataForVerifier returns a snapshot made by VerifierFor.
func (h *goHandler) DataForVerifier(p string, v uint64) []fs.FileInfo {
	return h.snaps.get(v, p)
}

// snapshots is a small bounded cache of directory listings.
type snapshots struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	m   map[uint64]*snapshot
}

type snapshot struct {
	path string
	list []fs.FileInfo
	used time.Time
}

func newSnapshots(max int, ttl time.Duration) *snapshots {
	return &snapshots{max: max, ttl: ttl, m: map[uint64]*snapshot{}}
}

func (s *snapshots) put(v uint64, p string, list []fs.FileInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for k, sn := range s.m {
		if now.Sub(sn.used) > s.ttl {
			delete(s.m, k)
		}
	}
	for len(s.m) >= s.max {
		var oldest uint64
		var ot time.Time
		for k, sn := range s.m {
			if ot.IsZero() || sn.used.Before(ot) {
				oldest, ot = k, sn.used
			}
		}
		delete(s.m, oldest)
	}
	s.m[v] = &snapshot{path: p, list: list, used: now}
}

func (s *snapshots) get(v uint64, p string) []fs.FileInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := s.m[v]
	if sn == nil || sn.path != p {
		return nil
	}
	sn.used = time.Now()
	return sn.list
}

package client

import (
	"container/list"
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/internal/sys"
	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Local reads (protocol/localfd.go; Config.LocalRead). When the brick is on
// this host, a file read more than once is read through a read-only
// descriptor the brick hands over, with pread, instead of each read being
// a request whose data the brick copies through two loopback sockets.
//
// What keeps this equivalent to reading through the brick:
//   - A descriptor belongs to one epoch: it is only used while the brick
//     is up and that epoch current, and all are closed when it ends (the
//     brick declared down, the connection lost). cluster/replicate above
//     decides, as before, whether this brick's copy may be read at all.
//   - It refers to the brick's file itself, so it sees every write that
//     reached the brick, from any client, as the brick's own reads do.
//   - The brick opened it after the permission check of an anonymous read
//     for one caller identity; it serves only that identity, and only
//     while the file's mode and owner are those of the check (an fstat
//     before each read), and while the file has a link (a file deleted,
//     or replaced by a heal, is fetched again under its GFID).
//   - Handles opened write-only, and directories, keep going to the
//     brick, which refuses their reads as before.
//   - It is only used while the brick answered something within
//     localFreshness. A frozen brick (SIGSTOP, a hung disk) is declared
//     down ping-timeout after its last reply, and no other client can
//     have declared it down and written past it sooner than about two
//     thirds of that (its pings go out every third), so a descriptor of
//     a frozen brick's file stops serving before any write can have
//     skipped that file: through the brick the read would have waited
//     for the verdict. The read that finds the brick quiet goes to it,
//     and its reply makes the brick fresh again.
//
// Small files read once cost nothing extra: the first read of a file goes
// to the brick as before, the second fetches the descriptor.

// localFreshness is how recent the brick's last reply must be for a local
// read: at most a second, and less than the two thirds of ping-timeout
// after which another client may declare a frozen brick down.
func (c *Client) localFreshness() time.Duration {
	return min(time.Second, c.cfg.PingTimeout/2)
}

// localFDCacheSize bounds the descriptors (and the files being counted)
// kept per epoch.
const localFDCacheSize = 64

// localFetchAfter is the number of reads of a file through the brick
// before its descriptor is fetched.
const localFetchAfter = 1

// localFDs is one epoch's local descriptors.
type localFDs struct {
	c     *Client
	sock  string
	token []byte

	fetchMu sync.Mutex // one fetch at a time on conn

	mu     sync.Mutex
	conn   *net.UnixConn // set under fetchMu and mu; closed by close
	broken bool          // the socket failed or the epoch ended: no more fetches
	m      map[localKey]*list.Element
	lru    list.List // of *localFD, most recent first
}

// localKey names a descriptor: the file and the identity it was checked
// for (uid, gid and groups, not the pid).
type localKey struct {
	g   vfs.GFID
	who string
}

type localFD struct {
	key      localKey
	fd       int // -1 until fetched
	reads    int // reads through the brick before the fetch
	fetching bool
	refused  bool // the brick said no: keep reading through it
	st       fdIdentity
	refs     int  // guarded by localFDs.mu
	dead     bool // evicted or the epoch ended: close at the last put
}

// fdIdentity is what must not change for a descriptor's permission check
// to stand.
type fdIdentity struct {
	mode     uint32
	uid, gid uint32
}

func identityOf(st *sys.Stat_t) fdIdentity {
	return fdIdentity{mode: st.Mode, uid: st.Uid, gid: st.Gid}
}

func newLocalFDs(c *Client, ep *epoch, sock string, token []byte) *localFDs {
	l := &localFDs{c: c, sock: sock, token: token, m: map[localKey]*list.Element{}}
	context.AfterFunc(ep.ctx, l.close)
	return l
}

// readLocal reads through a local descriptor when there is one for the
// file and caller (fetching it on the file's second read); ok false means
// the read must go to the brick.
func (c *Client) readLocal(ctx context.Context, gfid vfs.GFID, of *openFile, dest []byte, off int64) (n int, ok bool) {
	if of != nil && (of.dir || of.flags&syscall.O_ACCMODE == syscall.O_WRONLY) {
		return 0, false
	}
	l := c.currentLocal()
	if l == nil {
		return 0, false
	}
	return l.read(ctx, gfid, dest, off)
}

// currentLocal returns the local descriptors that may serve reads now: the
// current epoch's, while the brick is up and fresh; nil otherwise.
func (c *Client) currentLocal() *localFDs {
	if c.state.Load() != stateUp || time.Since(time.Unix(0, c.lastAck.Load())) > c.localFreshness() {
		return nil
	}
	ep := c.ep.Load()
	if ep == nil || ep.ctx.Err() != nil {
		return nil
	}
	return ep.local.Load()
}

// ReadsLocally says whether a read of gfid by ctx's caller would now be
// served from a local descriptor (vfs.LocalReader).
func (c *Client) ReadsLocally(ctx context.Context, gfid vfs.GFID) bool {
	l := c.currentLocal()
	if l == nil {
		return false
	}
	key := localKey{g: gfid, who: vfs.CallerFrom(ctx).IdentityKey()}
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.m[key]
	return ok && !l.broken && el.Value.(*localFD).fd >= 0
}

func (l *localFDs) read(ctx context.Context, gfid vfs.GFID, dest []byte, off int64) (int, bool) {
	return l.use(ctx, gfid, true, func(fd int, _ *sys.Stat_t) (int, error) {
		return sys.PreadFull(fd, dest, off)
	})
}

// use runs op on the caller's descriptor of gfid once it has checked
// that the descriptor may still serve that caller; ok false means the
// read must go to the brick, and an error from op drops the descriptor.
// A read that counts toward fetching (count) fetches the descriptor on
// the file's second read; others only use one already there.
func (l *localFDs) use(ctx context.Context, gfid vfs.GFID, count bool, op func(fd int, st *sys.Stat_t) (int, error)) (n int, ok bool) {
	cl := vfs.CallerFrom(ctx)
	key := localKey{g: gfid, who: cl.IdentityKey()}
	a, fetch := l.get(key, count)
	if a == nil {
		return 0, false
	}
	defer l.put(a)
	if fetch && !l.fetch(a, cl) {
		return 0, false
	}
	var st sys.Stat_t
	if err := sys.Fstat(a.fd, &st); err != nil || st.Nlink == 0 || identityOf(&st) != a.st {
		// Deleted, replaced, or its permissions changed: ask the brick
		// again next time.
		l.drop(a)
		return 0, false
	}
	n, err := op(a.fd, &st)
	if err != nil {
		l.drop(a)
		return 0, false
	}
	return n, true
}

// get returns key's descriptor referenced (call put), or nil when this
// read goes to the brick; fetch says the caller must fetch it first. A
// read that does not count (count false) never fetches nor counts.
func (l *localFDs) get(key localKey, count bool) (a *localFD, fetch bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken {
		return nil, false
	}
	el, found := l.m[key]
	if !count && (!found || el.Value.(*localFD).fd < 0) {
		return nil, false
	}
	if !found {
		a = &localFD{key: key, fd: -1}
		l.m[key] = l.lru.PushFront(a)
		for l.lru.Len() > localFDCacheSize {
			l.evictLocked(l.lru.Back())
		}
	} else {
		a = el.Value.(*localFD)
		l.lru.MoveToFront(el)
	}
	switch {
	case a.fd >= 0:
	case a.refused || a.fetching:
		return nil, false
	case a.reads < localFetchAfter:
		a.reads++
		return nil, false
	default:
		a.fetching = true
		fetch = true
	}
	a.refs++
	return a, fetch
}

func (l *localFDs) put(a *localFD) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a.refs--
	if a.refs == 0 && a.dead && a.fd >= 0 {
		sys.Close(a.fd)
		a.fd = -1
	}
}

// evictLocked forgets a; its descriptor closes at its last put.
func (l *localFDs) evictLocked(el *list.Element) {
	a := el.Value.(*localFD)
	l.lru.Remove(el)
	delete(l.m, a.key)
	a.dead = true
	if a.refs == 0 && a.fd >= 0 {
		sys.Close(a.fd)
		a.fd = -1
	}
}

// drop forgets a (the caller holds a reference).
func (l *localFDs) drop(a *localFD) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.m[a.key]; ok && el.Value.(*localFD) == a {
		l.evictLocked(el)
	}
}

// close ends the epoch's local reads: no more fetches, every descriptor
// closed once its readers are done.
func (l *localFDs) close() {
	l.mu.Lock()
	l.broken = true
	for el := l.lru.Front(); el != nil; {
		next := el.Next()
		l.evictLocked(el)
		el = next
	}
	conn := l.conn
	l.mu.Unlock()
	if conn != nil {
		conn.Close() // fails a fetch in flight at once
	}
}

// fetch asks the brick for a's descriptor; false leaves the read to the
// brick (a refused, or the socket broken).
func (l *localFDs) fetch(a *localFD, cl *vfs.Caller) bool {
	fd, e, err := l.request(a.key.g, cl)
	var st sys.Stat_t
	if err == nil && e == 0 {
		if serr := sys.Fstat(fd, &st); serr != nil {
			sys.Close(fd)
			e = syscall.EIO
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	a.fetching = false
	switch {
	case err != nil:
		if !l.broken {
			l.c.log.Info("local reads off for this connection; reading through the brick", "err", err)
		}
		l.broken = true
		if l.conn != nil {
			l.conn.Close()
		}
		return false
	case e == syscall.EOPNOTSUPP:
		l.broken = true // the brick's graph cannot share descriptors
		return false
	case e != 0:
		a.refused = true
		return false
	case a.dead || l.broken:
		sys.Close(fd)
		return false
	}
	a.fd, a.st = fd, identityOf(&st)
	return true
}

// request sends one LocalFDRequest, dialling first if needed. err reports
// a broken socket, e the brick's refusal.
func (l *localFDs) request(g vfs.GFID, cl *vfs.Caller) (fd int, e syscall.Errno, err error) {
	l.fetchMu.Lock()
	defer l.fetchMu.Unlock()
	l.mu.Lock()
	uc, broken := l.conn, l.broken
	l.mu.Unlock()
	if broken {
		return -1, 0, errors.New("epoch ended")
	}
	if uc == nil {
		if uc, err = l.dial(); err != nil {
			return -1, 0, err
		}
		l.mu.Lock()
		if l.broken {
			l.mu.Unlock()
			uc.Close()
			return -1, 0, errors.New("epoch ended")
		}
		l.conn = uc
		l.mu.Unlock()
	}
	uc.SetDeadline(time.Now().Add(l.c.cfg.PingTimeout))
	defer uc.SetDeadline(time.Time{})
	req := &brickpb.LocalFDRequest{Gfid: protocol.GFIDBytes(g), Caller: protocol.EncodeCaller(cl)}
	if err := protocol.WritePacket(uc, req, -1); err != nil {
		return -1, 0, err
	}
	var rep brickpb.LocalFDReply
	fd, err = protocol.ReadPacket(uc, &rep)
	if err != nil {
		return -1, 0, err
	}
	if rep.Errno != 0 {
		if fd >= 0 {
			sys.Close(fd)
		}
		return -1, syscall.Errno(rep.Errno), nil
	}
	if fd < 0 {
		return -1, 0, errors.New("brick sent no descriptor")
	}
	return fd, 0, nil
}

func (l *localFDs) dial() (*net.UnixConn, error) {
	uc, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: l.sock, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*net.UnixConn, error) {
		uc.Close()
		return nil, err
	}
	uc.SetDeadline(time.Now().Add(l.c.cfg.PingTimeout))
	if _, err := uc.Write([]byte(protocol.LocalFDMagic)); err != nil {
		return fail(err)
	}
	hello := &brickpb.ChannelHello{Token: l.token, Subvolume: l.c.cfg.RemoteSubvolume}
	if err := protocol.WritePacket(uc, hello, -1); err != nil {
		return fail(err)
	}
	var answer brickpb.ChannelReply
	fd, err := protocol.ReadPacket(uc, &answer)
	if fd >= 0 {
		sys.Close(fd)
	}
	if err != nil {
		return fail(err)
	}
	if answer.Code != 0 {
		return fail(status.Error(codes.Code(answer.Code), answer.Message))
	}
	uc.SetDeadline(time.Time{})
	return uc, nil
}

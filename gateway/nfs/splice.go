package nfs

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Zero-copy READ replies. A large READ whose bytes the volume can move
// from a local file (vfs.PipeReader: the brick's file through the
// descriptor protocol/client reads it with) is spliced into a pipe when
// it is served and from the pipe into the client's socket when the reply
// is sent, after the reply's head: the bytes are never copied in the
// gateway. Through Read they were copied twice, from the file into a
// buffer and from the buffer into the socket, which was most of the
// gateway's time per MiB in a sequential nfs-cp read.
//
// The bytes are in the pipe (as references to the file's pages) before
// the reply's head is built, so its count is exact. Reading the file
// happens outside the connection's write lock; only the move to the
// socket holds it.

// spliceMin is the smallest READ worth a pipe: below it the extra system
// calls cost about what the copies do.
const spliceMin = 64 << 10

// fitsPipe reports whether count bytes at off fit a pipe of maxIO bytes
// however the file's pages lie: a pipe slot holds at most a page of the
// file, so a range takes a slot for every page it touches, and an
// unaligned READ of maxIO (one page more) is read with Read.
func fitsPipe(off uint64, count uint32) bool {
	return off%uint64(os.Getpagesize())+uint64(count) <= maxIO
}

// maxPipes bounds the pipes a server has (in use and kept for reuse):
// READs beyond that many in flight are read with Read. 64 pipes of 1 MiB
// are what an unprivileged user may have by default (pipe-user-pages-soft,
// 16,384 pages).
const maxPipes = 64

// readPipe is a pipe that holds one READ's bytes.
type readPipe struct{ r, w int }

// pipePool hands out empty pipes sized for maxIO bytes.
type pipePool struct {
	off atomic.Bool // no pipe could ever be sized: no more splicing

	mu     sync.Mutex
	free   []*readPipe
	live   int // pipes made and not yet closed (free ones included)
	closed bool
}

// get returns an empty pipe with room for maxIO bytes, or nil when none
// can be had now (the caller reads with Read). Give it back with put, or
// with discard when what it holds is unknown.
func (p *pipePool) get() *readPipe {
	if p.off.Load() {
		return nil
	}
	p.mu.Lock()
	if k := len(p.free); k > 0 {
		rp := p.free[k-1]
		p.free = p.free[:k-1]
		p.mu.Unlock()
		return rp
	}
	if p.closed || p.live >= maxPipes {
		p.mu.Unlock()
		return nil
	}
	p.live++
	p.mu.Unlock()
	rp, err := newReadPipe()
	if err != nil {
		p.mu.Lock()
		p.live--
		if p.live == 0 && errors.Is(err, errPipeSize) {
			// Not one pipe of this size to be had (pipe-max-size below
			// maxIO, or the user's pipe pages used up elsewhere): stop
			// trying rather than pay for the attempt on every READ.
			p.off.Store(true)
		}
		p.mu.Unlock()
		return nil
	}
	return rp
}

var errPipeSize = errors.New("nfs: pipe cannot hold maxIO bytes")

// newReadPipe makes a pipe with room for maxIO bytes. A smaller one
// would block the splice into it.
func newReadPipe() (*readPipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	rp := &readPipe{r: fds[0], w: fds[1]}
	if size, err := unix.FcntlInt(uintptr(rp.w), unix.F_SETPIPE_SZ, maxIO); err != nil || size < maxIO {
		rp.close()
		return nil, errPipeSize
	}
	return rp, nil
}

// put gives back a pipe that is empty again.
func (p *pipePool) put(rp *readPipe) {
	p.mu.Lock()
	if !p.closed {
		p.free = append(p.free, rp)
		p.mu.Unlock()
		return
	}
	p.live--
	p.mu.Unlock()
	rp.close()
}

// discard closes a pipe whose content is unknown (a failed splice, an
// unsent reply).
func (p *pipePool) discard(rp *readPipe) {
	p.mu.Lock()
	p.live--
	p.mu.Unlock()
	rp.close()
}

// close closes the kept pipes; pipes in use are closed when put.
func (p *pipePool) close() {
	p.mu.Lock()
	free := p.free
	p.free, p.closed = nil, true
	p.live -= len(free)
	p.mu.Unlock()
	for _, rp := range free {
		rp.close()
	}
}

func (rp *readPipe) close() {
	unix.Close(rp.r)
	unix.Close(rp.w)
}

var zeros [4]byte

// sendSpliced writes one reply record: head, then n (> 0) bytes from rp,
// then the XDR pad after them. It reports whether the record was sent (false
// also closes the connection, as send does); rp is empty only then.
func (c *conn) sendSpliced(head []byte, rp *readPipe, n int) bool {
	pad := (4 - n%4) % 4
	first := make([]byte, 4, 4+len(head))
	binary.BigEndian.PutUint32(first, uint32(len(head)+n+pad)|0x80000000)
	first = append(first, head...)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return false
	}
	// MSG_MORE and SPLICE_F_MORE: the record goes out in full segments,
	// not as a head segment followed by the data. The record's last write
	// goes without: the kernel would hold it back for 200 ms (a READ of
	// nothing, sent with MSG_MORE and no data after it, was answered that
	// late; such READs no longer come here).
	err := c.rawSend(first, unix.MSG_MORE)
	if err == nil {
		more := 0
		if pad > 0 {
			more = unix.SPLICE_F_MORE
		}
		err = c.spliceOut(rp, n, more)
	}
	if err == nil && pad > 0 {
		err = c.rawSend(zeros[:pad], 0)
	}
	if err != nil {
		c.werr = err
		c.nc.Close()
		return false
	}
	return true
}

// rawSend writes all of b to the socket with flags.
func (c *conn) rawSend(b []byte, flags int) error {
	return c.rawWrite(len(b), func(fd, done int) (int, error) {
		return unix.SendmsgN(fd, b[done:], nil, nil, flags|unix.MSG_NOSIGNAL)
	})
}

// spliceOut moves n bytes from rp to the socket.
func (c *conn) spliceOut(rp *readPipe, n int, flags int) error {
	return c.rawWrite(n, func(fd, done int) (int, error) {
		k, err := unix.Splice(rp.r, nil, fd, nil, n-done, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK|flags)
		return int(k), err
	})
}

// rawWrite calls step on the socket until n bytes are written (done so
// far given), waiting for room through the runtime's poller when the
// socket is full.
func (c *conn) rawWrite(n int, step func(fd, done int) (int, error)) error {
	for done := 0; done < n; {
		var k int
		var err error
		if werr := c.raw.Write(func(fd uintptr) bool {
			k, err = step(int(fd), done)
			return err != unix.EAGAIN
		}); werr != nil {
			return werr
		}
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case k == 0:
			return io.ErrUnexpectedEOF // nothing left to move (a pipe holding less than said)
		}
		done += k
	}
	return nil
}

// rawOf returns nc's raw connection when it is a socket (nil otherwise:
// its READs are copied).
func rawOf(nc any) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

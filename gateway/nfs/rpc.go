package nfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ONC RPC (RFC 5531) constants used by the front end.
const (
	rpcVersion = 2

	msgCall  = 0
	msgReply = 1

	replyAccepted = 0
	replyDenied   = 1

	acceptSuccess      = 0
	acceptProgUnavail  = 1
	acceptProgMismatch = 2
	acceptProcUnavail  = 3
	acceptGarbageArgs  = 4
	acceptSystemErr    = 5

	rejectRPCMismatch = 0
	rejectAuthError   = 1

	authBadCred = 1
	authTooWeak = 5

	authNull = 0
	authUnix = 1

	progNFS   = 100003
	progMount = 100005

	maxAuthBytes = 400
	// maxRecord bounds one RPC record: a WRITE of maxIO bytes plus
	// headroom. Larger records close the connection.
	maxRecord = maxIO + 64<<10
	// maxFragments bounds the fragments one record may be split into, so
	// a client cannot make the server loop on empty fragments.
	maxFragments = 1024
)

var errRecordTooLarge = errors.New("nfs: RPC record too large")

// readRecord reads one RPC record (RFC 5531 section 11, record marking),
// joining its fragments. buf is reused when large enough.
func readRecord(r io.Reader, buf []byte) ([]byte, error) {
	rec := buf[:0]
	var hdr [4]byte
	for i := 0; ; i++ {
		if i >= maxFragments {
			return nil, errRecordTooLarge
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		v := binary.BigEndian.Uint32(hdr[:])
		n := int(v & 0x7fffffff)
		if len(rec)+n > maxRecord {
			return nil, errRecordTooLarge
		}
		start := len(rec)
		if cap(rec) < start+n {
			nr := make([]byte, start, start+n)
			copy(nr, rec)
			rec = nr
		}
		rec = rec[:start+n]
		if _, err := io.ReadFull(r, rec[start:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if v&0x80000000 != 0 {
			return rec, nil
		}
	}
}

// rpcCall is a decoded call header; args is the rest of the record.
type rpcCall struct {
	xid        uint32
	rpcvers    uint32
	prog       uint32
	vers       uint32
	proc       uint32
	credFlavor uint32
	cred       []byte
	args       []byte
}

// parseCall decodes the call header of a record. A record that is not a
// call, or is too short to be one, gives an error: the connection is then
// dropped, as nothing sensible can be replied.
func parseCall(rec []byte) (*rpcCall, error) {
	r := &xdrReader{b: rec}
	c := &rpcCall{xid: r.u32()}
	if mt := r.u32(); r.err == nil && mt != msgCall {
		return nil, fmt.Errorf("nfs: RPC message type %d is not a call", mt)
	}
	c.rpcvers = r.u32()
	c.prog = r.u32()
	c.vers = r.u32()
	c.proc = r.u32()
	c.credFlavor = r.u32()
	c.cred = r.opaque(maxAuthBytes)
	r.u32() // verifier flavor
	r.opaque(maxAuthBytes)
	if r.err != nil {
		return nil, fmt.Errorf("nfs: short RPC call header")
	}
	c.args = r.rest()
	return c, nil
}

// authUnixCred is the AUTH_UNIX (AUTH_SYS) credential body.
type authUnixCred struct {
	machine string
	uid     uint32
	gid     uint32
	gids    []uint32
}

func parseAuthUnix(b []byte) (authUnixCred, error) {
	r := &xdrReader{b: b}
	var c authUnixCred
	r.u32() // stamp
	c.machine = r.string(255)
	c.uid = r.u32()
	c.gid = r.u32()
	n := r.u32()
	if n > 16 {
		return c, errGarbage
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		c.gids = append(c.gids, r.u32())
	}
	return c, r.err
}

// replyHeader starts an accepted reply with the given accept status.
func replyHeader(w *xdrWriter, xid uint32, stat uint32) {
	w.u32(xid)
	w.u32(msgReply)
	w.u32(replyAccepted)
	w.u32(authNull) // verifier
	w.u32(0)
	w.u32(stat)
}

// deniedReply builds a MSG_DENIED reply.
func deniedReply(xid uint32, rejectStat uint32, body ...uint32) []byte {
	w := &xdrWriter{}
	w.u32(xid)
	w.u32(msgReply)
	w.u32(replyDenied)
	w.u32(rejectStat)
	for _, v := range body {
		w.u32(v)
	}
	return w.b
}

// acceptedReply builds an accepted reply with an error status and
// optional mismatch range.
func acceptedReply(xid uint32, stat uint32, body ...uint32) []byte {
	w := &xdrWriter{}
	replyHeader(w, xid, stat)
	for _, v := range body {
		w.u32(v)
	}
	return w.b
}

package server

import (
	"sync"
	"syscall"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/protocol/compound"
	"github.com/cairnfs/cairn/vfs"
)

// Upcall cache invalidation (GlusterFS's features.cache-invalidation): a
// client that subscribes on its Channel (brick.proto: ChannelCall.subscribe)
// is told about every change the other clients of the subvolume make, so
// that it may cache metadata for long without serving stale data.
//
// Changes are taken from session.exec, which every modifying operation
// runs through whatever path it came by (unary RPC, Compound, Channel on
// the gRPC stream or a side connection): wrapping the subvolume's
// translator instead would hide its optional interfaces (LookupFetcher,
// ReleaseClienter) from the server.
//
// "Another client" means another conn: a protocol/client instance has one
// gRPC connection per epoch, and its side connection shares that conn
// (ChannelToken), so every operation of the client arrives on the conn its
// subscription is on. After a reconnect the client has a new conn and
// subscribes again; a late operation of its old conn may then be reported
// to it, which costs a needless invalidation and nothing else.

const (
	// defaultChangeQueue bounds the changes queued for one subscriber;
	// beyond it they are dropped for a single Change with All set.
	defaultChangeQueue = 4096
	// maxChangesPerFrame bounds one ChannelReply of changes (a change is
	// at most ~300 bytes, so a frame stays far below MaxMessageSize).
	maxChangesPerFrame = 1024
)

// subscriber is one subscribed channel. Operations queue changes for it
// without waiting; its writer goroutine sends them, serialised with the
// channel's replies by send.
type subscriber struct {
	sv   *subvol
	c    *conn // the subscribing client: its own changes are not reported
	send func(*brickpb.ChannelReply)
	max  int

	mu    sync.Mutex
	queue []vfs.Change

	wake   chan struct{} // capacity 1: changes are queued
	done   chan struct{} // closed by stop
	exited chan struct{} // closed when the writer returns
}

// subscribe registers a channel of c as a subscriber of sv and starts its
// writer, which first sends the reply accepting the subscription. It is
// registered before that reply is sent, so no change made after the
// client learns it is subscribed can be missed.
func (sv *subvol) subscribe(c *conn, send func(*brickpb.ChannelReply), max int) *subscriber {
	if max <= 0 {
		max = defaultChangeQueue
	}
	sb := &subscriber{sv: sv, c: c, send: send, max: max,
		wake: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	sv.subMu.Lock()
	if sv.subs == nil {
		sv.subs = map[*subscriber]struct{}{}
	}
	sv.subs[sb] = struct{}{}
	sv.nsubs.Store(int32(len(sv.subs)))
	sv.subMu.Unlock()
	go sb.run()
	return sb
}

// stop unregisters sb and waits for its writer, so that nothing is sent
// on the channel after its handler returns.
func (sb *subscriber) stop() {
	sv := sb.sv
	sv.subMu.Lock()
	delete(sv.subs, sb)
	sv.nsubs.Store(int32(len(sv.subs)))
	sv.subMu.Unlock()
	close(sb.done)
	<-sb.exited
}

func (sb *subscriber) run() {
	defer close(sb.exited)
	sb.send(&brickpb.ChannelReply{Subscribed: true})
	for {
		select {
		case <-sb.wake:
		case <-sb.done:
			return
		}
		sb.mu.Lock()
		q := sb.queue
		sb.queue = nil
		sb.mu.Unlock()
		for len(q) > 0 {
			n := min(len(q), maxChangesPerFrame)
			rep := &brickpb.ChannelReply{Changes: make([]*brickpb.Change, n)}
			for i := range n {
				rep.Changes[i] = protocol.ChangeToPB(&q[i])
			}
			sb.send(rep)
			q = q[n:]
		}
	}
}

// push queues changes without blocking. A full queue is replaced by one
// Change with All set; while that is queued, later changes are redundant
// (the client drops everything when it receives it) and are not queued.
func (sb *subscriber) push(changes []vfs.Change) {
	sb.mu.Lock()
	for _, ch := range changes {
		n := len(sb.queue)
		switch {
		case n > 0 && sb.queue[0].All:
			continue
		case n > 0 && sb.queue[n-1] == ch:
			// replicate's pre-op, write, post-op on one file: one report.
			continue
		case n >= sb.max:
			sb.queue = append(sb.queue[:0], vfs.Change{All: true})
			continue
		}
		sb.queue = append(sb.queue, ch)
	}
	sb.mu.Unlock()
	select {
	case sb.wake <- struct{}{}:
	default:
	}
}

// publish queues changes made by origin for every other subscriber.
func (sv *subvol) publish(origin *conn, changes []vfs.Change) {
	sv.subMu.RLock()
	defer sv.subMu.RUnlock()
	for sb := range sv.subs {
		if sb.c != origin {
			sb.push(changes)
		}
	}
}

// changed reports what a successful op changed to the subscribers of the
// subvolume other than origin.
func (sv *subvol) changed(origin *conn, op *compound.Op, r *compound.Result) {
	if sv.nsubs.Load() == 0 {
		return
	}
	var buf [2]vfs.Change
	changes := opChanges(buf[:0], op, r)
	if len(changes) > 0 {
		sv.publish(origin, changes)
	}
}

// opChanges appends what op, which succeeded with r, changed. Reads,
// lookups, plain opens, flush, fsync, release and locks change nothing.
func opChanges(out []vfs.Change, op *compound.Op, r *compound.Result) []vfs.Change {
	switch op.Kind {
	case compound.OpSetAttr, compound.OpWrite, compound.OpFallocate,
		compound.OpSetXattr, compound.OpRemoveXattr, compound.OpXattrOp:
		// XattrOp too: replicate's changelog updates change the ctime.
		out = append(out, vfs.Change{GFID: op.GFID})
	case compound.OpOpen:
		if op.Flags&syscall.O_TRUNC != 0 {
			out = append(out, vfs.Change{GFID: op.GFID})
		}
	case compound.OpCreate:
		out = append(out, vfs.Change{Parent: op.GFID, Name: op.Name})
		if op.Create.Flags&syscall.O_TRUNC != 0 && !r.Attr.GFID.IsZero() {
			// It may have truncated a file that existed.
			out = append(out, vfs.Change{GFID: r.Attr.GFID})
		}
	case compound.OpMknod, compound.OpMkdir, compound.OpSymlink,
		compound.OpUnlink, compound.OpRmdir:
		out = append(out, vfs.Change{Parent: op.GFID, Name: op.Name})
	case compound.OpLink:
		out = append(out, vfs.Change{GFID: op.GFID}, vfs.Change{Parent: op.NewParent, Name: op.NewName})
	case compound.OpRename:
		out = append(out, vfs.Change{Parent: op.GFID, Name: op.Name}, vfs.Change{Parent: op.NewParent, Name: op.NewName})
	}
	return out
}

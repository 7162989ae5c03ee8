package client

import (
	"time"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"github.com/cairnfs/cairn/vfs"
)

// Change reports (vfs.ChangeWatcher, GlusterFS's upcall cache
// invalidation): once WatchChanges is called, the client subscribes on the
// channel of each epoch (brick.proto: ChannelCall.subscribe), opening it if
// no call has yet, and passes the changes the brick reports to the watcher
// from the channel's receive goroutine. A subscription lives as long as
// its channel: when a live one ends (the channel broke, the brick was
// declared down) the watcher gets a Change with All set, and it gets
// another when a new subscription is accepted, for the changes made in
// between were not reported.

// minResubscribe spaces attempts to subscribe, so that a brick that keeps
// dropping channels is not redialled in a loop.
const minResubscribe = 100 * time.Millisecond

// WatchChanges makes fn receive the changes other clients make on the
// brick (see vfs.ChangeWatcher). It returns false only once the client is
// closed; whether the brick reports changes shows in ChangesLive.
func (c *Client) WatchChanges(fn func(vfs.Change)) bool {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if c.watchClosed {
		return false
	}
	c.watchFn.Store(&fn)
	if !c.watching {
		c.watching = true
		c.wg.Add(1)
		go c.subscriber()
	}
	c.kickSub()
	return true
}

// ChangesLive reports whether the brick accepted a subscription on a
// channel that is still open, in an epoch still trusted.
func (c *Client) ChangesLive() bool {
	ch := c.liveCh.Load()
	if ch == nil || ch.ep.ctx.Err() != nil {
		return false
	}
	st := c.state.Load()
	return st == stateUp || st == stateUnknown
}

// change passes ch to the watcher, if any.
func (c *Client) change(ch vfs.Change) {
	if p := c.watchFn.Load(); p != nil && *p != nil {
		(*p)(ch)
	}
}

// kickSub asks the subscriber goroutine to check the subscription.
func (c *Client) kickSub() {
	select {
	case c.subKick <- struct{}{}:
	default:
	}
}

// subscriber keeps the current epoch's channel subscribed while changes
// are watched: it is woken when watching starts, when the brick comes up,
// when a channel opens or a live one breaks, and retries a failed attempt.
func (c *Client) subscriber() {
	defer c.wg.Done()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var last time.Time
	for {
		select {
		case <-c.closed:
			return
		case <-c.subKick:
		case <-retry.C:
		}
		if d := time.Until(last.Add(minResubscribe)); d > 0 {
			retry.Reset(d)
			continue
		}
		last = time.Now()
		if !c.subscribeNow() {
			retry.Reset(min(c.cfg.PingTimeout/3, maxDownProbe))
		}
	}
}

// subscribeNow subscribes the current epoch's channel unless that is done
// or must wait for the brick to come up (up kicks again). False means try
// again later.
func (c *Client) subscribeNow() bool {
	if st := c.state.Load(); st != stateUp && st != stateUnknown {
		return true
	}
	ep := c.ep.Load()
	if ep.ctx.Err() != nil {
		return true
	}
	ch, err := c.channel(ep)
	if err != nil {
		c.log.Debug("cannot open a channel to subscribe to changes", "err", err)
		return false
	}
	return ch.subscribe() == nil
}

// subscribe sends the subscription on ch, once.
func (ch *channel) subscribe() error {
	ch.mu.Lock()
	if ch.subSent || ch.err != nil {
		ch.mu.Unlock()
		return nil // a broken channel's receiver kicks for a new one
	}
	ch.subSent = true
	ch.mu.Unlock()
	ch.sendMu.Lock()
	err := ch.send(&brickpb.ChannelCall{Subscribe: true}, nil)
	ch.sendMu.Unlock()
	return err
}

// control handles a reply of id 0: the brick accepting a subscription, or
// changes it reports.
func (ch *channel) control(rep *brickpb.ChannelReply) {
	c := ch.c
	if rep.Subscribed {
		c.liveCh.Store(ch)
		c.log.Debug("brick reports changes")
		// Whatever changed before the subscription went unreported.
		c.change(vfs.Change{All: true})
	} else if len(rep.Changes) == 0 {
		// A brick that predates subscriptions ran it as an empty call.
		c.log.Debug("brick does not report changes")
	}
	for _, pc := range rep.Changes {
		c.change(protocol.ChangeFromPB(pc))
	}
}

// channelEnded runs when ch broke: if its subscription was the live one,
// the watcher must drop everything, and a new subscription is sought.
func (c *Client) channelEnded(ch *channel) {
	if c.liveCh.CompareAndSwap(ch, nil) {
		c.change(vfs.Change{All: true})
	}
	if c.watchFn.Load() != nil {
		c.kickSub()
	}
}

package client

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/cairnfs/cairn/protocol"
	"github.com/cairnfs/cairn/protocol/brickpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

type pingResult struct {
	ep  *epoch
	err error
}

// kick asks the monitor to ping now (a call saw the transport fail, or the
// connection changed state).
func (c *Client) kick() {
	select {
	case c.kickCh <- struct{}{}:
	default:
	}
}

// alive records a reply from the brick: any reply proves it is not frozen.
func (c *Client) alive() { c.lastAck.Store(time.Now().UnixNano()) }

// monitor owns the brick state: it sends pings (overlapping, so a
// silent brick is detected PingTimeout after its last reply, not after a
// ping interval plus a timeout), applies their results, and declares the
// brick down when it has been silent for PingTimeout.
func (c *Client) monitor() {
	defer close(c.monDone)
	interval := c.cfg.PingTimeout / 3
	downInterval := min(interval, maxDownProbe)
	results := make(chan pingResult, maxPingsInFlight)
	inflight := 0
	nextPing := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		st := c.state.Load()
		if st == stateUp && inflight > 0 &&
			now.Sub(time.Unix(0, c.lastAck.Load())) >= c.cfg.PingTimeout {
			c.down(fmt.Sprintf("no reply for %v (ping-timeout)", c.cfg.PingTimeout), true)
			st = c.state.Load()
		}
		if !now.Before(nextPing) && inflight < maxPingsInFlight {
			inflight++
			c.wg.Add(1)
			go c.ping(c.ep.Load(), results)
			if st == stateUp {
				nextPing = now.Add(interval)
			} else {
				nextPing = now.Add(downInterval)
			}
		}
		wake := nextPing
		if st == stateUp && inflight > 0 {
			if dl := time.Unix(0, c.lastAck.Load()).Add(c.cfg.PingTimeout); dl.Before(wake) {
				wake = dl
			}
		}
		timer.Reset(max(time.Until(wake), time.Millisecond))
		select {
		case <-c.closed:
			return
		case <-timer.C:
		case <-c.kickCh:
			nextPing = time.Now()
		case r := <-results:
			inflight--
			c.pinged(r)
		}
	}
}

// ping sends one Ping on ep and reports the result.
func (c *Client) ping(ep *epoch, results chan<- pingResult) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.PingTimeout)
	ctx = metadata.AppendToOutgoingContext(ctx, protocol.MDSubvolume, c.cfg.RemoteSubvolume)
	_, err := ep.rpc.Ping(ctx, &brickpb.PingRequest{})
	cancel()
	select {
	case results <- pingResult{ep: ep, err: err}:
	case <-c.closed:
	}
}

// pinged applies a ping result. Results from a replaced connection are
// ignored: only the current one's verdict counts.
func (c *Client) pinged(r pingResult) {
	if r.ep.conn != c.ep.Load().conn || c.state.Load() == stateClosed {
		return
	}
	if r.err == nil {
		c.alive()
		c.up()
		return
	}
	st := status.Convert(r.err)
	switch st.Code() {
	case codes.PermissionDenied:
		c.refused(syscall.EACCES, st.Message())
	case codes.NotFound:
		c.refused(syscall.ENOTCONN, st.Message())
	case codes.DeadlineExceeded:
		c.down(fmt.Sprintf("ping not answered within %v (ping-timeout)", c.cfg.PingTimeout), true)
	case codes.Canceled:
		// the connection was closed under the ping; the next one decides
	default:
		c.down(st.Message(), false)
	}
}

// setErr records why the brick is unusable, for Err.
func (c *Client) setErr(e syscall.Errno, msg string) {
	err := fmt.Errorf("protocol/client %s (brick %s, subvolume %s): %w: %s",
		c.cfg.Name, c.addr, c.cfg.RemoteSubvolume, e, msg)
	c.connErr.Store(&err)
}

// up marks the brick up, starting a new epoch if the last one was cancelled.
func (c *Client) up() {
	old := c.state.Load()
	if old == stateUp {
		return
	}
	if ep := c.ep.Load(); ep.ctx.Err() != nil {
		nep, _ := c.newEpoch(ep.conn) // cannot fail when reusing a connection
		c.ep.Store(nep)
	}
	c.connErr.Store(nil)
	c.state.Store(stateUp)
	if old == stateUnknown {
		c.log.Info("connected to brick")
	} else {
		c.log.Info("brick is up again")
	}
	c.notify(true)
	if c.watchFn.Load() != nil {
		c.kickSub() // subscribe in the new epoch
	}
}

// down declares the brick down: calls in flight fail with ENOTCONN and new
// ones fail fast until a ping is answered. With replace, the connection is
// abandoned too (it may be wedged behind a frozen peer) and a new one made.
func (c *Client) down(reason string, replace bool) {
	old := c.state.Load()
	c.setErr(syscall.ENOTCONN, reason)
	c.state.Store(stateDown)
	ep := c.ep.Load()
	ep.cancel(errBrickDown)
	if replace {
		if nep, err := c.newEpoch(nil); err == nil {
			c.ep.Store(nep)
			ep.stop()
			go ep.conn.Close()
		} else {
			c.log.Error("cannot replace connection", "err", err)
		}
	}
	if old != stateDown {
		c.log.Warn("brick is down", "reason", reason)
		c.notify(false)
	}
}

// refused records that the brick refuses this client. Calls fail fast with
// e; pings go on, in case the brick is reconfigured.
func (c *Client) refused(e syscall.Errno, msg string) {
	old := c.state.Load()
	c.setErr(e, msg)
	c.state.Store(stateRefused)
	if old != stateRefused {
		c.log.Error("brick refused this client", "errno", e.Error(), "msg", msg)
		c.notify(false)
	}
}

// notify runs the state hooks and, the first time, releases WaitConnect.
func (c *Client) notify(up bool) {
	c.firstOnce.Do(func() { close(c.firstDone) })
	c.hookMu.Lock()
	hooks := append([]func(bool){}, c.hooks...)
	c.hookMu.Unlock()
	for _, fn := range hooks {
		fn(up)
	}
}

// watch kicks the monitor whenever conn leaves READY, so a brick whose
// process died is noticed at once even when no call is in flight.
func (c *Client) watch(ctx context.Context, conn *grpc.ClientConn) {
	defer c.wg.Done()
	s := conn.GetState()
	for {
		if s == connectivity.Shutdown || !conn.WaitForStateChange(ctx, s) {
			return
		}
		s = conn.GetState()
		switch s {
		case connectivity.Ready, connectivity.TransientFailure, connectivity.Idle:
			c.kick()
		}
	}
}

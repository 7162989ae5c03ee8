// Package gopool runs short functions on goroutines that stay for the
// next one. A fresh goroutine per call starts with a small stack and grows
// it again through whatever the call runs (the protocol client's encoders,
// the translator stack): runtime.copystack under such goroutines was 4.5 %
// of a mount's CPU during an untar of /usr/include (replicate's calls to
// the second brick) and 6 % during small-file creates (write-behind's
// background writes).
package gopool

import "sync/atomic"

// MaxGoroutines bounds the goroutines a Pool keeps. More concurrent calls
// than that get a goroutine of their own.
const MaxGoroutines = 32

// Pool hands functions to its waiting goroutines.
type Pool struct {
	work chan func() // unbuffered: a send succeeds only if a goroutine waits
	n    atomic.Int32
	stop <-chan struct{}
}

// New returns a pool whose goroutines end once stop is closed (each after
// the function it is running).
func New(stop <-chan struct{}) *Pool {
	return &Pool{work: make(chan func()), stop: stop}
}

// Go calls fn on a waiting pool goroutine, on a new one when the pool has
// fewer than MaxGoroutines, or else on a goroutine of its own.
func (p *Pool) Go(fn func()) {
	select {
	case p.work <- fn:
		return
	default:
	}
	if p.n.Add(1) <= MaxGoroutines {
		go p.loop(fn)
		return
	}
	p.n.Add(-1)
	go fn()
}

// loop runs fn, then whatever Go hands it, until stop is closed.
func (p *Pool) loop(fn func()) {
	defer p.n.Add(-1)
	for {
		fn()
		select {
		case fn = <-p.work:
		case <-p.stop:
			return
		}
	}
}

package replicate

import "sync/atomic"

// maxPoolGoroutines bounds the goroutines a callPool keeps. More
// concurrent calls than that get a goroutine of their own, as before.
const maxPoolGoroutines = 32

// callPool runs the calls parallel sends to the children beyond the first
// on goroutines that stay for the next call. A fresh goroutine per call
// started with a small stack and grew it through the protocol client's
// encoders every time: runtime.copystack under those goroutines was 4.5 %
// of the mount's CPU during an untar of /usr/include.
type callPool struct {
	work chan func() // unbuffered: a send succeeds only if a goroutine waits
	n    atomic.Int32
	stop <-chan struct{}
}

func newCallPool(stop <-chan struct{}) *callPool {
	return &callPool{work: make(chan func()), stop: stop}
}

// run calls fn on a waiting pool goroutine, on a new one when the pool
// has fewer than maxPoolGoroutines, or else on a goroutine of its own.
func (p *callPool) run(fn func()) {
	select {
	case p.work <- fn:
		return
	default:
	}
	if p.n.Add(1) <= maxPoolGoroutines {
		go p.loop(fn)
		return
	}
	p.n.Add(-1)
	go fn()
}

// loop runs fn, then whatever run hands it, until stop is closed.
func (p *callPool) loop(fn func()) {
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

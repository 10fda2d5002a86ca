package kernelutil

import (
	"sync"
	"sync/atomic"

	"github.com/gort-ml/gort/ops"
)

// dynamic is the shared state of one Dynamic call, pooled so that a call
// allocates nothing (its workers beyond the caller's run on helpers).
type dynamic struct {
	counter   atomic.Int64
	cancelled atomic.Bool
	n         int
	c         *ops.Ctx
	next      func() (int, bool) // take, bound once
	worker    func(next func() (int, bool))
	wg        sync.WaitGroup
}

// helpers hands a Dynamic call to an idle helper goroutine, one per worker
// beyond the caller's. A call finding none idle starts one (a go statement
// allocates its closure; a helper then serves later calls without one),
// so that there are as many as calls have used at once; idle ones wait
// here.
var helpers = make(chan *dynamic)

// help runs d's worker, then those of the calls handed to it.
func help(d *dynamic) {
	for {
		d.worker(d.next)
		d.wg.Done() // d may be reused from here on
		d = <-helpers
	}
}

var dynamicPool = sync.Pool{New: func() any {
	d := new(dynamic)
	d.next = d.take
	return d
}}

// take hands out the next item.
func (d *dynamic) take() (int, bool) {
	i := int(d.counter.Add(1)) - 1
	if i >= d.n || d.cancelled.Load() {
		return 0, false
	}
	if d.c.Check() != nil {
		d.cancelled.Store(true)
		return 0, false
	}
	return i, true
}

// Dynamic runs worker on up to c.Threads goroutines (the caller's among
// them) that share the items [0, n): each calls next for its next item
// until next reports none left, so items of uneven cost balance
// themselves, and a worker can hold scratch across its items. next also
// reports none once c is cancelled; Dynamic then returns the context's
// error. Workers must not keep next after they return. Once warm (helper
// goroutines idle for the workers beyond the caller's) a call allocates
// nothing but what worker does, for a worker func made once (bound in a
// pooled value, as flash's runner: a closure literal per call is one
// allocation).
func Dynamic(c *ops.Ctx, n int, worker func(next func() (int, bool))) error {
	workers := 1
	if c != nil {
		workers = max(1, min(c.Threads, n))
	}
	d := dynamicPool.Get().(*dynamic)
	d.counter.Store(0)
	d.cancelled.Store(false)
	d.n, d.c, d.worker = n, c, worker
	for w := 1; w < workers; w++ {
		d.wg.Add(1)
		select {
		case helpers <- d:
		default:
			go help(d)
		}
	}
	worker(d.next)
	d.wg.Wait()
	d.c, d.worker = nil, nil
	dynamicPool.Put(d)
	return c.Check()
}

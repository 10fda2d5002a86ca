package kernelutil

import (
	"sync"
	"sync/atomic"

	"github.com/gort-ml/gort/ops"
)

// dynamic is the shared state of one Dynamic call, pooled so that a call
// allocates nothing but its workers' goroutines.
type dynamic struct {
	counter   atomic.Int64
	cancelled atomic.Bool
	n         int
	c         *ops.Ctx
	next      func() (int, bool) // take, bound once
	wg        sync.WaitGroup
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
// error. Workers must not keep next after they return.
func Dynamic(c *ops.Ctx, n int, worker func(next func() (int, bool))) error {
	workers := 1
	if c != nil {
		workers = max(1, min(c.Threads, n))
	}
	d := dynamicPool.Get().(*dynamic)
	d.counter.Store(0)
	d.cancelled.Store(false)
	d.n, d.c = n, c
	for w := 1; w < workers; w++ {
		d.wg.Add(1)
		go func() { defer d.wg.Done(); worker(d.next) }()
	}
	worker(d.next)
	d.wg.Wait()
	d.c = nil
	dynamicPool.Put(d)
	return c.Check()
}

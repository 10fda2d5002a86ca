package kernelutil

import (
	"sync"
	"sync/atomic"

	"github.com/gort-ml/gort/ops"
)

// Dynamic runs worker on up to c.Threads goroutines (the caller's among
// them) that share the items [0, n): each calls next for its next item
// until next reports none left, so items of uneven cost balance
// themselves, and a worker can hold scratch across its items. next also
// reports none once c is cancelled; Dynamic then returns the context's
// error.
func Dynamic(c *ops.Ctx, n int, worker func(next func() (int, bool))) error {
	workers := 1
	if c != nil {
		workers = max(1, min(c.Threads, n))
	}
	var counter atomic.Int64
	var cancelled atomic.Bool
	next := func() (int, bool) {
		i := int(counter.Add(1)) - 1
		if i >= n || cancelled.Load() {
			return 0, false
		}
		if c.Check() != nil {
			cancelled.Store(true)
			return 0, false
		}
		return i, true
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); worker(next) }()
	}
	worker(next)
	wg.Wait()
	return c.Check()
}

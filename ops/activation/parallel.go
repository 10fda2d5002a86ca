package activation

import (
	"sync"

	"github.com/gort-ml/gort/ops"
)

// parallel splits [0, n) into at most c.Threads contiguous ranges of at
// least grain items and runs f on each, concurrently when there is more
// than one. It returns the first error.
func parallel(c *ops.Ctx, n, grain int, f func(lo, hi int) error) error {
	w := 1
	if c != nil && c.Threads > 1 {
		w = min(c.Threads, n/max(grain, 1))
	}
	if w <= 1 {
		return f(0, n)
	}
	errs := make([]error, w)
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = f(k*n/w, (k+1)*n/w)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

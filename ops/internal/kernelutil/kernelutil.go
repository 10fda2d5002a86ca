// Package kernelutil holds small helpers shared by kernels of several op
// families: splitting work over Ctx.Threads, checking scratch sizes against
// the session's limit, and reading scalar inputs.
package kernelutil

import (
	"fmt"
	"math"
	"sync"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Parallel splits [0, n) into at most c.Threads contiguous ranges of at
// least grain items and runs f on each, concurrently when there is more
// than one. It returns the first error.
func Parallel(c *ops.Ctx, n, grain int, f func(lo, hi int) error) error {
	w := Workers(c, n, grain)
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

// Workers is how many goroutines Parallel(c, n, grain, f) runs f on. A
// kernel on a hot path calls its range function itself when it is 1: a
// function value given to Parallel escapes to the heap (its goroutines
// capture it), one allocation per run.
func Workers(c *ops.Ctx, n, grain int) int {
	if c != nil && c.Threads > 1 {
		return max(1, min(c.Threads, n/max(grain, 1)))
	}
	return 1
}

// CheckElems checks that scratch of n elements (computed in float64 so that
// it cannot overflow) is within the session's limit, before a kernel
// allocates it outside Ctx.New. The error wraps ops.ErrLimit.
func CheckElems(c *ops.Ctx, n float64, what string) error {
	limit := float64(tensor.MaxElements)
	if c != nil && c.MaxElements > 0 {
		limit = float64(c.MaxElements)
	}
	if math.IsNaN(n) || n > limit {
		return fmt.Errorf("%w: %s needs %.0f elements, the session allows %.0f", ops.ErrLimit, what, n, limit)
	}
	return nil
}

// Floats64 returns the elements of a float tensor (any float dtype) as a
// new []float64.
func Floats64(t *tensor.Tensor) ([]float64, error) {
	switch d := t.Raw().(type) {
	case []float32:
		return widen(d, func(v float32) float64 { return float64(v) }), nil
	case []float64:
		return append([]float64(nil), d...), nil
	case []tensor.Float16Bits:
		return widen(d, func(v tensor.Float16Bits) float64 { return float64(v.Float32()) }), nil
	case []tensor.BFloat16Bits:
		return widen(d, func(v tensor.BFloat16Bits) float64 { return float64(v.Float32()) }), nil
	}
	return nil, fmt.Errorf("%v tensor, want a float dtype", t.DType())
}

func widen[S any](s []S, f func(S) float64) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// ScalarFloat reads the single element of a float tensor (shape [] or [1]).
func ScalarFloat(t *tensor.Tensor, name string) (float64, error) {
	v, err := Floats64(t)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("%s has %d elements, want 1", name, len(v))
	}
	return v[0], nil
}

// ScalarInt reads the single element of an int32/int64 tensor.
func ScalarInt(t *tensor.Tensor, name string) (int64, error) {
	v, err := ops.Ints64(t)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("%s has %d elements, want 1", name, len(v))
	}
	return v[0], nil
}

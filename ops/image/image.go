// Package image holds gort's kernels for the image operator family.
//
// # Overview
//
// Resize (and the deprecated Upsample) resample N-D tensors with nearest,
// linear or cubic filters, optionally antialiased; GridSample and AffineGrid
// sample at arbitrary normalized coordinates; RoiAlign pools regions of
// interest; NonMaxSuppression selects boxes; ImageDecoder decodes encoded
// images into HWC uint8 tensors.
//
// Resize is separable: it precomputes, once per run, every output position's
// source indices and weights along each resized axis and applies one axis at
// a time (downsampled axes first, so intermediates never exceed the larger of
// input and output). GridSample precomputes the taps of a block of output
// points once and applies them to every channel. Neither allocates per
// pixel.
//
// Sizes that come from data (scales, sizes, box counts, ROI sampling grids,
// image headers) are checked before anything is allocated: outputs go
// through Ctx.New, which enforces the session's element limit.
package image

import (
	"fmt"
	"math"
	"sync"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		resizeOps(),
		gridSampleOps(),
		roiAlignOps(),
		nmsOps(),
		decoderOps(),
	)
}

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

// inferSameRank returns an Infer whose single output has input 0's dtype
// and rank, with unknown dimensions (they depend on input values).
func inferSameRank(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if in[0].HasShape {
		t.HasShape = true
		t.Shape = make([]tensor.Dim, len(in[0].Shape))
		for i := range t.Shape {
			t.Shape[i] = tensor.Dim{Size: -1}
		}
	}
	return []tensor.Type{t}, nil
}

// floats64 reads a float tensor of any float dtype as []float64.
func floats64(t *tensor.Tensor) ([]float64, error) {
	switch d := t.Raw().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out, nil
	case []float64:
		return append([]float64(nil), d...), nil
	case []tensor.Float16Bits:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v.Float32())
		}
		return out, nil
	case []tensor.BFloat16Bits:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v.Float32())
		}
		return out, nil
	}
	return nil, fmt.Errorf("%v tensor, want a float dtype", t.DType())
}

// scalarFloat reads the single element of a float tensor (scalar or [1]).
func scalarFloat(t *tensor.Tensor, name string) (float64, error) {
	v, err := floats64(t)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("%s has %d elements, want 1", name, len(v))
	}
	return v[0], nil
}

// scalarInt reads the single element of an int32/int64 tensor.
func scalarInt(t *tensor.Tensor, name string) (int64, error) {
	v, err := ops.Ints64(t)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("%s has %d elements, want 1", name, len(v))
	}
	return v[0], nil
}

// checkElems checks that a table of n entries is within the session's limit
// before a kernel allocates it (scratch that does not go through Ctx.New).
func checkElems(c *ops.Ctx, n float64, what string) error {
	limit := float64(tensor.MaxElements)
	if c != nil && c.MaxElements > 0 {
		limit = float64(c.MaxElements)
	}
	if math.IsNaN(n) || n > limit {
		return fmt.Errorf("%w: %s needs %.0f elements, the session allows %.0f", ops.ErrLimit, what, n, limit)
	}
	return nil
}

package shape

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func rangeOps() []*ops.Op {
	return ops.Versions("", "Range", "Range: y[i] = start + i*delta for i < max(ceil((limit-start)/delta), 0).",
		[]int{11, 27}, inferVector(tensor.Undefined), compileRange)
}

// scalarFloat reads a one-element numeric tensor as float64.
func scalarFloat(c *ctx, t *tensor.Tensor, name string) (float64, error) {
	if t.Len() != 1 {
		return 0, fmt.Errorf("%s must hold one value, has %d", name, t.Len())
	}
	f, err := converted(c, t, tensor.Float64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return tensor.Data[float64](f)[0], nil
}

func compileRange(n *ops.Node) (*ops.Kernel, error) {
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 3, 3); err != nil {
			return nil, err
		}
		d := in[0].DType()
		for i, t := range in {
			if t.DType() != d {
				return nil, fmt.Errorf("input %d is %v, start is %v; they must match", i, t.DType(), d)
			}
		}
		switch d {
		case tensor.Int16, tensor.Int32, tensor.Int64:
			return rangeInt(c, in, d)
		case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		default:
			return nil, fmt.Errorf("range does not support %v", d)
		}
		var v [3]float64
		for i, name := range []string{"start", "limit", "delta"} {
			var err error
			if v[i], err = scalarFloat(c, in[i], name); err != nil {
				return nil, err
			}
		}
		start, limit, delta := v[0], v[1], v[2]
		if delta == 0 {
			return nil, fmt.Errorf("delta cannot be 0")
		}
		cnt := math.Ceil((limit - start) / delta)
		if math.IsNaN(cnt) || cnt > tensor.MaxElements {
			return nil, fmt.Errorf("%w: range(%g, %g, %g) has too many elements", ops.ErrLimit, start, limit, delta)
		}
		count := int(max(cnt, 0))
		if d == tensor.Float32 {
			// float32 arithmetic, as the reference computes in the input type
			s32, d32 := float32(start), float32(delta)
			y, err := c.New(d, count)
			if err != nil {
				return nil, err
			}
			out := tensor.Data[float32](y)
			for i := range out {
				out[i] = s32 + float32(i)*d32
			}
			return c.Result(y), nil
		}
		y, err := c.New(tensor.Float64, count)
		if err != nil {
			return nil, err
		}
		out := tensor.Data[float64](y)
		for i := range out {
			out[i] = start + float64(i)*delta
		}
		return result{c}.one(converted(c, y, d))
	}}, nil
}

func rangeInt(c *ctx, in []*tensor.Tensor, d tensor.DType) ([]*tensor.Tensor, error) {
	var v [3]int64
	for i, name := range []string{"start", "limit", "delta"} {
		var err error
		if v[i], err = scalarInt(in[i], name); err != nil {
			return nil, err
		}
	}
	start, limit, delta := v[0], v[1], v[2]
	if delta == 0 {
		return nil, fmt.Errorf("delta cannot be 0")
	}
	q, ok := rangeCount(start, limit, delta)
	if !ok {
		return nil, fmt.Errorf("%w: range(%d, %d, %d) has too many elements", ops.ErrLimit, start, limit, delta)
	}
	y, err := c.New(tensor.Int64, int(q))
	if err != nil {
		return nil, err
	}
	out := tensor.Data[int64](y)
	for i := range out {
		out[i] = start + int64(i)*delta
	}
	return result{c}.one(converted(c, y, d))
}

// rangeCount is max(ceil((limit-start)/delta), 0) in exact arithmetic
// (delta != 0): the distance and step as unsigned 64-bit numbers, which
// hold any difference of two int64s; ok is false past tensor.MaxElements.
func rangeCount(start, limit, delta int64) (n uint64, ok bool) {
	var dist, step uint64
	switch {
	case delta > 0 && limit > start:
		dist, step = uint64(limit)-uint64(start), uint64(delta)
	case delta < 0 && limit < start:
		dist, step = uint64(start)-uint64(limit), -uint64(delta)
	default:
		return 0, true
	}
	n = dist / step
	if dist%step != 0 {
		n++
	}
	return n, n <= tensor.MaxElements
}

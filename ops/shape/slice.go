package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func sliceOps() []*ops.Op {
	return ops.Versions("", "Slice", "Slice: y = x[starts[i]:ends[i]:steps[i]] on the listed axes, numpy semantics (negative indices count from the end, out-of-range bounds clamp).",
		[]int{1, 10, 11, 13}, inferDTypeOf(0, true), compileSlice)
}

// sliceAxis is the resolved range of one axis: start index, count and step.
type sliceAxis struct{ start, count, step int }

// resolveSlice clamps start/end/step for an axis of size dim (numpy rules).
func resolveSlice(start, end, step int64, dim int) (sliceAxis, error) {
	if step == 0 {
		return sliceAxis{}, fmt.Errorf("slice step cannot be 0")
	}
	d := int64(dim)
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	// a step beyond the axis takes at most one element; clamping it keeps
	// the arithmetic below from overflowing
	step = max(min(step, d+1), -d-1)
	var count int64
	if step > 0 {
		start = clampInt64(start, 0, d)
		end = clampInt64(end, 0, d)
		if end > start {
			count = (end - start + step - 1) / step
		}
	} else {
		start = clampInt64(start, -1, d-1)
		end = clampInt64(end, -1, d-1)
		if start > end {
			count = (start - end + (-step) - 1) / (-step)
		}
	}
	return sliceAxis{int(start), int(count), int(step)}, nil
}

// sliceTensor applies per-axis ranges to x.
func sliceTensor(c *ctx, x *tensor.Tensor, starts, ends, axes, steps []int64) (*tensor.Tensor, error) {
	if len(starts) != len(ends) {
		return nil, fmt.Errorf("starts has %d entries, ends %d; they must match", len(starts), len(ends))
	}
	r := x.Rank()
	if axes == nil {
		if len(starts) > r {
			return nil, fmt.Errorf("%d starts for an input of rank %d", len(starts), r)
		}
		var abuf [ops.MaxAllocRank]int64
		axes = abuf[:0]
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if len(axes) != len(starts) {
		return nil, fmt.Errorf("axes has %d entries, starts %d; they must match", len(axes), len(starts))
	}
	if steps != nil && len(steps) != len(starts) {
		return nil, fmt.Errorf("steps has %d entries, starts %d; they must match", len(steps), len(starts))
	}
	var axbuf, shbuf, stbuf, sbuf [ops.MaxAllocRank]int
	ax, err := normAxesTo(axbuf[:0], axes, r)
	if err != nil {
		return nil, err
	}
	shape := append(shbuf[:0], x.Shape()...)
	st := tensor.StridesTo(stbuf[:0], x.Shape())
	strides := append(sbuf[:0], st...)
	off := 0
	for i, a := range ax {
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		s, err := resolveSlice(starts[i], ends[i], step, shape[a])
		if err != nil {
			return nil, err
		}
		shape[a] = s.count
		if s.count > 0 {
			off += s.start * st[a]
		}
		strides[a] = s.step * st[a]
	}
	if prod(shape) == 0 {
		off = 0
	}
	return stridedCopy(c, x, shape, off, strides)
}

func compileSlice(n *ops.Node) (*ops.Kernel, error) {
	if n.Opset < 10 {
		starts, ends, axes := n.Ints("starts", nil), n.Ints("ends", nil), n.Ints("axes", nil)
		if err := n.Err(); err != nil {
			return nil, err
		}
		if starts == nil || ends == nil {
			return nil, fmt.Errorf("slice-1 needs the starts and ends attributes")
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 1, 1); err != nil {
				return nil, err
			}
			return result{c}.one(sliceTensor(c, in[0], starts, ends, axes, nil))
		}}, nil
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 3, 5); err != nil {
			return nil, err
		}
		var v [4][]int64
		names := [4]string{"starts", "ends", "axes", "steps"}
		for i := range v {
			if 1+i < len(in) && in[1+i] != nil {
				var err error
				if v[i], err = intsView(in[1+i], names[i]); err != nil {
					return nil, err
				}
			}
		}
		return result{c}.one(sliceTensor(c, in[0], v[0], v[1], v[2], v[3]))
	}}, nil
}

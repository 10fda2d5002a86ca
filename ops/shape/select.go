package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func selectOps() []*ops.Op {
	return ops.Join(
		ops.Versions("", "NonZero", "NonZero: y[:, j] = the coordinates of the j-th non-zero element of x in row-major order; y is int64 (rank, count).",
			[]int{9, 13}, inferNonZero, compileNonZero),
		ops.Versions("", "Compress", "Compress: y = the slices of x along axis (of flattened x when axis is absent) whose condition is true.",
			[]int{9, 11}, inferDTypeOf(0, false), compileCompress),
		ops.Versions("", "Trilu", "Trilu: y[..., i, j] = x[..., i, j] if j - i >= k (upper) or j - i <= k (lower), else 0.",
			[]int{14}, ops.InferSameAs(0), compileTrilu),
		ops.Versions("", "OneHot", "OneHot: y[..., j, ...] = values[1] if indices[...] (negative + depth) == j else values[0], j < depth inserted at axis.",
			[]int{9, 11}, inferOneHot, compileOneHot),
		ops.Versions("", "ReverseSequence", "ReverseSequence: y[t, b, ...] = x[lens[b]-1-t, b, ...] for t < lens[b], else x[t, b, ...] (time and batch axes per attributes).",
			[]int{10}, ops.InferSameAs(0), compileReverseSequence),
	)
}

func compileNonZero(n *ops.Node) (*ops.Kernel, error) {
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if d := x.DType(); d.IsFloat() && d != tensor.Float32 && d != tensor.Float64 {
			// compare values, not bit patterns (negative zero is zero)
			var err error
			if x, err = converted(c, x, tensor.Float32); err != nil {
				return nil, err
			}
		}
		k, err := kitFor(x.DType())
		if err != nil {
			return nil, err
		}
		nz := k.nonzero(x.Raw())
		r := x.Rank()
		y, err := c.New(tensor.Int64, r, len(nz))
		if err != nil {
			return nil, err
		}
		// y is (rank, count): row k holds coordinate k of every non-zero
		out := tensor.Data[int64](y)
		st := tensor.Strides(x.Shape())
		for j, f := range nz {
			for a := 0; a < r; a++ {
				out[a*len(nz)+j] = int64(f / st[a])
				f %= st[a]
			}
		}
		return c.Result(y), nil
	}}, nil
}

func compileCompress(n *ops.Node) (*ops.Kernel, error) {
	axis, hasAxis := n.Int("axis", 0), n.Has("axis")
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 2); err != nil {
			return nil, err
		}
		x, cond := in[0], in[1]
		if cond.DType() != tensor.Bool || cond.Rank() != 1 {
			return nil, fmt.Errorf("condition must be a 1-D bool tensor, got %v %v", cond.DType(), cond.Shape())
		}
		a := 0
		if hasAxis {
			var err error
			if a, err = ops.NormAxis(axis, x.Rank()); err != nil {
				return nil, err
			}
		} else {
			var err error
			if x, err = view(x, []int{x.Len()}); err != nil {
				return nil, err
			}
		}
		d := x.Shape()[a]
		var rel []int
		for j, b := range tensor.Data[bool](cond) {
			if b {
				if j >= d {
					return nil, fmt.Errorf("condition is true at %d, beyond the %d slices of axis %d", j, d, a)
				}
				rel = append(rel, j)
			}
		}
		return result{c}.one(takeAlong(c, x, a, rel, []int{len(rel)}))
	}}, nil
}

func compileTrilu(n *ops.Node) (*ops.Kernel, error) {
	upper := n.Int("upper", 1) != 0
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 2); err != nil {
			return nil, err
		}
		x := in[0]
		var k int64
		if len(in) > 1 && in[1] != nil {
			var err error
			if k, err = scalarInt(in[1], "k"); err != nil {
				return nil, err
			}
		}
		s := x.Shape()
		if len(s) < 2 {
			return nil, fmt.Errorf("input must have rank >= 2, got shape %v", s)
		}
		// x is (batch, R, C); keep (i, j) where j-i >= k (upper) or <= k (lower)
		R, C := s[len(s)-2], s[len(s)-1]
		starts := make([]int, x.Len())
		for i := range starts {
			row, col := int64(i/C%max(R, 1)), int64(i%C)
			keep := col-row >= k
			if !upper {
				keep = col-row <= k
			}
			starts[i] = -1
			if keep {
				starts[i] = i
			}
		}
		zero, err := zeroOf(x.DType())
		if err != nil {
			return nil, err
		}
		return result{c}.one(gather(c, x, s, starts, 1, zero))
	}}, nil
}

// zeroOf returns a scalar of dtype d holding the zero value (all bits
// zero: 0, false, "").
func zeroOf(d tensor.DType) (*tensor.Tensor, error) {
	return tensor.New(d)
}

func compileOneHot(n *ops.Node) (*ops.Kernel, error) {
	axis := n.Int("axis", -1)
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 3, 3); err != nil {
			return nil, err
		}
		idxT, err := converted(c, in[0], tensor.Int64)
		if err != nil {
			return nil, fmt.Errorf("indices: %w", err)
		}
		df, err := scalarFloat(c, in[1], "depth")
		if err != nil {
			return nil, err
		}
		if df < 1 || df > maxDim {
			return nil, fmt.Errorf("depth %g must be a positive size", df)
		}
		depth := int(df)
		values := in[2]
		if values.Len() != 2 {
			return nil, fmt.Errorf("values must hold [off_value, on_value], has %d elements", values.Len())
		}
		r := in[0].Rank() + 1
		a, err := ops.NormAxis(axis, r)
		if err != nil {
			return nil, err
		}
		is := in[0].Shape()
		shape := append(append(append([]int{}, is[:a]...), depth), is[a:]...)
		k, out, err := newLike(c, values.DType(), shape)
		if err != nil {
			return nil, err
		}
		k.fill(out.Raw(), values.Raw(), 0)
		// out is (outer, depth, inner) with indices (outer, inner)
		inner := prod(is[a:])
		var offs []int
		for i, v := range tensor.Data[int64](idxT) {
			if v < 0 {
				v += int64(depth)
			}
			if v < 0 || v >= int64(depth) {
				continue // out of range: all off_value
			}
			o, p := i/max(inner, 1), i%max(inner, 1)
			offs = append(offs, (o*depth+int(v))*inner+p)
		}
		on, err := gather(c, values, []int{1}, []int{1}, 1, nil)
		if err != nil {
			return nil, err
		}
		k.fillAt(out.Raw(), on.Raw(), offs)
		return c.Result(out), nil
	}}, nil
}

func compileReverseSequence(n *ops.Node) (*ops.Kernel, error) {
	timeAxis, batchAxis := n.Int("time_axis", 0), n.Int("batch_axis", 1)
	if err := n.Err(); err != nil {
		return nil, err
	}
	if !(timeAxis == 0 && batchAxis == 1) && !(timeAxis == 1 && batchAxis == 0) {
		return nil, fmt.Errorf("time_axis %d and batch_axis %d must be 0 and 1 in some order", timeAxis, batchAxis)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 2, 2); err != nil {
			return nil, err
		}
		x := in[0]
		s := x.Shape()
		if len(s) < 2 {
			return nil, fmt.Errorf("input must have rank >= 2, got shape %v", s)
		}
		lens, err := intsOf(in[1], "sequence_lens")
		if err != nil {
			return nil, err
		}
		T, B := s[timeAxis], s[batchAxis]
		if len(lens) != B {
			return nil, fmt.Errorf("sequence_lens has %d values, batch size is %d", len(lens), B)
		}
		for b, l := range lens {
			if l < 0 || l > int64(T) {
				return nil, fmt.Errorf("sequence_lens[%d] = %d out of range [0, %d]", b, l, T)
			}
		}
		// x is (s0, s1, inner); element (t, b) reads (lens[b]-1-t, b) when t < lens[b]
		inner := prod(s[2:])
		st := []int{s[1] * inner, inner}
		starts := make([]int, s[0]*s[1])
		for i := range starts {
			pos := [2]int{i / s[1], i % s[1]}
			t, b := pos[timeAxis], pos[batchAxis]
			if l := int(lens[b]); t < l {
				pos[timeAxis] = l - 1 - t
			}
			starts[i] = pos[0]*st[0] + pos[1]*st[1]
		}
		if inner == 0 {
			return result{c}.one(c.New(x.DType(), s...))
		}
		return result{c}.one(gather(c, x, s, starts, inner, nil))
	}}, nil
}

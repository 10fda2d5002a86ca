package sequence

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// SplitToSequence splits input along axis into a sequence: without split,
// into slices of size 1 (the axis dropped when keepdims=0); with a scalar
// split s, into chunks of s (the last may be shorter); with a 1-D split,
// into chunks of those sizes, which must sum to the dimension.
var SplitToSequence = ops.Versions("", "SplitToSequence",
	"seq(input[..., a_i:a_i+split_i, ...]) along axis", []int{11, 24},
	func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		if len(in) == 0 {
			return nil, fmt.Errorf("no inputs")
		}
		return []tensor.Type{seqType(in[0].DType)}, nil
	},
	func(n *ops.Node) (*ops.Kernel, error) {
		axis := n.Int("axis", 0)
		keep := n.Int("keepdims", 1)
		if keep != 0 && keep != 1 {
			return nil, fmt.Errorf("keepdims is %d, want 0 or 1", keep)
		}
		return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
			if len(in) == 0 || in[0] == nil {
				return nil, fmt.Errorf("input 0 (input) is required")
			}
			x, err := asTensor(in[0], "input 0")
			if err != nil {
				return nil, err
			}
			if x.Rank() == 0 {
				return nil, fmt.Errorf("cannot split a scalar")
			}
			a, err := ops.NormAxis(axis, x.Rank())
			if err != nil {
				return nil, err
			}
			dim := x.Shape()[a]
			var sizes []int
			drop := false
			if len(in) > 1 && in[1] != nil {
				if sizes, err = splitSizes(c, in[1], dim); err != nil {
					return nil, err
				}
			} else {
				if err := checkCount(c, dim); err != nil {
					return nil, err
				}
				sizes = make([]int, dim)
				for i := range sizes {
					sizes[i] = 1
				}
				drop = keep == 0
			}
			items := make([]tensor.Value, len(sizes))
			start := 0
			for i, s := range sizes {
				if err := c.Check(); err != nil {
					return nil, err
				}
				t, err := Slab(c, x, a, start, s, drop)
				if err != nil {
					return nil, err
				}
				items[i] = t
				start += s
			}
			return []tensor.Value{&tensor.Sequence{Elem: tensorType(x.DType()), Items: items}}, nil
		}}, nil
	})

// splitSizes reads SplitToSequence's split input for a dimension of size dim.
func splitSizes(c *ops.Ctx, v tensor.Value, dim int) ([]int, error) {
	t, err := asTensor(v, "input 1 (split)")
	if err != nil {
		return nil, err
	}
	vals, err := ops.Ints64(t)
	if err != nil {
		return nil, fmt.Errorf("split: %w", err)
	}
	switch t.Rank() {
	case 0:
		s := vals[0]
		if s <= 0 {
			return nil, fmt.Errorf("split is %d, want a positive chunk size", s)
		}
		if err := checkCount(c, int((int64(dim)+s-1)/s)); err != nil {
			return nil, err
		}
		var sizes []int
		for rest := int64(dim); rest > 0; rest -= s {
			sizes = append(sizes, int(min(s, rest)))
		}
		return sizes, nil
	case 1:
		sizes := make([]int, len(vals))
		sum := int64(0)
		for i, s := range vals {
			if s < 0 || s > int64(dim) {
				return nil, fmt.Errorf("split[%d] is %d, want a size in [0, %d]", i, s, dim)
			}
			sizes[i] = int(s)
			sum += s
		}
		if sum != int64(dim) {
			return nil, fmt.Errorf("split %v sums to %d, the dimension is %d", vals, sum, dim)
		}
		return sizes, nil
	}
	return nil, fmt.Errorf("split has shape %v, want a scalar or a 1-D tensor", t.Shape())
}

// ConcatFromSequence concatenates the tensors of a sequence along axis, or
// stacks them along a new axis when new_axis=1 (axis then in [-r-1, r]).
var ConcatFromSequence = ops.Versions("", "ConcatFromSequence",
	"concat(S[0], S[1], ..., axis) or stack along a new axis", []int{11},
	func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		t := tensor.Type{Kind: tensor.KindTensor}
		if len(in) > 0 && in[0].Elem != nil {
			t.DType = in[0].Elem.DType
		}
		return []tensor.Type{t}, nil
	},
	func(n *ops.Node) (*ops.Kernel, error) {
		if !n.Has("axis") {
			return nil, fmt.Errorf("attribute axis is required")
		}
		axis := n.Int("axis", 0)
		newAxis := n.Int("new_axis", 0)
		if newAxis != 0 && newAxis != 1 {
			return nil, fmt.Errorf("new_axis is %d, want 0 or 1", newAxis)
		}
		return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
			s, err := inputSeq(in)
			if err != nil {
				return nil, err
			}
			items := make([]*tensor.Tensor, len(s.Items))
			for i, v := range s.Items {
				if items[i], err = asTensor(v, fmt.Sprintf("sequence element %d", i)); err != nil {
					return nil, err
				}
			}
			out, err := Concat(c, items, axis, newAxis == 1)
			if err != nil {
				return nil, err
			}
			return []tensor.Value{out}, nil
		}}, nil
	})

// checkCount bounds the number of elements of a sequence a kernel is about to
// build by the session's element limit, each counting as at least one
// element: a tensor of shape (2^40, 0) holds nothing but would split into
// 2^40 tensors.
func checkCount(c *ops.Ctx, n int) error {
	limit := tensor.MaxElements
	if c != nil && c.MaxElements > 0 {
		limit = c.MaxElements
	}
	if n > limit {
		return fmt.Errorf("%w: the result would have %d tensors, the session allows %d elements (raise runtime.Options.MaxTensorElements)", ops.ErrLimit, n, limit)
	}
	return nil
}

package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

func splitOps() []*ops.Op {
	return ops.Versions("", "Split", "Split: y_i = x[..., s_i:s_i+split[i], ...] along axis; equal parts (the last one smaller with num_outputs) when split is absent.",
		[]int{1, 2, 11, 13, 18}, inferDTypeOf(0, true), compileSplit)
}

func compileSplit(n *ops.Node) (*ops.Kernel, error) {
	axis := n.Int("axis", 0)
	attrSplit := n.Ints("split", nil)
	numOut := n.Int("num_outputs", 0)
	if err := n.Err(); err != nil {
		return nil, err
	}
	outs := len(n.Outputs)
	if n.Opset >= 18 && n.Has("num_outputs") {
		if numOut < 1 {
			return nil, fmt.Errorf("num_outputs %d must be positive", numOut)
		}
		if int(numOut) != outs {
			return nil, fmt.Errorf("num_outputs is %d but the node has %d outputs", numOut, outs)
		}
	}
	splitInput := n.Opset >= 13 || (n.Opset < 2 && attrSplit == nil)
	// Without num_outputs (or before opset 18) the parts must be equal.
	equalParts := n.Opset < 18 || !n.Has("num_outputs")
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 2); err != nil {
			return nil, err
		}
		x := in[0]
		a, err := ops.NormAxis(axis, x.Rank())
		if err != nil {
			return nil, err
		}
		d := x.Shape()[a]
		sizes := attrSplit
		if splitInput && len(in) > 1 && in[1] != nil {
			if sizes, err = intsView(in[1], "split"); err != nil {
				return nil, err
			}
		}
		var pbuf [ops.MaxAllocRank]int
		parts := pbuf[:0]
		if sizes != nil {
			if len(sizes) != outs {
				return nil, fmt.Errorf("split has %d entries but the node has %d outputs", len(sizes), outs)
			}
			if parts, err = dimsTo(parts, sizes, "split"); err != nil {
				return nil, err
			}
			if prod := sum(parts); prod != d {
				return nil, fmt.Errorf("split %v sums to %d, axis %d has size %d", sizes, prod, a, d)
			}
		} else {
			if outs < 1 {
				return nil, fmt.Errorf("split has no outputs")
			}
			chunk := (d + outs - 1) / outs
			if equalParts {
				if d%outs != 0 {
					return nil, fmt.Errorf("axis %d of size %d does not split into %d equal parts; give split sizes", a, d, outs)
				}
				chunk = d / outs
			}
			left := d
			for range outs {
				parts = append(parts, min(chunk, left))
				left -= parts[len(parts)-1]
			}
		}
		// Part i is x restricted to [pos, pos+p) on axis a: x's shape with
		// p there, read with x's strides from the offset of row pos. Shape
		// and strides lie in stack arrays, the outputs in c (Results).
		var sbuf, stbuf [ops.MaxAllocRank]int
		s := append(sbuf[:0], x.Shape()...)
		strides := tensor.StridesTo(stbuf[:0], s)
		inner := strides[a]
		res := c.Results(outs)
		pos := 0
		for i, p := range parts {
			s[a] = p
			if res[i], err = stridedCopy(c, x, s, pos*inner, strides); err != nil {
				return nil, err
			}
			pos += p
		}
		return res, nil
	}}, nil
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}

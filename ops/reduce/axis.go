package reduce

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// axisDims normalizes axis for shape (rank >= 1) and views shape as
// (outer, n, inner) around it.
func axisDims(shape []int, axis int64) (a, outer, n, inner int, err error) {
	if len(shape) == 0 {
		return 0, 0, 0, 0, fmt.Errorf("input is a scalar; want rank >= 1")
	}
	if a, err = ops.NormAxis(axis, len(shape)); err != nil {
		return 0, 0, 0, 0, err
	}
	outer, inner = 1, 1
	for _, d := range shape[:a] {
		outer *= d
	}
	for _, d := range shape[a+1:] {
		inner *= d
	}
	return a, outer, shape[a], inner, nil
}

// axisInfer returns an Infer function for an op whose output replaces
// dimension axis of input 0 by size (keep) or drops it, with dtype out
// (tensor.Undefined: the input's).
func axisInfer(out tensor.DType, axisAttr string, def int64, keepAttr bool) func(*ops.Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		t := tensor.Type{Kind: tensor.KindTensor, DType: out}
		if len(in) > 0 && out == tensor.Undefined {
			t.DType = in[0].DType
		}
		if len(in) == 0 || !in[0].HasShape {
			return []tensor.Type{t}, nil
		}
		a, err := ops.NormAxis(n.Int(axisAttr, def), len(in[0].Shape))
		if err != nil {
			return nil, err
		}
		keep := !keepAttr || n.Int("keepdims", 1) != 0
		t.HasShape = true
		for i, d := range in[0].Shape {
			switch {
			case i != a:
				t.Shape = append(t.Shape, d)
			case keep:
				t.Shape = append(t.Shape, tensor.Dim{Size: 1})
			}
		}
		return []tensor.Type{t}, n.Err()
	}
}

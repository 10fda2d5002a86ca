package shape

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Inference for ops whose output shape depends on input values: only the
// dtype (and, where it follows from input shapes, the rank) is known
// statically.

// unknownDims returns r unknown dimensions.
func unknownDims(r int) []tensor.Dim {
	s := make([]tensor.Dim, r)
	for i := range s {
		s[i] = tensor.Dim{Size: -1}
	}
	return s
}

// inferDTypeOf returns an Infer whose outputs all have input i's dtype and
// an unknown shape; with sameRank the rank of input i is kept.
func inferDTypeOf(i int, sameRank bool) func(*ops.Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		if i >= len(in) {
			return nil, fmt.Errorf("input %d missing", i)
		}
		t := tensor.Type{Kind: tensor.KindTensor, DType: in[i].DType}
		if sameRank && in[i].HasShape {
			t.HasShape, t.Shape = true, unknownDims(len(in[i].Shape))
		}
		out := make([]tensor.Type, max(len(n.Outputs), 1))
		for k := range out {
			out[k] = t
		}
		return out, nil
	}
}

// inferVector returns a 1-D output of dtype d (or input 0's dtype when d is
// Undefined) with unknown length.
func inferVector(d tensor.DType) func(*ops.Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		if d == tensor.Undefined {
			if len(in) == 0 {
				return nil, fmt.Errorf("input 0 missing")
			}
			d = in[0].DType
		}
		return []tensor.Type{shapeType(d, unknownDims(1))}, nil
	}
}

func inferConstantOfShape(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	d := tensor.Float32
	if v := n.Tensor("value"); v != nil {
		d = v.DType()
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: d}
	if len(in) > 0 && in[0].HasShape && len(in[0].Shape) == 1 && in[0].Shape[0].Known() {
		t.HasShape, t.Shape = true, unknownDims(int(in[0].Shape[0].Size))
	}
	return []tensor.Type{t}, nil
}

func inferNonZero(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 || !in[0].HasShape {
		return []tensor.Type{shapeType(tensor.Int64, unknownDims(2))}, nil
	}
	return []tensor.Type{shapeType(tensor.Int64, []tensor.Dim{{Size: int64(len(in[0].Shape))}, {Size: -1}})}, nil
}

func inferEyeLike(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	t := in[0]
	if d := tensor.DType(n.Int("dtype", 0)); d != tensor.Undefined {
		t.DType = d
	}
	return []tensor.Type{t}, nil
}

func inferOneHot(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 3 {
		return nil, fmt.Errorf("onehot needs 3 inputs")
	}
	t := tensor.Type{Kind: tensor.KindTensor, DType: in[2].DType}
	if in[0].HasShape {
		t.HasShape, t.Shape = true, unknownDims(len(in[0].Shape)+1)
	}
	return []tensor.Type{t}, nil
}

func inferUnique(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	y := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	if !n.Has("axis") {
		y.HasShape, y.Shape = true, unknownDims(1)
	} else if in[0].HasShape {
		y.HasShape, y.Shape = true, unknownDims(len(in[0].Shape))
	}
	idx := shapeType(tensor.Int64, unknownDims(1))
	return []tensor.Type{y, idx, idx, idx}, nil
}

// inferBlocks infers DepthToSpace (toSpace) and SpaceToDepth on known shapes.
func inferBlocks(toSpace bool) func(*ops.Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		if len(in) == 0 {
			return nil, fmt.Errorf("input 0 missing")
		}
		t := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType, HasShape: true, Shape: unknownDims(4)}
		b := n.Int("blocksize", 0)
		if !known(in[0]) || len(in[0].Shape) != 4 || b <= 0 {
			return []tensor.Type{t}, nil
		}
		s := typeDims(in[0])
		bs := int(b)
		if toSpace {
			return []tensor.Type{tensor.TensorType(t.DType, s[0], s[1]/(bs*bs), s[2]*bs, s[3]*bs)}, nil
		}
		return []tensor.Type{tensor.TensorType(t.DType, s[0], s[1]*bs*bs, s[2]/bs, s[3]/bs)}, nil
	}
}

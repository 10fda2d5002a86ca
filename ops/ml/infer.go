package ml

import (
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// inferDTypes gives the outputs these dtypes, shapes unknown.
func inferDTypes(ds ...tensor.DType) func(*ops.Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		out := make([]tensor.Type, len(ds))
		for i, d := range ds {
			out[i] = tensor.Type{Kind: tensor.KindTensor, DType: d}
		}
		return out, nil
	}
}

// inferLike gives one output input 0's dtype (shape unknown).
func inferLike(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	t := tensor.Type{Kind: tensor.KindTensor}
	if len(in) > 0 {
		t.DType = in[0].DType
	}
	return []tensor.Type{t}, nil
}

// inferClassifier gives a classifier's label output the dtype of its label
// list (intsAttr present: int64, else string) and float32 scores.
func inferClassifier(intsAttr string) func(*ops.Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		label := tensor.String
		if n.Has(intsAttr) {
			label = tensor.Int64
		}
		return inferDTypes(label, tensor.Float32)(n, in)
	}
}

// inferSwapStringInt maps a string input to int64 and any other to string,
// with input 0's shape (CategoryMapper, LabelEncoder-1).
func inferSwapStringInt(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return inferDTypes(tensor.Undefined)(n, in)
	}
	t := in[0]
	t.DType = tensor.String
	if in[0].DType == tensor.String {
		t.DType = tensor.Int64
	}
	return []tensor.Type{t}, nil
}

// inferLabelEncoder gives the values' dtype with input 0's shape.
func inferLabelEncoder(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	t := tensor.Type{Kind: tensor.KindTensor}
	if len(in) > 0 {
		t = in[0]
	}
	switch {
	case n.Has("values_strings"):
		t.DType = tensor.String
	case n.Has("values_int64s"):
		t.DType = tensor.Int64
	case n.Has("values_floats"):
		t.DType = tensor.Float32
	case n.Tensor("values_tensor") != nil:
		t.DType = n.Tensor("values_tensor").DType()
	default:
		t.DType = tensor.Undefined
	}
	return []tensor.Type{t}, nil
}

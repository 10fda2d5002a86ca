// Package ml holds gort's kernels for the ai.onnx.ml operator family.
//
// # Overview
//
// The classical machine-learning operators that scikit-learn, LightGBM and
// XGBoost converters emit: ArrayFeatureExtractor, Binarizer, LabelEncoder
// (versions 1, 2 and 4), CategoryMapper, OneHotEncoder, Imputer, Scaler,
// Normalizer, FeatureVectorizer, ZipMap, DictVectorizer, CastMap, the
// linear and SVM models, and the tree ensembles (TreeEnsemble-5 and the
// older TreeEnsembleRegressor/Classifier, sharing one flattened forest that
// is validated at Compile time). Attributes of a model are untrusted: node,
// leaf, feature, target and class ids out of range fail Compile with the
// attribute's name.
//
// Where the spec leaves a result open (binary classifiers' score columns
// and labels, PROBIT, unscored targets), kernels give what ONNX Runtime
// gives, checked with `gort compare`; TreeEnsemble-5 follows the spec's
// post_transform numbering (1 SOFTMAX, 2 LOGISTIC), which ONNX Runtime
// 1.30 reads the other way round.
package ml

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Domain is the operator domain of this family.
const Domain = "ai.onnx.ml"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(arrayFeatureExtractorOps, binarizerOps, labelEncoderOps, treeEnsembleOps,
		treeEnsembleRegressorOps, treeEnsembleClassifierOps, linearRegressorOps, linearClassifierOps,
		normalizerOps, scalerOps, oneHotEncoderOps, imputerOps, featureVectorizerOps, categoryMapperOps,
		zipMapOps, dictVectorizerOps, castMapOps, svmRegressorOps, svmClassifierOps)
}

// gatherLast returns x[..., idx] for a generic element type: rows of cols
// elements, idx already checked to lie in [0, cols).
func gatherLast[T any](dst, x []T, rows, cols int, idx []int) {
	for r := 0; r < rows; r++ {
		src, out := x[r*cols:(r+1)*cols], dst[r*len(idx):(r+1)*len(idx)]
		for j, k := range idx {
			out[j] = src[k]
		}
	}
}

// ArrayFeatureExtractor selects columns: Z[..., j] = X[..., Y[j]] (a 1-D X
// gives Z of shape [1, len(Y)]).
var arrayFeatureExtractorOps = ops.Versions(Domain, "ArrayFeatureExtractor", "ArrayFeatureExtractor: Z[..., j] = X[..., Y[j]] (last axis)",
	[]int{1}, inferLike, ops.Simple(runArrayFeatureExtractor))

func runArrayFeatureExtractor(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 2, 2); err != nil {
		return nil, err
	}
	x := in[0]
	if x.Rank() == 0 {
		return nil, fmt.Errorf("input X is a scalar, want at least one axis")
	}
	raw, err := ops.Ints64(in[1])
	if err != nil {
		return nil, fmt.Errorf("input Y: %w", err)
	}
	cols := x.Shape()[x.Rank()-1]
	idx := make([]int, len(raw))
	for j, v := range raw {
		if v < 0 || v >= int64(cols) {
			return nil, fmt.Errorf("input Y holds index %d, out of range [0, %d) for the last axis of X", v, cols)
		}
		idx[j] = int(v)
	}
	shape := append(append([]int{}, x.Shape()[:x.Rank()-1]...), len(idx))
	if x.Rank() == 1 {
		shape = []int{1, len(idx)}
	}
	out, err := c.New(x.DType(), shape...)
	if err != nil {
		return nil, err
	}
	rows := 1
	if cols > 0 {
		rows = x.Len() / cols
	} else {
		for _, d := range x.Shape()[:x.Rank()-1] {
			rows *= d
		}
	}
	switch x.DType() {
	case tensor.Float32:
		gatherLast(tensor.Data[float32](out), tensor.Data[float32](x), rows, cols, idx)
	case tensor.Float64:
		gatherLast(tensor.Data[float64](out), tensor.Data[float64](x), rows, cols, idx)
	case tensor.Int64:
		gatherLast(tensor.Data[int64](out), tensor.Data[int64](x), rows, cols, idx)
	case tensor.Int32:
		gatherLast(tensor.Data[int32](out), tensor.Data[int32](x), rows, cols, idx)
	case tensor.String:
		gatherLast(tensor.Data[string](out), tensor.Data[string](x), rows, cols, idx)
	default:
		return nil, fmt.Errorf("input X is %v, want float32, float64, int64, int32 or string", x.DType())
	}
	return []*tensor.Tensor{out}, nil
}

// Binarizer: Y = X > threshold ? 1 : 0, in X's dtype.
var binarizerOps = ops.Versions(Domain, "Binarizer", "Binarizer: Y = X > threshold ? 1 : 0",
	[]int{1}, ops.InferSameAs(0), compileBinarizer)

func binarize[T tensor.Number](y, x []T, th float64) {
	for i, v := range x {
		if float64(v) > th {
			y[i] = 1
		} else {
			y[i] = 0
		}
	}
}

func compileBinarizer(n *ops.Node) (*ops.Kernel, error) {
	th := float64(n.Float("threshold", 0))
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ops.Want(in, 1, 1); err != nil {
			return nil, err
		}
		x := in[0]
		out, err := c.New(x.DType(), x.Shape()...)
		if err != nil {
			return nil, err
		}
		switch x.DType() {
		case tensor.Float32:
			binarize(tensor.Data[float32](out), tensor.Data[float32](x), th)
		case tensor.Float64:
			binarize(tensor.Data[float64](out), tensor.Data[float64](x), th)
		case tensor.Int64:
			binarize(tensor.Data[int64](out), tensor.Data[int64](x), th)
		case tensor.Int32:
			binarize(tensor.Data[int32](out), tensor.Data[int32](x), th)
		default:
			return nil, fmt.Errorf("input X is %v, want float32, float64, int64 or int32", x.DType())
		}
		return []*tensor.Tensor{out}, nil
	}}, nil
}

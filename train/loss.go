package train

import (
	"fmt"

	"github.com/gort-ml/gort/autodiff"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Losses are graph pieces: each appends nodes to a forward model and returns
// the name of a scalar loss value (mean over the batch unless stated), built
// from standard ONNX ops so that any provider runs them and autodiff
// differentiates them.

func ai(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }

// CrossEntropy is softmax cross-entropy of logits (N, C) or (N, C, d...)
// against int64 class labels (N) or (N, d...), averaged over labels not equal
// to ignoreIndex, with label smoothing ε as torch.nn.CrossEntropyLoss:
//
//	loss = (1−ε)·NLL(logsoftmax(z), y) + ε·mean_c(−logsoftmax(z)_c)
//
// With ε = 0 it is ONNX's SoftmaxCrossEntropyLoss op (reduction mean).
func CrossEntropy(m *ir.Model, logits, labels string, ignoreIndex int64, smoothing float64) (string, error) {
	if smoothing < 0 || smoothing >= 1 {
		return "", fmt.Errorf("train: label smoothing %v outside [0, 1)", smoothing)
	}
	b := autodiff.NewBuilder(m, "loss/")
	attrs := []ops.Attr{{Name: "reduction", Type: ops.AttrString, S: []byte("mean")}, ai("ignore_index", ignoreIndex)}
	if smoothing == 0 {
		return b.OpN("SoftmaxCrossEntropyLoss", 1, attrs, logits, labels)[0], nil
	}
	// NLL part from the op; the smoothing part averages −logp over classes
	// and over the labels that are not ignored.
	outs := b.OpN("SoftmaxCrossEntropyLoss", 2, attrs, logits, labels)
	nll, logp := outs[0], outs[1]
	classes := b.Op("CastLike", nil, b.Op("Gather", []ops.Attr{ai("axis", 0)}, b.Op("Shape", nil, logp), b.Const(tensor.Scalar(int64(1)))), logits)
	negMeanC := b.Op("Neg", nil, b.Op("Div", nil, b.Op("ReduceSum", []ops.Attr{ai("keepdims", 0)}, logp, b.Ints(1)), classes))
	valid := b.Op("CastLike", nil, b.Op("Not", nil, b.Op("Equal", nil, labels, b.Const(tensor.Scalar(ignoreIndex)))), logits)
	smooth := b.Op("Div", nil, b.Op("ReduceSum", []ops.Attr{ai("keepdims", 0)}, b.Op("Mul", nil, negMeanC, valid)),
		b.Op("Max", nil, b.Op("ReduceSum", []ops.Attr{ai("keepdims", 0)}, valid), b.Scalar(1, logits)))
	return b.Op("Add", nil, b.Op("Mul", nil, nll, b.Scalar(1-smoothing, logits)), b.Op("Mul", nil, smooth, b.Scalar(smoothing, logits))), nil
}

// NLL is the negative log-likelihood of log-probabilities (N, C[, d...])
// against int64 labels, averaged over labels not equal to ignoreIndex
// (ONNX NegativeLogLikelihoodLoss, reduction mean).
func NLL(m *ir.Model, logProbs, labels string, ignoreIndex int64) string {
	b := autodiff.NewBuilder(m, "loss/")
	return b.Op("NegativeLogLikelihoodLoss", []ops.Attr{{Name: "reduction", Type: ops.AttrString, S: []byte("mean")}, ai("ignore_index", ignoreIndex)}, logProbs, labels)
}

// MSE is mean((pred − target)²) over every element.
func MSE(m *ir.Model, pred, target string) string {
	b := autodiff.NewBuilder(m, "loss/")
	d := b.Op("Sub", nil, pred, target)
	return b.Op("ReduceMean", []ops.Attr{ai("keepdims", 0)}, b.Op("Mul", nil, d, d))
}

// L1 is mean(|pred − target|) over every element.
func L1(m *ir.Model, pred, target string) string {
	b := autodiff.NewBuilder(m, "loss/")
	return b.Op("ReduceMean", []ops.Attr{ai("keepdims", 0)}, b.Op("Abs", nil, b.Op("Sub", nil, pred, target)))
}

// BCEWithLogits is mean(softplus(x) − x·y), the numerically stable binary
// cross-entropy of logits x and targets y in [0, 1] (torch's BCEWithLogitsLoss):
// softplus(x) = max(x, 0) + log(1 + exp(−|x|)).
func BCEWithLogits(m *ir.Model, logits, targets string) string {
	b := autodiff.NewBuilder(m, "loss/")
	sp := b.Op("Add", nil, b.Op("Relu", nil, logits), b.Op("Log", nil, b.Op("Add", nil, b.Scalar(1, logits), b.Op("Exp", nil, b.Op("Neg", nil, b.Op("Abs", nil, logits))))))
	return b.Op("ReduceMean", []ops.Attr{ai("keepdims", 0)}, b.Op("Sub", nil, sp, b.Op("Mul", nil, logits, targets)))
}

// InBatchContrastive is the in-batch softmax contrastive loss of
// sentence-transformers' MultipleNegativesRankingLoss: a and p are (N, D)
// embeddings of anchors and their positives; every other positive in the
// batch is a negative. Similarities are cosine similarities times scale
// (sentence-transformers' default 20):
//
//	loss = CE(scale · cos(a_i, p_j), j = i)
func InBatchContrastive(m *ir.Model, a, p string, scale float64) string {
	b := autodiff.NewBuilder(m, "loss/")
	norm := func(x string) string {
		n := b.Op("Sqrt", nil, b.Op("ReduceSum", []ops.Attr{ai("keepdims", 1)}, b.Op("Mul", nil, x, x), b.Ints(-1)))
		return b.Op("Div", nil, x, b.Op("Max", nil, n, b.Scalar(1e-12, x)))
	}
	sim := b.Op("Mul", nil, b.Op("MatMul", nil, norm(a), b.Op("Transpose", nil, norm(p))), b.Scalar(scale, a))
	n := b.Op("Gather", []ops.Attr{ai("axis", 0)}, b.Op("Shape", nil, a), b.Const(tensor.Scalar(int64(0))))
	labels := b.Op("Range", nil, b.Const(tensor.Scalar(int64(0))), n, b.Const(tensor.Scalar(int64(1))))
	return b.Op("SoftmaxCrossEntropyLoss", []ops.Attr{{Name: "reduction", Type: ops.AttrString, S: []byte("mean")}}, sim, labels)
}

// CosineSimilarity is mean(1 − cos(a_i, b_i)) for (N, D) embeddings, a
// regression-style embedding loss.
func CosineSimilarity(m *ir.Model, a, c string) string {
	b := autodiff.NewBuilder(m, "loss/")
	dot := b.Op("ReduceSum", []ops.Attr{ai("keepdims", 0)}, b.Op("Mul", nil, a, c), b.Ints(-1))
	na := b.Op("Sqrt", nil, b.Op("ReduceSum", []ops.Attr{ai("keepdims", 0)}, b.Op("Mul", nil, a, a), b.Ints(-1)))
	nc := b.Op("Sqrt", nil, b.Op("ReduceSum", []ops.Attr{ai("keepdims", 0)}, b.Op("Mul", nil, c, c), b.Ints(-1)))
	cos := b.Op("Div", nil, dot, b.Op("Max", nil, b.Op("Mul", nil, na, nc), b.Scalar(1e-12, a)))
	return b.Op("ReduceMean", []ops.Attr{ai("keepdims", 0)}, b.Op("Sub", nil, b.Scalar(1, a), cos))
}

package autodiff

import (
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

func init() {
	weights := func(b *irbuild.Builder, v ...float64) string { return b.Const(tensor.Must([]int{len(v)}, v)) }
	gradCases = append(gradCases,
		gradCase{name: "SoftmaxCrossEntropyLoss mean", in: map[string][]int{"x": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.Op("SoftmaxCrossEntropyLoss", "x", ints(b, 1, 0, 3))
		}},
		gradCase{name: "SoftmaxCrossEntropyLoss mean weights ignore_index", in: map[string][]int{"x": {2, 3, 2}}, build: func(b *irbuild.Builder) string {
			return b.OpA("SoftmaxCrossEntropyLoss", attrs{iA("ignore_index", 2)}, "x",
				intsShaped(b, []int{2, 2}, 0, 2, 1, 2), weights(b, 0.5, 2, 1.5))
		}},
		gradCase{name: "SoftmaxCrossEntropyLoss none with log_prob", in: map[string][]int{"x": {3, 4}}, build: func(b *irbuild.Builder) string {
			nd := b.OpN("SoftmaxCrossEntropyLoss", 2, "x", ints(b, 2, 0, 3)).With(sA("reduction", "none"))
			lp := b.OpA("ReduceSum", attrs{iA("keepdims", 0)}, nd.Out(1), ints(b, 1))
			return b.Op("Mul", nd.Out(0), lp)
		}},
		gradCase{name: "SoftmaxCrossEntropyLoss sum int32 labels", in: map[string][]int{"x": {2, 3}}, build: func(b *irbuild.Builder) string {
			return b.OpA("SoftmaxCrossEntropyLoss", attrs{sA("reduction", "sum")}, "x", b.Const(tensor.Must([]int{2}, []int32{2, 1})))
		}},
		gradCase{name: "NegativeLogLikelihoodLoss mean weights ignore_index", in: map[string][]int{"x": {3, 4, 2}}, build: func(b *irbuild.Builder) string {
			return b.OpA("NegativeLogLikelihoodLoss", attrs{iA("ignore_index", -1)}, "x",
				intsShaped(b, []int{3, 2}, 0, -1, 3, 2, 1, 1), weights(b, 1, 2, 0.5, 3))
		}},
		gradCase{name: "NegativeLogLikelihoodLoss none", in: map[string][]int{"x": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("NegativeLogLikelihoodLoss", attrs{sA("reduction", "none")}, b.OpA("LogSoftmax", attrs{iA("axis", 1)}, "x"), ints(b, 3, 1, 0))
		}},
	)
}

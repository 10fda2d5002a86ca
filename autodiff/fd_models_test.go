package autodiff

import (
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

// Whole small models: every trainable value gets its gradient through a
// chain of rules.
func init() {
	gradCases = append(gradCases,
		gradCase{name: "model CNN classifier", dynAxes: map[string][]int{"x": {0}}, in: map[string][]int{"x": {2, 1, 6, 6}, "w1": {3, 1, 3, 3}, "b1": {3}, "fc": {12, 4}, "fb": {4}},
			build: func(b *irbuild.Builder) string {
				h := b.OpA("Conv", attrs{isA("pads", 1, 1, 1, 1)}, "x", "w1", "b1")
				h = b.OpA("MaxPool", attrs{isA("kernel_shape", 2, 2), isA("strides", 2, 2)}, b.Op("Relu", h))
				h = b.OpA("AveragePool", attrs{isA("kernel_shape", 2, 2), isA("strides", 1, 1)}, h)
				h = b.OpA("Flatten", attrs{iA("axis", 1)}, h)
				logits := b.Op("Gemm", h, "fc", "fb")
				return b.Op("SoftmaxCrossEntropyLoss", logits, ints(b, 3, 1))
			}},
		gradCase{name: "model transformer block", opset: 23, in: map[string][]int{"emb": {6, 4}, "g": {4}, "be": {4}, "wq": {4, 4}, "wk": {4, 4}, "wv": {4, 4}, "w1": {4, 8}, "w2": {8, 4}},
			build: func(b *irbuild.Builder) string {
				ids := intsShaped(b, []int{2, 3}, 1, 4, 0, 5, 2, 2)
				x := b.Op("Gather", "emb", ids) // (2, 3, 4)
				h := b.Op("LayerNormalization", x, "g", "be")
				q, k, v := b.Op("MatMul", h, "wq"), b.Op("MatMul", h, "wk"), b.Op("MatMul", h, "wv")
				a := b.OpA("Attention", attrs{iA("q_num_heads", 2), iA("kv_num_heads", 2), iA("is_causal", 1)}, q, k, v)
				x = b.Op("Add", x, a)
				f := b.Op("MatMul", b.OpA("Gelu", attrs{sA("approximate", "tanh")}, b.Op("MatMul", x, "w1")), "w2")
				x = b.Op("Add", x, f)
				logits := b.OpA("Transpose", attrs{isA("perm", 0, 2, 1)}, b.Op("MatMul", x, b.Op("Transpose", "emb"))) // (2, 6, 3)
				return b.OpA("SoftmaxCrossEntropyLoss", attrs{iA("ignore_index", 0)}, logits, b.Const(tensor.Must([]int{2, 3}, []int64{4, 0, 5, 2, 2, 1})))
			}},
	)
}

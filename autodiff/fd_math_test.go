package autodiff

import (
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

func init() {
	un := func(op string, opset int, positive bool) gradCase {
		c := gradCase{name: op, opset: opset, in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string { return b.Op(op, "a") }}
		if positive {
			c.positive = map[string]bool{"a": true}
		}
		return c
	}
	scaled := func(op string, k float64) gradCase { // inputs in (-k, k)
		return gradCase{name: op, in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string {
			return b.Op(op, b.Op("Mul", "a", b.Const(tensor.Scalar(k))))
		}}
	}
	gradCases = append(gradCases,
		scaled("Tan", 1.2), un("Atan", 0, false), scaled("Asin", 0.9), scaled("Acos", 0.9),
		un("Sinh", 0, false), un("Cosh", 0, false), un("Asinh", 0, false), scaled("Atanh", 0.9),
		gradCase{name: "Acosh", positive: map[string]bool{"a": true}, in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string {
			return b.Op("Acosh", b.Op("Add", "a", b.Const(tensor.Scalar(1.0))))
		}},
		un("Floor", 0, false), un("Ceil", 0, false), un("Round", 0, false), un("Sign", 0, false),
		un("Softsign", 0, false), scaled("HardSwish", 5), un("Mish", 18, false), un("Swish", 24, false),
		gradCase{name: "Celu", in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Celu", attrs{fA("alpha", 0.5)}, "a")
		}},
		gradCase{name: "ThresholdedRelu", in: map[string][]int{"a": {9}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ThresholdedRelu", attrs{fA("alpha", 0.3)}, "a")
		}},
		gradCase{name: "Max broadcast", in: map[string][]int{"a": {2, 3}, "b": {3}, "c": {2, 1}}, build: func(b *irbuild.Builder) string {
			return b.Op("Max", "a", "b", "c")
		}},
		gradCase{name: "Min", in: map[string][]int{"a": {2, 3}, "b": {2, 3}}, build: func(b *irbuild.Builder) string {
			return b.Op("Min", "a", "b")
		}},
		gradCase{name: "Mean", in: map[string][]int{"a": {2, 3}, "b": {3}}, build: func(b *irbuild.Builder) string {
			return b.Op("Mean", "a", "b")
		}},
		gradCase{name: "Einsum batched matmul", in: map[string][]int{"a": {2, 3, 4}, "b": {2, 4, 5}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Einsum", attrs{sA("equation", "bij, bjk -> bik")}, "a", "b")
		}},
		gradCase{name: "Einsum lone letter and three operands", in: map[string][]int{"a": {2, 3}, "b": {3, 4}, "c": {4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Einsum", attrs{sA("equation", "ij,jk,k->k")}, "a", "b", "c")
		}},
		gradCase{name: "ReduceProd", positive: map[string]bool{"a": true}, in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ReduceProd", attrs{isA("axes", 1), iA("keepdims", 0)}, "a")
		}},
		gradCase{name: "LpNormalization p=2", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("LpNormalization", attrs{iA("axis", 0)}, "a")
		}},
		gradCase{name: "LpNormalization p=1", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("LpNormalization", attrs{iA("p", 1)}, "a")
		}},
		gradCase{name: "Resize nearest upsample", in: map[string][]int{"a": {1, 2, 2, 3}}, build: func(b *irbuild.Builder) string {
			scales := b.Const(tensor.Must([]int{4}, []float32{1, 1, 2, 1.5}))
			return b.Op("Resize", "a", "", scales)
		}},
		gradCase{name: "Resize nearest sizes half_pixel", opset: 18, in: map[string][]int{"a": {1, 1, 5, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Resize", attrs{sA("coordinate_transformation_mode", "half_pixel"), sA("nearest_mode", "round_prefer_ceil")}, "a", "", "", ints(b, 1, 1, 3, 7))
		}},
		gradCase{name: "Pad constant negative", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.Op("Pad", "a", ints(b, 1, -1, 2, 1), scalar64(b, 0.5))
		}},
		gradCase{name: "Pad reflect axes", opset: 18, in: map[string][]int{"a": {2, 3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Pad", attrs{sA("mode", "reflect")}, "a", ints(b, 2, 1, 1, 2), "", ints(b, -1, 1))
		}},
		gradCase{name: "Pad constant by Slice", opset: 18, in: map[string][]int{"a": {2, 3, 4}}, build: func(b *irbuild.Builder) string {
			return b.Op("Pad", "a", ints(b, 1, 0, 2, 3), "", ints(b, -1, 0))
		}},
		gradCase{name: "Pad edge", in: map[string][]int{"a": {3, 2}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Pad", attrs{sA("mode", "edge")}, "a", ints(b, 2, 0, 1, 3))
		}},
		gradCase{name: "TopK", in: map[string][]int{"a": {3, 5}}, build: func(b *irbuild.Builder) string {
			return b.OpN("TopK", 2, "a", ints(b, 2)).With(iA("axis", 0), iA("largest", 0)).Out(0)
		}},
		gradCase{name: "CumSum exclusive", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("CumSum", attrs{iA("exclusive", 1)}, "a", b.Const(tensor.Scalar(int64(-1))))
		}},
		gradCase{name: "CumSum reverse", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("CumSum", attrs{iA("reverse", 1)}, "a", b.Const(tensor.Scalar(int32(0))))
		}},
		gradCase{name: "MeanVarianceNormalization", in: map[string][]int{"x": {2, 3, 2, 2}}, build: func(b *irbuild.Builder) string {
			return b.Op("MeanVarianceNormalization", "x")
		}},
		gradCase{name: "MeanVarianceNormalization axes", in: map[string][]int{"x": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("MeanVarianceNormalization", attrs{isA("axes", 1)}, "x")
		}},
		gradCase{name: "InstanceNormalization", in: map[string][]int{"x": {2, 3, 4, 2}, "s": {3}, "b": {3}}, build: func(b *irbuild.Builder) string {
			return b.Op("InstanceNormalization", "x", "s", "b")
		}},
		gradCase{name: "GroupNormalization 21", opset: 21, in: map[string][]int{"x": {2, 4, 3}, "s": {4}, "b": {4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("GroupNormalization", attrs{iA("num_groups", 2)}, "x", "s", "b")
		}},
		gradCase{name: "GroupNormalization 18", opset: 18, in: map[string][]int{"x": {2, 4, 3}, "s": {2}, "b": {2}}, build: func(b *irbuild.Builder) string {
			return b.OpA("GroupNormalization", attrs{iA("num_groups", 2), fA("epsilon", 0.01)}, "x", "s", "b")
		}},
	)
}

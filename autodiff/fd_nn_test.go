package autodiff

import (
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

type attrs = []irbuild.Attr

var (
	iA  = irbuild.Int
	isA = irbuild.Ints
	fA  = irbuild.Float
	sA  = irbuild.String
)

func scalar64(b *irbuild.Builder, v float64) string { return b.Const(tensor.Scalar(v)) }

func init() {
	gradCases = append(gradCases,
		gradCase{name: "Softmax axis 1", in: map[string][]int{"a": {2, 3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Softmax", attrs{iA("axis", 1)}, "a")
		}},
		gradCase{name: "LogSoftmax", in: map[string][]int{"a": {2, 5}}, build: func(b *irbuild.Builder) string {
			return b.Op("LogSoftmax", "a")
		}},
		gradCase{name: "LayerNormalization", in: map[string][]int{"x": {2, 3, 4}, "s": {4}, "b": {4}}, build: func(b *irbuild.Builder) string {
			return b.Op("LayerNormalization", "x", "s", "b")
		}},
		gradCase{name: "LayerNormalization axis 1 dynamic", dynamic: true, in: map[string][]int{"x": {2, 3, 4}, "s": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("LayerNormalization", attrs{iA("axis", 1), fA("epsilon", 0.1)}, "x", "s")
		}},
		gradCase{name: "RMSNormalization", opset: 23, in: map[string][]int{"x": {2, 3, 4}, "s": {4}}, build: func(b *irbuild.Builder) string {
			return b.Op("RMSNormalization", "x", "s")
		}},
		gradCase{name: "SimplifiedLayerNormalization", in: map[string][]int{"x": {3, 4}, "s": {4}}, build: func(b *irbuild.Builder) string {
			return b.Op("SimplifiedLayerNormalization", "x", "s")
		}},
		gradCase{name: "BatchNormalization training", opset: 15, in: map[string][]int{"x": {3, 2, 4}, "s": {2}, "b": {2}}, build: func(b *irbuild.Builder) string {
			m := b.Const(tensor.Must([]int{2}, []float64{0.1, -0.2}))
			v := b.Const(tensor.Must([]int{2}, []float64{1.5, 0.5}))
			return b.OpN("BatchNormalization", 3, "x", "s", "b", m, v).With(iA("training_mode", 1)).Out(0)
		}},
		gradCase{name: "BatchNormalization inference", in: map[string][]int{"x": {3, 2, 2, 2}, "s": {2}, "b": {2}}, build: func(b *irbuild.Builder) string {
			m := b.Const(tensor.Must([]int{2}, []float64{0.1, -0.2}))
			v := b.Const(tensor.Must([]int{2}, []float64{1.5, 0.5}))
			return b.Op("BatchNormalization", "x", "s", "b", m, v)
		}},
		gradCase{name: "Gelu", opset: 20, in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string {
			return b.Op("Gelu", "a")
		}},
		gradCase{name: "Gelu tanh", opset: 20, in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Gelu", attrs{sA("approximate", "tanh")}, "a")
		}},
		gradCase{name: "HardSigmoid", in: map[string][]int{"a": {9}}, build: func(b *irbuild.Builder) string {
			return b.OpA("HardSigmoid", attrs{fA("alpha", 0.8), fA("beta", 0.4)}, "a")
		}},
		gradCase{name: "Elu", in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Elu", attrs{fA("alpha", 0.7)}, "a")
		}},
		gradCase{name: "Selu", in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string { return b.Op("Selu", "a") }},
		gradCase{name: "PRelu broadcast", in: map[string][]int{"a": {2, 3, 4}, "s": {3, 1}}, build: func(b *irbuild.Builder) string {
			return b.Op("PRelu", "a", "s")
		}},
		gradCase{name: "Clip", in: map[string][]int{"a": {9}}, build: func(b *irbuild.Builder) string {
			return b.Op("Clip", "a", scalar64(b, -0.5), scalar64(b, 0.5))
		}},
		gradCase{name: "Clip max only", in: map[string][]int{"a": {9}}, build: func(b *irbuild.Builder) string {
			return b.Op("Clip", "a", "", scalar64(b, 0.3))
		}},
		gradCase{name: "ReduceMax axes keepdims=0", in: map[string][]int{"a": {2, 3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ReduceMax", attrs{isA("axes", 0, -1), iA("keepdims", 0)}, "a")
		}},
		gradCase{name: "ReduceMax all", in: map[string][]int{"a": {2, 3}}, build: func(b *irbuild.Builder) string {
			return b.Op("ReduceMax", "a")
		}},
		gradCase{name: "ReduceMin axes input", opset: 18, in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ReduceMin", attrs{iA("keepdims", 0)}, "a", ints(b, 1))
		}},
		gradCase{name: "ReduceL2", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ReduceL2", attrs{isA("axes", 1), iA("keepdims", 0)}, "a")
		}},
		gradCase{name: "ReduceL1", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ReduceL1", attrs{isA("axes", 0)}, "a")
		}},
		gradCase{name: "ReduceSumSquare", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ReduceSumSquare", attrs{iA("keepdims", 0)}, "a")
		}},
		gradCase{name: "ReduceLogSum", positive: map[string]bool{"a": true}, in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ReduceLogSum", attrs{isA("axes", -1)}, "a")
		}},
		gradCase{name: "ReduceLogSumExp", opset: 18, in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ReduceLogSumExp", attrs{iA("keepdims", 0)}, "a", ints(b, 0))
		}},
		gradCase{name: "Conv 2-D groups strides pads dilations", in: map[string][]int{"x": {2, 4, 5, 6}, "w": {6, 2, 3, 2}, "b": {6}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Conv", attrs{iA("group", 2), isA("strides", 2, 1), isA("pads", 1, 0, 0, 1), isA("dilations", 1, 2)}, "x", "w", "b")
		}},
		gradCase{name: "Conv 1-D SAME_UPPER stride 2", in: map[string][]int{"x": {1, 3, 8}, "w": {2, 3, 3}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Conv", attrs{sA("auto_pad", "SAME_UPPER"), isA("strides", 2)}, "x", "w")
		}},
		gradCase{name: "Conv depthwise", in: map[string][]int{"x": {1, 3, 5, 5}, "w": {3, 1, 3, 3}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Conv", attrs{iA("group", 3), isA("strides", 2, 2), isA("pads", 1, 1, 1, 1)}, "x", "w")
		}},
		gradCase{name: "Conv plain", in: map[string][]int{"x": {2, 3, 4, 4}, "w": {2, 3, 3, 3}, "b": {2}}, build: func(b *irbuild.Builder) string {
			return b.Op("Conv", "x", "w", "b")
		}},
		gradCase{name: "ConvTranspose groups strides pads output_padding dilations", in: map[string][]int{"x": {2, 4, 3, 2}, "w": {4, 3, 2, 3}, "b": {6}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ConvTranspose", attrs{iA("group", 2), isA("strides", 2, 3), isA("pads", 1, 0, 0, 2), isA("output_padding", 1, 1), isA("dilations", 1, 2)}, "x", "w", "b")
		}},
		gradCase{name: "ConvTranspose 1-D", in: map[string][]int{"x": {1, 2, 4}, "w": {2, 3, 3}}, build: func(b *irbuild.Builder) string {
			return b.Op("ConvTranspose", "x", "w")
		}},
		gradCase{name: "MaxPool overlapping", in: map[string][]int{"x": {2, 2, 5, 5}}, build: func(b *irbuild.Builder) string {
			return b.OpA("MaxPool", attrs{isA("kernel_shape", 3, 3), isA("strides", 2, 2), isA("pads", 1, 1, 1, 1)}, "x")
		}},
		gradCase{name: "MaxPool opset 13", opset: 13, in: map[string][]int{"x": {1, 2, 4, 6}}, build: func(b *irbuild.Builder) string {
			return b.OpA("MaxPool", attrs{isA("kernel_shape", 2, 2), isA("strides", 2, 2)}, "x")
		}},
		gradCase{name: "AveragePool pads excluded", in: map[string][]int{"x": {2, 2, 5, 5}}, build: func(b *irbuild.Builder) string {
			return b.OpA("AveragePool", attrs{isA("kernel_shape", 3, 3), isA("strides", 2, 2), isA("pads", 1, 1, 1, 1)}, "x")
		}},
		gradCase{name: "AveragePool pads counted 1-D", in: map[string][]int{"x": {2, 3, 7}}, build: func(b *irbuild.Builder) string {
			return b.OpA("AveragePool", attrs{isA("kernel_shape", 3), isA("strides", 2), isA("pads", 1, 0), iA("count_include_pad", 1)}, "x")
		}},
		gradCase{name: "GlobalAveragePool", in: map[string][]int{"x": {2, 3, 4, 5}}, build: func(b *irbuild.Builder) string {
			return b.Op("GlobalAveragePool", "x")
		}},
		gradCase{name: "GlobalMaxPool", in: map[string][]int{"x": {2, 3, 4}}, build: func(b *irbuild.Builder) string {
			return b.Op("GlobalMaxPool", "x")
		}},
	)
}

// Opset 13 and 14 lack CastLike: the rules cast with Cast.
func init() {
	gradCases = append(gradCases,
		gradCase{name: "ReduceMean opset 13", opset: 13, in: map[string][]int{"a": {2, 3}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ReduceMean", attrs{isA("axes", 1), iA("keepdims", 0)}, "a")
		}},
		gradCase{name: "Pow opset 14", opset: 14, positive: map[string]bool{"a": true}, in: map[string][]int{"a": {2, 3}}, build: func(b *irbuild.Builder) string {
			return b.Op("Pow", "a", b.Const(tensor.Scalar(float32(1.5))))
		}},
	)
}

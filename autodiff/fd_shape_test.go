package autodiff

import (
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

func ints(b *irbuild.Builder, v ...int64) string { return b.Const(tensor.Must([]int{len(v)}, v)) }

func intsShaped(b *irbuild.Builder, shape []int, v ...int64) string {
	return b.Const(tensor.Must(shape, v))
}

func init() {
	gradCases = append(gradCases,
		gradCase{name: "Reshape", in: map[string][]int{"a": {2, 3, 4}}, build: func(b *irbuild.Builder) string {
			return b.Op("Reshape", "a", ints(b, 4, -1))
		}},
		gradCase{name: "Unsqueeze negative axes", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.Op("Unsqueeze", "a", ints(b, 0, -1))
		}},
		gradCase{name: "Squeeze", dynamic: true, in: map[string][]int{"a": {3, 1, 4}}, build: func(b *irbuild.Builder) string {
			return b.Op("Squeeze", "a", ints(b, -2))
		}},
		gradCase{name: "Flatten", in: map[string][]int{"a": {2, 3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Flatten", []irbuild.Attr{irbuild.Int("axis", 2)}, "a")
		}},
		gradCase{name: "Transpose perm", in: map[string][]int{"a": {2, 3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Transpose", []irbuild.Attr{irbuild.Ints("perm", 2, 0, 1)}, "a")
		}},
		gradCase{name: "Transpose reverse", in: map[string][]int{"a": {2, 3, 4}}, build: func(b *irbuild.Builder) string {
			return b.Op("Transpose", "a")
		}},
		gradCase{name: "Expand", in: map[string][]int{"a": {3, 1}}, build: func(b *irbuild.Builder) string {
			return b.Op("Expand", "a", ints(b, 2, 3, 4))
		}},
		gradCase{name: "Expand dynamic", dynamic: true, in: map[string][]int{"a": {3, 1}}, build: func(b *irbuild.Builder) string {
			return b.Op("Expand", "a", ints(b, 2, 1, 4))
		}},
		gradCase{name: "Concat negative axis", in: map[string][]int{"a": {2, 3}, "b": {2, 1}, "c": {2, 2}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Concat", []irbuild.Attr{irbuild.Int("axis", -1)}, "a", "b", "c", "a")
		}},
		gradCase{name: "Concat dynamic", dynamic: true, in: map[string][]int{"a": {2, 3}, "b": {1, 3}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Concat", []irbuild.Attr{irbuild.Int("axis", 0)}, "a", "b")
		}},
		gradCase{name: "Split with unused output", in: map[string][]int{"a": {2, 6}}, build: func(b *irbuild.Builder) string {
			s := b.OpN("Split", 3, "a", ints(b, 1, 2, 3)).With(irbuild.Int("axis", -1))
			return b.OpA("Concat", []irbuild.Attr{irbuild.Int("axis", 1)}, s.Out(2), s.Out(0))
		}},
		gradCase{name: "Split unnamed outputs", in: map[string][]int{"a": {6, 2}}, build: func(b *irbuild.Builder) string {
			s := b.OpN("Split", 3, "a", ints(b, 2, 1, 3)).Named(0, "").Named(2, "")
			return s.Out(1)
		}},
		gradCase{name: "Split num_outputs", opset: 18, in: map[string][]int{"a": {4, 3}}, build: func(b *irbuild.Builder) string {
			s := b.OpN("Split", 2, "a").With(irbuild.Int("num_outputs", 2))
			return b.Op("Mul", s.Out(0), s.Out(1))
		}},
		gradCase{name: "Slice negative steps and indices", in: map[string][]int{"a": {5, 6}}, build: func(b *irbuild.Builder) string {
			return b.Op("Slice", "a", ints(b, -1, 1), ints(b, -6, 100), ints(b, 0, -1), ints(b, -2, 2))
		}},
		gradCase{name: "Slice unit steps clamped negative", in: map[string][]int{"a": {4, 6}}, build: func(b *irbuild.Builder) string {
			return b.Op("Slice", "a", ints(b, -3, 1), ints(b, 100, -1), ints(b, 1, -2), ints(b, 1, 1))
		}},
		gradCase{name: "Slice unit steps empty dynamic", dynamic: true, in: map[string][]int{"a": {4, 3, 2}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Concat", attrs{iA("axis", 0)}, b.Op("Slice", "a", ints(b, 1), ints(b, 3), ints(b, 0)), b.Op("Slice", "a", ints(b, 3), ints(b, 1), ints(b, 0)))
		}},
		gradCase{name: "Slice default axes", dynamic: true, in: map[string][]int{"a": {4, 3}}, build: func(b *irbuild.Builder) string {
			return b.Op("Slice", "a", ints(b, 1), ints(b, 3))
		}},
		gradCase{name: "DepthToSpace DCR", dynAxes: map[string][]int{"a": {0}}, in: map[string][]int{"a": {2, 8, 2, 3}}, build: func(b *irbuild.Builder) string {
			return b.OpA("DepthToSpace", attrs{iA("blocksize", 2)}, "a")
		}},
		gradCase{name: "DepthToSpace CRD", dynAxes: map[string][]int{"a": {0}}, in: map[string][]int{"a": {1, 8, 2, 3}}, build: func(b *irbuild.Builder) string {
			return b.OpA("DepthToSpace", attrs{iA("blocksize", 2), sA("mode", "CRD")}, "a")
		}},
		gradCase{name: "SpaceToDepth", in: map[string][]int{"a": {1, 2, 4, 6}}, build: func(b *irbuild.Builder) string {
			return b.OpA("SpaceToDepth", attrs{iA("blocksize", 2)}, "a")
		}},
		gradCase{name: "Compress axis", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Compress", attrs{iA("axis", 1)}, "a", b.Const(tensor.Must([]int{4}, []bool{true, false, true, true})))
		}},
		gradCase{name: "GatherND repeated batch_dims", in: map[string][]int{"a": {2, 3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("GatherND", attrs{iA("batch_dims", 1)}, "a", intsShaped(b, []int{2, 3, 1}, 0, 2, 0, 1, 1, -1))
		}},
		gradCase{name: "ScatterND", in: map[string][]int{"a": {4, 3}, "u": {2, 3}}, build: func(b *irbuild.Builder) string {
			return b.Op("ScatterND", "a", intsShaped(b, []int{2, 1}, 2, 0), "u")
		}},
		gradCase{name: "ScatterND add repeated", in: map[string][]int{"a": {4, 3}, "u": {3, 3}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ScatterND", attrs{sA("reduction", "add")}, "a", intsShaped(b, []int{3, 1}, 2, 0, 2), "u")
		}},
		gradCase{name: "ScatterElements axis 1", in: map[string][]int{"a": {3, 4}, "u": {3, 2}}, build: func(b *irbuild.Builder) string {
			return b.OpA("ScatterElements", attrs{iA("axis", 1)}, "a", intsShaped(b, []int{3, 2}, 0, 3, 1, 2, -1, 0), "u")
		}},
		gradCase{name: "Trilu upper k", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Trilu", attrs{iA("upper", 1)}, "a", b.Const(tensor.Scalar(int64(1))))
		}},
		gradCase{name: "Gather embedding repeated negative", in: map[string][]int{"w": {4, 3}}, build: func(b *irbuild.Builder) string {
			return b.Op("Gather", "w", intsShaped(b, []int{2, 3}, 0, 2, 0, -1, 1, 0))
		}},
		gradCase{name: "Gather axis 1", in: map[string][]int{"w": {2, 4, 3}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Gather", []irbuild.Attr{irbuild.Int("axis", -2)}, "w", intsShaped(b, []int{2, 2}, 3, 0, 3, -3))
		}},
		gradCase{name: "Gather scalar index", in: map[string][]int{"w": {4, 3}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Gather", []irbuild.Attr{irbuild.Int("axis", 1)}, "w", b.Const(tensor.Scalar(int64(2))))
		}},
		gradCase{name: "Gather opset 13 (OneHot)", opset: 13, in: map[string][]int{"w": {2, 4, 3}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Gather", []irbuild.Attr{irbuild.Int("axis", 1)}, "w", intsShaped(b, []int{3}, 1, -1, 1))
		}},
		gradCase{name: "GatherElements", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.OpA("GatherElements", []irbuild.Attr{irbuild.Int("axis", 1)}, "a", intsShaped(b, []int{3, 2}, 0, 0, 3, 1, -1, 2))
		}},
		gradCase{name: "Tile", in: map[string][]int{"a": {2, 3}}, build: func(b *irbuild.Builder) string {
			return b.Op("Tile", "a", ints(b, 2, 3))
		}},
		gradCase{name: "Tile dynamic", dynamic: true, in: map[string][]int{"a": {2, 1, 3}}, build: func(b *irbuild.Builder) string {
			return b.Op("Tile", "a", ints(b, 1, 4, 2))
		}},
		gradCase{name: "Dropout inference", in: map[string][]int{"a": {3, 4}}, build: func(b *irbuild.Builder) string {
			return b.Op("Dropout", "a")
		}},
		gradCase{name: "Dropout training", in: map[string][]int{"a": {4, 5}}, build: func(b *irbuild.Builder) string {
			return b.OpA("Dropout", []irbuild.Attr{irbuild.Int("seed", 3)}, "a", b.Const(tensor.Scalar(0.3)), b.Const(tensor.Scalar(true)))
		}},
	)
}

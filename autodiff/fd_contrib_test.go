package autodiff

import (
	"github.com/gort-ml/gort/ir/irbuild"
)

// ms adds a com.microsoft node with nOut outputs.
func ms(b *irbuild.Builder, op string, nOut int, a attrs, in ...string) *irbuild.Node {
	return b.OpN(op, nOut, in...).Domain("com.microsoft").With(a...)
}

func init() {
	gradCases = append(gradCases,
		gradCase{name: "ms Gelu", contrib: true, in: map[string][]int{"a": {7}}, build: func(b *irbuild.Builder) string {
			return ms(b, "Gelu", 1, nil, "a").Out(0)
		}},
		gradCase{name: "ms BiasGelu", contrib: true, in: map[string][]int{"a": {2, 3, 4}, "b": {4}}, build: func(b *irbuild.Builder) string {
			return ms(b, "BiasGelu", 1, nil, "a", "b").Out(0)
		}},
		gradCase{name: "ms FastGelu bias", contrib: true, in: map[string][]int{"a": {3, 4}, "b": {4}}, build: func(b *irbuild.Builder) string {
			return ms(b, "FastGelu", 1, nil, "a", "b").Out(0)
		}},
		gradCase{name: "ms FastGelu", contrib: true, in: map[string][]int{"a": {5}}, build: func(b *irbuild.Builder) string {
			return ms(b, "FastGelu", 1, nil, "a").Out(0)
		}},
		gradCase{name: "ms QuickGelu", contrib: true, in: map[string][]int{"a": {6}}, build: func(b *irbuild.Builder) string {
			return ms(b, "QuickGelu", 1, attrs{fA("alpha", 1.5)}, "a").Out(0)
		}},
		gradCase{name: "ms BiasSoftmax", contrib: true, in: map[string][]int{"a": {2, 3, 4}, "b": {1, 3, 4}}, build: func(b *irbuild.Builder) string {
			return ms(b, "BiasSoftmax", 1, attrs{iA("axis", 1), iA("is_inner_broadcast", 0)}, "a", "b").Out(0)
		}},
		gradCase{name: "ms SkipLayerNormalization with sum output", contrib: true, in: map[string][]int{"x": {2, 3, 4}, "s": {3, 4}, "g": {4}, "be": {4}, "bi": {4}},
			build: func(b *irbuild.Builder) string {
				n := ms(b, "SkipLayerNormalization", 4, attrs{fA("epsilon", 1e-3)}, "x", "s", "g", "be", "bi")
				n.Named(1, "").Named(2, "")
				return b.Op("Add", n.Out(0), n.Out(3))
			}},
		gradCase{name: "ms SkipSimplifiedLayerNormalization", contrib: true, in: map[string][]int{"x": {2, 4}, "s": {2, 4}, "g": {4}, "bi": {4}},
			build: func(b *irbuild.Builder) string {
				return ms(b, "SkipSimplifiedLayerNormalization", 1, nil, "x", "s", "g", "bi").Out(0)
			}},
		gradCase{name: "ms FusedMatMul transposes", contrib: true, in: map[string][]int{"a": {2, 4, 3}, "b": {5, 4}}, build: func(b *irbuild.Builder) string {
			return ms(b, "FusedMatMul", 1, attrs{iA("transA", 1), iA("transB", 1), fA("alpha", 0.5)}, "a", "b").Out(0)
		}},
		gradCase{name: "ms FusedMatMul transBatchA", contrib: true, in: map[string][]int{"a": {3, 2, 4}, "b": {2, 4, 5}}, build: func(b *irbuild.Builder) string {
			return ms(b, "FusedMatMul", 1, attrs{iA("transBatchA", 1)}, "a", "b").Out(0)
		}},
		// FusedMatMul has no type inference: the Tanh rule's constant must
		// still get float64 (Scalar casts it like its operand).
		gradCase{name: "ms FusedMatMul untyped output then Tanh", contrib: true, in: map[string][]int{"a": {3, 4}, "b": {4, 2}}, build: func(b *irbuild.Builder) string {
			return b.Op("Tanh", ms(b, "FusedMatMul", 1, nil, "a", "b").Out(0))
		}},
	)
}

package autodiff

import (
	"math/rand/v2"

	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

// randConst adds a constant of random float64 values in [-1, 1).
func randConst(b *irbuild.Builder, seed uint64, shape ...int) string {
	return b.Const(randomInput(rand.New(rand.NewPCG(seed, 3)), shape, false))
}

func init() {
	gradCases = append(gradCases,
		gradCase{name: "Attention 4-D additive mask scale", opset: 23, in: map[string][]int{"q": {1, 2, 3, 4}, "k": {1, 2, 5, 4}, "v": {1, 2, 5, 3}},
			build: func(b *irbuild.Builder) string {
				return b.OpA("Attention", attrs{fA("scale", 0.7)}, "q", "k", "v", randConst(b, 1, 3, 5))
			}},
		gradCase{name: "Attention 3-D GQA causal softcap", opset: 23, in: map[string][]int{"q": {2, 3, 8}, "k": {2, 4, 4}, "v": {2, 4, 6}},
			build: func(b *irbuild.Builder) string {
				return b.OpA("Attention", attrs{iA("q_num_heads", 4), iA("kv_num_heads", 2), iA("is_causal", 1), fA("softcap", 2)}, "q", "k", "v")
			}},
		gradCase{name: "Attention 3-D GQA symbolic batch and sequence", opset: 23, dynAxes: map[string][]int{"q": {0, 1}, "k": {0, 1}, "v": {0, 1}}, in: map[string][]int{"q": {2, 3, 8}, "k": {2, 4, 4}, "v": {2, 4, 6}},
			build: func(b *irbuild.Builder) string {
				return b.OpA("Attention", attrs{iA("q_num_heads", 4), iA("kv_num_heads", 2)}, "q", "k", "v")
			}},
		gradCase{name: "Attention self bool mask", opset: 23, in: map[string][]int{"x": {1, 2, 3, 4}},
			build: func(b *irbuild.Builder) string {
				m := b.Const(tensor.Must([]int{3, 3}, []bool{true, false, true, true, true, false, false, true, true}))
				return b.Op("Attention", "x", "x", "x", m)
			}},
		gradCase{name: "ms Attention mask_index 2-D", contrib: true, in: map[string][]int{"x": {2, 3, 4}, "w": {4, 12}, "b": {12}},
			build: func(b *irbuild.Builder) string {
				m := b.Const(tensor.Must([]int{2, 3}, []int32{1, 1, 0, 1, 1, 1}))
				return ms(b, "Attention", 1, attrs{iA("num_heads", 2)}, "x", "w", "b", m).Out(0)
			}},
		gradCase{name: "ms Attention unidirectional qkv_hidden_sizes", contrib: true, in: map[string][]int{"x": {2, 3, 4}, "w": {4, 14}},
			build: func(b *irbuild.Builder) string {
				return ms(b, "Attention", 1, attrs{iA("num_heads", 2), iA("unidirectional", 1), isA("qkv_hidden_sizes", 4, 4, 6), fA("scale", 0.4)}, "x", "w").Out(0)
			}},
		gradCase{name: "ms Attention key lengths and attention_bias", contrib: true, in: map[string][]int{"x": {2, 3, 4}, "w": {4, 12}, "b": {12}, "ab": {1, 2, 3, 3}},
			build: func(b *irbuild.Builder) string {
				m := b.Const(tensor.Must([]int{2}, []int32{2, 3}))
				return ms(b, "Attention", 1, attrs{iA("num_heads", 2)}, "x", "w", "b", m, "", "ab").Out(0)
			}},
	)
}

func init() {
	i32 := func(b *irbuild.Builder, shape []int, v ...int32) string { return b.Const(tensor.Must(shape, v)) }
	gradCases = append(gradCases,
		gradCase{name: "ms MultiHeadAttention bias mask attention_bias", contrib: true,
			in: map[string][]int{"q": {2, 3, 4}, "k": {2, 5, 4}, "v": {2, 5, 6}, "b": {14}, "ab": {1, 2, 3, 5}},
			build: func(b *irbuild.Builder) string {
				m := i32(b, []int{2, 5}, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1)
				return ms(b, "MultiHeadAttention", 1, attrs{iA("num_heads", 2)}, "q", "k", "v", "b", m, "ab").Out(0)
			}},
		gradCase{name: "ms MultiHeadAttention symbolic batch and sequence", contrib: true, dynAxes: map[string][]int{"q": {0, 1}, "k": {0, 1}, "v": {0, 1}},
			in: map[string][]int{"q": {2, 3, 4}, "k": {2, 5, 4}, "v": {2, 5, 6}},
			build: func(b *irbuild.Builder) string {
				return ms(b, "MultiHeadAttention", 1, attrs{iA("num_heads", 2)}, "q", "k", "v").Out(0)
			}},
		gradCase{name: "ms EmbedLayerNormalization with sum", contrib: true,
			in: map[string][]int{"word": {7, 4}, "pos": {5, 4}, "seg": {2, 4}, "g": {4}, "be": {4}},
			build: func(b *irbuild.Builder) string {
				ids := i32(b, []int{2, 3}, 1, 6, 1, 0, 3, 2)
				seg := i32(b, []int{2, 3}, 0, 0, 1, 1, 1, 0)
				n := ms(b, "EmbedLayerNormalization", 3, attrs{fA("epsilon", 1e-5)}, ids, seg, "word", "pos", "seg", "g", "be")
				n.Named(1, "")
				return b.Op("Add", n.Out(0), n.Out(2))
			}},
		gradCase{name: "ms EmbedLayerNormalization position_ids", contrib: true,
			in: map[string][]int{"word": {7, 4}, "pos": {5, 4}, "g": {4}, "be": {4}},
			build: func(b *irbuild.Builder) string {
				ids := i32(b, []int{2, 3}, 1, 6, 1, 0, 3, 2)
				pos := i32(b, []int{1, 3}, 4, 0, 2)
				return ms(b, "EmbedLayerNormalization", 2, nil, ids, "", "word", "pos", "", "g", "be", "", pos).Out(0)
			}},
		gradCase{name: "ms RotaryEmbedding", contrib: true, in: map[string][]int{"x": {1, 3, 8}},
			build: func(b *irbuild.Builder) string {
				pos := b.Const(tensor.Must([]int{1, 3}, []int64{2, 0, 3}))
				return ms(b, "RotaryEmbedding", 1, attrs{iA("num_heads", 2)}, "x", pos, randConst(b, 5, 4, 2), randConst(b, 6, 4, 2)).Out(0)
			}},
		gradCase{name: "RotaryEmbedding interleaved partial", opset: 23, in: map[string][]int{"x": {1, 2, 3, 6}},
			build: func(b *irbuild.Builder) string {
				pos := b.Const(tensor.Must([]int{1, 3}, []int64{1, 3, 0}))
				return b.OpA("RotaryEmbedding", attrs{iA("interleaved", 1), iA("rotary_embedding_dim", 4)}, "x", randConst(b, 7, 4, 2), randConst(b, 8, 4, 2), pos)
			}},
	)
}

package contrib_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

// bench runs c natively (sub-benchmark "gort") and with ONNX Runtime
// ("ort", when available) so their times compare in one run.
func bench(b *testing.B, c tc) {
	feeds := map[string]*tensor.Tensor{}
	for _, x := range c.inputs {
		if x.t != nil {
			feeds[x.name] = x.t
		}
	}
	for _, p := range []struct {
		name string
		prov runtime.Provider
	}{{"gort", nil}, {"ort", ort.New(ort.Options{})}} {
		b.Run(p.name, func(b *testing.B) {
			s, err := runtime.NewSession(sessionModel(c, false), runtime.Options{Provider: p.prov})
			if err != nil {
				b.Skip(err)
			}
			defer s.Close()
			for b.Loop() {
				if _, err := s.Run(context.Background(), feeds); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAttentionBERTBase is one BERT-base self-attention layer: batch
// 1, 128 tokens, hidden 768, 12 heads, with a padding mask.
func BenchmarkAttentionBERTBase(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	bench(b, tc{name: "attn", op: "Attention", attrs: []ops.Attr{attrInt("num_heads", 12)},
		inputs:  []in{{"x", f32(r, 1, 128, 768)}, {"w", f32(r, 768, 3*768)}, {"b", f32(r, 3*768)}, {"mask", padMask(128, 100)}},
		outputs: y(tensor.Float32)})
}

// BenchmarkGQADecode1024 is one decode step of a Llama-like layer: 32 query
// heads, 8 KV heads of 128, 1024 cached positions.
func BenchmarkGQADecode1024(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 3))
	bench(b, tc{name: "gqa", op: "GroupQueryAttention", attrs: []ops.Attr{attrInt("num_heads", 32), attrInt("kv_num_heads", 8)},
		inputs: []in{{"q", f32(r, 1, 1, 32*128)}, {"k", f32(r, 1, 1, 8*128)}, {"v", f32(r, 1, 1, 8*128)},
			{"pk", f32(r, 1, 8, 1024, 128)}, {"pv", f32(r, 1, 8, 1024, 128)}, {"seqlens", i32([]int{1}, 1024)}, {"total", i32([]int{}, 1025)}},
		outputs: []out{{"y", tensor.Float32}, {"pk_out", tensor.Float32}, {"pv_out", tensor.Float32}}})
}

// BenchmarkMatMulNBits4096 is a 4-bit 4096x4096 projection of one token.
func BenchmarkMatMulNBits4096(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 4))
	const k, n, block = 4096, 4096, 32
	blocks := k / block
	q, _ := randBytes(r, n*blocks*block/2).Reshape(n, blocks, block/2)
	sv := make([]float32, n*blocks)
	for i := range sv {
		sv[i] = 0.01
	}
	bench(b, tc{name: "nbits", op: "MatMulNBits", attrs: []ops.Attr{attrInt("K", k), attrInt("N", n), attrInt("block_size", block)},
		inputs:  []in{{"a", f32(r, 1, k)}, {"b", q}, {"scales", tensor.Must([]int{n * blocks}, sv)}},
		outputs: y(tensor.Float32)})
}

// BenchmarkSkipLayerNormBERTBase is SkipLayerNormalization over 128 tokens
// of 768.
func BenchmarkSkipLayerNormBERTBase(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 5))
	bench(b, tc{name: "sln", op: "SkipLayerNormalization",
		inputs:  []in{{"x", f32(r, 1, 128, 768)}, {"skip", f32(r, 1, 128, 768)}, {"g", f32(r, 768)}, {"b", f32(r, 768)}},
		outputs: y(tensor.Float32)})
}

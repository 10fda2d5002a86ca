// Package tiny builds small transformer graphs with random weights, shaped
// the way Hugging Face ONNX exports shape them, for demos, tests and
// benchmarks that must not download anything.
//
// # Overview
//
// BERT returns an encoder graph with inputs input_ids, attention_mask and
// token_type_ids (int64, [batch, sequence]) and outputs last_hidden_state
// [batch, sequence, hidden] and pooler_output [batch, hidden]. The subgraphs
// follow the exporter's patterns (Gather embeddings, MatMul+Add projections,
// Reshape/Transpose heads, additive mask from (1-mask)*min, Erf GELU,
// LayerNormalization), so optimizer fusions and kernels see what real
// exports contain.
package tiny

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

// BERTConfig sizes a BERT encoder (names as in Hugging Face's BertConfig).
type BERTConfig struct {
	VocabSize        int
	HiddenSize       int
	NumLayers        int
	NumHeads         int
	IntermediateSize int
	MaxPositions     int
	TypeVocabSize    int
	LayerNormEps     float32
	Seed             uint64
}

// TinyBERT is a 2-layer, 64-wide BERT with a 512-token vocabulary.
var TinyBERT = BERTConfig{VocabSize: 512, HiddenSize: 64, NumLayers: 2, NumHeads: 4,
	IntermediateSize: 256, MaxPositions: 128, TypeVocabSize: 2, LayerNormEps: 1e-12, Seed: 1}

type weights struct {
	rng *rand.Rand
	b   *irbuild.Builder
}

// normal adds an initializer drawn from N(0, 0.02²) as BERT initializes.
func (w *weights) normal(name string, shape ...int) string {
	t := tensor.Zeros(tensor.Float32, shape...)
	for i, d := 0, tensor.Data[float32](t); i < len(d); i++ {
		d[i] = float32(w.rng.NormFloat64() * 0.02)
	}
	return w.b.Init(name, t)
}

// small adds a bias-like initializer with small random values (not zero, so
// that tests exercise the addition).
func (w *weights) small(name string, shape ...int) string {
	t := tensor.Zeros(tensor.Float32, shape...)
	for i, d := 0, tensor.Data[float32](t); i < len(d); i++ {
		d[i] = float32(w.rng.NormFloat64() * 0.02)
	}
	return w.b.Init(name, t)
}

func (w *weights) ones(name string, n int) string {
	t := tensor.Zeros(tensor.Float32, n)
	for i, d := 0, tensor.Data[float32](t); i < len(d); i++ {
		d[i] = 1 + float32(w.rng.NormFloat64()*0.02)
	}
	return w.b.Init(name, t)
}

func i64(v ...int64) *tensor.Tensor { return tensor.Must([]int{len(v)}, v) }
func f32(v float32) *tensor.Tensor  { return tensor.Scalar(v) }

// BERT builds the encoder graph at ai.onnx opset 17.
func BERT(cfg BERTConfig) (*ir.Model, error) {
	if cfg.HiddenSize%cfg.NumHeads != 0 {
		return nil, fmt.Errorf("tiny: hidden size %d is not a multiple of %d heads", cfg.HiddenSize, cfg.NumHeads)
	}
	b := irbuild.New("bert", irbuild.Opset{Domain: "", Version: 17})
	w := &weights{rng: rand.New(rand.NewPCG(cfg.Seed, 2)), b: b}
	H, nh := cfg.HiddenSize, cfg.NumHeads
	hd := H / nh
	ids := b.Input("input_ids", tensor.Int64, "batch", "sequence")
	mask := b.Input("attention_mask", tensor.Int64, "batch", "sequence")
	types := b.Input("token_type_ids", tensor.Int64, "batch", "sequence")

	// Embeddings: word + position + token type, then LayerNorm.
	word := b.Op("Gather", w.normal("bert.embeddings.word_embeddings.weight", cfg.VocabSize, H), ids)
	seqLen := b.OpA("Gather", []irbuild.Attr{irbuild.Int("axis", 0)}, b.Op("Shape", ids), b.Const(tensor.Scalar(int64(1))))
	posIDs := b.Op("Unsqueeze", b.Op("Range", b.Const(tensor.Scalar(int64(0))), seqLen, b.Const(tensor.Scalar(int64(1)))), b.Const(i64(0)))
	pos := b.Op("Gather", w.normal("bert.embeddings.position_embeddings.weight", cfg.MaxPositions, H), posIDs)
	typ := b.Op("Gather", w.normal("bert.embeddings.token_type_embeddings.weight", cfg.TypeVocabSize, H), types)
	emb := b.Op("Add", b.Op("Add", word, typ), pos)
	x := layerNorm(b, w, "bert.embeddings.LayerNorm", emb, H, cfg.LayerNormEps)

	// Additive mask: (1 - mask) * float32 min, shaped [batch, 1, 1, sequence].
	m4 := b.OpA("Cast", []irbuild.Attr{irbuild.Int("to", int64(tensor.Float32))}, b.Op("Unsqueeze", mask, b.Const(i64(1, 2))))
	addMask := b.Op("Mul", b.Op("Sub", b.Const(f32(1)), m4), b.Const(f32(-math.MaxFloat32)))

	for l := 0; l < cfg.NumLayers; l++ {
		p := fmt.Sprintf("bert.encoder.layer.%d.", l)
		b.Scope(p)
		heads := func(v string) string { // [B,S,H] -> [B,nh,S,hd]
			r := b.Op("Reshape", v, b.Const(i64(0, 0, int64(nh), int64(hd))))
			return b.OpA("Transpose", []irbuild.Attr{irbuild.Ints("perm", 0, 2, 1, 3)}, r)
		}
		q := heads(linear(b, w, p+"attention.self.query", x, H, H))
		k := linear(b, w, p+"attention.self.key", x, H, H)
		kT := b.OpA("Transpose", []irbuild.Attr{irbuild.Ints("perm", 0, 2, 3, 1)}, b.Op("Reshape", k, b.Const(i64(0, 0, int64(nh), int64(hd)))))
		v := heads(linear(b, w, p+"attention.self.value", x, H, H))
		scores := b.Op("Div", b.Op("MatMul", q, kT), b.Const(f32(float32(math.Sqrt(float64(hd))))))
		probs := b.OpA("Softmax", []irbuild.Attr{irbuild.Int("axis", -1)}, b.Op("Add", scores, addMask))
		ctx := b.OpA("Transpose", []irbuild.Attr{irbuild.Ints("perm", 0, 2, 1, 3)}, b.Op("MatMul", probs, v))
		ctx = b.Op("Reshape", ctx, b.Const(i64(0, 0, int64(H))))
		attn := linear(b, w, p+"attention.output.dense", ctx, H, H)
		x = layerNorm(b, w, p+"attention.output.LayerNorm", b.Op("Add", attn, x), H, cfg.LayerNormEps)
		h := linear(b, w, p+"intermediate.dense", x, H, cfg.IntermediateSize)
		h = gelu(b, h)
		out := linear(b, w, p+"output.dense", h, cfg.IntermediateSize, H)
		x = layerNorm(b, w, p+"output.LayerNorm", b.Op("Add", out, x), H, cfg.LayerNormEps)
	}
	b.Scope("")
	b.Rename(x, "last_hidden_state")
	first := b.OpA("Gather", []irbuild.Attr{irbuild.Int("axis", 1)}, "last_hidden_state", b.Const(tensor.Scalar(int64(0))))
	pooled := b.Op("Tanh", linear(b, w, "bert.pooler.dense", first, H, H))
	b.Rename(pooled, "pooler_output")
	b.Output("last_hidden_state", tensor.Float32, "batch", "sequence", H)
	b.Output("pooler_output", tensor.Float32, "batch", H)
	return b.Model(), nil
}

// linear is x @ W + b with W stored as [in, out] (the exporter's transposed
// nn.Linear weight).
func linear(b *irbuild.Builder, w *weights, name, x string, in, out int) string {
	return b.Op("Add", b.Op("MatMul", x, w.normal(name+".weight", in, out)), w.small(name+".bias", out))
}

func layerNorm(b *irbuild.Builder, w *weights, name, x string, n int, eps float32) string {
	return b.OpA("LayerNormalization", []irbuild.Attr{irbuild.Int("axis", -1), irbuild.Float("epsilon", eps)},
		x, w.ones(name+".weight", n), w.small(name+".bias", n))
}

// gelu is the exact GELU as exporters write it: x * 0.5 * (1 + erf(x / sqrt 2)).
func gelu(b *irbuild.Builder, x string) string {
	e := b.Op("Erf", b.Op("Div", x, b.Const(f32(float32(math.Sqrt2)))))
	return b.Op("Mul", b.Op("Mul", x, b.Op("Add", e, b.Const(f32(1)))), b.Const(f32(0.5)))
}

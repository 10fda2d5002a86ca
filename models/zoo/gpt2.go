package zoo

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

func gpt2Params(c *Config, arch string) int64 {
	h := int64(c.HiddenSize)
	// wte (also the tied lm_head), wpe, blocks, ln_f.
	return int64(c.VocabSize)*h + int64(c.MaxPositions)*h + int64(c.NumLayers)*layerParams(h, int64(c.IntermediateSize)) + 2*h
}

// conv1d is transformers' Conv1D: x·W + b with W stored (in, out).
func (g *graph) conv1d(name, x string, in, out int, std float64) string {
	w := g.normal(name+".weight", std, in, out)
	return g.op("Add", g.op("MatMul", x, w), g.fill(name+".bias", 0, out))
}

// buildGPT2 builds GPT2Model and GPT2LMHeadModel (pre-LayerNorm blocks,
// Conv1D projections, causal attention, lm_head tied to transformer.wte).
//
// Inputs: input_ids and attention_mask (int64, (batch, sequence), any
// length up to n_positions); with BuildOptions.Loss also labels (int64,
// (batch, sequence), −100 ignored), scored against the next token as
// GPT2LMHeadModel shifts them.
func buildGPT2(g *graph) error {
	c := g.cfg
	H, V, I := c.HiddenSize, c.VocabSize, c.IntermediateSize
	nh := c.NumHeads
	hd := H / nh
	p := g.prefix("GPT2Model")
	ids := g.input("input_ids", tensor.Int64, "batch", "sequence")
	mask := g.input("attention_mask", tensor.Int64, "batch", "sequence")
	std := c.InitializerRange
	// Residual projections start smaller: std / √(2·n_layer), as GPT-2 does.
	projStd := std / math.Sqrt(2*float64(max(c.NumLayers, 1)))

	wte := g.normal(p+"wte.weight", std, V, H)
	wpe := g.normal(p+"wpe.weight", std, c.MaxPositions, H)
	positions := g.op("Range", g.int0(0), g.dim(ids, 1), g.int0(1))
	row := g.unsqueeze(positions, []int64{0}, tensor.Int64, 1, "sequence")
	x := g.op("Add", g.op("Gather", wte, ids), g.op("Gather", wpe, row))
	x = g.dropout(x, c.EmbeddingDropout)

	// Key j is visible from query i when j ≤ i and j is not padding:
	// an additive (batch, 1, sequence, sequence) mask.
	causal := g.op("LessOrEqual", row, g.unsqueeze(positions, []int64{1}, tensor.Int64, "sequence", 1))
	keep := g.opA("Cast", []irbuild.Attr{irbuild.Int("to", int64(tensor.Bool))}, g.unsqueeze(mask, []int64{1, 2}, tensor.Int64, "batch", 1, 1, "sequence"))
	addMask := g.op("Where", g.op("And", causal, keep), g.scalar(0), g.scalar(-math.MaxFloat32))

	for l := 0; l < c.NumLayers; l++ {
		lp := fmt.Sprintf("%sh.%d.", p, l)
		g.b.Scope(lp)
		a := g.layerNorm(lp+"ln_1", x, H)
		qkv := g.b.OpN("Split", 3, g.conv1d(lp+"attn.c_attn", a, H, 3*H, std), g.ints(int64(H), int64(H), int64(H))).
			With(irbuild.Int("axis", -1))
		ctx := g.attention(qkv.Out(0), qkv.Out(1), qkv.Out(2), nh, hd, addMask)
		x = g.op("Add", x, g.dropout(g.conv1d(lp+"attn.c_proj", ctx, H, H, projStd), c.HiddenDropout))
		f := g.act(g.conv1d(lp+"mlp.c_fc", g.layerNorm(lp+"ln_2", x, H), H, I, std))
		x = g.op("Add", x, g.dropout(g.conv1d(lp+"mlp.c_proj", f, I, H, projStd), c.HiddenDropout))
	}
	g.b.Scope("")
	x = g.layerNorm(p+"ln_f", x, H)
	if g.arch == "GPT2Model" {
		g.output(x, "last_hidden_state", "batch", "sequence", H)
		return nil
	}
	g.m.Tied["lm_head.weight"] = wte
	logits := g.output(g.op("MatMul", x, g.op("Transpose", wte)), "logits", "batch", "sequence", V)
	if g.opts.Loss {
		labels := g.input("labels", tensor.Int64, "batch", "sequence")
		// Position t predicts token t+1: logits[:, :-1] against labels[:, 1:].
		shifted := g.op("Slice", logits, g.ints(0), g.ints(-1), g.ints(1))
		next := g.op("Slice", labels, g.ints(1), g.ints(math.MaxInt64), g.ints(1))
		g.lossOutput(g.crossEntropy(shifted, next, V))
	}
	return nil
}

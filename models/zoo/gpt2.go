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
	H, V := c.HiddenSize, c.VocabSize
	nh := c.NumHeads
	hd := H / nh
	p := g.prefix("GPT2Model")
	ids := g.input("input_ids", tensor.Int64, "batch", "sequence")
	mask := g.input("attention_mask", tensor.Int64, "batch", "sequence")

	wte := g.normal(p+"wte.weight", c.InitializerRange, V, H)
	wpe := g.normal(p+"wpe.weight", c.InitializerRange, c.MaxPositions, H)
	positions := g.op("Range", g.int0(0), g.dim(ids, 1), g.int0(1))
	row := g.unsqueeze(positions, []int64{0}, tensor.Int64, 1, "sequence")
	x := g.op("Add", g.op("Gather", wte, ids), g.op("Gather", wpe, row))
	x = g.dropout(x, c.EmbeddingDropout)

	// Key j is visible from query i when j ≤ i and j is not padding.
	causal := g.op("LessOrEqual", row, g.unsqueeze(positions, []int64{1}, tensor.Int64, "sequence", 1))
	addMask := g.attentionMask(causal, mask, "sequence")

	x = g.gpt2Blocks(p, x, func(_ int, qkv string) string {
		q := g.splitQKV(qkv)
		return g.attention(q[0], q[1], q[2], nh, hd, addMask)
	})
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

// gpt2Blocks applies GPT2Model's blocks and ln_f to the embedded tokens x
// (batch, sequence, hidden), creating the parameters in the order the
// module does (the same values for one seed in every GPT-2 graph). Each
// block is pre-LayerNorm attention and MLP added to the residual; attend
// maps layer l's packed q|k|v projection (batch, sequence, 3·hidden) to
// its (batch, sequence, hidden) context.
func (g *graph) gpt2Blocks(p, x string, attend func(l int, qkv string) string) string {
	c := g.cfg
	H, I := c.HiddenSize, c.IntermediateSize
	std := c.InitializerRange
	// Residual projections start smaller: std / √(2·n_layer), as GPT-2 does.
	projStd := std / math.Sqrt(2*float64(max(c.NumLayers, 1)))
	for l := 0; l < c.NumLayers; l++ {
		lp := fmt.Sprintf("%sh.%d.", p, l)
		g.b.Scope(lp)
		ctx := attend(l, g.conv1d(lp+"attn.c_attn", g.layerNorm(lp+"ln_1", x, H), H, 3*H, std))
		x = g.op("Add", x, g.dropout(g.conv1d(lp+"attn.c_proj", ctx, H, H, projStd), c.HiddenDropout))
		f := g.act(g.conv1d(lp+"mlp.c_fc", g.layerNorm(lp+"ln_2", x, H), H, I, std))
		x = g.op("Add", x, g.dropout(g.conv1d(lp+"mlp.c_proj", f, I, H, projStd), c.HiddenDropout))
	}
	g.b.Scope("")
	return g.layerNorm(p+"ln_f", x, H)
}

// splitQKV splits the packed (batch, sequence, 3·hidden) c_attn output
// into queries, keys and values.
func (g *graph) splitQKV(qkv string) [3]string {
	H := int64(g.cfg.HiddenSize)
	n := g.b.OpN("Split", 3, qkv, g.ints(H, H, H)).With(irbuild.Int("axis", -1))
	return [3]string{n.Out(0), n.Out(1), n.Out(2)}
}

// attentionMask is the additive (batch, 1, sequence, keys) float mask of
// causal attention: 0 where causal (a bool (…, sequence, keys)) lets the
// query see the key and the int64 (batch, keys) attention_mask keeps it,
// float32's lowest value elsewhere.
func (g *graph) attentionMask(causal, mask string, keys string) string {
	keep := g.opA("Cast", []irbuild.Attr{irbuild.Int("to", int64(tensor.Bool))}, g.unsqueeze(mask, []int64{1, 2}, tensor.Int64, "batch", 1, 1, keys))
	return g.op("Where", g.op("And", causal, keep), g.scalar(0), g.scalar(-math.MaxFloat32))
}

package zoo

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

func maeParams(c *Config, arch string) int64 {
	n := vitEncoderParams(c)
	if arch == "ViTMAEModel" {
		return n
	}
	h, d := int64(c.HiddenSize), int64(c.DecoderHiddenSize)
	patches := int64(c.ImageSize/c.PatchSize) * int64(c.ImageSize/c.PatchSize)
	pix := int64(c.PatchSize) * int64(c.PatchSize) * int64(c.NumChannels)
	block := layerParams(d, int64(c.DecoderIntermediateSize))
	if !c.QKVBias {
		block -= 3 * d
	}
	// decoder_embed, mask_token, decoder_pos_embed, blocks, decoder_norm, decoder_pred.
	return n + h*d + d + d + (patches+1)*d + int64(c.DecoderNumLayers)*block + 2*d + d*pix + pix
}

// sincos2D is MAE's fixed 2-D sin-cos position embedding, (1, grid²+1, dim)
// with a zero row for [CLS], laid out [sin w | cos w | sin h | cos h] per
// patch (row-major patches, w the column) as the published checkpoints
// have it.
func sincos2D(grid, dim int) *tensor.Tensor {
	t := tensor.Zeros(tensor.Float32, 1, grid*grid+1, dim)
	d := tensor.Data[float32](t)
	q := dim / 4
	for h := 0; h < grid; h++ {
		for w := 0; w < grid; w++ {
			row := d[(1+h*grid+w)*dim:]
			for k := 0; k < q; k++ {
				omega := 1 / math.Pow(10000, float64(k)/float64(q))
				row[k] = float32(math.Sin(float64(w) * omega))
				row[q+k] = float32(math.Cos(float64(w) * omega))
				row[2*q+k] = float32(math.Sin(float64(h) * omega))
				row[3*q+k] = float32(math.Cos(float64(h) * omega))
			}
		}
	}
	return t
}

// frozen adds a parameter transformers keeps fixed (requires_grad=False).
func (g *graph) frozen(name string, t *tensor.Tensor) string {
	g.m.Frozen = append(g.m.Frozen, name)
	return g.param(name, t)
}

// xavier is xavier_uniform_ over the weight viewed as (out, rest), as MAE
// initializes its patch projection "like nn.Linear".
func (g *graph) xavier(name string, shape ...int) string {
	t := tensor.Zeros(tensor.Float32, shape...)
	d := tensor.Data[float32](t)
	out := shape[0]
	in := len(d) / out
	bound := math.Sqrt(6 / float64(in+out))
	for i := range d {
		d[i] = float32((2*g.rng.Float64() - 1) * bound)
	}
	return g.param(name, t)
}

func (g *graph) slice(x string, start, end, axis int64) string {
	return g.op("Slice", x, g.ints(start), g.ints(end), g.ints(axis))
}

// gatherRows picks rows of x (batch, n, d) by idx (batch, k): out[b, i, :] =
// x[b, idx[b, i], :] (torch.gather along dim 1 with the index repeated).
func (g *graph) gatherRows(x, idx string, k, d int) string {
	shape := g.opA("Concat", []irbuild.Attr{irbuild.Int("axis", 0)}, g.op("Shape", idx), g.ints(int64(d)))
	full := g.typed(g.op("Expand", g.unsqueeze(idx, []int64{2}, tensor.Int64, "batch", k, 1), shape), tensor.Int64, "batch", k, d)
	return g.opA("GatherElements", []irbuild.Attr{irbuild.Int("axis", 1)}, x, full)
}

// ascending returns the indices that sort x (batch, n) along axis 1
// (torch.argsort; ties do not occur for the random noise MAE sorts).
func (g *graph) ascending(x string, n int) string {
	return g.b.OpN("TopK", 2, x, g.ints(int64(n))).
		With(irbuild.Int("axis", 1), irbuild.Int("largest", 0), irbuild.Int("sorted", 1)).Out(1)
}

// reduceLast is a Reduce* op over the last axis; opset 18 moved
// ReduceMean's axes from an attribute to an input (ReduceSum's at 13).
func (g *graph) reduceLast(op, x string, keepdims bool) string {
	keep := irbuild.Int("keepdims", 0)
	if keepdims {
		keep.I = 1
	}
	if op == "ReduceMean" && g.opts.Opset < 18 {
		return g.opA(op, []irbuild.Attr{keep, irbuild.Ints("axes", -1)}, x)
	}
	return g.opA(op, []irbuild.Attr{keep}, x, g.ints(-1))
}

// reduceLast3 is reduceLast on a (batch, n, d) x, its result's shape
// recorded (inference cannot read the axes input).
func (g *graph) reduceLast3(op, x string, keepdims bool, n int) string {
	if keepdims {
		return g.typed(g.reduceLast(op, x, true), tensor.Float32, "batch", n, 1)
	}
	return g.typed(g.reduceLast(op, x, false), tensor.Float32, "batch", n)
}

// buildMAE builds ViTMAEModel and ViTMAEForPreTraining: the encoder sees
// the patches MAE keeps (random masking driven by the noise input, as
// transformers' forward(noise=...)), the light decoder reconstructs every
// patch, and the loss is the (optionally per-patch normalized) pixel MSE
// over masked patches.
//
// Inputs: pixel_values (float32, (batch, num_channels, image_size,
// image_size)) and noise (float32, (batch, patches), e.g. uniform [0, 1));
// the patches with the smallest noise are kept. Outputs: logits (batch,
// patches, patch_size²·num_channels), mask (1 = masked), ids_restore and
// loss; ViTMAEModel gives last_hidden_state, mask and ids_restore.
func buildMAE(g *graph) error {
	c := g.cfg
	H, P, C := c.HiddenSize, c.PatchSize, c.NumChannels
	grid := c.ImageSize / P
	n := grid * grid
	keep := int(float64(n) * (1 - c.MaskRatio)) // int(seq_length * (1 - mask_ratio)) in Python
	if keep < 1 {
		return fmt.Errorf("zoo: mask_ratio %v keeps no patch of %d", c.MaskRatio, n)
	}
	if H%4 != 0 || (g.arch == "ViTMAEForPreTraining" && c.DecoderHiddenSize%4 != 0) {
		return fmt.Errorf("zoo: MAE's 2-D sin-cos embeddings need hidden sizes divisible by 4 (hidden_size %d, decoder_hidden_size %d)", H, c.DecoderHiddenSize)
	}
	p := g.prefix("ViTMAEModel")
	pix := g.input("pixel_values", tensor.Float32, "batch", C, c.ImageSize, c.ImageSize)
	noise := g.input("noise", tensor.Float32, "batch", n)
	std := c.InitializerRange

	cls := g.normal(p+"embeddings.cls_token", std, 1, 1, H)
	pos := g.frozen(p+"embeddings.position_embeddings", sincos2D(grid, H))
	x := g.op("Add", g.patchEmbed(p+"embeddings.patch_embeddings.projection", pix, g.xavier), g.slice(pos, 1, int64(n+1), 1))

	// Random masking: keep the patches of smallest noise; mask is 1 where
	// a patch was dropped, i.e. where its rank ids_restore is ≥ keep.
	shuffle := g.ascending(noise, n)
	restore := g.ascending(g.opA("Cast", []irbuild.Attr{irbuild.Int("to", int64(tensor.Float32))}, shuffle), n)
	x = g.gatherRows(x, g.slice(shuffle, 0, int64(keep), 1), keep, H)
	mask := g.opA("Cast", []irbuild.Attr{irbuild.Int("to", int64(tensor.Float32))}, g.op("GreaterOrEqual", restore, g.int0(int64(keep))))
	x = g.prependCLS(g.op("Add", cls, g.slice(pos, 0, 1, 1)), x, keep)

	x = g.vitEncoder(p, x)
	if g.arch == "ViTMAEModel" {
		g.output(x, "last_hidden_state", "batch", keep+1, H)
		g.outputT(mask, "mask", tensor.Float32, "batch", n)
		g.outputT(restore, "ids_restore", tensor.Int64, "batch", n)
		return nil
	}

	// Decoder: embed, append mask tokens, unshuffle, add positions, blocks.
	D := c.DecoderHiddenSize
	d := g.linear("decoder.decoder_embed", x, H, D, true)
	maskToken := g.normal("decoder.mask_token", std, 1, 1, D)
	decPos := g.frozen("decoder.decoder_pos_embed", sincos2D(grid, D))
	fill := g.opA("Concat", []irbuild.Attr{irbuild.Int("axis", 0)}, g.batchShape(d), g.ints(int64(n-keep), 1))
	tokens := g.opA("Concat", []irbuild.Attr{irbuild.Int("axis", 1)}, g.slice(d, 1, math.MaxInt64, 1), g.typed(g.op("Expand", maskToken, fill), tensor.Float32, "batch", n-keep, D))
	tokens = g.typed(tokens, tensor.Float32, "batch", n, D)
	tokens = g.gatherRows(tokens, restore, n, D)
	all := g.typed(g.opA("Concat", []irbuild.Attr{irbuild.Int("axis", 1)}, g.slice(d, 0, 1, 1), tokens), tensor.Float32, "batch", n+1, D)
	h := g.op("Add", all, decPos)
	for l := 0; l < c.DecoderNumLayers; l++ {
		lp := fmt.Sprintf("decoder.decoder_layers.%d.", l)
		g.b.Scope(lp)
		h = g.vitLayer(lp, h, D, c.DecoderNumHeads, c.DecoderIntermediateSize)
	}
	g.b.Scope("")
	h = g.layerNorm("decoder.decoder_norm", h, D)
	pixels := P * P * C
	logits := g.slice(g.linear("decoder.decoder_pred", h, D, pixels, true), 1, math.MaxInt64, 1)

	// Target: patchify (batch, C, gh·P, gw·P) -> (batch, patches, P·P·C) in
	// (row, column, channel) order, optionally normalized per patch with
	// the unbiased variance as torch's var().
	target := g.op("Reshape", pix, g.ints(-1, int64(C), int64(grid), int64(P), int64(grid), int64(P)))
	target = g.op("Reshape", g.transpose(target, 0, 2, 4, 3, 5, 1), g.ints(-1, int64(n), int64(pixels)))
	if c.NormPixLoss {
		diff := g.op("Sub", target, g.reduceLast3("ReduceMean", target, true, n))
		vr := g.op("Div", g.reduceLast3("ReduceSum", g.op("Mul", diff, diff), true, n), g.scalar(float64(max(pixels-1, 1))))
		target = g.op("Div", diff, g.op("Sqrt", g.op("Add", vr, g.scalar(1e-6))))
	}
	e := g.op("Sub", logits, target)
	perPatch := g.reduceLast3("ReduceMean", g.op("Mul", e, e), false, n)
	sum := func(v string) string {
		return g.typed(g.opA("ReduceSum", []irbuild.Attr{irbuild.Int("keepdims", 0)}, v), tensor.Float32)
	}
	loss := g.op("Div", sum(g.op("Mul", perPatch, mask)), sum(mask))
	g.output(logits, "logits", "batch", n, pixels)
	g.outputT(mask, "mask", tensor.Float32, "batch", n)
	g.outputT(restore, "ids_restore", tensor.Int64, "batch", n)
	g.lossOutput(loss)
	return nil
}

package zoo

import (
	"fmt"

	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

// vitEncoderParams counts patch embedding, [CLS], position embeddings,
// the blocks and the final LayerNorm.
func vitEncoderParams(c *Config) int64 {
	h, p := int64(c.HiddenSize), int64(c.PatchSize)
	n := int64(c.ImageSize/c.PatchSize) * int64(c.ImageSize/c.PatchSize)
	block := layerParams(h, int64(c.IntermediateSize))
	if !c.QKVBias {
		block -= 3 * h
	}
	return int64(c.NumChannels)*p*p*h + h + h + (n+1)*h + int64(c.NumLayers)*block + 2*h
}

func vitParams(c *Config, arch string) int64 {
	h := int64(c.HiddenSize)
	n := vitEncoderParams(c)
	if arch == "ViTModel" {
		return n + h*h + h // pooler
	}
	return n + h*int64(c.NumLabels) + int64(c.NumLabels)
}

// patchEmbed is ViTPatchEmbeddings: a Conv with kernel and stride
// patch_size, flattened to (batch, patches, hidden).
func (g *graph) patchEmbed(name, pix string, init func(name string, shape ...int) string) string {
	c := g.cfg
	P := c.PatchSize
	w := init(name+".weight", c.HiddenSize, c.NumChannels, P, P)
	conv := g.opA("Conv", []irbuild.Attr{irbuild.Ints("kernel_shape", int64(P), int64(P)), irbuild.Ints("strides", int64(P), int64(P))},
		pix, w, g.fill(name+".bias", 0, c.HiddenSize))
	return g.transpose(g.op("Reshape", conv, g.ints(0, 0, -1)), 0, 2, 1)
}

// prependCLS is [cls; x] along the sequence for a (1, 1, hidden_size)
// token and a (batch, n, hidden_size) x.
func (g *graph) prependCLS(cls, x string, n int) string {
	shape := g.opA("Concat", []irbuild.Attr{irbuild.Int("axis", 0)}, g.batchShape(x), g.ints(1, 1))
	h := g.cfg.HiddenSize
	cat := g.opA("Concat", []irbuild.Attr{irbuild.Int("axis", 1)}, g.typed(g.op("Expand", cls, shape), tensor.Float32, "batch", 1, h), x)
	return g.typed(cat, tensor.Float32, "batch", n+1, h)
}

// vitLayer is ViTLayer / ViTMAELayer: pre-LayerNorm attention and MLP
// blocks with residuals, of width h, nh heads and feed-forward ffn.
func (g *graph) vitLayer(lp, x string, h, nh, ffn int) string {
	c := g.cfg
	a := g.layerNorm(lp+"layernorm_before", x, h)
	q := g.linear(lp+"attention.attention.query", a, h, h, c.QKVBias)
	k := g.linear(lp+"attention.attention.key", a, h, h, c.QKVBias)
	v := g.linear(lp+"attention.attention.value", a, h, h, c.QKVBias)
	ctx := g.attention(q, k, v, nh, h/nh, "")
	x = g.op("Add", g.dropout(g.linear(lp+"attention.output.dense", ctx, h, h, true), c.HiddenDropout), x)
	m := g.act(g.linear(lp+"intermediate.dense", g.layerNorm(lp+"layernorm_after", x, h), h, ffn, true))
	return g.op("Add", g.dropout(g.linear(lp+"output.dense", m, ffn, h, true), c.HiddenDropout), x)
}

// vitEncoder is ViTEncoder plus the final LayerNorm (p+"layernorm").
func (g *graph) vitEncoder(p, x string) string {
	c := g.cfg
	for l := 0; l < c.NumLayers; l++ {
		lp := fmt.Sprintf("%sencoder.layer.%d.", p, l)
		g.b.Scope(lp)
		x = g.vitLayer(lp, x, c.HiddenSize, c.NumHeads, c.IntermediateSize)
	}
	g.b.Scope("")
	return g.layerNorm(p+"layernorm", x, c.HiddenSize)
}

// buildViT builds ViTModel and ViTForImageClassification.
//
// Inputs: pixel_values (float32, (batch, num_channels, image_size,
// image_size)); with BuildOptions.Loss also labels (see
// classificationLoss).
func buildViT(g *graph) error {
	c := g.cfg
	H := c.HiddenSize
	p := g.prefix("ViTModel")
	pix := g.input("pixel_values", tensor.Float32, "batch", c.NumChannels, c.ImageSize, c.ImageSize)
	n := (c.ImageSize / c.PatchSize) * (c.ImageSize / c.PatchSize)
	std := c.InitializerRange
	cls := g.normal(p+"embeddings.cls_token", std, 1, 1, H)
	pos := g.normal(p+"embeddings.position_embeddings", std, 1, n+1, H)
	patches := g.patchEmbed(p+"embeddings.patch_embeddings.projection", pix, func(name string, shape ...int) string {
		return g.normal(name, std, shape...)
	})
	x := g.dropout(g.op("Add", g.prependCLS(cls, patches, n), pos), c.HiddenDropout)
	x = g.vitEncoder(p, x)
	first := g.opA("Gather", []irbuild.Attr{irbuild.Int("axis", 1)}, x, g.int0(0))
	if g.arch == "ViTModel" {
		pooled := g.op("Tanh", g.dense("pooler.dense", first, H, H))
		g.output(x, "last_hidden_state", "batch", n+1, H)
		g.output(pooled, "pooler_output", "batch", H)
		return nil
	}
	logits := g.output(g.dense("classifier", first, H, c.NumLabels), "logits", "batch", c.NumLabels)
	if g.opts.Loss {
		g.classificationLoss(logits)
	}
	return nil
}

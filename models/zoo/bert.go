package zoo

import (
	"fmt"

	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

// layerParams counts one transformer block of width h and feed-forward
// width ffn: Q, K, V and output projections, two LayerNorms, two MLP
// matrices, every bias present.
func layerParams(h, ffn int64) int64 {
	return 4*(h*h+h) + 2*2*h + h*ffn + ffn + ffn*h + h
}

func bertParams(c *Config, arch string) int64 {
	h, v := int64(c.HiddenSize), int64(c.VocabSize)
	n := v*h + int64(c.MaxPositions)*h + int64(c.TypeVocabSize)*h + 2*h
	n += int64(c.NumLayers) * layerParams(h, int64(c.IntermediateSize))
	pooler := h*h + h
	mlm := h*h + h + 2*h + v // transform.dense, transform.LayerNorm, bias; decoder tied
	if !c.TieWordEmbeddings {
		mlm += v * h
	}
	switch arch {
	case "BertModel":
		n += pooler
	case "BertForMaskedLM":
		n += mlm
	case "BertForPreTraining":
		n += pooler + mlm + 2*h + 2
	case "BertForSequenceClassification":
		n += pooler + h*int64(c.NumLabels) + int64(c.NumLabels)
	}
	return n
}

// embedding adds an nn.Embedding table (rows, h) drawn from
// normal(0, initializer_range) with the padding row zeroed, as
// transformers initializes it.
func (g *graph) embedding(name string, rows, h, pad int) string {
	t := g.normalTensor(g.cfg.InitializerRange, rows, h)
	if pad >= 0 && pad < rows {
		clear(tensor.Data[float32](t)[pad*h : (pad+1)*h])
	}
	return g.param(name, t)
}

// buildBERT builds BertModel, BertForMaskedLM, BertForPreTraining and
// BertForSequenceClassification as transformers' modeling_bert computes
// them (absolute positions, post-LayerNorm blocks).
//
// Inputs: input_ids, attention_mask, token_type_ids (int64, (batch,
// sequence)); with BuildOptions.Loss also labels ((batch, sequence) int64
// for MLM, −100 ignored), next_sentence_label ((batch) int64) or the
// classification labels.
func buildBERT(g *graph) error {
	c := g.cfg
	H, V := c.HiddenSize, c.VocabSize
	nh := c.NumHeads
	hd := H / nh
	p := g.prefix("BertModel")
	ids := g.input("input_ids", tensor.Int64, "batch", "sequence")
	mask := g.input("attention_mask", tensor.Int64, "batch", "sequence")
	types := g.input("token_type_ids", tensor.Int64, "batch", "sequence")

	// Embeddings: word + token type + position, LayerNorm, dropout.
	wordW := g.embedding(p+"embeddings.word_embeddings.weight", V, H, c.PadTokenID)
	posW := g.embedding(p+"embeddings.position_embeddings.weight", c.MaxPositions, H, -1)
	typeW := g.embedding(p+"embeddings.token_type_embeddings.weight", c.TypeVocabSize, H, -1)
	posIDs := g.unsqueeze(g.op("Range", g.int0(0), g.dim(ids, 1), g.int0(1)), []int64{0}, tensor.Int64, 1, "sequence")
	emb := g.op("Add", g.op("Add", g.op("Gather", wordW, ids), g.op("Gather", typeW, types)), g.op("Gather", posW, posIDs))
	x := g.dropout(g.layerNorm(p+"embeddings.LayerNorm", emb, H), c.HiddenDropout)

	addMask := g.paddingMask(mask)
	for l := 0; l < c.NumLayers; l++ {
		lp := fmt.Sprintf("%sencoder.layer.%d.", p, l)
		g.b.Scope(lp)
		q := g.linear(lp+"attention.self.query", x, H, H, true)
		k := g.linear(lp+"attention.self.key", x, H, H, true)
		v := g.linear(lp+"attention.self.value", x, H, H, true)
		ctx := g.attention(q, k, v, nh, hd, addMask)
		a := g.dropout(g.linear(lp+"attention.output.dense", ctx, H, H, true), c.HiddenDropout)
		x = g.layerNorm(lp+"attention.output.LayerNorm", g.op("Add", a, x), H)
		h := g.act(g.linear(lp+"intermediate.dense", x, H, c.IntermediateSize, true))
		o := g.dropout(g.linear(lp+"output.dense", h, c.IntermediateSize, H, true), c.HiddenDropout)
		x = g.layerNorm(lp+"output.LayerNorm", g.op("Add", o, x), H)
	}
	g.b.Scope("")

	pooled := ""
	if g.arch != "BertForMaskedLM" {
		first := g.opA("Gather", []irbuild.Attr{irbuild.Int("axis", 1)}, x, g.int0(0))
		pooled = g.op("Tanh", g.dense(p+"pooler.dense", first, H, H))
	}
	switch g.arch {
	case "BertModel":
		g.output(x, "last_hidden_state", "batch", "sequence", H)
		g.output(pooled, "pooler_output", "batch", H)
	case "BertForMaskedLM":
		logits := g.output(g.mlmHead(x, wordW), "logits", "batch", "sequence", V)
		if g.opts.Loss {
			g.lossOutput(g.crossEntropy(logits, g.input("labels", tensor.Int64, "batch", "sequence"), V))
		}
	case "BertForPreTraining":
		pred := g.output(g.mlmHead(x, wordW), "prediction_logits", "batch", "sequence", V)
		nsp := g.output(g.dense("cls.seq_relationship", pooled, H, 2), "seq_relationship_logits", "batch", 2)
		if g.opts.Loss {
			mlm := g.crossEntropy(pred, g.input("labels", tensor.Int64, "batch", "sequence"), V)
			next := g.crossEntropy(nsp, g.input("next_sentence_label", tensor.Int64, "batch"), 2)
			g.lossOutput(g.op("Add", mlm, next))
		}
	case "BertForSequenceClassification":
		drop := c.ClassifierDropout
		if drop < 0 {
			drop = c.HiddenDropout
		}
		logits := g.output(g.dense("classifier", g.dropout(pooled, drop), H, c.NumLabels), "logits", "batch", c.NumLabels)
		if g.opts.Loss {
			g.classificationLoss(logits)
		}
	}
	return nil
}

// mlmHead is BertLMPredictionHead: dense, activation, LayerNorm, then the
// decoder tied to the word embeddings plus cls.predictions.bias.
func (g *graph) mlmHead(x, wordW string) string {
	c := g.cfg
	H, V := c.HiddenSize, c.VocabSize
	bias := g.fill("cls.predictions.bias", 0, V)
	t := g.act(g.linear("cls.predictions.transform.dense", x, H, H, true))
	t = g.layerNorm("cls.predictions.transform.LayerNorm", t, H)
	dec := wordW
	if c.TieWordEmbeddings {
		g.m.Tied["cls.predictions.decoder.weight"] = wordW
	} else {
		dec = g.normal("cls.predictions.decoder.weight", c.InitializerRange, V, H)
	}
	if c.TieWordEmbeddings {
		g.m.Tied["cls.predictions.decoder.bias"] = bias
	} else {
		g.m.Copies["cls.predictions.decoder.bias"] = bias
	}
	return g.op("Add", g.op("MatMul", t, g.op("Transpose", dec)), bias)
}

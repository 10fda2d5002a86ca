package zoo

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/tensor"
)

// BuildGPT2WithPast builds GPT2LMHeadModel for incremental decoding, with
// the inputs and outputs Hugging Face exports name (optimum's
// text-generation-with-past layout):
//
//	input_ids        int64 (batch, sequence)            the new tokens
//	attention_mask   int64 (batch, past_sequence + sequence)
//	position_ids     int64 (batch, sequence)
//	past_key_values.N.key / .value  float32 (batch, n_head, past_sequence, head_dim)
//	→ logits (batch, sequence, vocab), present.N.key / .value
//	  (batch, n_head, past_sequence + sequence, head_dim)
//
// past_sequence may be 0 (the prompt's step). A query at position
// past_sequence + i sees keys j ≤ past_sequence + i whose mask is 1.
// Parameters have the state_dict names and, for one seed, the values Build
// gives GPT2LMHeadModel, so LoadWeights reads the same checkpoints.
func BuildGPT2WithPast(cfg *Config, opts BuildOptions) (*Model, error) {
	return buildGPT2Cached(cfg, opts, false)
}

// BuildGPT2SharedCache builds GPT2LMHeadModel for incremental decoding over
// a KV cache preallocated for the longest sequence, which past and present
// share (ONNX Runtime's past_present_share_buffer): attention is
// com.microsoft GroupQueryAttention on the packed c_attn output.
//
//	input_ids        int64 (batch, sequence)            the new tokens
//	attention_mask   int64 (batch, past_sequence + sequence)
//	position_ids     int64 (batch, sequence)
//	past_key_values.N.key / .value  float32 (batch, n_head, max_sequence, head_dim)
//	→ logits (batch, sequence, vocab), present.N.key / .value
//	  (batch, n_head, max_sequence, head_dim)
//
// The valid past length is the mask's width minus the sequence length;
// present is the past buffer with the step's keys and values written at
// positions [past_sequence, past_sequence + sequence). When the past
// feeds are donated (runtime.WithDonated) the native runtime writes them
// in place: no copy of the cache and no allocation per token. The
// parameters are BuildGPT2WithPast's (same names and values for one seed).
func BuildGPT2SharedCache(cfg *Config, opts BuildOptions) (*Model, error) {
	return buildGPT2Cached(cfg, opts, true)
}

func buildGPT2Cached(cfg *Config, opts BuildOptions, shared bool) (*Model, error) {
	if cfg == nil {
		return nil, fmt.Errorf("zoo: nil config")
	}
	if cfg.ModelType != "gpt2" {
		return nil, fmt.Errorf("zoo: BuildGPT2WithPast needs model_type gpt2, got %q", cfg.ModelType)
	}
	if err := cfg.Validate(opts.MaxParams); err != nil {
		return nil, err
	}
	if opts.Loss || opts.Training {
		return nil, fmt.Errorf("zoo: the GPT-2 graph with past is for inference; build without Loss and Training")
	}
	var extra []irbuild.Opset
	if shared {
		extra = append(extra, irbuild.Opset{Domain: "com.microsoft", Version: 1})
	}
	g, err := newGraph(cfg, "GPT2LMHeadModel", opts, extra...)
	if err != nil {
		return nil, err
	}
	buildGPT2Past(g, shared)
	return g.validated("graph with past")
}

// buildGPT2Past creates the parameters in buildGPT2's order (same values
// for one seed) around attention over concatenated past and new keys, or
// GroupQueryAttention over a shared buffer.
func buildGPT2Past(g *graph, shared bool) {
	c := g.cfg
	H, V := c.HiddenSize, c.VocabSize
	nh := c.NumHeads
	hd := H / nh
	p := g.prefix("GPT2Model")
	ids := g.input("input_ids", tensor.Int64, "batch", "sequence")
	mask := g.input("attention_mask", tensor.Int64, "batch", "total_sequence")
	pos := g.input("position_ids", tensor.Int64, "batch", "sequence")
	pastDim := "past_sequence"
	if shared {
		pastDim = "max_sequence"
	}
	past := make([][2]string, c.NumLayers)
	for l := range past {
		for j, kv := range []string{"key", "value"} {
			past[l][j] = g.input(fmt.Sprintf("past_key_values.%d.%s", l, kv), tensor.Float32, "batch", nh, pastDim, hd)
		}
	}

	wte := g.normal(p+"wte.weight", c.InitializerRange, V, H)
	wpe := g.normal(p+"wpe.weight", c.InitializerRange, c.MaxPositions, H)
	x := g.op("Add", g.op("Gather", wte, ids), g.op("Gather", wpe, pos))

	// Queries sit at positions T−S … T−1 of the T = past + new keys.
	total, seq := g.dim(mask, 1), g.dim(ids, 1)
	kpos := g.op("Range", g.int0(0), total, g.int0(1))
	qpos := g.op("Range", g.op("Sub", total, seq), total, g.int0(1))
	causal := g.op("LessOrEqual", g.unsqueeze(kpos, []int64{0}, tensor.Int64, 1, "total_sequence"),
		g.unsqueeze(qpos, []int64{1}, tensor.Int64, "sequence", 1))
	addMask := g.attentionMask(causal, mask, "total_sequence")
	// GroupQueryAttention's lengths: every row holds total_sequence
	// positions (left padding is masked by addMask).
	var seqlens, totalLen string
	if shared {
		i32 := []irbuild.Attr{irbuild.Int("to", int64(tensor.Int32))}
		totalLen = g.opA("Cast", i32, total)
		seqlens = g.opA("Cast", i32, g.op("Expand", g.op("Sub", total, g.int0(1)), g.batchShape(ids)))
	}

	x = g.gpt2Blocks(p, x, func(l int, qkv string) string {
		if shared {
			return g.sharedAttention(l, qkv, past[l], seqlens, totalLen, addMask)
		}
		split := g.splitQKV(qkv)
		q := g.splitHeads(split[0], nh, hd, false)
		var present [2]string
		for j, kv := range []string{"key", "value"} {
			cat := g.opA("Concat", []irbuild.Attr{irbuild.Int("axis", 2)}, past[l][j], g.splitHeads(split[1+j], nh, hd, false))
			present[j] = g.output(cat, fmt.Sprintf("present.%d.%s", l, kv), "batch", nh, "total_sequence", hd)
		}
		scores := g.op("Mul", g.op("MatMul", q, g.transpose(present[0], 0, 1, 3, 2)), g.scalar(1/math.Sqrt(float64(hd))))
		probs := g.opA("Softmax", []irbuild.Attr{irbuild.Int("axis", -1)}, g.op("Add", scores, addMask))
		return g.op("Reshape", g.transpose(g.op("MatMul", probs, present[1]), 0, 2, 1, 3), g.ints(0, 0, int64(H)))
	})
	g.m.Tied["lm_head.weight"] = wte
	// x·wteᵀ as Gemm(transB) on (batch·sequence, H) rows: the tied matrix
	// is read in place, not transposed at every step.
	rows := g.op("Reshape", x, g.ints(-1, int64(H)))
	outShape := g.opA("Concat", []irbuild.Attr{irbuild.Int("axis", 0)},
		g.op("Slice", g.op("Shape", x), g.ints(0), g.ints(2)), g.ints(int64(V)))
	logits := g.op("Reshape", g.opA("Gemm", []irbuild.Attr{irbuild.Int("transB", 1)}, rows, wte), outShape)
	// logits first among the outputs, as in the exports.
	g.output(logits, "logits", "batch", "sequence", V)
	out := g.b.Graph().Outputs
	last := out[len(out)-1]
	copy(out[1:], out[:len(out)-1])
	out[0] = last
	names := g.m.Outputs
	copy(names[1:], names[:len(names)-1])
	names[0] = "logits"
}

// sharedAttention is GroupQueryAttention (kv_num_heads = num_heads) of
// layer l on the packed (batch, sequence, 3·hidden) q|k|v projection,
// with past and present sharing the (batch, n_head, max_sequence,
// head_dim) buffers; it declares present.l.key/value and returns the
// (batch, sequence, hidden) context.
func (g *graph) sharedAttention(l int, qkv string, past [2]string, seqlens, totalLen, addMask string) string {
	c := g.cfg
	nh, hd := c.NumHeads, c.HiddenSize/c.NumHeads
	n := g.b.OpN("GroupQueryAttention", 3, qkv, "", "", past[0], past[1], seqlens, totalLen, "", "", "", addMask).
		Domain("com.microsoft").
		With(irbuild.Int("num_heads", int64(nh)), irbuild.Int("kv_num_heads", int64(nh)))
	for j, kv := range []string{"key", "value"} {
		g.output(n.Out(1+j), fmt.Sprintf("present.%d.%s", l, kv), "batch", nh, "max_sequence", hd)
	}
	return n.Out(0)
}

package zoo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

// Tiny configs in config.json form, one per model type, sized so every
// architecture runs in milliseconds.
var tinyConfigs = map[string]string{
	"bert": `{"model_type": "bert", "vocab_size": 97, "hidden_size": 32, "num_hidden_layers": 2,
		"num_attention_heads": 4, "intermediate_size": 48, "max_position_embeddings": 40,
		"type_vocab_size": 3, "hidden_act": "gelu", "id2label": {"0": "neg", "1": "mid", "2": "pos"}}`,
	"gpt2": `{"model_type": "gpt2", "vocab_size": 101, "n_embd": 32, "n_layer": 2, "n_head": 4,
		"n_positions": 24, "n_inner": null, "activation_function": "gelu_new"}`,
	"vit": `{"model_type": "vit", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
		"intermediate_size": 40, "image_size": 16, "patch_size": 4, "num_channels": 3, "num_labels": 5}`,
	"vit_mae": `{"model_type": "vit_mae", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
		"intermediate_size": 40, "image_size": 16, "patch_size": 4, "num_channels": 3,
		"decoder_hidden_size": 24, "decoder_num_hidden_layers": 1, "decoder_num_attention_heads": 3,
		"decoder_intermediate_size": 36, "mask_ratio": 0.75, "norm_pix_loss": true}`,
}

func tinyConfig(t testing.TB, modelType string) *Config {
	t.Helper()
	c, err := ParseConfig([]byte(tinyConfigs[modelType]))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// feeds draws random inputs for every graph input of m: token ids in
// range, right-padded attention masks (every row keeps at least one
// token), labels with some −100, pixels and MAE noise from N(0, 1).
func feeds(m *Model, r *rand.Rand, batch, seq int) map[string]*tensor.Tensor {
	c := m.Config
	ints := func(n int, f func(i int) int64) *tensor.Tensor {
		d := make([]int64, n)
		for i := range d {
			d[i] = f(i)
		}
		return tensor.Must([]int{n}, d)
	}
	reshape := func(t *tensor.Tensor, shape ...int) *tensor.Tensor {
		out, err := t.Reshape(shape...)
		if err != nil {
			panic(err)
		}
		return out
	}
	normal := func(shape ...int) *tensor.Tensor {
		t := tensor.Zeros(tensor.Float32, shape...)
		for i, d := 0, tensor.Data[float32](t); i < len(d); i++ {
			d[i] = float32(r.NormFloat64())
		}
		return t
	}
	out := map[string]*tensor.Tensor{}
	for _, in := range m.IR.Graph.Inputs {
		var t *tensor.Tensor
		switch in.Name {
		case "input_ids":
			t = reshape(ints(batch*seq, func(int) int64 { return r.Int64N(int64(c.VocabSize)) }), batch, seq)
		case "attention_mask":
			keep := make([]int, batch)
			for b := range keep {
				keep[b] = seq - r.IntN(seq) // 1..seq tokens
			}
			keep[0] = seq
			t = reshape(ints(batch*seq, func(i int) int64 {
				if i%seq < keep[i/seq] {
					return 1
				}
				return 0
			}), batch, seq)
		case "token_type_ids":
			t = reshape(ints(batch*seq, func(int) int64 { return r.Int64N(int64(c.TypeVocabSize)) }), batch, seq)
		case "labels":
			switch in.Type.DType {
			case tensor.Int64:
				hi := int64(c.NumLabels)
				if in.Type.Shape[len(in.Type.Shape)-1].Param == "sequence" {
					hi = int64(c.VocabSize)
					t = reshape(ints(batch*seq, func(i int) int64 {
						if i%3 == 1 {
							return -100
						}
						return r.Int64N(hi)
					}), batch, seq)
				} else {
					t = ints(batch, func(int) int64 { return r.Int64N(hi) })
				}
			default:
				if len(in.Type.Shape) == 1 {
					t = normal(batch)
				} else {
					t = normal(batch, c.NumLabels)
				}
			}
		case "next_sentence_label":
			t = ints(batch, func(int) int64 { return r.Int64N(2) })
		case "pixel_values":
			t = normal(batch, c.NumChannels, c.ImageSize, c.ImageSize)
		case "noise":
			n := (c.ImageSize / c.PatchSize) * (c.ImageSize / c.PatchSize)
			t = tensor.Zeros(tensor.Float32, batch, n)
			for i, d := 0, tensor.Data[float32](t); i < len(d); i++ {
				d[i] = r.Float32()
			}
		default:
			panic(fmt.Sprintf("no feed for input %q", in.Name))
		}
		out[in.Name] = t
	}
	return out
}

func run(t testing.TB, m *Model, p runtime.Provider, in map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	t.Helper()
	s, err := runtime.NewSession(m.IR, runtime.Options{Provider: p})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// maxErr is the largest |got − want| / (1 + |want|) over two float32
// tensors of one shape.
func maxErr(got, want *tensor.Tensor) (float64, error) {
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		return 0, fmt.Errorf("shape %v, want %v", got.Shape(), want.Shape())
	}
	g, w := tensor.Data[float32](got), tensor.Data[float32](want)
	worst := 0.0
	for i := range g {
		d := math.Abs(float64(g[i])-float64(w[i])) / (1 + math.Abs(float64(w[i])))
		if math.IsNaN(d) {
			return math.Inf(1), fmt.Errorf("element %d: %v vs %v", i, g[i], w[i])
		}
		worst = max(worst, d)
	}
	return worst, nil
}

// Every architecture, with and without its loss, at opsets 17 and 20,
// runs natively and through ONNX Runtime with the same outputs.
func TestNativeMatchesORT(t *testing.T) {
	orttest.Need(t)
	for _, mt := range modelTypes {
		c := tinyConfig(t, mt)
		for _, a := range Architectures(mt) {
			for _, opset := range []int{17, 20} {
				for _, loss := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/opset%d/loss=%v", a, opset, loss), func(t *testing.T) {
						m, err := Build(c, a, BuildOptions{Seed: 3, Opset: opset, Loss: loss})
						if err != nil {
							t.Fatal(err)
						}
						in := feeds(m, rand.New(rand.NewPCG(4, uint64(opset))), 3, 7)
						got := run(t, m, runtime.Native(), in)
						want := run(t, m, ort.New(ort.Options{}), in)
						for _, name := range m.Outputs {
							if want[name].DType() != tensor.Float32 {
								if !tensor.Equal(got[name], want[name]) {
									t.Errorf("%s differs", name)
								}
								continue
							}
							e, err := maxErr(got[name], want[name])
							if err != nil || e > 1e-4 {
								t.Errorf("%s: max error %g (%v)", name, e, err)
							}
							t.Logf("%s %v: max error %.2g", name, got[name].Shape(), e)
						}
					})
				}
			}
		}
	}
}

// The parameters a built model holds are the ones ParamCount counts, under
// distinct names, with the declared prefix.
func TestBuiltParamsMatchCount(t *testing.T) {
	for _, mt := range modelTypes {
		c := tinyConfig(t, mt)
		for _, a := range Architectures(mt) {
			m, err := Build(c, a, BuildOptions{Seed: 1})
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
			want, _ := c.ParamCount(a)
			var got int64
			seen := map[string]bool{}
			for _, p := range m.Params {
				if seen[p] {
					t.Errorf("%s: parameter %q twice", a, p)
				}
				seen[p] = true
				got += int64(m.Param(p).Len())
			}
			if got != want {
				t.Errorf("%s: built %d parameters, ParamCount says %d", a, got, want)
			}
		}
	}
}

// GPT-2 runs any length up to n_positions (the causal mask follows the
// input's shape) and refuses longer inputs with an error.
func TestGPT2Lengths(t *testing.T) {
	m, err := Build(tinyConfig(t, "gpt2"), "GPT2LMHeadModel", BuildOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(m.IR, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 1))
	for _, seq := range []int{1, 5, 24, 25} {
		out, err := s.Run(context.Background(), feeds(m, r, 2, seq))
		if seq > m.Config.MaxPositions {
			if err == nil {
				t.Errorf("sequence %d > n_positions %d ran", seq, m.Config.MaxPositions)
			}
			continue
		}
		if err != nil {
			t.Fatalf("sequence %d: %v", seq, err)
		}
		if got := out["logits"].Shape(); got[1] != seq {
			t.Errorf("sequence %d: logits %v", seq, got)
		}
	}
	// A token's logits do not depend on later tokens.
	in := feeds(m, r, 1, 6)
	for i, mask := 0, tensor.Data[int64](in["attention_mask"]); i < len(mask); i++ {
		mask[i] = 1
	}
	a, _ := s.Run(context.Background(), in)
	tensor.Data[int64](in["input_ids"])[5] = (tensor.Data[int64](in["input_ids"])[5] + 1) % int64(m.Config.VocabSize)
	b, _ := s.Run(context.Background(), in)
	la, lb := tensor.Data[float32](a["logits"]), tensor.Data[float32](b["logits"])
	V := m.Config.VocabSize
	for i := 0; i < 5*V; i++ {
		if la[i] != lb[i] {
			t.Fatalf("logit %d of an earlier position changed with token 5", i)
		}
	}
	if la[5*V] == lb[5*V] && la[5*V+1] == lb[5*V+1] {
		t.Error("changing token 5 left its own logits unchanged")
	}
}

// Known parameter counts of published checkpoints (model.num_parameters()).
func TestPublishedParamCounts(t *testing.T) {
	cases := []struct {
		json, arch string
		want       int64
	}{
		{`{"model_type": "bert", "architectures": ["BertForMaskedLM"]}`, "BertModel", 109_482_240}, // bert-base-uncased
		{`{"model_type": "bert"}`, "BertForMaskedLM", 109_514_298},
		{`{"model_type": "bert"}`, "BertForPreTraining", 110_106_428},
		{`{"model_type": "gpt2"}`, "GPT2LMHeadModel", 124_439_808},                                                // gpt2
		{`{"model_type": "gpt2", "n_embd": 1600, "n_layer": 48, "n_head": 25}`, "GPT2LMHeadModel", 1_557_611_200}, // gpt2-xl
		{`{"model_type": "vit"}`, "ViTModel", 86_389_248},                                                         // google/vit-base-patch16-224-in21k
		{`{"model_type": "vit", "num_labels": 1000}`, "ViTForImageClassification", 86_567_656},                    // google/vit-base-patch16-224
		{`{"model_type": "vit_mae"}`, "ViTMAEForPreTraining", 111_907_840},                                        // facebook/vit-mae-base
	}
	for _, c := range cases {
		cfg, err := ParseConfig([]byte(c.json))
		if err != nil {
			t.Fatal(err)
		}
		got, err := cfg.ParamCount(c.arch)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s %s: %d parameters, want %d", c.json, c.arch, got, c.want)
		}
	}
}

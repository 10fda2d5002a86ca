package export

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/finetune"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

// hfConfigs are tiny configs of every zoo architecture (config.json form).
var hfConfigs = map[string]string{
	"BertForSequenceClassification": `{"model_type": "bert", "vocab_size": 97, "hidden_size": 32, "num_hidden_layers": 2,
		"num_attention_heads": 4, "intermediate_size": 48, "max_position_embeddings": 40, "type_vocab_size": 2, "num_labels": 3}`,
	"BertForMaskedLM": `{"model_type": "bert", "vocab_size": 97, "hidden_size": 32, "num_hidden_layers": 2,
		"num_attention_heads": 4, "intermediate_size": 48, "max_position_embeddings": 40, "type_vocab_size": 2}`,
	"GPT2LMHeadModel": `{"model_type": "gpt2", "vocab_size": 101, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 24}`,
	"ViTForImageClassification": `{"model_type": "vit", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
		"intermediate_size": 40, "image_size": 16, "patch_size": 4, "num_channels": 3, "num_labels": 5}`,
	"ViTMAEForPreTraining": `{"model_type": "vit_mae", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
		"intermediate_size": 40, "image_size": 16, "patch_size": 4, "num_channels": 3, "decoder_hidden_size": 24,
		"decoder_num_hidden_layers": 1, "decoder_num_attention_heads": 3, "decoder_intermediate_size": 36}`,
}

// caseInputs draws inputs for a graph's inputs: ids in range, a padded
// second row, pixels and MAE noise from N(0, 1).
func caseInputs(m *runtime.Session, vocab, batch, seq int, r *rand.Rand) map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for _, in := range m.Inputs() {
		switch in.Name {
		case "input_ids", "attention_mask", "token_type_ids":
			d := make([]int64, batch*seq)
			for i := range d {
				switch in.Name {
				case "input_ids":
					d[i] = r.Int64N(int64(vocab))
				case "attention_mask":
					if i/seq == 0 || i%seq < seq/2 {
						d[i] = 1
					}
				}
			}
			out[in.Name] = tensor.Must([]int{batch, seq}, d)
		default: // pixel_values (B, C, H, W), noise (B, patches)
			shape := make([]int, len(in.Type.Shape))
			for i, dim := range in.Type.Shape {
				shape[i] = int(dim.Size)
				if !dim.Known() {
					shape[i] = batch
				}
			}
			t := tensor.Zeros(tensor.Float32, shape...)
			for i, d := 0, tensor.Data[float32](t); i < len(d); i++ {
				d[i] = float32(r.NormFloat64())
			}
			out[in.Name] = t
		}
	}
	return out
}

// writeCase records a case for conformance/interop/hf_export_check.py:
// hf/ (the export), model.onnx, inputs.safetensors, outputs.safetensors
// (gort's) and case.json.
func writeCase(t *testing.T, dir string, arch string, feeds, outs map[string]*tensor.Tensor) {
	t.Helper()
	save := func(name string, m map[string]*tensor.Tensor) {
		var names []string
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		if err := tensor.SaveSafetensors(filepath.Join(dir, name), names, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	save("inputs.safetensors", feeds)
	save("outputs.safetensors", outs)
	js, _ := json.Marshal(map[string]any{"architecture": arch})
	os.WriteFile(filepath.Join(dir, "case.json"), js, 0o644)
}

// TestHFExportCases exports every zoo architecture (from a folder as `gort
// pretrain` writes it) and a fine-tuned BERT head to Hugging Face format
// and ONNX. Here: the HF folder loads strictly back into gort with the
// same outputs, and ONNX Runtime runs the ONNX export within 1e-4. With
// GORT_HF_EXPORT=DIR set (by conformance/interop/hf_export_check.py) the
// cases stay in DIR for transformers to check.
func TestHFExportCases(t *testing.T) {
	root := os.Getenv("GORT_HF_EXPORT")
	if root == "" {
		root = t.TempDir()
	}
	archs := make([]string, 0, len(hfConfigs))
	for a := range hfConfigs {
		archs = append(archs, a)
	}
	sort.Strings(archs)
	for _, arch := range archs {
		t.Run(arch, func(t *testing.T) {
			cfg, err := zoo.ParseConfig([]byte(hfConfigs[arch]))
			if err != nil {
				t.Fatal(err)
			}
			zm, err := zoo.Build(cfg, arch, zoo.BuildOptions{Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(root, arch, "pretrain")
			if err := zoo.SavePretrained(zm, src); err != nil {
				t.Fatal(err)
			}
			checkCase(t, filepath.Join(root, arch), src, arch, cfg.VocabSize)
		})
	}
	finetuned := []struct {
		arch string
		task finetune.Task
		opts []finetune.Option
	}{
		{"BertForSequenceClassification", finetune.SeqCls{Labels: 3, Pooling: finetune.PoolPooler}, []finetune.Option{finetune.LoRA(2, 4)}},
		{"BertForTokenClassification", finetune.TokenCls{Labels: 3}, nil},
		{"BertForSequenceClassification-regression", finetune.Regression{Pooling: finetune.PoolPooler}, nil},
		{"BertModel", finetune.Embedding{}, []finetune.Option{finetune.LoRA(2, 2)}},
	}
	for _, c := range finetuned {
		t.Run("finetuned-"+c.arch, func(t *testing.T) {
			dir := filepath.Join(root, "finetuned-"+c.arch)
			backbone, tok, _ := fixture(t, dir, 1)
			bb, err := onnx.Load(backbone)
			if err != nil {
				t.Fatal(err)
			}
			m, err := finetune.New(bb, c.task, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			exs := []finetune.Example{{Text: "good1 bad2 word3", Words: []string{"good1", "bad2", "word3"}, Tags: []int{0, 1, 2}, Positive: "good1 word3", Label: 1, Value: 0.5},
				{Text: "bad4 word5", Words: []string{"bad4", "word5"}, Tags: []int{1, 2}, Positive: "bad4", Label: 2, Value: -1}}
			src := filepath.Join(dir, "run")
			if _, err := m.Fit(context.Background(), exs, nil, finetune.FitOptions{Encoder: &finetune.Encoder{Tok: tok}, Epochs: 2, Batch: 2,
				LR: 1e-2, Out: src, Manifest: map[string]any{"backbone": backbone}}); err != nil {
				t.Fatal(err)
			}
			checkCase(t, dir, src, strings.TrimSuffix(c.arch, "-regression"), 62)
		})
	}
}

// checkCase exports src (hf and onnx) into dir and checks both in Go.
func checkCase(t *testing.T, dir, src, arch string, vocab int) {
	t.Helper()
	hf, onnxPath := filepath.Join(dir, "hf"), filepath.Join(dir, "model.onnx")
	if err := Export(src, Options{Format: FormatHF, Out: hf}); err != nil {
		t.Fatal(err)
	}
	if err := Export(src, Options{Format: FormatONNX, Out: onnxPath}); err != nil {
		t.Fatal(err)
	}
	em, err := onnx.Load(onnxPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(em, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	feeds := caseInputs(s, vocab, 2, 8, rand.New(rand.NewPCG(3, 4)))
	want, err := s.Run(context.Background(), feeds)
	if err != nil {
		t.Fatal(err)
	}
	writeCase(t, dir, arch, feeds, want)
	ortCheck(t, em, feeds, want)
	if arch == "BertForTokenClassification" || arch == "BertModel" {
		return // not a zoo class, or an embedding (mean pooling outside the class): hf_export_check.py checks these
	}
	// The HF folder loads strictly into gort's class and computes the same.
	cfg, err := zoo.LoadConfig(hf)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Architectures[0] != arch {
		t.Fatalf("architecture %v, want %s", cfg.Architectures, arch)
	}
	zm, err := zoo.Build(cfg, "", zoo.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := zoo.LoadWeights(zm, hf); err != nil {
		t.Fatal(err)
	}
	zs, err := runtime.NewSession(zm.IR, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer zs.Close()
	got, err := zs.Run(context.Background(), feeds)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		if g := got[name]; g != nil && w.DType() == tensor.Float32 {
			if d := maxDiff(g, w); d > 1e-5 {
				t.Errorf("%s: HF export reloaded differs by %g", name, d)
			}
		}
	}
}

// ortCheck runs em in ONNX Runtime (where present) against gort's outputs.
func ortCheck(t *testing.T, em *ir.Model, feeds, want map[string]*tensor.Tensor) {
	t.Helper()
	if orttest.Err() != nil {
		return
	}
	ortS, err := runtime.NewSession(em, runtime.Options{Provider: ort.New(ort.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	defer ortS.Close()
	og, err := ortS.Run(context.Background(), feeds)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		if w.DType() == tensor.Float32 {
			if d := maxDiff(og[name], w); d > 1e-4 {
				t.Errorf("%s: ONNX Runtime differs from gort by %g", name, d)
			}
		}
	}
}

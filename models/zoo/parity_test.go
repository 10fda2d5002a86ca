package zoo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// parityCases are the models conformance/interop/zoo_parity.py rebuilds in
// transformers from the folders TestWriteParityFixtures writes.
var parityCases = []struct {
	name, modelType, arch string
	edit                  func(c *Config)
	loss                  bool
}{
	{"bert-model", "bert", "BertModel", nil, false},
	{"bert-mlm", "bert", "BertForMaskedLM", nil, true},
	{"bert-pretraining", "bert", "BertForPreTraining", nil, true},
	{"bert-seqcls", "bert", "BertForSequenceClassification", nil, true},
	{"bert-regression", "bert", "BertForSequenceClassification", func(c *Config) { c.NumLabels, c.ID2Label = 1, nil }, true},
	{"bert-multilabel", "bert", "BertForSequenceClassification", func(c *Config) { c.ProblemType = "multi_label_classification" }, true},
	{"bert-relu-untied", "bert", "BertForMaskedLM", func(c *Config) { c.HiddenAct, c.TieWordEmbeddings = "relu", false }, true},
	{"gpt2-model", "gpt2", "GPT2Model", nil, false},
	{"gpt2-lm", "gpt2", "GPT2LMHeadModel", nil, true},
	{"vit-model", "vit", "ViTModel", nil, false},
	{"vit-cls", "vit", "ViTForImageClassification", nil, true},
	{"vit-cls-noqkvbias", "vit", "ViTForImageClassification", func(c *Config) { c.QKVBias = false }, true},
	{"vit-ragged-relu", "vit", "ViTModel", func(c *Config) { c.ImageSize, c.HiddenAct = 18, "relu" }, false}, // patches floor 18/4
	{"vitmae-model", "vit_mae", "ViTMAEModel", nil, false},
	{"vitmae-pretraining", "vit_mae", "ViTMAEForPreTraining", nil, true},
	{"vitmae-pretraining-rawpix", "vit_mae", "ViTMAEForPreTraining", func(c *Config) { c.NormPixLoss = false }, true},
}

// TestWriteParityFixtures writes, under $GORT_ZOO_PARITY, one folder per
// parity case: the model as save_pretrained lays it out (config.json,
// model.safetensors), inputs.safetensors with random inputs, and
// outputs.safetensors with gort's native outputs. Without the variable it
// is skipped; conformance/interop/zoo_parity.py runs it.
func TestWriteParityFixtures(t *testing.T) {
	root := os.Getenv("GORT_ZOO_PARITY")
	if root == "" {
		t.Skip("GORT_ZOO_PARITY not set (conformance/interop/zoo_parity.py sets it)")
	}
	for i, pc := range parityCases {
		c := tinyConfig(t, pc.modelType)
		if pc.edit != nil {
			pc.edit(c)
		}
		m, err := Build(c, pc.arch, BuildOptions{Seed: uint64(i + 1), Loss: pc.loss})
		if err != nil {
			t.Fatalf("%s: %v", pc.name, err)
		}
		perturb(m, rand.New(rand.NewPCG(uint64(i), 9)))
		dir := filepath.Join(root, pc.name)
		if err := SavePretrained(m, dir); err != nil {
			t.Fatal(err)
		}
		in := feeds(m, rand.New(rand.NewPCG(uint64(i), 10)), 3, 7)
		s, err := runtime.NewSession(m.IR, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: %v", pc.name, err)
		}
		writeTensors(t, filepath.Join(dir, "inputs.safetensors"), in)
		writeTensors(t, filepath.Join(dir, "outputs.safetensors"), out)
		meta, _ := json.Marshal(map[string]any{"arch": pc.arch, "inputs": m.Inputs, "outputs": m.Outputs})
		if err := os.WriteFile(filepath.Join(dir, "gort.json"), meta, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d parity cases under %s", len(parityCases), root)
}

// perturb moves the zero biases and unit LayerNorm scales of a fresh
// model off their initial values, so parity covers every parameter's
// role.
func perturb(m *Model, r *rand.Rand) {
	for _, p := range m.Params {
		if strings.HasSuffix(p, "bias") || strings.Contains(p, "LayerNorm") || strings.Contains(p, "layernorm") || strings.Contains(p, "ln_") || strings.Contains(p, "norm.") {
			d := tensor.Data[float32](m.Param(p))
			for i := range d {
				d[i] += float32(r.NormFloat64() * 0.1)
			}
		}
	}
}

func writeTensors(t *testing.T, path string, ts map[string]*tensor.Tensor) {
	t.Helper()
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	if err := tensor.SaveSafetensors(path, names, ts, nil); err != nil {
		t.Fatal(err)
	}
}

// TestHFCheckpoints loads the folders transformers itself saved under
// $GORT_ZOO_HF/<case>/hf (by conformance/interop/zoo_parity.py), strictly,
// and compares gort's native outputs with the transformers outputs stored
// beside them.
func TestHFCheckpoints(t *testing.T) {
	root := os.Getenv("GORT_ZOO_HF")
	if root == "" {
		t.Skip("GORT_ZOO_HF not set (conformance/interop/zoo_parity.py sets it)")
	}
	for _, pc := range parityCases {
		dir := filepath.Join(root, pc.name, "hf")
		c, err := LoadConfig(dir)
		if err != nil {
			t.Fatalf("%s: %v", pc.name, err)
		}
		m, err := Build(c, pc.arch, BuildOptions{Loss: pc.loss})
		if err != nil {
			t.Fatalf("%s: %v", pc.name, err)
		}
		if err := LoadWeights(m, dir); err != nil {
			t.Errorf("%s: %v", pc.name, err)
			continue
		}
		in, err := tensor.LoadSafetensors(filepath.Join(root, pc.name, "inputs.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		want, err := tensor.LoadSafetensors(filepath.Join(dir, "outputs.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		got := run(t, m, runtime.Native(), in.Tensors)
		var figures []string
		for _, name := range m.Outputs {
			w := want.Tensors[name]
			if w.DType() != tensor.Float32 {
				if !tensor.Equal(got[name], w) {
					t.Errorf("%s: %s differs", pc.name, name)
				}
				continue
			}
			if w.Rank() == 1 && got[name].Rank() == 0 { // loss saved with shape (1,) by some versions
				w, _ = w.Reshape()
			}
			e, err := maxErr(got[name], w)
			if err != nil || e > 1e-4 {
				t.Errorf("%s: %s: max error %g (%v)", pc.name, name, e, err)
			}
			figures = append(figures, fmt.Sprintf("%s %.2g", name, e))
		}
		t.Logf("hf %-28s %s", pc.name, strings.Join(figures, ", "))
	}
}

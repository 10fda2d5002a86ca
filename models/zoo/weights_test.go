package zoo

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gort-ml/gort/tensor"
)

func build(t testing.TB, modelType, arch string, seed uint64) *Model {
	t.Helper()
	m, err := Build(tinyConfig(t, modelType), arch, BuildOptions{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameParams(t *testing.T, got, want *Model) {
	t.Helper()
	for _, p := range want.Params {
		if !tensor.Equal(got.Param(p), want.Param(p)) {
			t.Errorf("parameter %q differs after loading", p)
		}
	}
}

// Saving and loading restores every parameter, single-file and sharded,
// and tied weights are written once.
func TestWeightsRoundTrip(t *testing.T) {
	for _, c := range []struct{ mt, arch string }{
		{"bert", "BertForPreTraining"}, {"gpt2", "GPT2LMHeadModel"}, {"vit", "ViTForImageClassification"}, {"vit_mae", "ViTMAEForPreTraining"},
	} {
		for _, shard := range []int64{DefaultMaxShardBytes, 20_000} {
			src := build(t, c.mt, c.arch, 1)
			dir := t.TempDir()
			if err := SaveWeightsSharded(src, dir, shard); err != nil {
				t.Fatal(err)
			}
			dst := build(t, c.mt, c.arch, 2)
			if err := LoadWeights(dst, dir); err != nil {
				t.Fatalf("%s shard %d: %v", c.arch, shard, err)
			}
			sameParams(t, dst, src)
			_, err := os.Stat(filepath.Join(dir, IndexFile))
			if sharded := err == nil; sharded != (shard < DefaultMaxShardBytes) {
				t.Errorf("%s: index present = %v with shard size %d", c.arch, sharded, shard)
			}
			names := savedNames(t, dir)
			for alias := range src.Tied {
				if names[alias] {
					t.Errorf("%s: tied alias %q written", c.arch, alias)
				}
			}
			if len(names) != len(src.Params) {
				t.Errorf("%s: %d tensors saved, want %d", c.arch, len(names), len(src.Params))
			}
		}
	}
}

func savedNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	names := map[string]bool{}
	for _, f := range files {
		st, err := tensor.LoadSafetensors(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Metadata["format"] != "pt" {
			t.Errorf("%s: metadata %v lacks format=pt", f, st.Metadata)
		}
		for _, n := range st.Names {
			names[n] = true
		}
	}
	return names
}

// A re-save with a different layout leaves no stale files that would
// shadow it.
func TestResaveRemovesStaleShards(t *testing.T) {
	m := build(t, "bert", "BertModel", 1)
	dir := t.TempDir()
	if err := SaveWeightsSharded(m, dir, 10_000); err != nil {
		t.Fatal(err)
	}
	m2 := build(t, "bert", "BertModel", 5)
	if err := SaveWeights(m2, dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != WeightsFile {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("folder holds %v, want only %s", names, WeightsFile)
	}
	m3 := build(t, "bert", "BertModel", 9)
	if err := LoadWeights(m3, dir); err != nil {
		t.Fatal(err)
	}
	sameParams(t, m3, m2)
}

// Checkpoints in the layouts transformers writes load: base-model names
// into a head model and back, tied aliases and buffers present, half
// precision.
func TestLoadHFLayouts(t *testing.T) {
	// A BertForPreTraining checkpoint with HF's extra keys loads into
	// BertModel (prefix stripped, heads unexpected => Partial) and into
	// BertForMaskedLM strictly except for the pooler/NSP head.
	pt := build(t, "bert", "BertForPreTraining", 1)
	tensors := map[string]*tensor.Tensor{}
	var names []string
	for _, p := range pt.Params {
		tensors[p] = pt.Param(p)
		names = append(names, p)
	}
	tensors["cls.predictions.decoder.weight"] = pt.Param("bert.embeddings.word_embeddings.weight")
	tensors["cls.predictions.decoder.bias"] = pt.Param("cls.predictions.bias")
	tensors["bert.embeddings.position_ids"] = tensor.Must([]int{1, 40}, make([]int64, 40))
	for _, ln := range []string{"bert.embeddings.LayerNorm.", "bert.encoder.layer.1.output.LayerNorm."} { // TF-era names
		tensors[ln+"gamma"], tensors[ln+"beta"] = tensors[ln+"weight"], tensors[ln+"bias"]
		delete(tensors, ln+"weight")
		delete(tensors, ln+"bias")
		for i, n := range names {
			names[i] = strings.Replace(strings.Replace(n, ln+"weight", ln+"gamma", 1), ln+"bias", ln+"beta", 1)
		}
	}
	names = append(names, "cls.predictions.decoder.weight", "cls.predictions.decoder.bias", "bert.embeddings.position_ids")
	dir := t.TempDir()
	if err := tensor.SaveSafetensors(filepath.Join(dir, WeightsFile), names, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	base := build(t, "bert", "BertModel", 2)
	err := LoadWeights(base, dir)
	if !errors.Is(err, ErrWeights) || !strings.Contains(err.Error(), "cls.seq_relationship.weight") {
		t.Fatalf("strict load of a pretraining checkpoint into BertModel: %v", err)
	}
	rep, err := LoadWeightsWith(base, dir, LoadOptions{Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 0 || len(rep.Unexpected) != 9 || rep.Loaded != len(base.Params) {
		t.Errorf("report %+v", rep)
	}
	if !tensor.Equal(base.Param("encoder.layer.1.output.dense.weight"), pt.Param("bert.encoder.layer.1.output.dense.weight")) {
		t.Error("prefix not stripped")
	}

	// A base checkpoint (no prefix) into a head model: the head is missing.
	bdir := t.TempDir()
	if err := SaveWeights(base, bdir); err != nil {
		t.Fatal(err)
	}
	cls := build(t, "bert", "BertForSequenceClassification", 3)
	err = LoadWeights(cls, bdir)
	if err == nil || !strings.Contains(err.Error(), "missing 2 parameters: classifier.weight, classifier.bias") {
		t.Fatalf("strict load of a base checkpoint into a classifier: %v", err)
	}
	rep, err = LoadWeightsWith(cls, bdir, LoadOptions{Partial: true})
	if err != nil || len(rep.Missing) != 2 {
		t.Fatalf("%+v %v", rep, err)
	}

	// GPT-2 checkpoints as OpenAI's were converted: no "transformer."
	// prefix, attn.bias buffers, float16.
	g := build(t, "gpt2", "GPT2LMHeadModel", 1)
	tensors = map[string]*tensor.Tensor{}
	names = nil
	for _, p := range g.Params {
		h := tensor.Zeros(tensor.Float16, g.Param(p).Shape()...)
		if err := tensor.Convert(h, g.Param(p), false); err != nil {
			t.Fatal(err)
		}
		n := strings.TrimPrefix(p, "transformer.")
		tensors[n] = h
		names = append(names, n)
	}
	tensors["h.0.attn.bias"] = tensor.Zeros(tensor.Float32, 1, 1, 24, 24)
	tensors["lm_head.weight"] = tensors["wte.weight"]
	names = append(names, "h.0.attn.bias", "lm_head.weight")
	gdir := t.TempDir()
	if err := tensor.SaveSafetensors(filepath.Join(gdir, WeightsFile), names, tensors, nil); err != nil {
		t.Fatal(err)
	}
	g2 := build(t, "gpt2", "GPT2LMHeadModel", 2)
	rep, err = LoadWeightsWith(g2, gdir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Converted) != len(g.Params) {
		t.Errorf("converted %d tensors, want %d", len(rep.Converted), len(g.Params))
	}
	w := tensor.Data[float32](g2.Param("transformer.h.1.mlp.c_fc.weight"))
	w0 := tensor.Data[float32](g.Param("transformer.h.1.mlp.c_fc.weight"))
	for i := range w {
		if d := w[i] - w0[i]; d > 1e-3 || d < -1e-3 {
			t.Fatalf("float16 weight %d: %v vs %v", i, w[i], w0[i])
		}
	}
}

// Mismatches are reported together and leave the model unchanged.
func TestLoadErrors(t *testing.T) {
	src := build(t, "vit", "ViTModel", 1)
	other, err := ParseConfig([]byte(strings.Replace(tinyConfigs["vit"], `"intermediate_size": 40`, `"intermediate_size": 44`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := Build(other, "ViTModel", BuildOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := SaveWeights(wrong, dir); err != nil {
		t.Fatal(err)
	}
	before := src.Param("layernorm.weight").Clone()
	err = LoadWeights(src, dir)
	if !errors.Is(err, ErrWeights) || strings.Count(err.Error(), "has shape") != 6 {
		t.Fatalf("got %v, want 6 shape mismatches in one error", err)
	}
	if !tensor.Equal(before, src.Param("layernorm.weight")) {
		t.Error("model changed by a failed load")
	}
}

// Shard names in an index cannot leave its folder.
func TestShardIndexConfined(t *testing.T) {
	m := build(t, "bert", "BertModel", 1)
	outside := t.TempDir()
	if err := SaveWeights(m, outside); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, WeightsFile), filepath.Join(dir, "link.safetensors")); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(dir, filepath.Join(outside, WeightsFile))
	for _, file := range []string{rel, filepath.Join(outside, WeightsFile), "link.safetensors", "missing.safetensors"} {
		idx, _ := json.Marshal(shardIndex{WeightMap: map[string]string{"embeddings.word_embeddings.weight": file}})
		if err := os.WriteFile(filepath.Join(dir, IndexFile), idx, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := LoadWeights(m, dir); err == nil {
			t.Errorf("shard %q accepted", file)
		}
	}
}

// SavePretrained writes a config that parses back to the same config.
func TestSavePretrainedConfig(t *testing.T) {
	for _, mt := range modelTypes {
		c := tinyConfig(t, mt)
		c.Extra["bos_token_id"] = json.RawMessage("7")
		m, err := Build(c, "", BuildOptions{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := SavePretrained(m, dir); err != nil {
			t.Fatal(err)
		}
		back, err := LoadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := c.Marshal()
		c.Architectures = []string{m.Arch}
		a, _ = c.Marshal()
		b, _ := back.Marshal()
		if string(a) != string(b) {
			t.Errorf("%s: config changed on a round trip:\n%s\n%s", mt, a, b)
		}
		if string(back.Extra["bos_token_id"]) != "7" {
			t.Errorf("%s: extra key lost", mt)
		}
	}
}

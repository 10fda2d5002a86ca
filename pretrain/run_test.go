package pretrain

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A run resumed from its step-3 checkpoint ends with exactly the
// parameters of the uninterrupted run: data order, masking and dropout
// derive from (seed, step) only.
func TestResumeIsExact(t *testing.T) {
	for _, arch := range []string{"bert", "gpt2"} {
		t.Run(arch, func(t *testing.T) {
			base := Options{Arch: arch, Data: shippedCorpus, VocabSize: 300, Steps: 6, Batch: 4, Seq: 16, LR: 3e-3, Seed: 3, NSP: arch == "bert", WholeWord: true, ShuffleBuffer: 64}
			a := base
			a.Out, a.SaveEvery = t.TempDir(), 3
			if _, err := Run(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			b := base
			b.Out, b.Resume = t.TempDir(), true
			for _, f := range []string{"config.json", "tokenizer.json", "metrics.jsonl"} {
				data, err := os.ReadFile(filepath.Join(a.Out, f))
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(b.Out, f), data, 0o644)
			}
			copyDir(t, filepath.Join(a.Out, "checkpoint-3"), filepath.Join(b.Out, "checkpoint-3"))
			os.WriteFile(filepath.Join(b.Out, "LATEST"), []byte("checkpoint-3\n"), 0o644)
			if _, err := Run(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			wa, _ := os.ReadFile(filepath.Join(a.Out, "model.safetensors"))
			wb, _ := os.ReadFile(filepath.Join(b.Out, "model.safetensors"))
			if len(wa) == 0 || !bytes.Equal(wa, wb) {
				t.Errorf("resumed run's weights differ from the uninterrupted run's")
			}
			ra, _ := ReadMetrics(filepath.Join(a.Out, "metrics.jsonl"))
			rb, _ := ReadMetrics(filepath.Join(b.Out, "metrics.jsonl"))
			if len(ra) != 6 || len(rb) != 6 || ra[5]["loss"] != rb[5]["loss"] {
				t.Errorf("metrics: %d and %d records, last losses %v and %v", len(ra), len(rb), ra[len(ra)-1]["loss"], rb[len(rb)-1]["loss"])
			}
		})
	}
}

func ortProvider(t *testing.T) runtime.Provider {
	if _, err := os.Stat(ort.DefaultLibrary()); err != nil {
		t.Skipf("ONNX Runtime library not installed (%v); run `make ort`", err)
	}
	return ort.New(ort.Options{})
}

// model.onnx loads and runs through ONNX Runtime with the same outputs as
// the native runtime, and the training step runs through ORT with the
// native losses.
func TestExportAndORT(t *testing.T) {
	p := ortProvider(t)
	// The default config has no dropout (ORT would draw its own random numbers).
	base := Options{Arch: "bert", Data: shippedCorpus, VocabSize: 300, Steps: 3, Batch: 4, Seq: 16, LR: 3e-3, Seed: 5, EvalEvery: 100}
	nat := base
	nat.Out = t.TempDir()
	sn, err := Run(context.Background(), nat)
	if err != nil {
		t.Fatal(err)
	}
	viaORT := base
	viaORT.Out, viaORT.Provider = t.TempDir(), p
	so, err := Run(context.Background(), viaORT)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(sn.FirstLoss-so.FirstLoss) > 1e-4 || math.Abs(sn.LastLoss-so.LastLoss) > 1e-3 {
		t.Errorf("losses native %.6f/%.6f, ORT %.6f/%.6f", sn.FirstLoss, sn.LastLoss, so.FirstLoss, so.LastLoss)
	}
	// The exported model predicts what the run reported.
	preds, err := FillMask(nat.Out, DefaultProbes)
	if err != nil {
		t.Fatal(err)
	}
	for i := range preds {
		if !slices.Equal(preds[i].Top, sn.After[i].Top) {
			t.Errorf("model.onnx predicts %v for %q, the run %v", preds[i].Top, preds[i].Text, sn.After[i].Top)
		}
	}
	m, err := onnx.Load(filepath.Join(nat.Out, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	ids := make([]int64, 2*10)
	for i := range ids {
		ids[i] = 5 + r.Int64N(200)
	}
	feeds := map[string]*tensor.Tensor{
		"input_ids":      tensor.Must([]int{2, 10}, ids),
		"attention_mask": tensor.Must([]int{2, 10}, make([]int64, 20)),
		"token_type_ids": tensor.Must([]int{2, 10}, make([]int64, 20)),
	}
	for i := range tensor.Data[int64](feeds["attention_mask"]) {
		tensor.Data[int64](feeds["attention_mask"])[i] = 1
	}
	var outs []*tensor.Tensor
	for _, prov := range []runtime.Provider{runtime.Native(), p} {
		s, err := runtime.NewSession(m, runtime.Options{Provider: prov})
		if err != nil {
			t.Fatalf("%s: %v", prov.Name(), err)
		}
		o, err := s.Run(context.Background(), feeds)
		s.Close()
		if err != nil {
			t.Fatalf("%s: %v", prov.Name(), err)
		}
		outs = append(outs, o["logits"])
	}
	a, b := tensor.Data[float32](outs[0]), tensor.Data[float32](outs[1])
	worst := 0.0
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i]-b[i])))
	}
	if worst > 1e-4 {
		t.Errorf("logits: %d values, native vs ORT max difference %g", len(a), worst)
	}
}

package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/tokenizer"
)

// TestFinetuneExportCLI runs `gort finetune` (LoRA) on a tiny BERT export
// and a synthetic JSONL task, then `gort export` in all three formats.
func TestFinetuneExportCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := tiny.TinyBERT
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.MaxPositions = 32, 32, 64, 32
	m, err := tiny.BERT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "model.onnx")
	if err := onnx.Save(m, model, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	vocab := "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nyes\nno\nmaybe\n"
	os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(vocab), 0o644)
	tok, err := tokenizer.FromVocabTxt(filepath.Join(dir, "vocab.txt"), true)
	if err != nil {
		t.Fatal(err)
	}
	tok.Save(filepath.Join(dir, "tokenizer.json"))
	rng := rand.New(rand.NewPCG(1, 1))
	write := func(name string, n int) string {
		var sb strings.Builder
		for range n {
			w := "no"
			if rng.IntN(2) == 0 {
				w = "yes"
			}
			fmt.Fprintf(&sb, "{\"text\": \"maybe %s maybe\", \"label\": %q}\n", w, w)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(sb.String()), 0o644)
		return p
	}
	train, dev := write("train.jsonl", 64), write("dev.jsonl", 32)
	out := filepath.Join(dir, "run")
	var so, se bytes.Buffer
	if code := Main([]string{"finetune", model, "--task", "seq-cls", "--label-names", "no,yes", "--data", train, "--eval", dev,
		"--lora-rank", "4", "--epochs", "6", "--batch", "8", "--lr", "1e-2", "--out", out}, &so, &se); code != 0 {
		t.Fatalf("finetune: exit %d\n%s\n%s", code, so.String(), se.String())
	}
	t.Log(so.String())
	if !strings.Contains(so.String(), "best eval_f1 1.0000") {
		t.Errorf("LoRA fine-tuning did not reach F1 1 on the yes/no task")
	}
	for _, f := range []string{"model.onnx", "finetune.json", "metrics.jsonl", "tokenizer.json", "best/params.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	if cks, _ := filepath.Glob(filepath.Join(out, "checkpoint-*")); len(cks) != 1 {
		t.Errorf("checkpoints %v; want only the newest", cks)
	}
	metrics, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if !bytes.Contains(metrics, []byte(`"eval_accuracy"`)) {
		t.Fatalf("metrics.jsonl has no eval_accuracy:\n%s", metrics)
	}
	for _, f := range []string{"onnx", "hf", "training-graph"} {
		so.Reset()
		se.Reset()
		if code := Main([]string{"export", out, "--format", f, "--out", filepath.Join(dir, "export-"+f)}, &so, &se); code != 0 {
			t.Fatalf("export %s: exit %d\n%s\n%s", f, code, so.String(), se.String())
		}
	}
	hfCfg, err := os.ReadFile(filepath.Join(dir, "export-hf", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(hfCfg, []byte(`"1": "yes"`)) {
		t.Errorf("config.json lacks the label names:\n%s", hfCfg)
	}
	for _, bad := range [][]string{
		{"finetune", model, "--task", "nope", "--data", train, "--out", out},
		{"export", out, "--format", "tflite", "--out", filepath.Join(dir, "x")},
	} {
		if code := Main(bad, &so, &se); code == 0 {
			t.Errorf("%v succeeded", bad)
		}
	}
}

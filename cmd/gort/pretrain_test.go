package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A short MLM run writes the whole checkpoint folder and prints the
// summary with masked-word predictions before and after.
func TestPretrainCommand(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"pretrain", "--arch", "bert", "--data", "../../data/tiny-corpus.txt", "--vocab-size", "300",
		"--steps", "4", "--batch", "4", "--seq", "16", "--eval-every", "2", "--out", out,
		"--probe", "the cat sat on the [MASK].", "--probe", "a [MASK] barks when it is hungry."}
	if rc := Main(args, &stdout, &stderr); rc != 0 {
		t.Fatalf("exit %d: %s", rc, stderr.String())
	}
	for _, want := range []string{"BertForMaskedLM", "unigram entropy", "before training:", "after training:", "the cat sat on the [MASK].", "a [MASK] barks"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "step 4/4") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
	for _, f := range []string{"config.json", "tokenizer.json", "model.safetensors", "checkpoint-4/optimizer.safetensors", "metrics.jsonl", "loss.png", "model.onnx"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if rc := Main([]string{"pretrain", "--arch", "resnet", "--data", "x", "--out", out}, &stdout, &stderr); rc == 0 {
		t.Error("unknown arch accepted")
	}
}

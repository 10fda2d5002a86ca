package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/tensor"
)

func runMain(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return out.String() + errb.String(), code
}

// saveTinyBERT writes the built-in BERT-shaped model to a temp folder.
func saveTinyBERT(t *testing.T) string {
	t.Helper()
	m, err := tiny.BERT(tiny.TinyBERT)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bert.onnx")
	if err := onnx.Save(m, path, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCompareBERTNativeVsORT is the Foundation acceptance check: a
// BERT-shaped model (embeddings, masked self-attention, GELU FFN, LayerNorm)
// agrees between the native provider and ONNX Runtime within 1e-4.
func TestCompareBERTNativeVsORT(t *testing.T) {
	orttest.Need(t)
	path := saveTinyBERT(t)
	for _, seq := range []string{"1", "16", "77"} {
		out, code := runMain(t, "compare", path, "--rtol", "1e-4", "--atol", "1e-4", "--seed", "3", "--dim", "batch=2", "--dim", "sequence="+seq)
		if code != 0 {
			t.Fatalf("sequence %s: exit %d:\n%s", seq, code, out)
		}
		re := regexp.MustCompile(`(?m)^output (last_hidden_state|pooler_output): max_abs=\S+ max_rel=\S+$`)
		if n := len(re.FindAllString(out, -1)); n != 2 {
			t.Fatalf("sequence %s: want 2 output lines, got %d:\n%s", seq, n, out)
		}
	}
}

func TestInspectAndRun(t *testing.T) {
	path := saveTinyBERT(t)
	out, code := runMain(t, "inspect", path)
	if code != 0 {
		t.Fatalf("inspect: exit %d:\n%s", code, out)
	}
	for _, want := range []string{"input_ids: int64[batch,sequence]", "last_hidden_state: float32[batch,sequence,64]",
		"parameters: 145391", "native provider: supports every op", "LayerNormalization"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	ids := tensor.Must([]int{1, 4}, []int64{1, 2, 3, 4})
	mask := tensor.Must([]int{1, 4}, []int64{1, 1, 1, 0})
	types := tensor.Must([]int{1, 4}, []int64{0, 0, 1, 1})
	for name, v := range map[string]*tensor.Tensor{"ids": ids, "mask": mask, "types": types} {
		if err := tensor.SaveNPY(filepath.Join(dir, name+".npy"), v); err != nil {
			t.Fatal(err)
		}
	}
	outDir := filepath.Join(dir, "out")
	out, code = runMain(t, "run", path, "-i", "input_ids="+filepath.Join(dir, "ids.npy"),
		"-i", "attention_mask="+filepath.Join(dir, "mask.npy"), "-i", "token_type_ids="+filepath.Join(dir, "types.npy"), "-o", outDir)
	if code != 0 {
		t.Fatalf("run: exit %d:\n%s", code, out)
	}
	got, err := tensor.LoadNPY(filepath.Join(outDir, "last_hidden_state.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(got.Shape(), []int{1, 4, 64}) {
		t.Fatalf("last_hidden_state shape %v", got.Shape())
	}
	// A wrong feed is an error naming the input, not a crash.
	out, code = runMain(t, "run", path, "-i", "input_ids="+filepath.Join(dir, "mask.npy"))
	if code == 0 || !strings.Contains(out, `"attention_mask"`) {
		t.Fatalf("missing feeds: exit %d, output:\n%s", code, out)
	}
}

func TestConformanceCommandFormat(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "conformance", "onnx-node")
	if d := os.Getenv("GORT_ONNX_NODE"); d != "" {
		dir = d
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skip("node tests not present")
	}
	out, code := runMain(t, "conformance", "--filter", "^test_(abs|add|relu)$", dir)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; last != "conformance: 3 passed, 0 failed, 0 skipped" {
		t.Fatalf("last line %q", last)
	}
}

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"
)

// TestOptimizeBERT writes an optimized tiny BERT and checks that it loads
// and agrees between the native provider and ONNX Runtime, i.e. that the
// fused ops stay portable.
func TestOptimizeBERT(t *testing.T) {
	in := saveTinyBERT(t)
	out := filepath.Join(t.TempDir(), "bert-opt.onnx")
	msg, code := runMain(t, "optimize", in, out)
	if code != 0 || !strings.Contains(msg, "nodes: ") {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	t.Log(msg)
	if msg, code := runMain(t, "optimize", in, out, "--disable", "no-such-pass"); code == 0 {
		t.Errorf("unknown pass accepted:\n%s", msg)
	}
	orttest.Need(t)
	msg, code = runMain(t, "compare", out, "--rtol", "1e-4", "--atol", "1e-4", "--dim", "batch=2", "--dim", "sequence=9")
	if code != 0 {
		t.Fatalf("compare exit %d:\n%s", code, msg)
	}
}

package conformance

import (
	"context"
	"os"
	"testing"
)

// suiteDir finds the ONNX node tests (NodeTestDir); under CI their absence
// fails.
func suiteDir(t *testing.T) string {
	if d := NodeTestDir(); d != "" {
		return d
	}
	if os.Getenv("CI") != "" {
		t.Fatal("ONNX node tests not found: run `make testdata` (or set GORT_ONNX_NODE)")
	}
	t.Skip("ONNX node tests not found: run `make testdata` (or set GORT_ONNX_NODE)")
	return ""
}

// TestNodeSuiteNative runs the whole ONNX backend node suite on the native
// provider and checks it against conformance/expected/*.txt.
func TestNodeSuiteNative(t *testing.T) {
	dir := suiteDir(t)
	tests, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) < 1000 {
		t.Fatalf("only %d node tests under %s; the shared suite has 1802, the wheel-generated one 1884", len(tests), dir)
	}
	exp, err := LoadExpected("expected")
	if err != nil {
		t.Fatal(err)
	}
	rs := Run(context.Background(), tests, Options{})
	p, f, s := Count(rs)
	t.Logf("conformance: %d passed, %d failed, %d skipped", p, f, s)
	for _, problem := range exp.Check(rs) {
		t.Error(problem)
	}
}

package graphopt_test

import (
	"context"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/conformance"
	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
)

// optimizing optimizes each model before the native provider prepares it.
type optimizing struct{ runtime.Provider }

func (p optimizing) Prepare(m *ir.Model, o runtime.Options) (runtime.Program, error) {
	opt, _, err := graphopt.Optimize(m, graphopt.Options{})
	if err != nil {
		return nil, err
	}
	return p.Provider.Prepare(opt, o)
}

// TestNodeTestsUnchanged runs every ONNX backend node test with and without
// the optimizer, natively and (when its library is present) in ONNX
// Runtime, and requires the same outcome for each: the optimizer must
// not turn a passing test into a failing one (the "_expanded" tests hold the
// decomposed LayerNorm/GELU patterns that fusions rewrite).
func TestNodeTestsUnchanged(t *testing.T) {
	dir := conformance.NodeTestDir()
	if dir == "" {
		t.Skip("ONNX node tests not found; run make testdata or set GORT_ONNX_NODE")
	}
	tests, err := conformance.Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	providers := []runtime.Provider{runtime.Native()}
	if orttest.Err() == nil {
		// The optimized models must stay loadable by ONNX Runtime too.
		providers = append(providers, ort.New(ort.Options{}))
	}
	ctx := context.Background()
	for _, p := range providers {
		plain := conformance.Run(ctx, tests, conformance.Options{Provider: p})
		opt := conformance.Run(ctx, tests, conformance.Options{Provider: optimizing{p}})
		p1, f1, _ := conformance.Count(plain)
		p2, f2, _ := conformance.Count(opt)
		t.Logf("%s without optimizer: %d passed, %d failed; with: %d passed, %d failed", p.Name(), p1, f1, p2, f2)
		for i := range plain {
			if plain[i].Status != opt[i].Status {
				t.Errorf("%s %s: %s without the optimizer, %s with it: %s", p.Name(), plain[i].Name, plain[i].Status, opt[i].Status, opt[i].Err)
			}
		}
	}
	// Which node tests the optimizer rewrites at all, for the log.
	rewrites := map[string]int{}
	changed := 0
	for _, tc := range tests {
		m, err := onnx.Load(filepath.Join(tc.Dir, "model.onnx"))
		if err != nil {
			continue
		}
		_, rep, err := graphopt.Optimize(m, graphopt.Options{})
		if err != nil {
			continue
		}
		any := false
		for _, p := range rep.Passes {
			if p.Patches > 0 && p.Name != "infer-shapes" {
				rewrites[p.Name]++
				any = true
			}
			if p.Err != "" {
				t.Errorf("%s: pass %s reverted: %s", tc.Name, p.Name, p.Err)
			}
		}
		if any {
			changed++
		}
	}
	names := make([]string, 0, len(rewrites))
	for k := range rewrites {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		t.Logf("%-24s rewrote %d models", k, rewrites[k])
	}
	t.Logf("%d of %d models rewritten", changed, len(tests))
}

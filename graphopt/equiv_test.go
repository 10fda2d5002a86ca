package graphopt_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/gort-ml/gort/conformance"
	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// tolerance of the equivalence checks: |got - want| <= tolerance * (1 + |want|).
const tolerance = 1e-5

// runModel runs m on feeds with the given provider (nil: native).
func runModel(t *testing.T, m *ir.Model, p runtime.Provider, feeds map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	t.Helper()
	s, err := runtime.NewSession(m, runtime.Options{Provider: p, NoOptimize: true})
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	defer s.Close()
	out, err := s.Run(context.Background(), feeds)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return out
}

// maxDiff compares two float tensors and returns the largest scaled error.
func maxDiff(want, got *tensor.Tensor) (float64, error) {
	if want.DType() != got.DType() || !tensor.SameShape(want.Shape(), got.Shape()) {
		return 0, fmt.Errorf("got %v%v, want %v%v", got.DType(), got.Shape(), want.DType(), want.Shape())
	}
	w, g := asFloat64(want), asFloat64(got)
	worst := 0.0
	for i := range w {
		if math.IsNaN(w[i]) != math.IsNaN(g[i]) {
			return math.Inf(1), nil
		}
		if math.IsNaN(w[i]) || w[i] == g[i] {
			continue
		}
		worst = math.Max(worst, math.Abs(w[i]-g[i])/(1+math.Abs(w[i])))
	}
	return worst, nil
}

func asFloat64(t *tensor.Tensor) []float64 {
	f := tensor.Zeros(tensor.Float64, t.Shape()...)
	if err := tensor.Convert(f, t, false); err != nil {
		panic(err)
	}
	return tensor.Data[float64](f)
}

// checkEquivalent optimizes m and checks that the optimized model gives the
// unoptimized one's outputs on several random inputs; it returns the
// optimized model and the report.
func checkEquivalent(t *testing.T, m *ir.Model, opts graphopt.Options, dims map[string]int, prepare func(map[string]*tensor.Tensor)) (*ir.Model, graphopt.Report) {
	t.Helper()
	opt, rep, err := graphopt.Optimize(m, opts)
	if err != nil {
		t.Fatalf("optimize: %v", err)
	}
	for _, p := range rep.Passes {
		if p.Err != "" {
			t.Errorf("pass %s reverted: %s", p.Name, p.Err)
		}
	}
	names := map[string]bool{}
	for _, n := range opt.Graph.Nodes {
		if n.Name != "" && names[n.Name] {
			t.Errorf("node name %q used twice (ONNX Runtime rejects that)", n.Name)
		}
		names[n.Name] = true
	}
	for seed := uint64(1); seed <= 3; seed++ {
		feeds, err := conformance.RandomFeeds(m, seed, dims)
		if err != nil {
			t.Fatal(err)
		}
		if prepare != nil {
			prepare(feeds)
		}
		want := runModel(t, m, nil, feeds)
		got := runModel(t, opt, nil, feeds)
		for name, w := range want {
			d, err := maxDiff(w, got[name])
			if err != nil || d > tolerance {
				t.Errorf("seed %d output %q: error %g (%v)\nreport:\n%s", seed, name, d, err, rep)
			}
		}
	}
	return opt, rep
}

// count returns how many nodes of the given op type the graph has.
func count(m *ir.Model, opType string) int {
	c := 0
	for _, n := range m.Graph.Nodes {
		if n.OpType == opType {
			c++
		}
	}
	return c
}

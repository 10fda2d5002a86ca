package graphopt_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/conformance"
	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

// maskSomeKeys zeroes the last key of every batch row but the first, so the
// fused attention's mask handling is exercised (no row is fully masked).
func maskSomeKeys(feeds map[string]*tensor.Tensor) {
	m := feeds["attention_mask"]
	if m == nil || m.Rank() != 2 {
		return
	}
	d := tensor.Data[int64](m)
	s := m.Shape()[1]
	for b := 1; b < m.Shape()[0]; b++ {
		d[b*s+s-1] = 0
	}
}

func TestTinyBERTEquivalent(t *testing.T) {
	m, err := tiny.BERT(tiny.TinyBERT)
	if err != nil {
		t.Fatal(err)
	}
	dims := map[string]int{"batch": 2, "sequence": 7}
	reg := all.Registry()
	noAttention := func(domain, op string) bool { return op != "Attention" && reg.Has(domain, op) }
	for _, o := range []graphopt.Options{{Level: graphopt.Basic}, {Level: graphopt.Extended}, {Level: graphopt.Extended, Supported: noAttention}} {
		opt, rep := checkEquivalent(t, m, o, dims, maskSomeKeys)
		t.Logf("level %d: %s", o.Level, rep)
		if o.Level == graphopt.Extended {
			if n := count(opt, "SkipLayerNormalization"); n != 2*tiny.TinyBERT.NumLayers {
				t.Errorf("%d SkipLayerNormalization nodes, want %d", n, 2*tiny.TinyBERT.NumLayers)
			}
			if n := count(opt, "BiasGelu"); n != tiny.TinyBERT.NumLayers {
				t.Errorf("%d BiasGelu nodes, want %d", n, tiny.TinyBERT.NumLayers)
			}
			if n := count(opt, "EmbedLayerNormalization"); reg.Has("com.microsoft", "EmbedLayerNormalization") && n != 1 {
				t.Errorf("%d EmbedLayerNormalization nodes, want 1", n)
			}
			if reg.Has("com.microsoft", "Attention") || reg.Has("com.microsoft", "MultiHeadAttention") {
				if n := count(opt, "Attention") + count(opt, "MultiHeadAttention"); n != tiny.TinyBERT.NumLayers {
					t.Errorf("%d attention nodes, want %d", n, tiny.TinyBERT.NumLayers)
				}
			}
		}
	}
}

// TestTinyBERTAttentionORT fuses attention into com.microsoft Attention
// whether or not the native provider has it, and checks the result in ONNX
// Runtime against the unoptimized model run natively.
func TestTinyBERTAttentionORT(t *testing.T) {
	orttest.Need(t)
	m, err := tiny.BERT(tiny.TinyBERT)
	if err != nil {
		t.Fatal(err)
	}
	reg := all.Registry()
	for _, fused := range []string{"Attention", "MultiHeadAttention"} {
		t.Run(fused, func(t *testing.T) {
			supported := func(domain, op string) bool {
				if op == "Attention" || op == "MultiHeadAttention" {
					return op == fused
				}
				return reg.Has(domain, op)
			}
			opt, rep, err := graphopt.Optimize(m, graphopt.Options{Supported: supported})
			if err != nil {
				t.Fatal(err)
			}
			if count(opt, fused) != tiny.TinyBERT.NumLayers {
				t.Fatalf("no %s fused:\n%s", fused, rep)
			}
			for seed := uint64(1); seed <= 2; seed++ {
				compareORT(t, m, opt, seed)
			}
		})
	}
}

// TestTinyBERTORT runs the default-optimized tiny BERT in ONNX Runtime.
func TestTinyBERTORT(t *testing.T) {
	orttest.Need(t)
	m, err := tiny.BERT(tiny.TinyBERT)
	if err != nil {
		t.Fatal(err)
	}
	opt, _, err := graphopt.Optimize(m, graphopt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	compareORT(t, m, opt, 5)
}

// compareORT runs m natively and opt in ONNX Runtime on the same random
// inputs (some keys masked) and requires agreement within 1e-4 (ORT's
// kernels sum in other orders).
func compareORT(t *testing.T, m, opt *ir.Model, seed uint64) {
	t.Helper()
	feeds, err := conformance.RandomFeeds(m, seed, map[string]int{"batch": 2, "sequence": 7})
	if err != nil {
		t.Fatal(err)
	}
	maskSomeKeys(feeds)
	want := runModel(t, m, nil, feeds)
	got := runModel(t, opt, ort.New(ort.Options{}), feeds)
	for name, w := range want {
		if d, err := maxDiff(w, got[name]); err != nil || d > 1e-4 {
			t.Errorf("seed %d output %q: error %g (%v)", seed, name, d, err)
		}
	}
}

// TestTinyBERTSpeed logs the native run time before and after optimization
// (median over samples of 5 runs, wall clock and process CPU time, which a
// busy machine disturbs less); it asserts nothing about time.
func TestTinyBERTSpeed(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	m, err := tiny.BERT(tiny.TinyBERT)
	if err != nil {
		t.Fatal(err)
	}
	opt, rep, err := graphopt.Optimize(m, graphopt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, dims := range []map[string]int{{"batch": 1, "sequence": 16}, {"batch": 4, "sequence": 128}} {
		feeds, err := conformance.RandomFeeds(m, 1, dims)
		if err != nil {
			t.Fatal(err)
		}
		wall0, cpu0 := median(t, m, feeds)
		wall1, cpu1 := median(t, opt, feeds)
		t.Logf("tiny BERT batch %d seq %d: nodes %d -> %d, native median wall %v -> %v (%.2fx), cpu %v -> %v (%.2fx)",
			dims["batch"], dims["sequence"], rep.NodesBefore, rep.NodesAfter,
			wall0, wall1, float64(wall0)/float64(wall1), cpu0, cpu1, float64(cpu0)/float64(cpu1))
	}
}

// median returns the median wall and CPU time of one run of m (single
// intra-op thread), from 21 samples of 5 runs each.
func median(t *testing.T, m *ir.Model, feeds map[string]*tensor.Tensor) (wall, cpu time.Duration) {
	t.Helper()
	s, err := runtime.NewSession(m, runtime.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const runs = 5
	var ws, cs []time.Duration
	for i := 0; i < 21; i++ {
		w0, c0 := time.Now(), cpuTime()
		for j := 0; j < runs; j++ {
			if _, err := s.Run(context.Background(), feeds); err != nil {
				t.Fatal(err)
			}
		}
		ws = append(ws, time.Since(w0)/runs)
		cs = append(cs, (cpuTime()-c0)/runs)
	}
	mid := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	return mid(ws), mid(cs)
}

package generate

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
)

// gpt2Small is GPT-2 small's shape (124M parameters). GORT_BENCH_LAYERS
// overrides the layer count for a quicker run.
func gpt2Small(tb testing.TB) *zoo.Model {
	tb.Helper()
	layers := 12
	if v, err := strconv.Atoi(os.Getenv("GORT_BENCH_LAYERS")); err == nil && v > 0 {
		layers = v
	}
	cfg, err := zoo.ParseConfig([]byte(`{"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768,
		"n_layer": ` + strconv.Itoa(layers) + `, "n_head": 12, "activation_function": "gelu_new"}`))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := zoo.BuildGPT2WithPast(cfg, zoo.BuildOptions{Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// decodeRate generates 128 tokens greedily after a 128-token prompt and
// returns new tokens per second (prefill included) and decode-only.
func decodeRate(tb testing.TB, s *runtime.Session) (total, decode float64) {
	g, err := New(s, nil, Options{MaxNewTokens: 128})
	if err != nil {
		tb.Fatal(err)
	}
	prompt := make([]int, 128)
	for i := range prompt {
		prompt[i] = (i*7919 + 13) % 50257
	}
	if _, err := g.GenerateIDs(context.Background(), [][]int{prompt}); err != nil {
		tb.Fatal(err)
	}
	st := g.LastStats()
	return st.TokensPerSecond(), float64(st.NewTokens-1) / st.Decode.Seconds()
}

// BenchmarkDecodeGPT2Small measures tokens/s of GPT-2-small-shaped greedy
// decoding (prompt 128, 128 new tokens, KV cache) natively (graphopt's
// fusions applied) and through ONNX Runtime on the same graph, in one run,
// and reports their ratio (native/ort > 1: native is faster).
func BenchmarkDecodeGPT2Small(b *testing.B) {
	m := gpt2Small(b)
	opt, _, err := graphopt.Optimize(m.IR, graphopt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	open := func(g *ir.Model, p runtime.Provider) *runtime.Session {
		s, err := runtime.NewSession(g, runtime.Options{Provider: p})
		if err != nil {
			if errors.Is(err, runtime.ErrUnavailable) {
				b.Logf("ONNX Runtime unavailable: %v", err)
				return nil
			}
			b.Fatal(err)
		}
		return s
	}
	native := open(opt, nil)
	defer native.Close()
	ortS := open(m.IR, ort.New(ort.Options{}))
	if ortS != nil {
		defer ortS.Close()
	}
	// Warm both (thread pools, packed weights).
	decodeRate(b, native)
	if ortS != nil {
		decodeRate(b, ortS)
	}
	b.ResetTimer()
	var nt, nd, ot, od float64
	for range b.N {
		t, d := decodeRate(b, native)
		nt, nd = nt+t, nd+d
		if ortS != nil {
			t, d = decodeRate(b, ortS)
			ot, od = ot+t, od+d
		}
	}
	n := float64(b.N)
	b.ReportMetric(nt/n, "native-tok/s")
	b.ReportMetric(nd/n, "native-decode-tok/s")
	if ortS != nil {
		b.ReportMetric(ot/n, "ort-tok/s")
		b.ReportMetric(od/n, "ort-decode-tok/s")
		b.ReportMetric(nt/ot, "native/ort")
	}
}

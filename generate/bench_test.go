package generate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/onnx"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
)

// gpt2Small is GPT-2 small's shape (124M parameters), with the graph of
// zoo.BuildGPT2WithPast (Concat of past and new keys) or, shared, of
// zoo.BuildGPT2SharedCache. GORT_BENCH_LAYERS overrides the layer count
// for a quicker run.
func gpt2Small(tb testing.TB, shared bool) *zoo.Model {
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
	build := zoo.BuildGPT2WithPast
	if shared {
		build = zoo.BuildGPT2SharedCache
	}
	m, err := build(cfg, zoo.BuildOptions{Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// median of xs (sorted in place).
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	return (xs[(n-1)/2] + xs[n/2]) / 2
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
// decoding (prompt 128, 128 new tokens, KV cache) natively on the
// shared-cache graph (graphopt's fusions applied; the cache preallocated,
// donated and written in place), natively on the graph with past through
// ShareCache (the route of an optimum export: sharecache/ort) and through
// ONNX Runtime on the graph with
// past (Concat of past and new keys, as optimum exports) and on the
// shared-cache graph, alternating in one run. native/ort is the median
// over iterations of the ratio of decode rates against ONNX Runtime's
// faster graph in that iteration (> 1: native is faster; the median keeps
// a load spike on a shared machine from deciding it); native-allocs/token
// and native-B/token are the heap allocations and bytes per decoded token.
// GORT_BENCH_THREADS sets both providers' intra-op threads (default: all
// cores).
func BenchmarkDecodeGPT2Small(b *testing.B) {
	concat, shared := gpt2Small(b, false), gpt2Small(b, true)
	opt, _, err := graphopt.Optimize(shared.IR, graphopt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	threads, _ := strconv.Atoi(os.Getenv("GORT_BENCH_THREADS"))
	open := func(g *ir.Model, p runtime.Provider) *runtime.Session {
		s, err := runtime.NewSession(g, runtime.Options{Provider: p, IntraOpThreads: threads})
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
	// The route of an optimum export: the graph with past through ShareCache.
	rewritten, err := ShareCache(concat.IR)
	if err != nil {
		b.Fatal(err)
	}
	viaShare := open(rewritten, nil)
	defer viaShare.Close()
	ortConcat := open(concat.IR, ort.New(ort.Options{}))
	var ortShared *runtime.Session
	if ortConcat != nil {
		defer ortConcat.Close()
		ortShared = open(shared.IR, ort.New(ort.Options{}))
		defer ortShared.Close()
	}
	sessions := []*runtime.Session{native, ortConcat, ortShared, viaShare}
	// Warm all (thread pools, packed weights).
	for _, s := range sessions {
		if s != nil {
			decodeRate(b, s)
		}
	}
	b.ResetTimer()
	var tot, dec [4]float64
	var ratios, shareRatios []float64
	for range b.N {
		var it [4]float64
		for i, s := range sessions {
			if s != nil {
				t, d := decodeRate(b, s)
				tot[i], dec[i], it[i] = tot[i]+t, dec[i]+d, d
			}
		}
		if ortConcat != nil {
			ratios = append(ratios, it[0]/max(it[1], it[2]))
			shareRatios = append(shareRatios, it[3]/max(it[1], it[2]))
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(tot[0]/n, "native-tok/s")
	b.ReportMetric(dec[0]/n, "native-decode-tok/s")
	b.ReportMetric(dec[3]/n, "native-sharecache-decode-tok/s")
	if ortConcat != nil {
		b.ReportMetric(tot[1]/n, "ort-tok/s")
		b.ReportMetric(dec[1]/n, "ort-decode-tok/s")
		b.ReportMetric(dec[2]/n, "ort-shared-decode-tok/s")
		b.ReportMetric(median(ratios), "native/ort")
		b.ReportMetric(median(shareRatios), "sharecache/ort")
	}
	allocs, bytes := allocsPerToken(b, native)
	b.ReportMetric(allocs, "native-allocs/token")
	b.ReportMetric(bytes, "native-B/token")
}

// BenchmarkDecodeExport is BenchmarkDecodeGPT2Small on an optimum export
// (GORT_GENERATE_EXPORT: a folder with model.onnx, as
// bench/export_gpt2_small.py writes; make bench makes one): natively
// through Load (ShareCache: the cache preallocated and written in place)
// and the same file through ONNX Runtime, alternating in one run.
// native/ort is the median of per-iteration ratios of decode rates.
func BenchmarkDecodeExport(b *testing.B) {
	dir := os.Getenv("GORT_GENERATE_EXPORT")
	if dir == "" {
		b.Skip("GORT_GENERATE_EXPORT is unset; write an export with bench/export_gpt2_small.py (make bench does)")
	}
	threads, _ := strconv.Atoi(os.Getenv("GORT_BENCH_THREADS"))
	l, err := Load(dir, runtime.Options{IntraOpThreads: threads})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if l.NotShared != "" {
		b.Fatalf("the export's cache is not shared: %s", l.NotShared)
	}
	m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		b.Fatal(err)
	}
	o, err := runtime.NewSession(m, runtime.Options{Provider: ort.New(ort.Options{}), IntraOpThreads: threads})
	if errors.Is(err, runtime.ErrUnavailable) {
		b.Skipf("ONNX Runtime unavailable: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	decodeRate(b, l.Session)
	decodeRate(b, o)
	b.ResetTimer()
	var nat, rt float64
	var ratios []float64
	for range b.N {
		_, n := decodeRate(b, l.Session)
		_, r := decodeRate(b, o)
		nat, rt = nat+n, rt+r
		ratios = append(ratios, n/r)
	}
	b.StopTimer()
	b.ReportMetric(nat/float64(b.N), "native-decode-tok/s")
	b.ReportMetric(rt/float64(b.N), "ort-decode-tok/s")
	b.ReportMetric(median(ratios), "native/ort")
	allocs, bytes := allocsPerToken(b, l.Session)
	b.ReportMetric(allocs, "native-allocs/token")
	b.ReportMetric(bytes, "native-B/token")
}

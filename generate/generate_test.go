package generate

import (
	"context"
	"errors"
	"fmt"
	"math"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tokenizer"
)

func logits(p ...float64) []float32 {
	out := make([]float32, len(p))
	for i, v := range p {
		out[i] = float32(math.Log(v))
	}
	return out
}

// frequencies draws n tokens and returns how often each came.
func frequencies(o Options, l []float32, n int) []float64 {
	s := newSampler(&o, len(l))
	f := make([]float64, len(l))
	for range n {
		f[s.pick(l, nil, nil)]++
	}
	for i := range f {
		f[i] /= float64(n)
	}
	return f
}

func TestSampler(t *testing.T) {
	near := func(t *testing.T, got, want []float64) {
		t.Helper()
		for i := range want {
			if math.Abs(got[i]-want[i]) > 0.015 {
				t.Fatalf("frequencies %.3f, want %.3f", got, want)
			}
		}
	}
	const n = 40000
	t.Run("greedy", func(t *testing.T) {
		s := newSampler(&Options{}, 3)
		if got := s.pick([]float32{0.1, 3, 2}, nil, nil); got != 1 {
			t.Errorf("greedy picked %d, want 1", got)
		}
	})
	t.Run("repetition penalty", func(t *testing.T) {
		// 2/2 = 1 < 1.9 and −1·2 = −2: token 1 wins; unpenalized, token 0.
		s := newSampler(&Options{RepetitionPenalty: 2}, 3)
		if got := s.pick([]float32{2, 1.9, -1}, []int64{0, 2, 0}, []int64{1, 1, 1}); got != 1 {
			t.Errorf("picked %d, want 1", got)
		}
		// A padded position does not count.
		if got := s.pick([]float32{2, 1.9, -1}, []int64{0}, []int64{0}); got != 0 {
			t.Errorf("picked %d, want 0 (token 0 only in padding)", got)
		}
		// Negative scores are multiplied: −1·2 < −1.5.
		if got := s.pick([]float32{-1, -1.5, -3}, []int64{0}, []int64{1}); got != 1 {
			t.Errorf("picked %d, want 1", got)
		}
	})
	t.Run("temperature", func(t *testing.T) {
		near(t, frequencies(Options{Temperature: 1}, logits(0.25, 0.75), n), []float64{0.25, 0.75})
		// T = 2: p ∝ √p, so 0.5/(0.5+√0.75) = 0.366.
		near(t, frequencies(Options{Temperature: 2}, logits(0.25, 0.75), n), []float64{0.366, 0.634})
	})
	t.Run("top-k", func(t *testing.T) {
		near(t, frequencies(Options{Temperature: 1, TopK: 2}, logits(0.1, 0.5, 0.4), n), []float64{0, 5.0 / 9, 4.0 / 9})
		near(t, frequencies(Options{Temperature: 1, TopK: 1}, logits(0.1, 0.5, 0.4), 100), []float64{0, 1, 0})
	})
	t.Run("top-p", func(t *testing.T) {
		// 0.5 < 0.6 ≤ 0.5 + 0.3: keep the first two, renormalized.
		near(t, frequencies(Options{Temperature: 1, TopP: 0.6}, logits(0.5, 0.3, 0.2), n), []float64{0.625, 0.375, 0})
		near(t, frequencies(Options{Temperature: 1, TopP: 0.4}, logits(0.5, 0.3, 0.2), 100), []float64{1, 0, 0})
	})
	t.Run("seeded", func(t *testing.T) {
		draw := func(seed uint64) []int {
			s := newSampler(&Options{Temperature: 1, Seed: seed}, 4)
			var out []int
			for range 50 {
				out = append(out, s.pick(logits(0.25, 0.25, 0.25, 0.25), nil, nil))
			}
			return out
		}
		if !slices.Equal(draw(7), draw(7)) || slices.Equal(draw(7), draw(8)) {
			t.Error("draws do not follow the seed")
		}
	})
}

// tiny returns a random tiny GPT-2 with past (vocabulary of the tokenizer)
// and its full-sequence graph, plus a byte-level BPE trained here.
func tiny(t *testing.T) (withPast, full *runtime.Session, tok *tokenizer.Tokenizer) {
	t.Helper()
	return tinyModels(t, withPastGraph)
}

// graphKind selects tinyModels' decoder with cache (same parameters).
type graphKind int

const (
	withPastGraph  graphKind = iota // zoo.BuildGPT2WithPast
	sharedGraph                     // zoo.BuildGPT2SharedCache
	rewrittenGraph                  // ShareCache(zoo.BuildGPT2WithPast)
	mergedGraph                     // the graph with past as an optimum-style merged decoder
	mergedShared                    // ShareCache of mergedGraph
)

func (k graphKind) String() string {
	return [...]string{"with past", "zoo shared", "ShareCache", "merged", "merged ShareCache"}[k]
}

// layout is the Layout New finds for the kind.
func (k graphKind) layout() Layout {
	return [...]Layout{WithPast, Shared, Shared, Merged, Shared}[k]
}

// tinyModels is tiny with the decoder with cache of kind.
func tinyModels(t *testing.T, kind graphKind) (withPast, full *runtime.Session, tok *tokenizer.Tokenizer) {
	t.Helper()
	corpus := func(yield func(string) bool) {
		words := strings.Fields("the quick brown fox jumps over the lazy dog while gort runs onnx graphs in go")
		for i := range 400 {
			var b strings.Builder
			for j := range 6 {
				b.WriteString(words[(i*7+j*3)%len(words)] + " ")
			}
			if !yield(b.String()) {
				return
			}
		}
	}
	tok, err := tokenizer.TrainByteLevelBPE(corpus, tokenizer.BPEOptions{VocabSize: 300, SpecialTokens: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := zoo.ParseConfig([]byte(`{"model_type": "gpt2", "vocab_size": 300, "n_embd": 32, "n_layer": 2, "n_head": 4,
		"n_positions": 96, "activation_function": "gelu_new", "initializer_range": 0.5}`))
	if err != nil {
		t.Fatal(err)
	}
	open := func(past bool) *runtime.Session {
		var m *zoo.Model
		switch {
		case !past:
			m, err = zoo.Build(cfg, "GPT2LMHeadModel", zoo.BuildOptions{Seed: 5})
		case kind == sharedGraph:
			m, err = zoo.BuildGPT2SharedCache(cfg, zoo.BuildOptions{Seed: 5})
		default:
			m, err = zoo.BuildGPT2WithPast(cfg, zoo.BuildOptions{Seed: 5})
		}
		if err != nil {
			t.Fatal(err)
		}
		g := m.IR
		if past && (kind == mergedGraph || kind == mergedShared) {
			g = merged(g)
		}
		if past && (kind == rewrittenGraph || kind == mergedShared) {
			if g, err = ShareCache(g); err != nil {
				t.Fatal(err)
			}
		}
		s, err := runtime.NewSession(g, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(true), open(false), tok
}

// With and without cache, on the graph with past and on the full graph,
// greedy ids agree; a left-padded batch gives each prompt's own ids.
func TestCacheMatchesFullSequence(t *testing.T) {
	for _, kind := range []graphKind{withPastGraph, sharedGraph, rewrittenGraph, mergedGraph, mergedShared} {
		t.Run(kind.String(), func(t *testing.T) { cacheMatchesFullSequence(t, kind) })
	}
}

func cacheMatchesFullSequence(t *testing.T, kind graphKind) {
	past, full, tok := tinyModels(t, kind)
	ctx := context.Background()
	prompts := [][]int{tok.Encode("the quick brown").IDs, tok.Encode("gort runs onnx graphs in").IDs, tok.Encode("a").IDs}
	var want [][]int
	for _, p := range prompts {
		g, err := New(full, nil, Options{MaxNewTokens: 40})
		if err != nil {
			t.Fatal(err)
		}
		ids, err := g.GenerateIDs(ctx, [][]int{p})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, ids[0])
	}
	for _, noCache := range []bool{false, true} {
		g, err := New(past, nil, Options{MaxNewTokens: 40, NoCache: noCache})
		if err != nil {
			t.Fatal(err)
		}
		if want := kind.layout(); g.Layout() != want {
			t.Fatalf("layout %v, want %v", g.Layout(), want)
		}
		for i, p := range prompts {
			got, err := g.GenerateIDs(ctx, [][]int{p})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got[0], want[i]) {
				t.Errorf("no cache %v, prompt %d: %v, full graph %v", noCache, i, got[0], want[i])
			}
		}
		got, err := g.GenerateIDs(ctx, prompts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range prompts {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("no cache %v, batch row %d: %v, alone %v", noCache, i, got[i], want[i])
			}
		}
	}
}

func TestStreamAndStop(t *testing.T) {
	past, _, tok := tiny(t)
	ctx := context.Background()
	g, err := New(past, tok, Options{MaxNewTokens: 30})
	if err != nil {
		t.Fatal(err)
	}
	res, err := g.Generate(ctx, "the lazy dog")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	pieces := 0
	for piece, err := range g.Stream(ctx, "the lazy dog") {
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(piece)
		pieces++
	}
	if b.String() != res[0].Text || pieces < 2 {
		t.Fatalf("stream gave %q in %d pieces, Generate %q", b.String(), pieces, res[0].Text)
	}
	if len(res[0].Text) < 6 {
		t.Skipf("text %q too short to pick a stop string", res[0].Text)
	}
	stop := res[0].Text[3:6]
	cut := res[0].Text[:strings.Index(res[0].Text, stop)]
	gs, err := New(past, tok, Options{MaxNewTokens: 30, StopStrings: []string{stop}})
	if err != nil {
		t.Fatal(err)
	}
	res2, err := gs.Generate(ctx, "the lazy dog")
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	for piece, err := range gs.Stream(ctx, "the lazy dog") {
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(piece)
	}
	if res2[0].Text != cut || b.String() != cut {
		t.Errorf("stop %q: Generate %q, Stream %q, want %q", stop, res2[0].Text, b.String(), cut)
	}
	if len(res2[0].IDs) >= len(res[0].IDs) {
		t.Errorf("generation went on after the stop string (%d ids)", len(res2[0].IDs))
	}
}

func TestCancel(t *testing.T) {
	past, _, tok := tiny(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := New(past, tok, Options{MaxNewTokens: 50})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var last error
	for _, err := range g.Stream(ctx, "the quick") {
		n++
		cancel()
		last = err
	}
	if !errors.Is(last, context.Canceled) || n > 3 {
		t.Errorf("after cancel: %d pieces, last error %v", n, last)
	}
}

func TestOptionsChecked(t *testing.T) {
	past, _, _ := tiny(t)
	for _, o := range []Options{{TopP: 1.5}, {Temperature: -1}, {TopK: -2}, {MaxNewTokens: -1}} {
		if _, err := New(past, nil, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	g, _ := New(past, nil, Options{})
	if _, err := g.GenerateIDs(context.Background(), [][]int{{}}); err == nil {
		t.Error("an empty prompt ran")
	}
}

// allocsPerToken is the heap allocations and bytes per generated token of
// greedy decoding with s (the difference of a 65- and a 33-token run; the
// shared cache, allocated once per generation for its longest sequence,
// adds its 32 positions). The collector stays off from the warm-up run
// on, and one processor runs: a collection empties the kernels' pools
// (sync.Pool), and a pool's entries stay with the processor that put them
// (a goroutine the scheduler moves finds none), so that either would make
// the next run refill them (ops/linalg's packing scratch, a megabyte).
func allocsPerToken(t testing.TB, s *runtime.Session) (allocs, bytes float64) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(1))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	goruntime.GC() // finish a cycle that may have started before
	measure := func(n int) (uint64, uint64) {
		g, _ := New(s, nil, Options{MaxNewTokens: n})
		var a, b goruntime.MemStats
		goruntime.ReadMemStats(&a)
		if _, err := g.GenerateIDs(context.Background(), [][]int{{1, 2, 3, 4}}); err != nil {
			t.Fatal(err)
		}
		goruntime.ReadMemStats(&b)
		return b.Mallocs - a.Mallocs, b.TotalAlloc - a.TotalAlloc
	}
	measure(65) // warm the session's buffer pools
	m1, b1 := measure(33)
	m2, b2 := measure(65)
	return (float64(m2) - float64(m1)) / 32, (float64(b2) - float64(b1)) / 32
}

// Generators over one shared-cache session decode concurrently (each run
// donates its own cache buffers) and give the ids of sequential runs; run
// with -race.
func TestSharedCacheConcurrent(t *testing.T) {
	shared, _, tok := tinyModels(t, sharedGraph)
	g, err := New(shared, nil, Options{MaxNewTokens: 24})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	prompts := [][]int{tok.Encode("the quick brown").IDs, tok.Encode("gort runs").IDs, tok.Encode("over the lazy dog").IDs}
	want := make([][]int, len(prompts))
	for i, p := range prompts {
		ids, err := g.GenerateIDs(ctx, [][]int{p})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = ids[0]
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(prompts))
	for range 4 {
		for i, p := range prompts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids, err := g.GenerateIDs(ctx, [][]int{p})
				if err == nil && !slices.Equal(ids[0], want[i]) {
					err = fmt.Errorf("prompt %d: %v concurrently, %v alone", i, ids[0], want[i])
				}
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

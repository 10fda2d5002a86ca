package runtime_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// TestCancelBERTBase cancels a bert-base run (sequence 128, batch 1) 50 ms
// after it starts: the median time from cancel to Run's return over five
// tries must stay within 100 ms, so no single kernel runs long without
// checking the context.
func TestCancelBERTBase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds bert-base (110M parameters)")
	}
	m, err := tiny.BERT(tiny.BERTConfig{VocabSize: 30522, HiddenSize: 768, NumLayers: 12, NumHeads: 12,
		IntermediateSize: 3072, MaxPositions: 512, TypeVocabSize: 2, LayerNormEps: 1e-12, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const seq = 128
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]int64, seq)
	for i := range ids {
		ids[i] = rng.Int64N(30522)
	}
	ones := make([]int64, seq)
	for i := range ones {
		ones[i] = 1
	}
	feeds := map[string]*tensor.Tensor{
		"input_ids":      tensor.Must([]int{1, seq}, ids),
		"attention_mask": tensor.Must([]int{1, seq}, ones),
		"token_type_ids": tensor.Zeros(tensor.Int64, 1, seq),
	}
	start := time.Now()
	if _, err := s.Run(context.Background(), feeds); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)

	const tries = 5
	var lat []time.Duration
	for range tries {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := s.Run(ctx, feeds)
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		t0 := time.Now()
		cancel()
		err := <-done
		d := time.Since(t0)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled run: %v, want an error wrapping context.Canceled", err)
		}
		if err == nil {
			t.Logf("the run finished before the cancel (full run %v)", full)
		}
		lat = append(lat, d)
	}
	slices.Sort(lat)
	med := lat[tries/2]
	t.Logf("bert-base seq %d: full run %v; cancel-to-return %v (median %v)", seq, full.Round(time.Millisecond), lat, med)
	if med > 100*time.Millisecond {
		t.Errorf("median cancel-to-return %v exceeds 100 ms", med)
	}
}

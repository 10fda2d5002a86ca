package graphopt_test

import (
	"context"
	"testing"

	"github.com/gort-ml/gort/conformance"
	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/runtime"
)

func benchmarkTinyBERT(b *testing.B, optimize bool, batch, seq int) {
	m, err := tiny.BERT(tiny.TinyBERT)
	if err != nil {
		b.Fatal(err)
	}
	if optimize {
		if m, _, err = graphopt.Optimize(m, graphopt.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	feeds, err := conformance.RandomFeeds(m, 1, map[string]int{"batch": batch, "sequence": seq})
	if err != nil {
		b.Fatal(err)
	}
	s, err := runtime.NewSession(m, runtime.Options{IntraOpThreads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Run(ctx, feeds); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTinyBERTPlainB1S16(b *testing.B)      { benchmarkTinyBERT(b, false, 1, 16) }
func BenchmarkTinyBERTOptimizedB1S16(b *testing.B)  { benchmarkTinyBERT(b, true, 1, 16) }
func BenchmarkTinyBERTPlainB4S128(b *testing.B)     { benchmarkTinyBERT(b, false, 4, 128) }
func BenchmarkTinyBERTOptimizedB4S128(b *testing.B) { benchmarkTinyBERT(b, true, 4, 128) }

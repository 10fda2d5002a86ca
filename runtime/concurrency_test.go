package runtime_test

import (
	"context"
	"sync"
	"testing"

	"github.com/gort-ml/gort/conformance"
	"github.com/gort-ml/gort/models/tiny"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/tensor"
)

// TestConcurrentRunsMatchSequential runs one shared session from 16
// goroutines (run it with -race) and requires every result to equal the
// sequential result for the same inputs, bit for bit.
func TestConcurrentRunsMatchSequential(t *testing.T) {
	m, err := tiny.BERT(tiny.TinyBERT)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const workers = 16
	feeds := make([]map[string]*tensor.Tensor, workers)
	want := make([]map[string]*tensor.Tensor, workers)
	for i := range feeds {
		feeds[i], err = conformance.RandomFeeds(m, uint64(i+1), map[string]int{"batch": 1 + i%3, "sequence": 4 + i})
		if err != nil {
			t.Fatal(err)
		}
		if want[i], err = s.Run(context.Background(), feeds[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for rep := 0; rep < 3; rep++ {
				got, err := s.Run(context.Background(), feeds[i])
				if err != nil {
					t.Error(err)
					return
				}
				for name, w := range want[i] {
					if !tensor.Equal(w, got[name]) {
						t.Errorf("goroutine %d: output %s differs from the sequential run", i, name)
						return
					}
				}
			}
		}(i)
	}
	wg.Wait()
}

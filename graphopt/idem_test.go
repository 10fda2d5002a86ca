package graphopt_test

import (
	"testing"

	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/models/tiny"
)

// TestIdempotent optimizes tiny BERT twice: the second run must change
// nothing and still agree with the original.
func TestIdempotent(t *testing.T) {
	m, err := tiny.BERT(tiny.TinyBERT)
	if err != nil {
		t.Fatal(err)
	}
	once, rep1, err := graphopt.Optimize(m, graphopt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	twice, rep2 := checkEquivalent(t, once, graphopt.Options{}, map[string]int{"batch": 2, "sequence": 5}, maskSomeKeys)
	if rep2.NodesAfter != rep1.NodesAfter || len(twice.Graph.Initializers) != len(once.Graph.Initializers) {
		t.Errorf("second run: %s", rep2)
	}
}

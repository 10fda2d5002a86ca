package kernelutil

import (
	"slices"
	"strings"
	"testing"
)

// PlanMatMul follows numpy's matmul: 1-D promotion and its dropped
// dimension, broadcast batches, and errors for scalars, inner dimensions
// that differ and batches that do not broadcast.
func TestPlanMatMul(t *testing.T) {
	for _, tc := range []struct {
		a, b, out []int
		batch     []int
		err       string
	}{
		{a: []int{2, 3}, b: []int{3, 4}, out: []int{2, 4}, batch: []int{}},
		{a: []int{3}, b: []int{3, 4}, out: []int{4}, batch: []int{}},
		{a: []int{2, 3}, b: []int{3}, out: []int{2}, batch: []int{}},
		{a: []int{3}, b: []int{3}, out: []int{}, batch: []int{}},
		{a: []int{5, 1, 2, 3}, b: []int{4, 3, 6}, out: []int{5, 4, 2, 6}, batch: []int{5, 4}},
		{a: []int{}, b: []int{3}, err: "rank >= 1"},
		{a: []int{2, 3}, b: []int{4, 5}, err: "inner dimensions differ"},
		{a: []int{2, 2, 3}, b: []int{3, 3, 4}, err: "batch dimensions"},
	} {
		a, b := slices.Clone(tc.a), slices.Clone(tc.b)
		p, err := PlanMatMul(a, b)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v @ %v: error %v, want one saying %q", tc.a, tc.b, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v @ %v: %v", tc.a, tc.b, err)
		}
		if !slices.Equal(p.Out, tc.out) || !slices.Equal(p.Batch, tc.batch) {
			t.Errorf("%v @ %v: out %v batch %v, want %v %v", tc.a, tc.b, p.Out, p.Batch, tc.out, tc.batch)
		}
		// The plan keeps no slice of the shapes: it may outlive them.
		if len(a) > 2 {
			a[0] = -1
			if p.ABatch[0] == -1 {
				t.Errorf("%v @ %v: ABatch aliases A's shape", tc.a, tc.b)
			}
		}
	}
}

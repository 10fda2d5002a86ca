package norm

import (
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// reuseAlloc hands out one tensor for every request of its size, as the
// runtime's arena hands out dead values' buffers: allocations left in a
// run are the kernel's own.
type reuseAlloc struct{ t *tensor.Tensor }

func (a reuseAlloc) New(d tensor.DType, n int, shape ops.Dims, zero bool) (*tensor.Tensor, error) {
	if d != a.t.DType() || n != a.t.Len() {
		return tensor.New(d, shape.D[:shape.Rank]...)
	}
	return a.t, nil
}

// A one-thread run of a float32 LayerNormalization or RMSNormalization
// with Y only (the runtime's common case) allocates nothing once its
// output buffer comes from the allocator: no closure, no result slice.
func TestLayerNormAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := tensor.Must([]int{4, 300, 64}, randData(r, 4*300*64))
	scale, bias := tensor.Must([]int{64}, randData(r, 64)), tensor.Must([]int{64}, randData(r, 64))
	reg, err := ops.NewRegistry(Ops())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		op    string
		opset int
		in    []*tensor.Tensor
	}{
		{"LayerNormalization", 17, []*tensor.Tensor{x, scale, bias}},
		{"RMSNormalization", 23, []*tensor.Tensor{x, scale}},
	} {
		schema, err := reg.Lookup("", tc.op, tc.opset)
		if err != nil {
			t.Fatal(err)
		}
		k, err := schema.Compile(&ops.Node{OpType: tc.op, Opset: tc.opset, Outputs: []string{"y"}})
		if err != nil {
			t.Fatal(err)
		}
		c := &ops.Ctx{Threads: 1, Alloc: reuseAlloc{tensor.Zeros(tensor.Float32, x.Shape()...)}}
		run := func() {
			if _, err := k.Run(c, tc.in); err != nil {
				t.Fatal(err)
			}
		}
		if allocs := testing.AllocsPerRun(20, run); allocs != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tc.op, allocs)
		}
		// Rows split over goroutines give the same values.
		one := tensor.Data[float32](c.Alloc.(reuseAlloc).t)
		out, err := k.Run(&ops.Ctx{Threads: 3}, tc.in)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range tensor.Data[float32](out[0]) {
			if v != one[i] {
				t.Fatalf("%s: 3 threads give %v at %d, 1 thread %v", tc.op, v, i, one[i])
			}
		}
	}
}

// The node's output count decides how many of Y, Mean and InvStdDev a
// LayerNormalization returns.
func TestLayerNormOutputCount(t *testing.T) {
	x := tensor.Must([]int{2, 3}, []float32{1, 2, 3, 4, 6, 8})
	for n := 1; n <= 3; n++ {
		out, err := run(t, "LayerNormalization", 17, nil, n, x, tensor.Must([]int{3}, []float32{1, 1, 1}))
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != n {
			t.Fatalf("%d outputs: got %d", n, len(out))
		}
		if n >= 2 {
			if m := tensor.Data[float32](out[1]); m[0] != 2 || m[1] != 6 {
				t.Errorf("%d outputs: mean %v, want [2 6]", n, m)
			}
		}
	}
}

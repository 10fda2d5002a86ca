package contrib

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// TestPrecomputedWeights: FusedMatMul and Attention with a constant
// float32 weight matrix list it in Kernel.Precomputed and give, bit for
// bit, the same result with it passed as nil (as the runtime does) and
// passed itself; a float64 input with the weights left out fails with an
// error.
func TestPrecomputedWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	randT := func(shape ...int) *tensor.Tensor { return randomFloat(r, shape) }
	w := randT(16, 48)
	for _, c := range []struct {
		name    string
		compile func(*ops.Node) (*ops.Kernel, error)
		attrs   []ops.Attr
		in      []*tensor.Tensor
	}{
		{"FusedMatMul", compileFusedMatMul, []ops.Attr{{Name: "alpha", Type: ops.AttrFloat, F: 0.5}}, []*tensor.Tensor{randT(2, 3, 16), w}},
		{"Attention", compileAttention, []ops.Attr{{Name: "num_heads", Type: ops.AttrInt, I: 4}}, []*tensor.Tensor{randT(2, 3, 16), w, randT(48)}},
	} {
		consts := make([]*tensor.Tensor, len(c.in))
		consts[1] = w
		k, err := c.compile(&ops.Node{Name: c.name, Opset: 1, Attrs: c.attrs, Inputs: make([]string, len(c.in)), Outputs: []string{"y"}, Constants: consts})
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Precomputed) != 1 || k.Precomputed[0] != 1 {
			t.Fatalf("%s: Precomputed %v, want [1]", c.name, k.Precomputed)
		}
		run := func(in []*tensor.Tensor) ([]float32, error) {
			out, err := k.Run(&ops.Ctx{Context: context.Background(), Threads: 2}, in)
			if err != nil {
				return nil, err
			}
			return append([]float32(nil), tensor.Data[float32](out[0])...), nil
		}
		want, err := run(c.in)
		if err != nil {
			t.Fatal(err)
		}
		in := append([]*tensor.Tensor{}, c.in...)
		in[1] = nil
		got, err := run(in)
		if err != nil {
			t.Fatalf("%s with the weights passed as nil: %v", c.name, err)
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: y[%d] = %v with nil weights, %v with the weights", c.name, i, got[i], want[i])
			}
		}
		in[0] = tensor.Zeros(tensor.Float64, 2, 3, 16)
		if _, err := run(in); err == nil {
			t.Errorf("%s: a float64 input with the float32 weights left out ran", c.name)
		}
	}
}

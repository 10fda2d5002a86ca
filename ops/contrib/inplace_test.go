package contrib_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/tensor"
)

// Gelu, BiasGelu and FastGelu granted x's memory (ops.Ctx.Reusable) write
// y there, bit-identical to the allocating run; the bias is left alone.
func TestInPlaceActivations(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for _, op := range []string{"Gelu", "BiasGelu", "FastGelu"} {
			o, err := all.Registry().Lookup("com.microsoft", op, 1)
			if err != nil {
				t.Fatal(err)
			}
			k, err := o.Compile(&ops.Node{OpType: op, Domain: "com.microsoft", Opset: 1})
			if err != nil {
				t.Fatal(err)
			}
			x, bias := tensor.Zeros(dt, 3, 40), tensor.Zeros(dt, 40)
			for i := range x.Len() {
				_ = tensor.SetFrom(x, i, tensor.Scalar(r.Float64()*6-3), 0)
			}
			for i := range bias.Len() {
				_ = tensor.SetFrom(bias, i, tensor.Scalar(r.Float64()-0.5), 0)
			}
			in := []*tensor.Tensor{x, bias}
			if op == "Gelu" {
				in = in[:1]
			}
			want, err := k.Run(&ops.Ctx{}, in)
			if err != nil {
				t.Fatal(err)
			}
			x2 := x.Clone()
			in[0] = x2
			got, err := k.Run(&ops.Ctx{Reuse: []ops.Reuse{{T: x2, Whole: true}}}, in)
			if err != nil {
				t.Fatal(err)
			}
			if got[0] != x2 {
				t.Errorf("%s %v: y is not written over the granted x", op, dt)
			}
			if g, w := fmt.Sprint(got[0].Raw()), fmt.Sprint(want[0].Raw()); g != w {
				t.Fatalf("%s %v: in place %s, allocating %s", op, dt, g, w)
			}
		}
	}
}

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

// DecoderMaskedMultiHeadAttention with past_present_share_buffer, granted
// the past buffers for extension, writes the step's row into them and
// returns them as present, with outputs bit-identical to the copying run
// and the past rows untouched.
func TestInPlaceDecoderMaskedMHA(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	const b, n, h, maxLen, past = 2, 2, 4, 7, 3
	f32 := func(shape ...int) *tensor.Tensor {
		d := make([]float32, 1)
		for _, s := range shape {
			d = make([]float32, len(d)*s)
		}
		for i := range d {
			d[i] = r.Float32()*2 - 1
		}
		return tensor.Must(shape, d)
	}
	o, err := all.Registry().Lookup("com.microsoft", "DecoderMaskedMultiHeadAttention", 1)
	if err != nil {
		t.Fatal(err)
	}
	k, err := o.Compile(&ops.Node{OpType: "DecoderMaskedMultiHeadAttention", Domain: "com.microsoft", Opset: 1,
		Attrs:   []ops.Attr{{Name: "num_heads", Type: ops.AttrInt, I: n}, {Name: "past_present_share_buffer", Type: ops.AttrInt, I: 1}},
		Outputs: []string{"y", "present_key", "present_value"}})
	if err != nil {
		t.Fatal(err)
	}
	q, kk, v := f32(b, 1, n*h), f32(b, 1, n*h), f32(b, 1, n*h)
	pk, pv := f32(b, n, maxLen, h), f32(b, n, maxLen, h)
	pl := tensor.Must([]int{}, []int32{past})
	want, err := k.Run(&ops.Ctx{}, []*tensor.Tensor{q, kk, v, nil, nil, pk, pv, pl})
	if err != nil {
		t.Fatal(err)
	}
	pk2, pv2 := pk.Clone(), pv.Clone()
	got, err := k.Run(&ops.Ctx{Reuse: []ops.Reuse{{T: pk2}, {T: pv2}}}, []*tensor.Tensor{q, kk, v, nil, nil, pk2, pv2, pl})
	if err != nil {
		t.Fatal(err)
	}
	if got[1] != pk2 || got[2] != pv2 {
		t.Fatal("present is not the granted past buffer")
	}
	for i := range want {
		if g, w := fmt.Sprint(got[i].Raw()), fmt.Sprint(want[i].Raw()); g != w {
			t.Errorf("output %d: in place %s, copying %s", i, g, w)
		}
	}
	old, now := tensor.Data[float32](pk), tensor.Data[float32](pk2)
	for bh := 0; bh < b*n; bh++ {
		for j := 0; j < past*h; j++ {
			if i := bh*maxLen*h + j; old[i] != now[i] {
				t.Fatalf("past row %d element %d changed", bh, j)
			}
		}
	}
}

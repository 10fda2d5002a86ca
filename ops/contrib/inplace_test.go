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

// DecoderMaskedMultiHeadAttention (past_present_share_buffer) and
// MultiHeadAttention with past_sequence_length, granted the past buffers
// for extension, write the step's rows into them and return them as
// present, with outputs bit-identical to the copying run and the past rows
// untouched.
func TestInPlaceSharedKVCache(t *testing.T) {
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
	attr := func(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }
	for _, c := range []struct {
		op    string
		attrs []ops.Attr
		pl    *tensor.Tensor
		at    [3]int // input positions of past_key, past_value, past_sequence_length
	}{
		{"DecoderMaskedMultiHeadAttention", []ops.Attr{attr("num_heads", n), attr("past_present_share_buffer", 1)},
			tensor.Must([]int{}, []int32{past}), [3]int{5, 6, 7}},
		{"MultiHeadAttention", []ops.Attr{attr("num_heads", n)}, tensor.Must([]int{1}, []int32{past}), [3]int{6, 7, 8}},
	} {
		o, err := all.Registry().Lookup("com.microsoft", c.op, 1)
		if err != nil {
			t.Fatal(err)
		}
		k, err := o.Compile(&ops.Node{OpType: c.op, Domain: "com.microsoft", Opset: 1, Attrs: c.attrs,
			Outputs: []string{"y", "present_key", "present_value"}})
		if err != nil {
			t.Fatal(err)
		}
		pk, pv := f32(b, n, maxLen, h), f32(b, n, maxLen, h)
		in := make([]*tensor.Tensor, c.at[2]+1)
		in[0], in[1], in[2] = f32(b, 1, n*h), f32(b, 1, n*h), f32(b, 1, n*h)
		in[c.at[0]], in[c.at[1]], in[c.at[2]] = pk, pv, c.pl
		want, err := k.Run(&ops.Ctx{}, in)
		if err != nil {
			t.Fatal(err)
		}
		pk2, pv2 := pk.Clone(), pv.Clone()
		in[c.at[0]], in[c.at[1]] = pk2, pv2
		got, err := k.Run(&ops.Ctx{Reuse: []ops.Reuse{{T: pk2}, {T: pv2}}}, in)
		if err != nil {
			t.Fatal(err)
		}
		if got[1] != pk2 || got[2] != pv2 {
			t.Fatalf("%s: present is not the granted past buffer", c.op)
		}
		for i := range want {
			if g, w := fmt.Sprint(got[i].Raw()), fmt.Sprint(want[i].Raw()); g != w {
				t.Errorf("%s output %d: in place %s, copying %s", c.op, i, g, w)
			}
		}
		old, now := tensor.Data[float32](pk), tensor.Data[float32](pk2)
		for bh := 0; bh < b*n; bh++ {
			for j := 0; j < past*h; j++ {
				if i := bh*maxLen*h + j; old[i] != now[i] {
					t.Fatalf("%s: past row %d element %d changed", c.op, bh, j)
				}
			}
		}
	}
}

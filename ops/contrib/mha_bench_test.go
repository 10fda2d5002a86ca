package contrib_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/tensor"
)

// BenchmarkMHADecodeShared is one GPT-2-small decode step of
// MultiHeadAttention over a shared KV buffer: batch 1, 12 heads of 64, one
// new token, 512 of 1024 cached positions filled (past_sequence_length),
// one thread. "inplace" grants the past buffers for extension (the
// runtime's donated or dead buffers, ops.Ctx.Extendable); "copy" does not,
// so present is a copy of the buffer.
func BenchmarkMHADecodeShared(b *testing.B) {
	const n, h, maxLen, past = 12, 64, 1024, 512
	r := rand.New(rand.NewPCG(1, 6))
	o, err := all.Registry().Lookup("com.microsoft", "MultiHeadAttention", 1)
	if err != nil {
		b.Fatal(err)
	}
	k, err := o.Compile(&ops.Node{OpType: "MultiHeadAttention", Domain: "com.microsoft", Opset: 1,
		Attrs:   []ops.Attr{{Name: "num_heads", Type: ops.AttrInt, I: n}, {Name: "unidirectional", Type: ops.AttrInt, I: 1}},
		Outputs: []string{"y", "present_key", "present_value"}})
	if err != nil {
		b.Fatal(err)
	}
	f32 := func(shape ...int) *tensor.Tensor {
		x := tensor.Zeros(tensor.Float32, shape...)
		for i, d := 0, tensor.Data[float32](x); i < len(d); i++ {
			d[i] = r.Float32()*2 - 1
		}
		return x
	}
	pk, pv := f32(1, n, maxLen, h), f32(1, n, maxLen, h)
	in := []*tensor.Tensor{f32(1, 1, n*h), f32(1, 1, n*h), f32(1, 1, n*h), f32(3 * n * h), nil, nil,
		pk, pv, tensor.Must([]int{1}, []int32{past})}
	for _, grant := range []bool{true, false} {
		name := "copy"
		c := &ops.Ctx{Threads: 1}
		if grant {
			name = "inplace"
			c.Reuse = []ops.Reuse{{T: pk}, {T: pv}}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Run(c, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

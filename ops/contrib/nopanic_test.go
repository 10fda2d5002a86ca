package contrib

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// randomInput is a small tensor whose dimensions come from base (so that
// shapes sometimes agree), of a random dtype, or nil.
func randomInput(r *rand.Rand, base []int) *tensor.Tensor {
	if r.IntN(8) == 0 {
		return nil
	}
	shape := make([]int, r.IntN(6))
	for i := range shape {
		shape[i] = base[r.IntN(len(base))]
		if r.IntN(10) == 0 {
			shape[i] = r.IntN(3)
		}
	}
	switch r.IntN(10) {
	case 0, 1:
		t, _ := tensor.New(tensor.Int32, shape...)
		d := tensor.Data[int32](t)
		for i := range d {
			d[i] = int32(r.IntN(9) - 2)
		}
		return t
	case 2:
		t, _ := tensor.New(tensor.Int64, shape...)
		d := tensor.Data[int64](t)
		for i := range d {
			d[i] = int64(r.IntN(9) - 2)
		}
		return t
	case 3:
		t, _ := tensor.New(tensor.Float16, shape...)
		return t
	}
	t, _ := tensor.New(tensor.Float32, shape...)
	d := tensor.Data[float32](t)
	for i := range d {
		d[i] = float32(r.NormFloat64())
	}
	return t
}

// TestRandomInputsNoPanic runs every schema on random, mostly malformed
// inputs: kernels must return errors, never panic.
func TestRandomInputsNoPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	i := func(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }
	attrSets := [][]ops.Attr{
		{i("num_heads", 1), i("kv_num_heads", 1)},
		{i("num_heads", 2), i("kv_num_heads", 1), i("unidirectional", 1), i("local_window_size", 2), i("do_rotary", 1),
			i("transA", 1), i("transBatchB", 1), i("axis", 0), i("interleaved", 1), i("smooth_softmax", 1)},
		{i("num_heads", 2), i("kv_num_heads", 2), i("rotary_embedding_dim", 2), i("transBatchA", 1), i("transB", 1),
			{Name: "qkv_hidden_sizes", Type: ops.AttrInts, Ints: []int64{2, 2, 4}}},
		nil,
	}
	for _, op := range Ops() {
		ok := 0
		for ai, attrs := range attrSets {
			n := &ops.Node{OpType: op.Type, Domain: op.Domain, Opset: op.Since, Attrs: attrs,
				Outputs: []string{"a", "b", "c", "d"}}
			k, err := op.Compile(n)
			if err != nil {
				continue
			}
			for trial := 0; trial < 2000; trial++ {
				base := []int{1 + r.IntN(3), 2 * (1 + r.IntN(2)), 1 + r.IntN(4), 4 * (1 + r.IntN(2))}
				in := make([]*tensor.Tensor, r.IntN(13))
				for i := range in {
					in[i] = randomInput(r, base)
				}
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("%s attrs #%d on %v: panic: %v", op.Type, ai, describe(in), p)
						}
					}()
					if _, err := k.Run(&ops.Ctx{Threads: 2, MaxElements: 1 << 20}, in); err == nil {
						ok++
					}
				}()
			}
		}
		t.Logf("%s-%d: %d runs succeeded", op.Type, op.Since, ok)
	}
}

func describe(in []*tensor.Tensor) string {
	s := ""
	for _, t := range in {
		if t == nil {
			s += "nil "
			continue
		}
		s += fmt.Sprintf("%v%v ", t.DType(), t.Shape())
	}
	return s
}

// seeds are valid inputs of the ops with many inputs (for num_heads 2,
// kv_num_heads 1 where they apply), which the mutation test perturbs.
func seeds(r *rand.Rand) map[string][]*tensor.Tensor {
	f := func(shape ...int) *tensor.Tensor { return randomFloat(r, shape) }
	ints := func(hi int, shape ...int) *tensor.Tensor {
		t, _ := tensor.New(tensor.Int32, shape...)
		for i := range tensor.Data[int32](t) {
			tensor.Data[int32](t)[i] = int32(r.IntN(hi))
		}
		return t
	}
	pos := tensor.Must([]int{2, 3}, []int64{0, 1, 2, 3, 4, 5})
	u8 := func(shape ...int) *tensor.Tensor {
		t, _ := tensor.New(tensor.Uint8, shape...)
		for i := range tensor.Data[uint8](t) {
			tensor.Data[uint8](t)[i] = uint8(r.IntN(256))
		}
		return t
	}
	return map[string][]*tensor.Tensor{
		"SkipLayerNormalization":           {f(2, 3, 4), f(2, 3, 4), f(4), f(4), f(4)},
		"SkipSimplifiedLayerNormalization": {f(2, 3, 4), f(1, 3, 4), f(4), f(4)},
		"EmbedLayerNormalization": {ints(5, 2, 3), ints(2, 2, 3), f(5, 4), f(6, 4), f(2, 4), f(4), f(4),
			ints(2, 2, 3), ints(6, 2, 3)},
		"Attention":          {f(2, 3, 4), f(4, 12), f(12), ints(4, 2), f(2, 2, 2, 2, 2), f(2, 2, 3, 5)},
		"MultiHeadAttention": {f(2, 3, 4), f(2, 3, 4), f(2, 3, 4), f(12), ints(2, 2, 5), f(2, 2, 3, 5), f(2, 2, 2, 2), f(2, 2, 2, 2)},
		"RotaryEmbedding":    {f(2, 3, 4), pos, f(8, 1), f(8, 1)},
		"GroupQueryAttention": {f(2, 1, 8), f(2, 1, 4), f(2, 1, 4), f(2, 1, 3, 4), f(2, 1, 3, 4),
			tensor.Must([]int{2}, []int32{2, 3}), tensor.Must([]int{}, []int32{4}), f(8, 2), f(8, 2),
			tensor.Must([]int{2, 1}, []int64{2, 3}), f(2, 2, 1, 4), f(2)},
		"FusedMatMul":           {f(2, 3, 4), f(3, 2, 4)},
		"BiasGelu":              {f(2, 3, 4), f(4)},
		"GroupNorm":             {f(2, 3, 2, 4), f(4), f(4)},
		"SkipGroupNorm":         {f(2, 3, 2, 4), f(4), f(4), f(2, 1, 1, 4), f(4)},
		"BiasSplitGelu":         {f(2, 3, 4), f(4)},
		"DynamicQuantizeMatMul": {f(2, 4), u8(4, 3), f(3), u8(3), f(3)},
		"MatMulIntegerToFloat":  {u8(2, 4), u8(4, 3), f(), f(3), u8(), u8(3), f(3)},
		"QAttention":            {u8(2, 3, 4), u8(4, 12), f(12), f(), f(12), ints(4, 2), u8(), u8(12), f(2, 2, 2, 2, 2)},
		"GatherBlockQuantized":  {u8(6, 8), tensor.Must([]int{2}, []int64{1, -1}), f(6, 1), u8(6, 1)},
		"QLinearAveragePool":    {u8(1, 2, 4, 4), f(), u8(), f(), u8()},
		"QLinearReduceMean":     {u8(2, 3, 4), f(), u8(), f(), u8()},
		"DecoderMaskedMultiHeadAttention": {f(2, 1, 4), f(2, 1, 4), f(2, 1, 4), ints(2, 2, 3), f(2, 2, 1, 3), f(2, 2, 5, 2), f(2, 2, 5, 2),
			tensor.Must([]int{}, []int32{2}), tensor.Must([]int{}, []int32{2}), ints(2, 1, 2, 5), f(12)},
		"QLinearAdd":               {u8(2, 3), f(), u8(), u8(3), f(), u8(), f(), u8()},
		"QLinearSoftmax":           {u8(2, 3), f(), u8(), f(), u8()},
		"QLinearGlobalAveragePool": {u8(2, 3, 2, 2), f(), u8(), f(), u8()},
		"QLinearConcat":            {f(), u8(), u8(2, 3), f(), u8(), u8(2, 1), f(), u8()},
		"QGemm":                    {u8(2, 4), f(), u8(), u8(4, 3), f(3), u8(3), ints(5, 3), f(), u8()},
		"QEmbedLayerNormalization": {ints(5, 2, 3), ints(2, 2, 3), u8(5, 4), u8(6, 4), u8(2, 4), u8(4), u8(4), ints(2, 2, 3),
			f(), f(), f(), f(), f(), u8(), u8(), u8(), u8(), u8()},
		"MatMulNBits": {f(2, 32), tensor.Must([]int{4, 2, 8}, make([]uint8, 64)), f(8), tensor.Must([]int{4}, []uint8{1, 2, 3, 4}), nil, f(4)},
	}
}

func randomFloat(r *rand.Rand, shape []int) *tensor.Tensor {
	t, _ := tensor.New(tensor.Float32, shape...)
	for i := range tensor.Data[float32](t) {
		tensor.Data[float32](t)[i] = float32(r.NormFloat64())
	}
	return t
}

// mutate returns in with one input dropped, reshaped, retyped or given odd
// integer values.
func mutate(r *rand.Rand, in []*tensor.Tensor) []*tensor.Tensor {
	out := append([]*tensor.Tensor(nil), in...)
	i := r.IntN(len(out))
	t := out[i]
	switch r.IntN(5) {
	case 0:
		out[i] = nil
	case 1, 2:
		if t == nil || t.Rank() == 0 {
			return out
		}
		shape := append([]int(nil), t.Shape()...)
		d := r.IntN(len(shape))
		shape[d] = max(0, shape[d]+r.IntN(3)-1)
		if t.DType() == tensor.Float32 {
			out[i] = randomFloat(r, shape)
		} else {
			out[i], _ = tensor.New(t.DType(), shape...)
		}
	case 3:
		if t == nil {
			return out
		}
		c := t.Clone()
		switch d := c.Raw().(type) {
		case []int32:
			for j := range d {
				d[j] = int32(r.IntN(14) - 4)
			}
		case []int64:
			for j := range d {
				d[j] = int64(r.IntN(14) - 4)
			}
		case []float32:
			out[i], _ = tensor.New(tensor.Int64, t.Shape()...)
			return out
		}
		out[i] = c
	case 4:
		if r.IntN(2) == 0 {
			out = out[:r.IntN(len(out)+1)]
		} else {
			out = append(out, randomFloat(r, []int{2}))
		}
	}
	return out
}

// TestMutatedInputsNoPanic perturbs valid inputs one to three times:
// every run must return or fail with an error, never panic.
func TestMutatedInputsNoPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	i := func(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }
	attrSets := [][]ops.Attr{
		{i("num_heads", 2), i("kv_num_heads", 1), i("K", 32), i("N", 4), i("block_size", 16), i("groups", 2), i("quantize_axis", 1), i("past_present_share_buffer", 1), i("output_qk", 1),
			{Name: "kernel_shape", Type: ops.AttrInts, Ints: []int64{2, 2}}, {Name: "axes", Type: ops.AttrInts, Ints: []int64{1}}},
		{i("num_heads", 2), i("kv_num_heads", 1), i("unidirectional", 1), i("K", 32), i("N", 4), i("block_size", 16), i("bits", 2), i("local_window_size", 2), i("do_rotary", 1), i("smooth_softmax", 1),
			i("transA", 1), i("transBatchB", 1), i("interleaved", 1)},
		{i("num_heads", 2), i("kv_num_heads", 2), i("rotary_embedding_dim", 2), i("transBatchA", 1), i("transB", 1), i("groups", 1), i("channels_last", 0), i("activation", 1)},
	}
	sd := seeds(r)
	for _, op := range Ops() {
		seed := sd[op.Type]
		if seed == nil {
			continue
		}
		ok := 0
		for ai, attrs := range attrSets {
			n := &ops.Node{OpType: op.Type, Domain: op.Domain, Opset: op.Since, Attrs: attrs, Outputs: []string{"a", "b", "c"}}
			k, err := op.Compile(n)
			if err != nil {
				continue
			}
			for trial := 0; trial < 3000; trial++ {
				in := seed
				for m := r.IntN(3); m >= 0; m-- {
					if len(in) > 0 {
						in = mutate(r, in)
					}
				}
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Fatalf("%s attrs #%d on %v: panic: %v", op.Type, ai, describe(in), p)
						}
					}()
					if _, err := k.Run(&ops.Ctx{Threads: 2, MaxElements: 1 << 20}, in); err == nil {
						ok++
					}
				}()
			}
		}
		t.Logf("%s: %d runs succeeded", op.Type, ok)
	}
}

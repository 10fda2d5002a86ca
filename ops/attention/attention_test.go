package attention

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

func run(t *testing.T, op string, opset int, attrs []ops.Attr, outputs []string, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	return optest.Run(t, Ops(), op, opset, attrs, outputs, in...)
}

var ints, flt = optest.Int, optest.Float

func randT(r *rand.Rand, shape ...int) *tensor.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(r.Float64()*2 - 1)
	}
	return tensor.Must(shape, d)
}

func near(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// refAttention is a direct float64 transcription of the spec on 4-D
// tensors: K and V already hold the past rows; bias gives the additive mask.
// It returns Y (B, Hq, Sq, Dv), the scaled scores and the probabilities
// (both (B, Hq, Sq, T)).
func refAttention(q, k, v *tensor.Tensor, scale, softcap float64, bias func(b, h, i, j int) float64) (y, scores, probs []float64) {
	qs, ks, vs := q.Shape(), k.Shape(), v.Shape()
	B, Hq, Sq, D := qs[0], qs[1], qs[2], qs[3]
	Hkv, T, Dv := ks[1], ks[2], vs[3]
	qd, kd, vd := tensor.Data[float32](q), tensor.Data[float32](k), tensor.Data[float32](v)
	for b := 0; b < B; b++ {
		for h := 0; h < Hq; h++ {
			hk := h / (Hq / Hkv)
			for i := 0; i < Sq; i++ {
				row := make([]float64, T)
				mx := math.Inf(-1)
				for j := 0; j < T; j++ {
					var s float64
					for x := 0; x < D; x++ {
						s += float64(qd[((b*Hq+h)*Sq+i)*D+x]) * float64(kd[((b*Hkv+hk)*T+j)*D+x])
					}
					s *= scale
					if softcap > 0 {
						s = softcap * math.Tanh(s/softcap)
					}
					scores = append(scores, s)
					row[j] = s + bias(b, h, i, j)
					mx = math.Max(mx, row[j])
				}
				var sum float64
				for j := range row {
					if math.IsInf(mx, -1) {
						row[j] = 0
						continue
					}
					row[j] = math.Exp(row[j] - mx)
					sum += row[j]
				}
				for j := range row {
					if sum > 0 {
						row[j] /= sum
					}
				}
				probs = append(probs, row...)
				for x := 0; x < Dv; x++ {
					var o float64
					for j := 0; j < T; j++ {
						o += row[j] * float64(vd[((b*Hkv+hk)*T+j)*Dv+x])
					}
					y = append(y, o)
				}
			}
		}
	}
	return y, scores, probs
}

// concat joins (B, H, P, D) and (B, H, S, D) along the sequence axis.
func concat(a, b *tensor.Tensor) *tensor.Tensor {
	as, bs := a.Shape(), b.Shape()
	ad, bd := tensor.Data[float32](a), tensor.Data[float32](b)
	var out []float32
	for i := 0; i < as[0]*as[1]; i++ {
		out = append(out, ad[i*as[2]*as[3]:(i+1)*as[2]*as[3]]...)
		out = append(out, bd[i*bs[2]*bs[3]:(i+1)*bs[2]*bs[3]]...)
	}
	return tensor.Must([]int{as[0], as[1], as[2] + bs[2], as[3]}, out)
}

func TestAttentionMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	negInf := math.Inf(-1)
	noBias := func(b, h, i, j int) float64 { return 0 }

	t.Run("mha", func(t *testing.T) {
		q, k, v := randT(r, 2, 2, 3, 4), randT(r, 2, 2, 5, 4), randT(r, 2, 2, 5, 6)
		out, err := run(t, "Attention", 23, nil, []string{"y"}, q, k, v)
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := refAttention(q, k, v, 0.5, 0, noBias)
		near(t, "Y", tensor.Data[float32](out[0]), want, 1e-5)
	})

	t.Run("gqa_causal_past", func(t *testing.T) {
		q, k, v := randT(r, 1, 4, 2, 4), randT(r, 1, 2, 2, 4), randT(r, 1, 2, 2, 4)
		pk, pv := randT(r, 1, 2, 3, 4), randT(r, 1, 2, 3, 4)
		out, err := run(t, "Attention", 23, []ops.Attr{ints("is_causal", 1)}, []string{"y", "pk", "pv"}, q, k, v, nil, pk, pv)
		if err != nil {
			t.Fatal(err)
		}
		kk, vv := concat(pk, k), concat(pv, v)
		want, _, _ := refAttention(q, kk, vv, 0.5, 0, func(b, h, i, j int) float64 {
			if j > i+3 {
				return negInf
			}
			return 0
		})
		near(t, "Y", tensor.Data[float32](out[0]), want, 1e-5)
		if !tensor.Equal(out[1], kk) || !tensor.Equal(out[2], vv) {
			t.Error("present_key/present_value differ from concat(past, new)")
		}
	})

	t.Run("bool_mask_fully_masked_row", func(t *testing.T) {
		q, k, v := randT(r, 1, 1, 2, 4), randT(r, 1, 1, 3, 4), randT(r, 1, 1, 3, 4)
		mask := tensor.Must([]int{2, 3}, []bool{false, false, false, true, false, true})
		out, err := run(t, "Attention", 23, []ops.Attr{ints("qk_matmul_output_mode", 3)}, []string{"y", "", "", "qk"}, q, k, v, mask)
		if err != nil {
			t.Fatal(err)
		}
		md := tensor.Data[bool](mask)
		want, _, probs := refAttention(q, k, v, 0.5, 0, func(b, h, i, j int) float64 {
			if !md[i*3+j] {
				return negInf
			}
			return 0
		})
		near(t, "Y", tensor.Data[float32](out[0]), want, 1e-5)
		near(t, "softmax", tensor.Data[float32](out[3]), probs, 1e-6)
		for x, v := range tensor.Data[float32](out[0])[:4] {
			if v != 0 {
				t.Errorf("fully masked row: Y[%d] = %v, want 0", x, v)
			}
		}
	})

	t.Run("short_additive_mask_softcap_scale", func(t *testing.T) {
		// The mask covers 3 of 4 keys: the 4th is masked out.
		q, k, v := randT(r, 2, 1, 2, 4), randT(r, 2, 1, 4, 4), randT(r, 2, 1, 4, 3)
		mask := randT(r, 2, 1, 2, 3)
		md := tensor.Data[float32](mask)
		out, err := run(t, "Attention", 23, []ops.Attr{flt("softcap", 2), flt("scale", 3), ints("qk_matmul_output_mode", 0)},
			[]string{"y", "", "", "qk"}, q, k, v, mask)
		if err != nil {
			t.Fatal(err)
		}
		want, scores, _ := refAttention(q, k, v, 3, 2, func(b, h, i, j int) float64 {
			if j >= 3 {
				return negInf
			}
			return float64(md[(b*2+i)*3+j])
		})
		near(t, "Y", tensor.Data[float32](out[0]), want, 1e-5)
		near(t, "qk", tensor.Data[float32](out[3]), scores, 1e-5)
	})

	// Shapes past the fused kernel's query and key blocks (64 and 256):
	// GQA with a past, causal, nonpad_kv_seqlen, a bool mask with fully
	// masked rows, and softcap.
	t.Run("blocks_causal_nonpad_bool_mask", func(t *testing.T) {
		const sq, past = 70, 230
		q, k, v := randT(r, 2, 4, sq, 8), randT(r, 2, 2, sq, 8), randT(r, 2, 2, sq, 5)
		pk, pv := randT(r, 2, 2, past, 8), randT(r, 2, 2, past, 5)
		for _, x := range []*tensor.Tensor{q, k, pk} {
			for i, e := range tensor.Data[float32](x) {
				tensor.Data[float32](x)[i] = 4 * e // spread the scores over the key blocks
			}
		}
		const total = past + sq
		md := make([]bool, sq*total)
		for i := range md {
			md[i] = r.IntN(4) != 0 && i/total != 3 // row 3 fully masked
		}
		mask := tensor.Must([]int{sq, total}, md)
		nonpad := []int64{total, 280}
		out, err := run(t, "Attention", 24, []ops.Attr{ints("is_causal", 1), flt("softcap", 3)}, []string{"y"},
			q, k, v, mask, pk, pv, tensor.Must([]int{2}, nonpad))
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := refAttention(q, concat(pk, k), concat(pv, v), 1/math.Sqrt(8), 3, func(b, h, i, j int) float64 {
			if j > i+past || j >= int(nonpad[b]) || !md[i*total+j] {
				return negInf
			}
			return 0
		})
		near(t, "Y", tensor.Data[float32](out[0]), want, 1e-5)
	})

	// A float mask over keys only (B, 1, 1, L < T), with batch 1 fully
	// masked, past the kernel's blocks.
	t.Run("blocks_key_mask", func(t *testing.T) {
		const sq, total, l = 130, 300, 290
		q, k, v := randT(r, 2, 2, sq, 8), randT(r, 2, 2, total, 8), randT(r, 2, 2, total, 4)
		mask := randT(r, 2, 1, 1, l)
		md := tensor.Data[float32](mask)
		for j := range md {
			if j >= l || r.IntN(5) == 0 {
				md[j] = float32(negInf)
			}
		}
		out, err := run(t, "Attention", 23, nil, []string{"y"}, q, k, v, mask)
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := refAttention(q, k, v, 1/math.Sqrt(8), 0, func(b, h, i, j int) float64 {
			if j >= l {
				return negInf
			}
			return float64(md[b*l+j])
		})
		near(t, "Y", tensor.Data[float32](out[0]), want, 1e-5)
	})

	// Attention-25's sliding window: query i at absolute position p = i +
	// past sees keys p-left..p+right, composed with is_causal; past the
	// fused kernel's blocks, and row by row when the qk output is asked for.
	t.Run("window_past_blocks", func(t *testing.T) {
		const sq, past = 70, 230
		q, k, v := randT(r, 1, 2, sq, 8), randT(r, 1, 1, sq, 8), randT(r, 1, 1, sq, 4)
		pk, pv := randT(r, 1, 1, past, 8), randT(r, 1, 1, past, 4)
		for _, tc := range []struct {
			causal, left, right int
		}{{0, 20, 5}, {1, 3, -1}, {0, -1, 0}, {0, 0, 0}} {
			attrs := []ops.Attr{ints("is_causal", int64(tc.causal)), ints("left_window_size", int64(tc.left)), ints("right_window_size", int64(tc.right))}
			want, _, probs := refAttention(q, concat(pk, k), concat(pv, v), 1/math.Sqrt(8), 0, func(b, h, i, j int) float64 {
				p := i + past
				if (tc.causal == 1 && j > p) || (tc.left >= 0 && j < p-tc.left) || (tc.right >= 0 && j > p+tc.right) {
					return negInf
				}
				return 0
			})
			for _, outs := range [][]string{{"y"}, {"y", "", "", "qk"}} {
				out, err := run(t, "Attention", 25, append(attrs, ints("qk_matmul_output_mode", 3)), outs, q, k, v, nil, pk, pv)
				if err != nil {
					t.Fatal(err)
				}
				near(t, "Y", tensor.Data[float32](out[0]), want, 1e-5)
				if len(outs) > 1 {
					near(t, "softmax", tensor.Data[float32](out[3]), probs, 1e-6)
				}
			}
		}
	})

	// The window's offset for an external cache is nonpad_kv_seqlen - Sq
	// per batch; a 1-D bool mask covers the keys; the leading rows of a
	// batch with fewer valid keys than queries see nothing.
	t.Run("window_external_cache_rank1_mask", func(t *testing.T) {
		const sq, total = 4, 8
		q, k, v := randT(r, 2, 2, sq, 4), randT(r, 2, 2, total, 4), randT(r, 2, 2, total, 4)
		nonpad := []int64{6, 3}
		md := []bool{true, false, true, true, true, true, true, true}
		mask := tensor.Must([]int{total}, md)
		attrs := []ops.Attr{ints("is_causal", 1), ints("left_window_size", 2)}
		want, _, _ := refAttention(q, k, v, 0.5, 0, func(b, h, i, j int) float64 {
			p := i + int(nonpad[b]) - sq
			if j > p || j < p-2 || j >= int(nonpad[b]) || !md[j] {
				return negInf
			}
			return 0
		})
		for _, outs := range [][]string{{"y"}, {"y", "", "", "qk"}} {
			out, err := run(t, "Attention", 25, attrs, outs, q, k, v, mask, nil, nil, tensor.Must([]int{2}, nonpad))
			if err != nil {
				t.Fatal(err)
			}
			near(t, "Y", tensor.Data[float32](out[0]), want, 1e-5)
		}
		if _, err := run(t, "Attention", 25, []ops.Attr{ints("left_window_size", -2)}, []string{"y"}, q, k, v); err == nil {
			t.Error("left_window_size -2: no error")
		}
	})

	t.Run("nonpad_kv_seqlen", func(t *testing.T) {
		q, k, v := randT(r, 2, 2, 1, 4), randT(r, 2, 2, 5, 4), randT(r, 2, 2, 5, 4)
		np := tensor.Must([]int{2}, []int64{3, 5})
		out, err := run(t, "Attention", 24, nil, []string{"y"}, q, k, v, nil, nil, nil, np)
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := refAttention(q, k, v, 0.5, 0, func(b, h, i, j int) float64 {
			if j >= []int{3, 5}[b] {
				return negInf
			}
			return 0
		})
		near(t, "Y", tensor.Data[float32](out[0]), want, 1e-5)
	})
}

// TestAttention3DMatches4D packs (B, H, S, D) into (B, S, H*D) and checks
// that the 3-D form gives the packed 4-D result.
func TestAttention3DMatches4D(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	pack := func(x *tensor.Tensor) *tensor.Tensor {
		s := x.Shape()
		d := tensor.Data[float32](x)
		out := make([]float32, len(d))
		for b := 0; b < s[0]; b++ {
			for h := 0; h < s[1]; h++ {
				for i := 0; i < s[2]; i++ {
					copy(out[((b*s[2]+i)*s[1]+h)*s[3]:][:s[3]], d[((b*s[1]+h)*s[2]+i)*s[3]:][:s[3]])
				}
			}
		}
		return tensor.Must([]int{s[0], s[2], s[1] * s[3]}, out)
	}
	q, k, v := randT(r, 2, 4, 3, 2), randT(r, 2, 2, 5, 2), randT(r, 2, 2, 5, 3)
	out4, err := run(t, "Attention", 23, []ops.Attr{ints("is_causal", 1)}, []string{"y"}, q, k, v)
	if err != nil {
		t.Fatal(err)
	}
	out3, err := run(t, "Attention", 23, []ops.Attr{ints("is_causal", 1), ints("q_num_heads", 4), ints("kv_num_heads", 2)},
		[]string{"y"}, pack(q), pack(k), pack(v))
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.Equal(out3[0], pack(out4[0])) {
		t.Errorf("3-D output %v differs from packed 4-D output %v", out3[0], pack(out4[0]))
	}
	if _, err := run(t, "Attention", 23, nil, []string{"y"}, pack(q), pack(k), pack(v)); err == nil {
		t.Error("3-D inputs without head counts: no error")
	}
	if _, err := run(t, "Attention", 23, nil, []string{"y"}, randT(r, 2, 3, 3, 2), k, v); err == nil {
		t.Error("3 query heads over 2 kv heads: no error")
	}
}

func TestRotaryEmbedding(t *testing.T) {
	// One head of size 4, rotary dim 4; position 1 has angle theta for both pairs.
	c, s := math.Cos(0.3), math.Sin(0.3)
	cos := tensor.Must([]int{2, 2}, []float32{1, 1, float32(c), float32(c)})
	sin := tensor.Must([]int{2, 2}, []float32{0, 0, float32(s), float32(s)})
	x := tensor.Must([]int{1, 1, 1, 4}, []float32{1, 2, 3, 4})
	pos := tensor.Must([]int{1, 1}, []int64{1})
	out, err := run(t, "RotaryEmbedding", 23, nil, []string{"y"}, x, cos, sin, pos)
	if err != nil {
		t.Fatal(err)
	}
	// halves: pairs (1, 3) and (2, 4).
	near(t, "halves", tensor.Data[float32](out[0]), []float64{1*c - 3*s, 2*c - 4*s, 1*s + 3*c, 2*s + 4*c}, 1e-6)
	out, err = run(t, "RotaryEmbedding", 23, []ops.Attr{ints("interleaved", 1)}, []string{"y"}, x, cos, sin, pos)
	if err != nil {
		t.Fatal(err)
	}
	// interleaved: pairs (1, 2) and (3, 4).
	near(t, "interleaved", tensor.Data[float32](out[0]), []float64{1*c - 2*s, 1*s + 2*c, 3*c - 4*s, 3*s + 4*c}, 1e-6)
	if _, err := run(t, "RotaryEmbedding", 23, nil, []string{"y"}, x, cos, sin, tensor.Must([]int{1, 1}, []int64{2})); err == nil {
		t.Error("position id beyond the cache: no error")
	}
	// Without position_ids, a (1, S, rd/2) cache broadcasts over the batch:
	// batch 2, sequence 1, both rows rotated by theta.
	x2 := tensor.Must([]int{2, 1, 1, 4}, []float32{1, 2, 3, 4, 1, 2, 3, 4})
	cos1 := tensor.Must([]int{1, 1, 2}, []float32{float32(c), float32(c)})
	sin1 := tensor.Must([]int{1, 1, 2}, []float32{float32(s), float32(s)})
	out, err = run(t, "RotaryEmbedding", 23, nil, []string{"y"}, x2, cos1, sin1)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1*c - 3*s, 2*c - 4*s, 1*s + 3*c, 2*s + 4*c}
	near(t, "batch-broadcast cache", tensor.Data[float32](out[0]), append(want, want...), 1e-6)
}

// TestLinearAttentionLinearRule checks o_t = scale * q_t^T sum_{s<=t} k_s v_s^T.
func TestLinearAttentionLinearRule(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const T, dk, dv = 3, 2, 2
	q, k, v := randT(r, 1, T, dk), randT(r, 1, T, dk), randT(r, 1, T, dv)
	out, err := run(t, "LinearAttention", 27, []ops.Attr{ints("q_num_heads", 1), ints("kv_num_heads", 1),
		{Name: "update_rule", Type: ops.AttrString, S: []byte("linear")}}, []string{"y", "state"}, q, k, v)
	if err != nil {
		t.Fatal(err)
	}
	qd, kd, vd := tensor.Data[float32](q), tensor.Data[float32](k), tensor.Data[float32](v)
	var want []float64
	var state [dk][dv]float64
	for s := 0; s < T; s++ {
		for d := 0; d < dk; d++ {
			for m := 0; m < dv; m++ {
				state[d][m] += float64(kd[s*dk+d]) * float64(vd[s*dv+m])
			}
		}
		for m := 0; m < dv; m++ {
			var o float64
			for d := 0; d < dk; d++ {
				o += float64(qd[s*dk+d]) * state[d][m]
			}
			want = append(want, o/math.Sqrt(dk))
		}
	}
	near(t, "output", tensor.Data[float32](out[0]), want, 1e-6)
	near(t, "state", tensor.Data[float32](out[1]), []float64{state[0][0], state[0][1], state[1][0], state[1][1]}, 1e-6)
}

func TestCausalConvWithState(t *testing.T) {
	// One channel, kernel [1, 10, 100], past [7, 8], input [1, 2, 3].
	x := tensor.Must([]int{1, 1, 3}, []float32{1, 2, 3})
	w := tensor.Must([]int{1, 1, 3}, []float32{1, 10, 100})
	past := tensor.Must([]int{1, 1, 2}, []float32{7, 8})
	out, err := run(t, "CausalConvWithState", 27, nil, []string{"y", "state"}, x, w, nil, past)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "y", tensor.Data[float32](out[0]), []float64{7 + 80 + 100, 8 + 10 + 200, 1 + 20 + 300}, 0)
	near(t, "state", tensor.Data[float32](out[1]), []float64{2, 3}, 0)
}

func TestAttentionInfer(t *testing.T) {
	reg, _ := ops.NewRegistry(Ops())
	schema, _ := reg.Lookup("", "Attention", 23)
	n := &ops.Node{OpType: "Attention", Opset: 23, Outputs: []string{"y", "pk", "pv", "qk"},
		Inputs: []string{"q", "k", "v", "", "past_key", "past_value"},
		Attrs:  []ops.Attr{ints("q_num_heads", 4), ints("kv_num_heads", 2)}}
	in := []tensor.Type{tensor.TensorType(tensor.Float32, 2, 3, 32), tensor.TensorType(tensor.Float32, 2, 5, 16),
		tensor.TensorType(tensor.Float32, 2, 5, 12), {}, tensor.TensorType(tensor.Float32, 2, 2, 7, 8), tensor.TensorType(tensor.Float32, 2, 2, 7, 6)}
	out, err := schema.Infer(n, in)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int64{{2, 3, 24}, {2, 2, 12, 8}, {2, 2, 12, 6}, {2, 4, 3, 12}}
	for i, w := range want {
		var got []int64
		for _, d := range out[i].Shape {
			got = append(got, d.Size)
		}
		if len(got) != len(w) {
			t.Fatalf("output %d shape %v, want %v", i, got, w)
		}
		for j := range w {
			if got[j] != w[j] {
				t.Errorf("output %d shape %v, want %v", i, got, w)
				break
			}
		}
	}
}

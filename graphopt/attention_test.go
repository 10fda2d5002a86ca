package graphopt_test

import (
	"math"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/tensor"
)

// selfAttention builds a Hugging Face style attention block over x (B, S,
// 8) with 2 heads of 4; mask (B, S) int64 adds the padding mask when not
// empty; mulScale writes the scaling as Mul by 1/sqrt(d) instead of Div;
// dynamic computes the Reshape targets from Shape as PyTorch exports
// x.view(x.size()[:-1] + (heads, size)) do.
func selfAttention(b *irbuild.Builder, x, mask string, mulScale, dynamic bool) string {
	const H, nh, hd = 8, 2, 4
	lin := func(v string) string {
		return b.Op("Add", b.Op("MatMul", v, b.Const(f32s([]int{H, H}))), b.Const(f32s([]int{H})))
	}
	dim := func(v string, i int64) string {
		return b.Op("Unsqueeze", b.OpA("Gather", attrs(irbuild.Int("axis", 0)), b.Op("Shape", v), b.Const(tensor.Scalar(i))), b.Const(i64s(0)))
	}
	concat := func(in ...string) string { return b.OpA("Concat", attrs(irbuild.Int("axis", 0)), in...) }
	split := func(v string, perm ...int64) string {
		shape := b.Const(i64s(0, 0, nh, hd))
		if dynamic {
			shape = concat(dim(v, 0), dim(v, 1), b.Const(i64s(nh)), b.Const(i64s(hd)))
		}
		return b.OpA("Transpose", attrs(irbuild.Ints("perm", perm...)), b.Op("Reshape", v, shape))
	}
	q := split(lin(x), 0, 2, 1, 3)
	k := split(lin(x), 0, 2, 3, 1)
	v := split(lin(x), 0, 2, 1, 3)
	s := b.Op("MatMul", q, k)
	if mulScale {
		s = b.Op("Mul", s, b.Const(tensor.Scalar(float32(1/math.Sqrt(hd)))))
	} else {
		s = b.Op("Div", s, b.Const(tensor.Scalar(float32(math.Sqrt(hd)))))
	}
	if mask != "" {
		m4 := b.OpA("Cast", attrs(irbuild.Int("to", int64(tensor.Float32))), b.Op("Unsqueeze", mask, b.Const(i64s(1, 2))))
		if dynamic { // mask[:, None, None, :] after a cast, as newer exports write it
			m4 = b.Op("Unsqueeze", b.Op("Unsqueeze", b.OpA("Cast", attrs(irbuild.Int("to", int64(tensor.Float32))), mask), b.Const(i64s(1))), b.Const(i64s(2)))
		}
		s = b.Op("Add", s, b.Op("Mul", b.Op("Sub", b.Const(tensor.Scalar(float32(1))), m4), b.Const(tensor.Scalar(float32(-math.MaxFloat32)))))
	}
	p := b.OpA("Softmax", attrs(irbuild.Int("axis", -1)), s)
	ctx := b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 2, 1, 3)), b.Op("MatMul", p, v))
	shape := b.Const(i64s(0, 0, H))
	if dynamic {
		shape = concat(b.Op("Slice", b.Op("Shape", ctx), b.Const(i64s(0)), b.Const(i64s(-2))), b.Const(i64s(H)))
	}
	return b.Op("Reshape", ctx, shape)
}

func TestAttentionFusion(t *testing.T) {
	reg := all.Registry()
	for _, fused := range []string{"Attention", "MultiHeadAttention"} {
		if !reg.Has("com.microsoft", fused) {
			t.Logf("native provider lacks com.microsoft %s", fused)
			continue
		}
		only := func(domain, op string) bool {
			return (op != "Attention" && op != "MultiHeadAttention" || op == fused) && reg.Has(domain, op)
		}
		for _, c := range []struct {
			name                    string
			masked, mulDiv, dynamic bool
		}{{"vit-no-mask", false, false, false}, {"bert-mask", true, false, false}, {"mul-scale", true, true, false},
			{"dynamic-reshape", true, false, true}} {
			t.Run(fused+"/"+c.name, func(t *testing.T) {
				b := irbuild.New(c.name, irbuild.Opset{Domain: "", Version: 17})
				x := b.Input("x", tensor.Float32, "batch", "sequence", 8)
				mask := ""
				if c.masked {
					mask = b.Input("attention_mask", tensor.Int64, "batch", "sequence")
				}
				b.Rename(selfAttention(b, x, mask, c.mulDiv, c.dynamic), "y")
				b.Output("y", tensor.Float32)
				opt, rep := checkEquivalent(t, b.Model(), graphopt.Options{Supported: only}, map[string]int{"batch": 3, "sequence": 6}, maskSomeKeys)
				if count(opt, fused) != 1 || count(opt, "Softmax") != 0 {
					t.Errorf("not fused into %s:\n%s", fused, rep)
				}
			})
		}
	}
}

// gpt2Attention builds GPT-2's attention block as transformers' eager code
// exports it: a packed c_attn projection Split into Q, K and V, the causal
// mask sliced from the tril "bias" buffer by key/query lengths and applied
// with Where, then the padding mask added. With conv1d, c_attn is
// exported as addmm: Reshape to 2-D, Gemm, Reshape back to x.size()[:-1] + (3H,).
func gpt2Attention(b *irbuild.Builder, x, mask string, conv1d bool) string {
	const H, nh, hd, maxPos = 8, 2, 4, 16
	qkv := b.Op("Add", b.Op("MatMul", x, b.Const(f32s([]int{H, 3 * H}))), b.Const(f32s([]int{3 * H})))
	if conv1d {
		size := b.OpA("Concat", attrs(irbuild.Int("axis", 0)), b.Op("Slice", b.Op("Shape", x), b.Const(i64s(0)), b.Const(i64s(-1))), b.Const(i64s(3*H)))
		flat := b.Op("Reshape", x, b.Const(i64s(-1, H)))
		qkv = b.Op("Reshape", b.Op("Gemm", flat, b.Const(f32s([]int{H, 3 * H})), b.Const(f32s([]int{3 * H}))), size)
	}
	sp := b.OpN("Split", 3, qkv, b.Const(i64s(H, H, H))).With(irbuild.Int("axis", 2))
	heads := func(v string) string {
		return b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 2, 1, 3)), b.Op("Reshape", v, b.Const(i64s(0, 0, nh, hd))))
	}
	q, k, v := heads(sp.Out(0)), heads(sp.Out(1)), heads(sp.Out(2))
	kT := b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 1, 3, 2)), k)
	w := b.Op("Div", b.Op("MatMul", q, kT), b.Const(tensor.Scalar(float32(2))))
	length := func(t string) string {
		return b.OpA("Gather", attrs(irbuild.Int("axis", 0)), b.Op("Shape", t), b.Const(tensor.Scalar(int64(2))))
	}
	ql, kl := length(q), length(k)
	start := b.Op("Unsqueeze", b.Op("Sub", kl, ql), b.Const(i64s(0)))
	end := b.Op("Unsqueeze", kl, b.Const(i64s(0)))
	tril := make([]bool, maxPos*maxPos)
	for i := 0; i < maxPos; i++ {
		for j := 0; j <= i; j++ {
			tril[i*maxPos+j] = true
		}
	}
	bias := b.Const(tensor.Must([]int{1, 1, maxPos, maxPos}, tril))
	causal := b.Op("Slice", b.Op("Slice", bias, start, end, b.Const(i64s(2))), b.Const(i64s(0)), end, b.Const(i64s(3)))
	w = b.Op("Where", causal, w, b.Const(tensor.Scalar(float32(-math.MaxFloat32))))
	if mask != "" {
		m4 := b.OpA("Cast", attrs(irbuild.Int("to", int64(tensor.Float32))), b.Op("Unsqueeze", mask, b.Const(i64s(1, 2))))
		w = b.Op("Add", w, b.Op("Mul", b.Op("Sub", b.Const(tensor.Scalar(float32(1))), m4), b.Const(tensor.Scalar(float32(-math.MaxFloat32)))))
	}
	p := b.OpA("Softmax", attrs(irbuild.Int("axis", -1)), w)
	ctx := b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 2, 1, 3)), b.Op("MatMul", p, v))
	return b.Op("Reshape", ctx, b.Const(i64s(0, 0, H)))
}

func TestCausalAttentionFusion(t *testing.T) {
	if !all.Registry().Has("com.microsoft", "Attention") {
		t.Skip("native provider lacks com.microsoft Attention")
	}
	for _, c := range []struct{ masked, conv1d bool }{{false, false}, {true, false}, {true, true}} {
		masked := c.masked
		b := irbuild.New("gpt2", irbuild.Opset{Domain: "", Version: 17})
		x := b.Input("x", tensor.Float32, "batch", "sequence", 8)
		mask := ""
		if masked {
			mask = b.Input("attention_mask", tensor.Int64, "batch", "sequence")
		}
		b.Rename(gpt2Attention(b, x, mask, c.conv1d), "y")
		b.Output("y", tensor.Float32)
		m := b.Model()
		opt, rep := checkEquivalent(t, m, graphopt.Options{}, map[string]int{"batch": 3, "sequence": 6}, maskSomeKeys)
		if count(opt, "Attention") != 1 || count(opt, "Where") != 0 {
			t.Errorf("%+v: not fused:\n%s", c, rep)
		}
		if orttest.Err() == nil {
			compareORT(t, m, opt, 2) // ORT reads unidirectional the same way
		}
	}
}

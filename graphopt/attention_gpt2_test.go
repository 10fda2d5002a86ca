package graphopt_test

import (
	"math"
	"testing"

	"github.com/gort-ml/gort/conformance"
	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/models/zoo"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/runtime/ort/orttest"
	"github.com/gort-ml/gort/tensor"
)

const tinyGPT2 = `{"model_type": "gpt2", "vocab_size": 101, "n_embd": 32, "n_layer": 2, "n_head": 4,
	"n_positions": 24, "n_inner": null, "activation_function": "gelu_new"}`

// Dims of the graphs with past: 4 cached positions and 3 new ones.
var pastDims = map[string]int{"batch": 2, "sequence": 3, "past_sequence": 4, "total_sequence": 7}

func zooGPT2(t *testing.T, past bool) *ir.Model {
	t.Helper()
	cfg, err := zoo.ParseConfig([]byte(tinyGPT2))
	if err != nil {
		t.Fatal(err)
	}
	var m *zoo.Model
	if past {
		m, err = zoo.BuildGPT2WithPast(cfg, zoo.BuildOptions{Seed: 3})
	} else {
		m, err = zoo.Build(cfg, "GPT2LMHeadModel", zoo.BuildOptions{Seed: 3})
	}
	if err != nil {
		t.Fatal(err)
	}
	return m.IR
}

// fusedMHA checks that opt has n MultiHeadAttention nodes, no Softmax and,
// with past, that the fused nodes make the present outputs.
func fusedMHA(t *testing.T, opt *ir.Model, n int, past bool, rep graphopt.Report) {
	t.Helper()
	if count(opt, "MultiHeadAttention") != n || count(opt, "Softmax") != 0 {
		t.Fatalf("want %d MultiHeadAttention and no Softmax:\n%s", n, rep)
	}
	if !past {
		return
	}
	made := map[string]string{}
	for _, nd := range opt.Graph.Nodes {
		for _, o := range nd.Outputs {
			made[o] = nd.OpType
		}
	}
	presents := 0
	for _, o := range opt.Graph.Outputs {
		if len(o.Name) > 8 && o.Name[:8] == "present." {
			presents++
			if made[o.Name] != "MultiHeadAttention" {
				t.Errorf("output %s is made by %q, want MultiHeadAttention", o.Name, made[o.Name])
			}
		}
	}
	if presents != 2*n {
		t.Errorf("%d present outputs, want %d", presents, 2*n)
	}
}

// compareORTDims is compareORT with the given dimensions.
func compareORTDims(t *testing.T, m, opt *ir.Model, dims map[string]int, prepare func(map[string]*tensor.Tensor)) {
	t.Helper()
	feeds, err := conformance.RandomFeeds(m, 4, dims)
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(feeds)
	}
	want := runModel(t, m, nil, feeds)
	got := runModel(t, opt, ort.New(ort.Options{}), feeds)
	for name, w := range want {
		if d, err := maxDiff(w, got[name]); err != nil || d > 1e-4 {
			t.Errorf("ONNX Runtime on the optimized graph, output %q: error %g (%v)", name, d, err)
		}
	}
}

func needMHA(t *testing.T) {
	if !all.Registry().Has("com.microsoft", "MultiHeadAttention") {
		t.Skip("native provider lacks com.microsoft MultiHeadAttention")
	}
}

// TestZooGPT2AttentionFusion: both zoo GPT-2 graphs (an additive causal
// and padding mask; with past, Concat of past and new keys into the
// present outputs) fuse into MultiHeadAttention, natively and in ONNX
// Runtime equal to the unfused graph.
func TestZooGPT2AttentionFusion(t *testing.T) {
	needMHA(t)
	for _, past := range []bool{false, true} {
		m := zooGPT2(t, past)
		dims := map[string]int{"batch": 2, "sequence": 6}
		if past {
			dims = pastDims
		}
		opt, rep := checkEquivalent(t, m, graphopt.Options{}, dims, maskSomeKeys)
		fusedMHA(t, opt, 2, past, rep)
		if orttest.Err() == nil {
			compareORTDims(t, m, opt, dims, maskSomeKeys)
		}
	}
}

// optimumAttention builds one attention block of optimum's GPT-2 export
// with past (transformers' SDPA path, opset 14 and 17): reshape targets
// read from Shape, Concat with the past on axis -2, the scale
// 1/sqrt(head_size) computed from the query's shape and applied as its
// square root to q and kᵀ, the boolean mask sliced to present's length
// and made additive with Where(m, 0, -inf), the NaN guard after Softmax
// and the merged heads reshaped to [B, S, -1] (from opset 15 the key length
// is read with Shape's start and end). It returns the context and
// the present key and value. Without pastK it is the export without past
// (task feature-extraction).
func optimumAttention(b *irbuild.Builder, x, pastK, pastV, mask4 string) (string, string, string) {
	const H, nh, hd = 8, 2, 4
	qkv := b.Op("Add", b.Op("MatMul", x, b.Const(f32s([]int{H, 3 * H}))), b.Const(f32s([]int{3 * H})))
	sp := b.OpN("Split", 3, qkv, b.Const(i64s(H, H, H))).With(irbuild.Int("axis", 2))
	dim := func(v string, i int64) string {
		return b.Op("Unsqueeze", b.OpA("Gather", attrs(irbuild.Int("axis", 0)), b.Op("Shape", v), b.Const(tensor.Scalar(i))), b.Const(i64s(0)))
	}
	cat0 := func(in ...string) string { return b.OpA("Concat", attrs(irbuild.Int("axis", 0)), in...) }
	target := cat0(dim(sp.Out(1), 0), dim(sp.Out(1), 1), b.Const(i64s(-1)), b.Const(i64s(hd)))
	heads := func(v string) string {
		return b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 2, 1, 3)), b.Op("Reshape", v, target))
	}
	q := heads(sp.Out(0))
	presentK, presentV := heads(sp.Out(1)), heads(sp.Out(2))
	var kT string
	if pastK != "" {
		presentK = b.OpA("Concat", attrs(irbuild.Int("axis", -2)), pastK, presentK)
		presentV = b.OpA("Concat", attrs(irbuild.Int("axis", -2)), pastV, presentV)
		kT = b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 1, 3, 2)), presentK)
	} else {
		// Without a cache kᵀ is a second Transpose of the reshaped keys;
		// the key heads are read only for the mask's length.
		kT = b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 2, 3, 1)), b.Op("Reshape", sp.Out(1), target))
	}
	total := b.Op("Unsqueeze", b.OpA("Gather", attrs(irbuild.Int("axis", 0)), b.Op("Shape", presentK), b.Const(tensor.Scalar(int64(2)))), b.Const(i64s(0)))
	if b.Model().Opset("") >= 15 { // the same length as Shape(present, start=-2, end=-1)
		total = b.OpA("Shape", attrs(irbuild.Int("start", -2), irbuild.Int("end", -1)), presentK)
	}
	m := b.Op("Slice", mask4, b.Const(i64s(0)), total, b.Const(i64s(3)), b.Const(i64s(1)))
	bias := b.Op("Where", m, b.Const(tensor.Scalar(float32(0))), b.Const(tensor.Scalar(float32(math.Inf(-1)))))
	f32 := attrs(irbuild.Int("to", int64(tensor.Float32)))
	size := b.OpA("Cast", f32, b.Op("Slice", b.Op("Shape", q), b.Const(i64s(-1)), b.Const(i64s(math.MaxInt64))))
	scale := b.OpA("Cast", f32, b.Op("Div", b.Const(f32s([]int{1}, 1)), b.Op("Sqrt", size)))
	s := b.Op("MatMul", b.Op("Mul", q, b.Op("Sqrt", scale)), b.Op("Mul", kT, b.Op("Sqrt", scale)))
	p := b.OpA("Softmax", attrs(irbuild.Int("axis", -1)), b.Op("Add", s, bias))
	p = b.Op("Where", b.Op("IsNaN", p), b.Const(f32s([]int{1}, 0)), p)
	ctx := b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 2, 1, 3)), b.Op("MatMul", p, presentV))
	return b.Op("Reshape", ctx, cat0(dim(ctx, 0), dim(ctx, 1), b.Const(i64s(-1)))), presentK, presentV
}

// optimumMask is the (B, 1, S, T) boolean mask optimum's export computes
// from attention_mask (B, T): key j visible from query i (at position
// T - S + i) when j <= T - S + i and attention_mask[b, j] is 1.
func optimumMask(b *irbuild.Builder, mask, ids string) string {
	dim := func(v string, i int64) string {
		return b.OpA("Gather", attrs(irbuild.Int("axis", 0)), b.Op("Shape", v), b.Const(tensor.Scalar(i)))
	}
	total, seq := dim(mask, 1), dim(ids, 1)
	one := b.Const(tensor.Scalar(int64(1)))
	kpos := b.Op("Range", b.Const(tensor.Scalar(int64(0))), total, one)
	qpos := b.Op("Range", b.Op("Sub", total, seq), total, one)
	causal := b.Op("LessOrEqual", b.Op("Unsqueeze", kpos, b.Const(i64s(0))), b.Op("Unsqueeze", qpos, b.Const(i64s(1))))
	keep := b.OpA("Cast", attrs(irbuild.Int("to", int64(tensor.Bool))), b.Op("Unsqueeze", mask, b.Const(i64s(1, 2))))
	return b.Op("And", causal, keep)
}

func optimumModel(opset int64, layers int) *ir.Model {
	b := irbuild.New("optimum-gpt2", irbuild.Opset{Domain: "", Version: opset})
	x := b.Input("x", tensor.Float32, "batch", "sequence", 8)
	ids := b.Input("input_ids", tensor.Int64, "batch", "sequence")
	mask := b.Input("attention_mask", tensor.Int64, "batch", "total_sequence")
	m4 := optimumMask(b, mask, ids)
	var outs []string
	for l := 0; l < layers; l++ {
		pk := b.Input("past_key_values."+string(rune('0'+l))+".key", tensor.Float32, "batch", 2, "past_sequence", 4)
		pv := b.Input("past_key_values."+string(rune('0'+l))+".value", tensor.Float32, "batch", 2, "past_sequence", 4)
		var k, v string
		x, k, v = optimumAttention(b, x, pk, pv, m4)
		outs = append(outs, b.Rename(k, "present."+string(rune('0'+l))+".key"), b.Rename(v, "present."+string(rune('0'+l))+".value"))
	}
	b.Rename(x, "y")
	b.Output("y", tensor.Float32)
	for _, o := range outs {
		b.Output(o, tensor.Float32)
	}
	return b.Model()
}

// TestOptimumGPT2AttentionFusion: optimum's SDPA-form GPT-2 attention with
// past fuses into MultiHeadAttention making the present outputs, at
// opset 14 and 17, with and without cached positions.
func TestOptimumGPT2AttentionFusion(t *testing.T) {
	needMHA(t)
	for _, opset := range []int64{14, 17} {
		m := optimumModel(opset, 2)
		for _, dims := range []map[string]int{pastDims, {"batch": 2, "sequence": 5, "past_sequence": 0, "total_sequence": 5},
			{"batch": 3, "sequence": 1, "past_sequence": 6, "total_sequence": 7}} {
			opt, rep := checkEquivalent(t, m, graphopt.Options{}, dims, maskSomeKeys)
			fusedMHA(t, opt, 2, true, rep)
			if orttest.Err() == nil {
				compareORTDims(t, m, opt, dims, maskSomeKeys)
			}
		}
	}
}

// TestOptimumGPT2NoPastFusion: the export without past (optimum's
// feature-extraction task) fuses too.
func TestOptimumGPT2NoPastFusion(t *testing.T) {
	needMHA(t)
	b := irbuild.New("optimum-gpt2-no-past", irbuild.Opset{Domain: "", Version: 17})
	x := b.Input("x", tensor.Float32, "batch", "sequence", 8)
	ids := b.Input("input_ids", tensor.Int64, "batch", "sequence")
	mask := b.Input("attention_mask", tensor.Int64, "batch", "sequence")
	m4 := optimumMask(b, mask, ids)
	for l := 0; l < 2; l++ {
		x, _, _ = optimumAttention(b, x, "", "", m4)
	}
	b.Rename(x, "y")
	b.Output("y", tensor.Float32)
	m := b.Model()
	dims := map[string]int{"batch": 3, "sequence": 6}
	opt, rep := checkEquivalent(t, m, graphopt.Options{}, dims, maskSomeKeys)
	fusedMHA(t, opt, 2, false, rep)
	if orttest.Err() == nil {
		compareORTDims(t, m, opt, dims, maskSomeKeys)
	}
}

// TestDecoderAttentionNoFusion: attention the fusion must leave alone.
func TestDecoderAttentionNoFusion(t *testing.T) {
	needMHA(t)
	for _, c := range []struct {
		name  string
		build func(b *irbuild.Builder, x, pk, pv, m4 string) []string
	}{
		{"probabilities also an output", func(b *irbuild.Builder, x, pk, pv, m4 string) []string {
			y, k, v := optimumAttention(b, x, pk, pv, m4)
			g := b.Graph()
			var probs string
			for _, n := range g.Nodes {
				if n.OpType == "Softmax" {
					probs = n.Outputs[0]
				}
			}
			return []string{y, k, v, probs}
		}},
		{"scores also read", func(b *irbuild.Builder, x, pk, pv, m4 string) []string {
			y, k, v := optimumAttention(b, x, pk, pv, m4)
			var scores string
			for _, n := range b.Graph().Nodes {
				if n.OpType == "MatMul" && len(n.Outputs) == 1 {
					for _, u := range b.Graph().Nodes {
						if u.OpType == "Add" && u.Inputs[0] == n.Outputs[0] {
							scores = n.Outputs[0]
						}
					}
				}
			}
			return []string{y, k, v, b.OpA("ReduceMax", attrs(irbuild.Int("keepdims", 0)), scores)}
		}},
		{"heads not merged back", func(b *irbuild.Builder, x, pk, pv, m4 string) []string {
			y, k, v := optimumAttention(b, x, pk, pv, m4)
			for _, n := range b.Graph().Nodes {
				if mm := producer(b.Graph(), n.Inputs[0]); n.OpType == "Transpose" && mm != nil && mm.OpType == "MatMul" {
					n.Attrs[0].Ints = []int64{0, 1, 2, 3} // (B, N, S, h) reshaped to (B, N, S*h)
				}
			}
			return []string{y, k, v}
		}},
		{"scale read from an input", func(b *irbuild.Builder, x, pk, pv, m4 string) []string {
			y, k, v := optimumAttention(b, x, pk, pv, m4)
			s := b.Input("s", tensor.Float32)
			for _, n := range b.Graph().Nodes {
				if n.OpType == "Sqrt" {
					n.Inputs[0] = s
				}
			}
			return []string{y, k, v}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := irbuild.New("no-fusion", irbuild.Opset{Domain: "", Version: 17})
			x := b.Input("x", tensor.Float32, "batch", "sequence", 8)
			ids := b.Input("input_ids", tensor.Int64, "batch", "sequence")
			mask := b.Input("attention_mask", tensor.Int64, "batch", "total_sequence")
			pk := b.Input("past_key", tensor.Float32, "batch", 2, "past_sequence", 4)
			pv := b.Input("past_value", tensor.Float32, "batch", 2, "past_sequence", 4)
			for i, o := range c.build(b, x, pk, pv, optimumMask(b, mask, ids)) {
				name := b.Rename(o, "out"+string(rune('0'+i)))
				b.Output(name, tensor.Float32)
			}
			opt, rep := checkEquivalent(t, b.Model(), graphopt.Options{}, pastDims, func(f map[string]*tensor.Tensor) {
				maskSomeKeys(f)
				if s := f["s"]; s != nil {
					tensor.Data[float32](s)[0] = 0.3
				}
			})
			if n := count(opt, "MultiHeadAttention"); n != 0 {
				t.Errorf("fused %d attention nodes:\n%s", n, rep)
			}
		})
	}
}

func producer(g *ir.Graph, s string) *ir.Node {
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == s {
				return n
			}
		}
	}
	return nil
}

// zooMaskAttention is the zoo's GPT-2 attention without past over x (B, S,
// 8): the additive mask Where(And(j <= i, mask[b, j] = 1), 0, lowest),
// or with anti the anti-causal j >= i, the positions' (S, S) comparison
// declared as the zoo declares it.
func zooMaskAttention(anti bool) *ir.Model {
	const H, nh, hd = 8, 2, 4
	b := irbuild.New("zoo-mask", irbuild.Opset{Domain: "", Version: 17})
	x := b.Input("x", tensor.Float32, "batch", "sequence", H)
	mask := b.Input("attention_mask", tensor.Int64, "batch", "sequence")
	r := b.Op("Range", b.Const(tensor.Scalar(int64(0))), b.OpA("Gather", attrs(irbuild.Int("axis", 0)), b.Op("Shape", x), b.Const(tensor.Scalar(int64(1)))), b.Const(tensor.Scalar(int64(1))))
	row, col := b.Op("Unsqueeze", r, b.Const(i64s(0))), b.Op("Unsqueeze", r, b.Const(i64s(1)))
	if anti {
		row, col = col, row
	}
	le := b.Op("LessOrEqual", row, col)
	g := b.Graph()
	g.ValueInfo = append(g.ValueInfo, &ir.ValueInfo{Name: le, Type: tensor.Type{Kind: tensor.KindTensor, DType: tensor.Bool, HasShape: true, Shape: irbuild.Dims("sequence", "sequence")}})
	keep := b.OpA("Cast", attrs(irbuild.Int("to", int64(tensor.Bool))), b.Op("Unsqueeze", mask, b.Const(i64s(1, 2))))
	add := b.Op("Where", b.Op("And", le, keep), b.Const(tensor.Scalar(float32(0))), b.Const(tensor.Scalar(float32(-math.MaxFloat32))))
	qkv := b.Op("Add", b.Op("MatMul", x, b.Const(f32s([]int{H, 3 * H}))), b.Const(f32s([]int{3 * H})))
	sp := b.OpN("Split", 3, qkv, b.Const(i64s(H, H, H))).With(irbuild.Int("axis", -1))
	heads := func(v string, perm ...int64) string {
		return b.OpA("Transpose", attrs(irbuild.Ints("perm", perm...)), b.Op("Reshape", v, b.Const(i64s(0, 0, nh, hd))))
	}
	s := b.Op("Mul", b.Op("MatMul", heads(sp.Out(0), 0, 2, 1, 3), heads(sp.Out(1), 0, 2, 3, 1)), b.Const(tensor.Scalar(float32(0.5))))
	p := b.OpA("Softmax", attrs(irbuild.Int("axis", -1)), b.Op("Add", s, add))
	ctx := b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 2, 1, 3)), b.Op("MatMul", p, heads(sp.Out(2), 0, 2, 1, 3)))
	b.Rename(b.Op("Reshape", ctx, b.Const(i64s(0, 0, H))), "y")
	b.Output("y", tensor.Float32)
	return b.Model()
}

// TestZooMaskUnidirectional: the zoo's causal mask becomes unidirectional
// with a key padding mask; the anti-causal one stays an attention_bias.
func TestZooMaskUnidirectional(t *testing.T) {
	needMHA(t)
	for _, anti := range []bool{false, true} {
		m := zooMaskAttention(anti)
		dims := map[string]int{"batch": 3, "sequence": 5}
		opt, rep := checkEquivalent(t, m, graphopt.Options{}, dims, maskSomeKeys)
		fusedMHA(t, opt, 1, false, rep)
		for _, n := range opt.Graph.Nodes {
			if n.OpType != "MultiHeadAttention" {
				continue
			}
			uni := false
			for _, a := range n.Attrs {
				uni = uni || a.Name == "unidirectional" && a.I == 1
			}
			if uni == anti {
				t.Errorf("anti-causal %v: unidirectional %v, inputs %q", anti, uni, n.Inputs)
			}
		}
		if orttest.Err() == nil {
			compareORTDims(t, m, opt, dims, maskSomeKeys)
		}
	}
}

// TestDecoderAttentionLeftPadding: with left padding some queries see no
// key at all. The fused graphs must not give NaN there (natively or in
// ONNX Runtime, whose MultiHeadAttention gives NaN rows for an all -Inf
// bias) and must equal the unfused graph at every other position.
func TestDecoderAttentionLeftPadding(t *testing.T) {
	needMHA(t)
	leftPad := func(f map[string]*tensor.Tensor) {
		m := f["attention_mask"]
		d, w := tensor.Data[int64](m), m.Shape()[1]
		for b := 0; b < m.Shape()[0]; b++ {
			for j := 0; j < w; j++ {
				d[b*w+j] = 1
			}
		}
		d[w], d[w+1] = 0, 0 // batch 1: two padding positions first
	}
	for _, c := range []struct {
		name string
		m    *ir.Model
		dims map[string]int
		pos  string // the (B, S, ...) output whose padding rows are free
	}{
		{"zoo", zooGPT2(t, false), map[string]int{"batch": 2, "sequence": 6}, "logits"},
		{"zoo with past", zooGPT2(t, true), map[string]int{"batch": 2, "sequence": 6, "past_sequence": 0, "total_sequence": 6}, "logits"},
		{"optimum with past", optimumModel(17, 2), map[string]int{"batch": 2, "sequence": 6, "past_sequence": 0, "total_sequence": 6}, "y"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opt, _, err := graphopt.Optimize(c.m, graphopt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			feeds, err := conformance.RandomFeeds(c.m, 5, c.dims)
			if err != nil {
				t.Fatal(err)
			}
			leftPad(feeds)
			want := runModel(t, c.m, nil, feeds)
			runs := map[string]map[string]*tensor.Tensor{"native": runModel(t, opt, nil, feeds)}
			if orttest.Err() == nil {
				runs["ONNX Runtime"] = runModel(t, opt, ort.New(ort.Options{}), feeds)
			}
			for who, got := range runs {
				for name, w := range want {
					g := got[name]
					gd, wd := tensor.Data[float32](g), tensor.Data[float32](w)
					// Clear the padding positions: batch 1, positions 0 and 1
					// ((B, S, ...) outputs) or keys 0 and 1 (present, (B, N, T, h)).
					sh := w.Shape()
					for i := range wd {
						if math.IsNaN(float64(gd[i])) {
							t.Fatalf("%s: output %q has NaN at %d", who, name, i)
						}
						idx, rest := i, make([]int, len(sh))
						for k := len(sh) - 1; k >= 0; k-- {
							rest[k], idx = idx%sh[k], idx/sh[k]
						}
						pos := rest[1]
						if name != c.pos {
							pos = rest[2]
						}
						if rest[0] == 1 && pos < 2 {
							gd[i], wd[i] = 0, 0
						}
					}
					if d, err := maxDiff(w, g); err != nil || d > 1e-4 {
						t.Errorf("%s: output %q away from the padding: error %g (%v)", who, name, d, err)
					}
				}
			}
		})
	}
}

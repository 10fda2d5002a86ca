package contrib_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/runtime"
	"github.com/gort-ml/gort/runtime/ort"
	"github.com/gort-ml/gort/tensor"
)

const ms = "com.microsoft"

// tol is the agreement required with ONNX Runtime: |got - want| <= tol +
// tol*|want|.
const tol = 1e-4

// in is a named node input; a nil tensor is an omitted optional input.
type in struct {
	name string
	t    *tensor.Tensor
}

// out is a named node output; an empty name is an omitted optional one.
type out struct {
	name  string
	dtype tensor.DType
}

// tc is one node run natively and through ONNX Runtime.
type tc struct {
	name    string
	domain  string // ms unless set; "-" for the default domain
	op      string
	attrs   []ops.Attr
	inputs  []in
	outputs []out
	// ortOp, when set, replaces the node for the ONNX Runtime run by an
	// equivalent graph of other ops (for contrib ops its CPU build lacks).
	ortOp func(b *irbuild.Builder, inputs []string) []string
	// tol overrides the default tolerance (for float16).
	tol float64
	// skipMissing skips the case when ONNX Runtime has no kernel for it.
	skipMissing bool
	// opset is the default-domain opset of the model (17 unless set).
	opset int64
	// quantTol is the difference allowed in 8-bit outputs (requantizing
	// a float computed in another order may round the other way).
	quantTol float64
}

func f32(r *rand.Rand, shape ...int) *tensor.Tensor {
	x := tensor.Zeros(tensor.Float32, shape...)
	d := tensor.Data[float32](x)
	for i := range d {
		d[i] = float32(r.NormFloat64())
	}
	return x
}

func i32(shape []int, v ...int32) *tensor.Tensor { return tensor.Must(shape, v) }

func randIDs(r *rand.Rand, n, shape0, shape1 int) *tensor.Tensor {
	v := make([]int32, shape0*shape1)
	for i := range v {
		v[i] = int32(r.IntN(n))
	}
	return i32([]int{shape0, shape1}, v...)
}

func y(dt tensor.DType) []out { return []out{{"y", dt}} }

var (
	attrInt   = irbuild.Int
	attrFloat = irbuild.Float
	attrInts  = irbuild.Ints
)

// stats collects the largest error against ONNX Runtime per op.
var stats = struct {
	sync.Mutex
	maxErr map[string]float64
}{maxErr: map[string]float64{}}

func record(op string, e float64) {
	stats.Lock()
	defer stats.Unlock()
	if e > stats.maxErr[op] || !(stats.maxErr[op] > 0) {
		stats.maxErr[op] = max(e, stats.maxErr[op])
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if len(stats.maxErr) > 0 && testing.Verbose() {
		var keys []string
		for k := range stats.maxErr {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Println("max |gort - ORT| per op:")
		for _, k := range keys {
			fmt.Printf("  %-44s %.3g\n", k, stats.maxErr[k])
		}
	}
	os.Exit(code)
}

func session(t *testing.T, c tc, alt bool, p runtime.Provider) *runtime.Session {
	t.Helper()
	s, err := runtime.NewSession(sessionModel(c, alt), runtime.Options{Provider: p})
	if err != nil {
		t.Fatalf("%s session: %v", map[bool]string{true: "ort", false: "native"}[p != nil], err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// sessionModel builds the one-node model of c (or, with alt, its
// replacement graph for ONNX Runtime).
func sessionModel(c tc, alt bool) *ir.Model {
	opset := c.opset
	if opset == 0 {
		opset = 17
	}
	b := irbuild.New(c.name, irbuild.Opset{Domain: "", Version: opset}, irbuild.Opset{Domain: ms, Version: 1})
	names := make([]string, len(c.inputs))
	for i, x := range c.inputs {
		if x.t == nil {
			continue
		}
		dims := make([]any, x.t.Rank())
		for j, d := range x.t.Shape() {
			dims[j] = d
		}
		names[i] = b.Input(x.name, x.t.DType(), dims...)
	}
	if alt {
		outs := c.ortOp(b, names)
		for i, o := range c.outputs {
			if o.name != "" {
				b.Output(b.Rename(outs[i], o.name), o.dtype)
			}
		}
	} else {
		domain := c.domain
		switch domain {
		case "":
			domain = ms
		case "-":
			domain = ""
		}
		n := b.OpN(c.op, len(c.outputs), names...).Domain(domain).With(c.attrs...)
		for i, o := range c.outputs {
			n.Named(i, o.name)
			if o.name != "" {
				b.Output(o.name, o.dtype)
			}
		}
	}
	return b.Model()
}

func floats(x *tensor.Tensor) []float64 {
	var v []float64
	switch d := x.Raw().(type) {
	case []float32:
		for _, e := range d {
			v = append(v, float64(e))
		}
	case []float64:
		v = d
	case []tensor.Float16Bits:
		for _, e := range d {
			v = append(v, float64(e.Float32()))
		}
	case []int32:
		for _, e := range d {
			v = append(v, float64(e))
		}
	case []uint8:
		for _, e := range d {
			v = append(v, float64(e))
		}
	case []int8:
		for _, e := range d {
			v = append(v, float64(e))
		}
	case []int64:
		for _, e := range d {
			v = append(v, float64(e))
		}
	}
	return v
}

// check runs c natively and with ONNX Runtime and compares every output.
func check(t *testing.T, c tc) {
	t.Helper()
	orttest.Need(t)
	t.Run(c.name, func(t *testing.T) {
		feeds := map[string]*tensor.Tensor{}
		for _, x := range c.inputs {
			if x.t != nil {
				feeds[x.name] = x.t
			}
		}
		native := session(t, c, false, nil)
		got, err := native.Run(context.Background(), feeds)
		if err != nil {
			t.Fatalf("native: %v", err)
		}
		checkInfer(t, c, got)
		if c.skipMissing {
			if _, err := runtime.NewSession(sessionModel(c, c.ortOp != nil), runtime.Options{Provider: ort.New(ort.Options{})}); err != nil &&
				strings.Contains(err.Error(), "Could not find an implementation") {
				t.Skipf("ONNX Runtime's CPU build has no kernel: %v", err)
			}
		}
		ref := session(t, c, c.ortOp != nil, ort.New(ort.Options{}))
		want, err := ref.Run(context.Background(), feeds)
		if err != nil {
			t.Fatalf("ort: %v", err)
		}
		for _, o := range c.outputs {
			if o.name == "" {
				continue
			}
			g, w := got[o.name], want[o.name]
			if g == nil || w == nil {
				t.Fatalf("output %s: native %v, ort %v", o.name, g, w)
			}
			if !tensor.SameShape(g.Shape(), w.Shape()) || g.DType() != w.DType() {
				t.Fatalf("output %s: native %v%v, ort %v%v", o.name, g.DType(), g.Shape(), w.DType(), w.Shape())
			}
			gv, wv := floats(g), floats(w)
			tl := tol
			if c.tol != 0 {
				tl = c.tol
			}
			worst, at := 0.0, -1
			for i := range gv {
				e := math.Abs(gv[i] - wv[i])
				if math.IsNaN(e) && !(math.IsNaN(gv[i]) && math.IsNaN(wv[i])) {
					e = math.Inf(1)
				}
				if e > worst {
					worst = e
				}
				bound := tl + tl*math.Abs(wv[i])
				if g.DType() == tensor.Uint8 || g.DType() == tensor.Int8 {
					bound = c.quantTol
				}
				if e > bound && at < 0 {
					at = i
				}
			}
			if c.tol == 0 {
				record(c.op, worst)
			} else {
				record(c.op+" (float16)", worst)
			}
			if at >= 0 {
				t.Errorf("output %s %v: element %d native %g, ort %g (max error %.3g)", o.name, w.Shape(), at, gv[at], wv[at], worst)
			}
		}
	})
}

// checkInfer checks the schema's type inference against the outputs of a
// run: dtypes where inferred, and every dimension inferred as known.
func checkInfer(t *testing.T, c tc, got map[string]*tensor.Tensor) {
	t.Helper()
	domain := c.domain
	switch domain {
	case "":
		domain = ms
	case "-":
		domain = ""
	}
	opset := int(c.opset)
	if opset == 0 {
		opset = 17
	}
	op, err := all.Registry().Lookup(domain, c.op, opset)
	if err != nil {
		t.Fatal(err)
	}
	if op.Infer == nil {
		return
	}
	n := &ops.Node{OpType: c.op, Domain: domain, Opset: op.Since, Attrs: c.attrs}
	var types []tensor.Type
	for _, x := range c.inputs {
		n.Inputs = append(n.Inputs, x.name)
		if x.t == nil {
			n.Inputs[len(n.Inputs)-1] = ""
			types = append(types, tensor.Type{})
			continue
		}
		types = append(types, tensor.TensorType(x.t.DType(), x.t.Shape()...))
	}
	for _, o := range c.outputs {
		n.Outputs = append(n.Outputs, o.name)
	}
	inferred, err := op.Infer(n, types)
	if err != nil {
		t.Fatalf("infer: %v", err)
	}
	for i, it := range inferred {
		if i >= len(c.outputs) || c.outputs[i].name == "" {
			continue
		}
		g := got[c.outputs[i].name]
		if it.DType != tensor.Undefined && it.DType != g.DType() {
			t.Errorf("output %d: inferred dtype %v, got %v", i, it.DType, g.DType())
		}
		if !it.HasShape {
			continue
		}
		if len(it.Shape) != g.Rank() {
			t.Errorf("output %d: inferred rank %d, got shape %v", i, len(it.Shape), g.Shape())
			continue
		}
		for j, d := range it.Shape {
			if d.Known() && int(d.Size) != g.Shape()[j] {
				t.Errorf("output %d: inferred shape %v, got %v", i, it.Shape, g.Shape())
				break
			}
		}
	}
}

func TestActivations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, sh := range [][]int{{7}, {2, 3, 8}, {3, 1, 5, 16}} {
		d := sh[len(sh)-1]
		name := strings.Trim(strings.ReplaceAll(fmt.Sprint(sh), " ", "x"), "[]")
		x, bias := f32(r, sh...), f32(r, d)
		check(t, tc{name: "Gelu/" + name, op: "Gelu", inputs: []in{{"x", x}}, outputs: y(tensor.Float32)})
		check(t, tc{name: "BiasGelu/" + name, op: "BiasGelu", inputs: []in{{"x", x}, {"b", bias}}, outputs: y(tensor.Float32)})
		check(t, tc{name: "FastGelu/" + name, op: "FastGelu", inputs: []in{{"x", x}}, outputs: y(tensor.Float32)})
		check(t, tc{name: "FastGelu/bias/" + name, op: "FastGelu", inputs: []in{{"x", x}, {"b", bias}}, outputs: y(tensor.Float32)})
		check(t, tc{name: "QuickGelu/" + name, op: "QuickGelu", inputs: []in{{"x", x}}, outputs: y(tensor.Float32)})
		check(t, tc{name: "QuickGelu/alpha/" + name, op: "QuickGelu", attrs: []ops.Attr{attrFloat("alpha", 1.2)},
			inputs: []in{{"x", x}}, outputs: y(tensor.Float32)})
	}
}

func TestFusedMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 1))
	type mm struct {
		a, b             []int
		ta, tb, tba, tbb int64
		alpha            float32
	}
	for _, m := range []mm{
		{a: []int{3, 4}, b: []int{4, 5}, alpha: 1},
		{a: []int{4, 3}, b: []int{4, 5}, ta: 1, alpha: 0.5},
		{a: []int{3, 4}, b: []int{5, 4}, tb: 1, alpha: 2},
		{a: []int{2, 3, 4}, b: []int{2, 5, 4}, tb: 1, alpha: 0.125},
		{a: []int{2, 1, 4, 3}, b: []int{3, 4, 5}, ta: 1, alpha: 1},
		{a: []int{4}, b: []int{2, 4, 5}, alpha: 1},
		{a: []int{2, 3, 4}, b: []int{4}, alpha: 1.5},
		// transBatchA: A (3, 2, 4) is used as (2, 3, 4).
		{a: []int{3, 2, 4}, b: []int{2, 4, 5}, tba: 1, alpha: 1},
		{a: []int{3, 2, 4}, b: []int{2, 3, 5}, tba: 1, ta: 1, alpha: 1},
		{a: []int{2, 3, 4}, b: []int{5, 2, 4}, tbb: 1, alpha: 1},
		{a: []int{2, 3, 4}, b: []int{5, 2, 4}, tbb: 1, tb: 0, alpha: 0.7},
		{a: []int{2, 2, 3, 4}, b: []int{5, 2, 2, 4}, tbb: 1, tb: 1, tba: 0, alpha: 1},
		{a: []int{3, 2, 2, 4}, b: []int{2, 2, 4, 5}, tba: 1, alpha: 1},
	} {
		if m.tbb == 1 && m.tb == 0 && len(m.b) == 3 {
			m.b = []int{4, 2, 5}
		}
		check(t, tc{name: fmt.Sprintf("%v%v_t%d%d_tb%d%d", m.a, m.b, m.ta, m.tb, m.tba, m.tbb), op: "FusedMatMul",
			attrs:  []ops.Attr{attrFloat("alpha", m.alpha), attrInt("transA", m.ta), attrInt("transB", m.tb), attrInt("transBatchA", m.tba), attrInt("transBatchB", m.tbb)},
			inputs: []in{{"a", f32(r, m.a...)}, {"b", f32(r, m.b...)}}, outputs: y(tensor.Float32)})
	}
}

func TestBiasSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 1))
	for _, c := range []struct {
		x, b  []int
		axis  int64
		inner int64
	}{
		{[]int{2, 3, 4, 5}, []int{2, 1, 1, 5}, 3, 1},
		{[]int{2, 3, 4, 5}, []int{1, 3, 4, 5}, 3, 0},
		{[]int{4, 6}, []int{4, 6}, 1, 0},
	} {
		check(t, tc{name: fmt.Sprint(c.x, c.b), op: "BiasSoftmax",
			attrs:  []ops.Attr{attrInt("axis", c.axis), attrInt("is_inner_broadcast", c.inner)},
			inputs: []in{{"x", f32(r, c.x...)}, {"b", f32(r, c.b...)}}, outputs: y(tensor.Float32),
			ortOp: func(b *irbuild.Builder, in []string) []string {
				return []string{b.OpA("Softmax", []ops.Attr{attrInt("axis", c.axis)}, b.Op("Add", in[0], in[1]))}
			}})
	}
}

func TestSkipLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 1))
	for _, simplified := range []bool{false, true} {
		op := "SkipLayerNormalization"
		if simplified {
			op = "SkipSimplifiedLayerNormalization"
		}
		for _, c := range []struct {
			x, skip          []int
			beta, bias, outs bool
		}{
			{[]int{2, 3, 8}, []int{2, 3, 8}, true, true, true},
			{[]int{2, 3, 8}, []int{2, 3, 8}, false, false, false},
			{[]int{2, 5, 16}, []int{1, 5, 16}, true, false, true},
			{[]int{3, 4, 6}, []int{4, 6}, false, true, true},
			{[]int{6, 8}, []int{6, 8}, true, true, true},
		} {
			h := c.x[len(c.x)-1]
			ins := []in{{"x", f32(r, c.x...)}, {"skip", f32(r, c.skip...)}, {"gamma", f32(r, h)}}
			if !simplified {
				var beta *tensor.Tensor
				if c.beta {
					beta = f32(r, h)
				}
				ins = append(ins, in{"beta", beta})
			}
			if c.bias {
				ins = append(ins, in{"bias", f32(r, h)})
			}
			outs := y(tensor.Float32)
			if c.outs {
				outs = append(outs, out{"", tensor.Float32}, out{"", tensor.Float32}, out{"sum", tensor.Float32})
			}
			check(t, tc{name: fmt.Sprintf("%s/%v%v_beta%v_bias%v", op, c.x, c.skip, c.beta, c.bias), op: op,
				attrs: []ops.Attr{attrFloat("epsilon", 1e-5)}, inputs: ins, outputs: outs})
		}
	}
	// mean and inv_std_var outputs.
	x := f32(r, 2, 3, 8)
	for _, op := range []string{"SkipLayerNormalization", "SkipSimplifiedLayerNormalization"} {
		ins := []in{{"x", x}, {"skip", f32(r, 2, 3, 8)}, {"gamma", f32(r, 8)}}
		check(t, tc{name: op + "/stats", op: op, inputs: ins,
			outputs: []out{{"y", tensor.Float32}, {"mean", tensor.Float32}, {"inv", tensor.Float32}, {"sum", tensor.Float32}}})
	}
}

func TestSimplifiedLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 1))
	for _, c := range []struct {
		x    []int
		axis int64
	}{{[]int{2, 3, 8}, -1}, {[]int{2, 3, 4}, 1}, {[]int{5, 16}, -1}} {
		x := f32(r, c.x...)
		axis, _ := ops.NormAxis(c.axis, len(c.x))
		check(t, tc{name: fmt.Sprint("Simplified", c.x, c.axis), domain: "-", op: "SimplifiedLayerNormalization",
			attrs: []ops.Attr{attrInt("axis", c.axis), attrFloat("epsilon", 1e-6)}, inputs: []in{{"x", x}, {"scale", f32(r, c.x[axis:]...)}},
			outputs: []out{{"y", tensor.Float32}, {"inv", tensor.Float32}}})
		check(t, tc{name: fmt.Sprint("LayerNorm1", c.x, c.axis), domain: "-", op: "LayerNormalization", opset: 14,
			attrs:   []ops.Attr{attrInt("axis", c.axis)},
			inputs:  []in{{"x", x}, {"scale", f32(r, c.x[axis:]...)}, {"bias", f32(r, c.x[axis:]...)}},
			outputs: []out{{"y", tensor.Float32}, {"mean", tensor.Float32}, {"inv", tensor.Float32}}})
	}
}

func TestEmbedLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 1))
	const vocab, maxPos, types, hidden = 11, 9, 2, 8
	for _, c := range []struct {
		b, s                int
		seg, mask, pos, sum bool
		posBatch            bool
	}{
		{1, 5, true, true, false, false, false},
		{2, 4, true, true, false, true, false},
		{3, 6, false, false, false, false, false},
		{2, 7, true, true, true, true, true},
		{2, 3, false, true, true, false, false},
	} {
		ins := []in{{"ids", randIDs(r, vocab, c.b, c.s)}, {"seg", nil}, {"word", f32(r, vocab, hidden)},
			{"posemb", f32(r, maxPos, hidden)}, {"segemb", nil}, {"gamma", f32(r, hidden)}, {"beta", f32(r, hidden)}, {"mask", nil}, {"posids", nil}}
		if c.seg {
			ins[1].t, ins[4].t = randIDs(r, types, c.b, c.s), f32(r, types, hidden)
		}
		if c.mask {
			m := make([]int32, c.b*c.s)
			for b := 0; b < c.b; b++ {
				n := 1 + r.IntN(c.s)
				for s := 0; s < n; s++ {
					m[b*c.s+s] = 1
				}
			}
			ins[7].t = i32([]int{c.b, c.s}, m...)
		}
		if c.pos {
			rows := 1
			if c.posBatch {
				rows = c.b
			}
			ins[8].t = randIDs(r, maxPos, rows, c.s)
		}
		outs := []out{{"y", tensor.Float32}, {"mask_index", tensor.Int32}}
		if c.sum {
			outs = append(outs, out{"sum", tensor.Float32})
		}
		check(t, tc{name: fmt.Sprintf("b%d_s%d_seg%v_mask%v_pos%v", c.b, c.s, c.seg, c.mask, c.pos), op: "EmbedLayerNormalization",
			attrs: []ops.Attr{attrFloat("epsilon", 1e-5)}, inputs: ins, outputs: outs})
	}
}

// padMask returns a (B, T) 0/1 mask whose row b has ones in its first
// lens[b] columns.
func padMask(t int, lens ...int) *tensor.Tensor {
	v := make([]int32, len(lens)*t)
	for b, n := range lens {
		for j := 0; j < n; j++ {
			v[b*t+j] = 1
		}
	}
	return i32([]int{len(lens), t}, v...)
}

func TestAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 1))
	const din = 8
	type ac struct {
		name           string
		b, s, n, past  int
		sizes          []int64
		noBias, causal bool
		mask           func(b, s, total int) *tensor.Tensor
		bias           []int // attention_bias shape prefix (B|1, N|1)
		scale          float32
	}
	lens := func(v ...int32) func(b, s, total int) *tensor.Tensor {
		return func(b, s, total int) *tensor.Tensor { return i32([]int{len(v)}, v...) }
	}
	for _, c := range []ac{
		{name: "plain", b: 2, s: 3, n: 2},
		{name: "nobias", b: 1, s: 4, n: 4, noBias: true},
		{name: "keylens", b: 2, s: 4, n: 2, mask: lens(4, 2)},
		{name: "endstart", b: 2, s: 5, n: 2, mask: lens(5, 3, 0, 1)},
		{name: "mask2d", b: 3, s: 4, n: 2, mask: func(b, s, total int) *tensor.Tensor { return padMask(total, 4, 1, 3) }},
		{name: "mask3d", b: 2, s: 3, n: 2, mask: func(b, s, total int) *tensor.Tensor {
			v := make([]int32, b*s*total)
			for i := range v {
				v[i] = int32(r.IntN(2))
			}
			for i := 0; i < len(v); i += total {
				v[i] = 1
			}
			return i32([]int{b, s, total}, v...)
		}},
		{name: "causal", b: 2, s: 5, n: 2, causal: true},
		{name: "causal_keylens", b: 2, s: 4, n: 1, causal: true, mask: lens(4, 3)},
		{name: "causal_masked_rows", b: 2, s: 4, n: 2, causal: true, mask: lens(4, 3, 0, 2)},
		{name: "past", b: 2, s: 3, n: 2, past: 4},
		{name: "past_keylens", b: 2, s: 2, n: 2, past: 3, mask: lens(5, 4)},
		{name: "past_causal_mask2d", b: 2, s: 2, n: 2, past: 3, causal: true, mask: func(b, s, total int) *tensor.Tensor { return padMask(total, 5, 4) }},
		{name: "decode", b: 3, s: 1, n: 4, past: 5, causal: true, mask: func(b, s, total int) *tensor.Tensor { return padMask(total, 6, 3, 5) }},
		{name: "qkv_sizes", b: 2, s: 3, n: 2, sizes: []int64{8, 8, 12}},
		{name: "scale", b: 2, s: 3, n: 2, scale: 0.7},
		{name: "attention_bias", b: 2, s: 3, n: 2, bias: []int{2, 2}, mask: lens(3, 2)},
		{name: "attention_bias_bcast", b: 2, s: 3, n: 2, bias: []int{1, 1}, causal: true},
	} {
		dq, dk, dv := int64(din), int64(din), int64(din)
		if c.sizes != nil {
			dq, dk, dv = c.sizes[0], c.sizes[1], c.sizes[2]
		}
		total := c.past + c.s
		hk := int(dk) / c.n
		attrs := []ops.Attr{attrInt("num_heads", int64(c.n)), attrInt("unidirectional", b2i(c.causal))}
		if c.sizes != nil {
			attrs = append(attrs, attrInts("qkv_hidden_sizes", c.sizes...))
		}
		if c.scale != 0 {
			attrs = append(attrs, attrFloat("scale", c.scale))
		}
		ins := []in{{"x", f32(r, c.b, c.s, din)}, {"w", f32(r, din, int(dq+dk+dv))}, {"bias", f32(r, int(dq+dk+dv))},
			{"mask", nil}, {"past", nil}, {"attn_bias", nil}}
		if c.noBias {
			ins[2].t = nil
		}
		if c.mask != nil {
			ins[3].t = c.mask(c.b, c.s, total)
		}
		outs := y(tensor.Float32)
		if c.past > 0 {
			ins[4].t = f32(r, 2, c.b, c.n, c.past, hk)
			outs = append(outs, out{"present", tensor.Float32})
		}
		if c.bias != nil {
			ins[5].t = f32(r, c.bias[0], c.bias[1], c.s, total)
		}
		k := tc{name: c.name, op: "Attention", attrs: attrs, inputs: ins, outputs: outs}
		if c.noBias {
			// ONNX Runtime's CPU kernel needs the bias: give it zeros.
			k.ortOp = func(b *irbuild.Builder, in []string) []string {
				in[2] = b.Const(tensor.Zeros(tensor.Float32, int(dq+dk+dv)))
				n := b.OpN("Attention", len(outs), in...).Domain(ms).With(attrs...)
				return []string{n.Out(0)}
			}
		}
		check(t, k)
	}
}

// The 4-D (B, 1, M, M) mask_index (Megatron GPT-2), which ONNX Runtime's
// CPU kernel lacks, must equal its (B, S, T) slice [P:P+S, :T] as a 3-D
// mask.
func TestAttentionMask4D(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 1))
	const b, s, past, n, h, maxLen = 2, 3, 2, 2, 4, 7
	total := past + s
	m4 := make([]int32, b*maxLen*maxLen)
	for i := range m4 {
		m4[i] = int32(r.IntN(2))
	}
	m3 := make([]int32, b*s*total)
	for bi := 0; bi < b; bi++ {
		for i := 0; i < s; i++ {
			m4[(bi*maxLen+past+i)*maxLen] = 1
			for j := 0; j < total; j++ {
				m3[(bi*s+i)*total+j] = m4[(bi*maxLen+past+i)*maxLen+j]
			}
		}
	}
	attrs := []ops.Attr{attrInt("num_heads", n)}
	ins := []in{{"x", f32(r, b, s, n*h)}, {"w", f32(r, n*h, 3*n*h)}, {"bias", f32(r, 3*n*h)},
		{"mask", i32([]int{b, 1, maxLen, maxLen}, m4...)}, {"past", f32(r, 2, b, n, past, h)}}
	check(t, tc{name: "mask4d", op: "Attention", attrs: attrs, inputs: ins,
		outputs: []out{{"y", tensor.Float32}, {"present", tensor.Float32}},
		ortOp: func(bd *irbuild.Builder, in []string) []string {
			in[3] = bd.Const(i32([]int{b, s, total}, m3...))
			nd := bd.OpN("Attention", 2, in...).Domain(ms).With(attrs...)
			return []string{nd.Out(0), nd.Out(1)}
		}})
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func TestMultiHeadAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	type mc struct {
		name              string
		b, s, l, n, h, hv int
		past              int
		layout            string // "", "kv" (packed K/V), "qkv" (packed Q/K/V), "bnsh"
		noBias, causal    bool
		mask              func(b, total int) *tensor.Tensor
		bias              []int
		scale             float32
		qk                bool
	}
	for _, c := range []mc{
		{name: "qk", b: 2, s: 3, l: 4, n: 2, h: 4, hv: 4, bias: []int{1, 2}, mask: func(b, total int) *tensor.Tensor { return padMask(total, 4, 3) }, qk: true},
		{name: "qk_past_causal", b: 2, s: 2, l: 2, n: 2, h: 4, hv: 4, past: 3, causal: true, qk: true},
		{name: "separate", b: 2, s: 3, l: 4, n: 2, h: 4, hv: 4},
		{name: "nobias", b: 2, s: 3, l: 5, n: 2, h: 4, hv: 4, noBias: true},
		{name: "value_head_size", b: 2, s: 3, l: 4, n: 2, h: 4, hv: 6},
		{name: "keylens", b: 2, s: 3, l: 4, n: 2, h: 4, hv: 4, mask: func(b, total int) *tensor.Tensor { return i32([]int{2}, 4, 2) }},
		{name: "mask2d", b: 3, s: 2, l: 4, n: 2, h: 4, hv: 4, mask: func(b, total int) *tensor.Tensor { return padMask(total, 4, 1, 3) }},
		{name: "mask3d", b: 2, s: 2, l: 3, n: 2, h: 4, hv: 4, mask: func(b, total int) *tensor.Tensor {
			return i32([]int{2, 2, 3}, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0)
		}},
		{name: "attention_bias", b: 2, s: 3, l: 4, n: 2, h: 4, hv: 4, bias: []int{2, 2}},
		{name: "attention_bias_bcast", b: 2, s: 3, l: 4, n: 2, h: 4, hv: 4, bias: []int{1, 2}, mask: func(b, total int) *tensor.Tensor { return padMask(total, 4, 3) }},
		{name: "causal", b: 2, s: 4, l: 4, n: 2, h: 4, hv: 4, causal: true},
		{name: "past", b: 2, s: 2, l: 2, n: 2, h: 4, hv: 4, past: 3, causal: true},
		{name: "decode_mask", b: 3, s: 1, l: 1, n: 2, h: 4, hv: 4, past: 4, causal: true, mask: func(b, total int) *tensor.Tensor { return padMask(total, 5, 2, 4) }},
		{name: "packed_kv", b: 2, s: 3, l: 5, n: 2, h: 4, hv: 4, layout: "kv", noBias: true},
		{name: "packed_qkv", b: 2, s: 3, l: 3, n: 2, h: 4, hv: 4, layout: "qkv", noBias: true},
		{name: "bnsh_kv", b: 2, s: 3, l: 5, n: 2, h: 4, hv: 4, layout: "bnsh", noBias: true},
		{name: "bnsh_kv_bias", b: 2, s: 3, l: 5, n: 2, h: 4, hv: 4, layout: "bnsh"},
		{name: "scale", b: 1, s: 3, l: 4, n: 3, h: 2, hv: 2, scale: 0.3},
	} {
		d, dv := c.n*c.h, c.n*c.hv
		total := c.past + c.l
		attrs := []ops.Attr{attrInt("num_heads", int64(c.n)), attrInt("unidirectional", b2i(c.causal))}
		if c.scale != 0 {
			attrs = append(attrs, attrFloat("scale", c.scale))
		}
		ins := []in{{"q", f32(r, c.b, c.s, d)}, {"k", f32(r, c.b, c.l, d)}, {"v", f32(r, c.b, c.l, dv)}, {"bias", f32(r, 2*d+dv)},
			{"mask", nil}, {"attn_bias", nil}, {"past_key", nil}, {"past_value", nil}}
		switch c.layout {
		case "kv":
			ins[1].t, ins[2].t = f32(r, c.b, c.l, c.n, 2, c.h), nil
		case "qkv":
			ins[0].t, ins[1].t, ins[2].t = f32(r, c.b, c.s, c.n, 3, c.h), nil, nil
		case "bnsh":
			ins[1].t, ins[2].t = f32(r, c.b, c.n, c.l, c.h), f32(r, c.b, c.n, c.l, c.hv)
		}
		if c.noBias {
			ins[3].t = nil
		}
		if c.mask != nil {
			ins[4].t = c.mask(c.b, total)
		}
		if c.bias != nil {
			ins[5].t = f32(r, c.bias[0], c.bias[1], c.s, total)
		}
		outs := y(tensor.Float32)
		if c.past > 0 {
			ins[6].t, ins[7].t = f32(r, c.b, c.n, c.past, c.h), f32(r, c.b, c.n, c.past, c.hv)
			outs = append(outs, out{"present_key", tensor.Float32}, out{"present_value", tensor.Float32})
		}
		if c.qk {
			for len(outs) < 3 {
				outs = append(outs, out{"", 0})
			}
			outs = append(outs, out{"qk", tensor.Float32})
		}
		k := tc{name: c.name, op: "MultiHeadAttention", attrs: attrs, inputs: ins, outputs: outs}
		if c.layout == "kv" || c.layout == "qkv" {
			// ONNX Runtime's CPU kernel does not take packed inputs: unpack
			// them with Split and Reshape for it.
			k.ortOp = func(b *irbuild.Builder, in []string) []string {
				parts, x := 2, 1
				if c.layout == "qkv" {
					parts, x = 3, 0
				}
				split := b.OpN("Split", parts, in[x]).With(attrInt("axis", 3))
				for i := 0; i < parts; i++ {
					seq := c.l
					if x == 0 {
						seq = c.s
					}
					in[x+i] = b.Op("Reshape", split.Out(i), b.Const(tensor.Must([]int{3}, []int64{int64(c.b), int64(seq), int64(d)})))
				}
				return []string{b.OpN("MultiHeadAttention", 1, in...).Domain(ms).With(attrs...).Out(0)}
			}
		}
		check(t, k)
	}
}

// rotaryCache returns cos and sin caches (positions, half) of the usual
// inverse-frequency angles.
func rotaryCache(positions, half int) (*tensor.Tensor, *tensor.Tensor) {
	c, s := make([]float32, positions*half), make([]float32, positions*half)
	for p := 0; p < positions; p++ {
		for i := 0; i < half; i++ {
			a := float64(p) / math.Pow(10000, float64(2*i)/float64(2*half))
			c[p*half+i], s[p*half+i] = float32(math.Cos(a)), float32(math.Sin(a))
		}
	}
	return tensor.Must([]int{positions, half}, c), tensor.Must([]int{positions, half}, s)
}

func TestRotaryEmbedding(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 1))
	for _, c := range []struct {
		name        string
		x           []int
		heads, dim  int64
		interleaved bool
		offset      bool
		packed      bool
	}{
		{name: "bsd", x: []int{2, 3, 16}, heads: 2},
		{name: "bsd_interleaved", x: []int{2, 3, 16}, heads: 2, interleaved: true},
		{name: "bsd_infer_heads", x: []int{2, 4, 12}},
		{name: "bnsh", x: []int{2, 3, 4, 8}},
		{name: "bnsh_interleaved_offset", x: []int{2, 3, 4, 8}, interleaved: true, offset: true},
		{name: "partial", x: []int{2, 3, 16}, heads: 2, dim: 4},
		{name: "partial_interleaved_offset", x: []int{3, 2, 24}, heads: 3, dim: 6, interleaved: true, offset: true},
		{name: "packed_batching_scale", x: []int{2, 3, 16}, heads: 2, packed: true},
	} {
		var b, s, head int
		if len(c.x) == 4 {
			b, s, head = c.x[0], c.x[2], c.x[3]
		} else {
			b, s = c.x[0], c.x[1]
			head = 8
			if c.heads > 0 {
				head = c.x[2] / int(c.heads)
			} else {
				head = 6
			}
		}
		rd := head
		if c.dim > 0 {
			rd = int(c.dim)
		}
		const maxPos = 16
		cos, sin := rotaryCache(maxPos, rd/2)
		var pos *tensor.Tensor
		if c.offset {
			pos = tensor.Must([]int{1}, []int64{5})
		} else {
			v := make([]int64, b*s)
			for i := range v {
				v[i] = int64(r.IntN(maxPos))
			}
			pos = tensor.Must([]int{b, s}, v)
		}
		attrs := []ops.Attr{attrInt("interleaved", b2i(c.interleaved))}
		if c.packed {
			attrs = append(attrs, attrInt("is_packed_batching", 1), attrFloat("scale", 0.5))
		}
		if c.heads > 0 {
			attrs = append(attrs, attrInt("num_heads", c.heads))
		}
		if c.dim > 0 {
			attrs = append(attrs, attrInt("rotary_embedding_dim", c.dim))
		}
		check(t, tc{name: c.name, op: "RotaryEmbedding", attrs: attrs,
			inputs: []in{{"x", f32(r, c.x...)}, {"pos", pos}, {"cos", cos}, {"sin", sin}}, outputs: y(tensor.Float32)})
	}
}

func TestGroupQueryAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 1))
	type gc struct {
		name                 string
		b, s, n, kvN, h      int
		pastBuf              int
		seqlens              []int32 // total valid length - 1 per batch
		total                int32
		window               int64
		softcap, scale       float32
		rotary, interleaved  bool
		packed, smooth, sink bool
		bias                 bool
		qk                   int64
	}
	for _, c := range []gc{
		{name: "qk_scores", b: 2, s: 3, n: 2, kvN: 1, h: 8, seqlens: []int32{2, 2}, total: 3, qk: 1, softcap: 2},
		// ONNX Runtime leaves output_qk past a sequence's keys unwritten:
		// every sequence here fills the cache.
		{name: "qk_probs_decode", b: 2, s: 1, n: 2, kvN: 1, h: 8, pastBuf: 4, seqlens: []int32{4, 4}, total: 5, qk: 2},
		{name: "prompt", b: 2, s: 4, n: 4, kvN: 2, h: 8, seqlens: []int32{3, 3}, total: 4},
		{name: "prompt_padded", b: 3, s: 4, n: 2, kvN: 1, h: 8, seqlens: []int32{3, 1, 2}, total: 4},
		{name: "prompt_padded_window", b: 2, s: 5, n: 2, kvN: 1, h: 8, seqlens: []int32{4, 1}, total: 5, window: 2},
		{name: "prompt_mqa", b: 1, s: 5, n: 4, kvN: 1, h: 8, seqlens: []int32{4}, total: 5},
		{name: "decode", b: 3, s: 1, n: 4, kvN: 2, h: 8, pastBuf: 6, seqlens: []int32{4, 6, 2}, total: 7},
		{name: "decode_shared_len", b: 2, s: 1, n: 2, kvN: 2, h: 8, pastBuf: 8, seqlens: []int32{3, 5}, total: 6},
		{name: "subsequent_prompt", b: 1, s: 3, n: 4, kvN: 2, h: 8, pastBuf: 4, seqlens: []int32{6}, total: 7},
		{name: "window_prompt", b: 2, s: 6, n: 2, kvN: 1, h: 8, seqlens: []int32{5, 5}, total: 6, window: 2},
		{name: "window_decode", b: 2, s: 1, n: 2, kvN: 2, h: 8, pastBuf: 7, seqlens: []int32{6, 3}, total: 7, window: 3},
		{name: "softcap", b: 2, s: 3, n: 2, kvN: 1, h: 8, seqlens: []int32{2, 2}, total: 3, softcap: 1.5},
		{name: "scale", b: 1, s: 3, n: 2, kvN: 1, h: 8, seqlens: []int32{2}, total: 3, scale: 0.2},
		{name: "packed", b: 2, s: 3, n: 4, kvN: 2, h: 8, seqlens: []int32{2, 2}, total: 3, packed: true},
		{name: "packed_decode", b: 2, s: 1, n: 4, kvN: 2, h: 8, pastBuf: 4, seqlens: []int32{3, 2}, total: 4, packed: true},
		{name: "rotary_prompt", b: 2, s: 4, n: 2, kvN: 1, h: 16, seqlens: []int32{3, 3}, total: 4, rotary: true},
		{name: "rotary_interleaved_decode", b: 2, s: 1, n: 2, kvN: 2, h: 16, pastBuf: 5, seqlens: []int32{5, 2}, total: 6, rotary: true, interleaved: true},
		{name: "rotary_packed_decode", b: 2, s: 1, n: 2, kvN: 1, h: 16, pastBuf: 5, seqlens: []int32{4, 1}, total: 5, rotary: true, packed: true},
		{name: "smooth_softmax", b: 2, s: 3, n: 2, kvN: 1, h: 8, seqlens: []int32{2, 2}, total: 3, smooth: true},
		{name: "head_sink", b: 2, s: 1, n: 2, kvN: 1, h: 8, pastBuf: 3, seqlens: []int32{3, 1}, total: 4, sink: true},
		{name: "attention_bias", b: 2, s: 3, n: 2, kvN: 1, h: 8, seqlens: []int32{2, 2}, total: 3, bias: true},
	} {
		attrs := []ops.Attr{attrInt("num_heads", int64(c.n)), attrInt("kv_num_heads", int64(c.kvN))}
		if c.window != 0 {
			attrs = append(attrs, attrInt("local_window_size", c.window))
		}
		if c.softcap != 0 {
			attrs = append(attrs, attrFloat("softcap", c.softcap))
		}
		if c.scale != 0 {
			attrs = append(attrs, attrFloat("scale", c.scale))
		}
		if c.rotary {
			attrs = append(attrs, attrInt("do_rotary", 1), attrInt("rotary_interleaved", b2i(c.interleaved)))
		}
		if c.smooth {
			attrs = append(attrs, attrInt("smooth_softmax", 1))
		}
		ins := []in{{"q", f32(r, c.b, c.s, c.n*c.h)}, {"k", f32(r, c.b, c.s, c.kvN*c.h)}, {"v", f32(r, c.b, c.s, c.kvN*c.h)},
			{"past_key", nil}, {"past_value", nil}, {"seqlens_k", i32([]int{c.b}, c.seqlens...)}, {"total", i32([]int{}, c.total)},
			{"cos", nil}, {"sin", nil}, {"position_ids", nil}, {"attention_bias", nil}, {"head_sink", nil}}
		if c.packed {
			ins[0].t, ins[1].t, ins[2].t = f32(r, c.b, c.s, (c.n+2*c.kvN)*c.h), nil, nil
		}
		if c.pastBuf > 0 {
			ins[3].t, ins[4].t = f32(r, c.b, c.kvN, c.pastBuf, c.h), f32(r, c.b, c.kvN, c.pastBuf, c.h)
		}
		if c.rotary {
			ins[7].t, ins[8].t = rotaryCache(16, c.h/2)
		}
		if c.bias {
			ins[10].t = f32(r, c.b, c.n, c.s, int(c.total))
		}
		if c.sink {
			ins[11].t = f32(r, c.n)
		}
		for len(ins) > 0 && ins[len(ins)-1].t == nil {
			ins = ins[:len(ins)-1]
		}
		outs := []out{{"y", tensor.Float32}, {"present_key", tensor.Float32}, {"present_value", tensor.Float32}}
		if c.qk != 0 {
			attrs = append(attrs, attrInt("qk_output", c.qk))
			outs = append(outs, out{"qk", tensor.Float32})
		}
		check(t, tc{name: c.name, op: "GroupQueryAttention", attrs: attrs, inputs: ins, outputs: outs})
	}
}

// half converts c's float32 inputs and outputs to float16.
func half(c tc) tc {
	c.name += "/float16"
	c.tol = 4e-3
	c.skipMissing = true
	ins := make([]in, len(c.inputs))
	for i, x := range c.inputs {
		ins[i] = x
		if x.t != nil && x.t.DType() == tensor.Float32 {
			h := tensor.Zeros(tensor.Float16, x.t.Shape()...)
			hd := tensor.Data[tensor.Float16Bits](h)
			for j, v := range tensor.Data[float32](x.t) {
				hd[j] = tensor.Float16FromFloat32(v)
			}
			ins[i].t = h
		}
	}
	c.inputs = ins
	outs := make([]out, len(c.outputs))
	for i, o := range c.outputs {
		outs[i] = o
		if o.dtype == tensor.Float32 {
			outs[i].dtype = tensor.Float16
		}
	}
	c.outputs = outs
	return c
}

func TestFloat16(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 1))
	x, bias := f32(r, 2, 3, 8), f32(r, 8)
	cos, sin := rotaryCache(16, 8)
	f16 := y(tensor.Float32)
	qb, _ := randBytes(r, 24).Reshape(3, 1, 8)
	for _, c := range []tc{
		{name: "Gelu", op: "Gelu", inputs: []in{{"x", x}}, outputs: f16},
		{name: "BiasGelu", op: "BiasGelu", inputs: []in{{"x", x}, {"b", bias}}, outputs: f16},
		{name: "FastGelu", op: "FastGelu", inputs: []in{{"x", x}, {"b", bias}}, outputs: f16},
		{name: "QuickGelu", op: "QuickGelu", inputs: []in{{"x", x}}, outputs: f16},
		{name: "FusedMatMul", op: "FusedMatMul", attrs: []ops.Attr{attrInt("transB", 1), attrFloat("alpha", 0.5)},
			inputs: []in{{"a", x}, {"b", f32(r, 2, 5, 8)}}, outputs: f16},
		{name: "SkipLayerNormalization", op: "SkipLayerNormalization", inputs: []in{{"x", x}, {"skip", f32(r, 2, 3, 8)}, {"g", f32(r, 8)}, {"b", f32(r, 8)}, {"bias", bias}},
			outputs: []out{{"y", tensor.Float32}, {"", 0}, {"", 0}, {"sum", tensor.Float32}}},
		{name: "SkipSimplifiedLayerNormalization", op: "SkipSimplifiedLayerNormalization", inputs: []in{{"x", x}, {"skip", f32(r, 2, 3, 8)}, {"g", f32(r, 8)}},
			outputs: f16},
		{name: "SimplifiedLayerNormalization", domain: "-", op: "SimplifiedLayerNormalization", inputs: []in{{"x", x}, {"g", f32(r, 8)}}, outputs: f16},
		{name: "RotaryEmbedding", op: "RotaryEmbedding", attrs: []ops.Attr{attrInt("num_heads", 1)},
			inputs: []in{{"x", f32(r, 2, 3, 16)}, {"pos", tensor.Must([]int{1}, []int64{2})}, {"cos", cos}, {"sin", sin}}, outputs: f16},
		{name: "MultiHeadAttention", op: "MultiHeadAttention", attrs: []ops.Attr{attrInt("num_heads", 2)},
			inputs: []in{{"q", x}, {"k", f32(r, 2, 4, 8)}, {"v", f32(r, 2, 4, 8)}}, outputs: f16},
		{name: "Attention", op: "Attention", attrs: []ops.Attr{attrInt("num_heads", 2)},
			inputs: []in{{"x", x}, {"w", f32(r, 8, 24)}, {"b", f32(r, 24)}}, outputs: f16},
		{name: "GroupQueryAttention/prompt", op: "GroupQueryAttention", attrs: []ops.Attr{attrInt("num_heads", 2), attrInt("kv_num_heads", 1)},
			inputs: []in{{"q", f32(r, 2, 3, 16)}, {"k", x}, {"v", x}, {"pk", nil}, {"pv", nil},
				{"seqlens", i32([]int{2}, 2, 2)}, {"total", i32([]int{}, 3)}},
			outputs: []out{{"y", tensor.Float32}, {"present_key", tensor.Float32}, {"present_value", tensor.Float32}}},
		{name: "GroupQueryAttention/decode", op: "GroupQueryAttention", attrs: []ops.Attr{attrInt("num_heads", 2), attrInt("kv_num_heads", 1), attrInt("do_rotary", 1)},
			inputs: []in{{"q", f32(r, 2, 1, 32)}, {"k", f32(r, 2, 1, 16)}, {"v", f32(r, 2, 1, 16)}, {"pk", f32(r, 2, 1, 4, 16)}, {"pv", f32(r, 2, 1, 4, 16)},
				{"seqlens", i32([]int{2}, 4, 2)}, {"total", i32([]int{}, 5)}, {"cos", cos}, {"sin", sin}},
			outputs: []out{{"y", tensor.Float32}, {"present_key", tensor.Float32}, {"present_value", tensor.Float32}}},
		{name: "MatMulNBits", op: "MatMulNBits", attrs: []ops.Attr{attrInt("K", 16), attrInt("N", 3), attrInt("block_size", 16)},
			inputs: []in{{"a", f32(r, 2, 16)}, {"b", qb}, {"scales", tensor.Must([]int{3}, []float32{0.1, 0.05, 0.2})}}, outputs: f16},
	} {
		check(t, half(c))
	}
}

func randBytes(r *rand.Rand, n int) *tensor.Tensor {
	v := make([]uint8, n)
	for i := range v {
		v[i] = uint8(r.IntN(256))
	}
	return tensor.Must([]int{n}, v)
}

func TestMatMulNBits(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 1))
	for _, c := range []struct {
		name                 string
		a                    []int
		k, n, bits, block    int
		zp                   string // "", "uint8", "float"
		bias, scales2D, gidx bool
	}{
		{name: "4bit", a: []int{2, 3, 32}, k: 32, n: 8, bits: 4, block: 16},
		{name: "4bit_zp_bias", a: []int{5, 64}, k: 64, n: 6, bits: 4, block: 32, zp: "uint8", bias: true},
		{name: "4bit_partial_block", a: []int{2, 40}, k: 40, n: 5, bits: 4, block: 16, zp: "uint8"},
		{name: "4bit_many_rows", a: []int{3, 5, 64}, k: 64, n: 6, bits: 4, block: 16, zp: "uint8", bias: true},
		{name: "4bit_odd_k", a: []int{2, 37}, k: 37, n: 5, bits: 4, block: 16, zp: "uint8"},
		{name: "4bit_odd_k_many_rows", a: []int{12, 37}, k: 37, n: 5, bits: 4, block: 16, zp: "float"},
		{name: "8bit_many_rows", a: []int{10, 64}, k: 64, n: 4, bits: 8, block: 32},
		{name: "4bit_float_zp", a: []int{3, 32}, k: 32, n: 4, bits: 4, block: 16, zp: "float"},
		{name: "4bit_scales_2d", a: []int{1, 2, 48}, k: 48, n: 3, bits: 4, block: 16, scales2D: true, zp: "uint8"},
		{name: "8bit", a: []int{2, 64}, k: 64, n: 4, bits: 8, block: 32, zp: "uint8", bias: true},
		{name: "2bit", a: []int{2, 32}, k: 32, n: 4, bits: 2, block: 16, zp: "uint8"},
		{name: "4bit_gidx_nozp", a: []int{2, 32}, k: 32, n: 4, bits: 4, block: 16, gidx: true},
		{name: "4bit_gidx_floatzp", a: []int{2, 32}, k: 32, n: 4, bits: 4, block: 16, zp: "float", gidx: true},
	} {
		blocks := (c.k + c.block - 1) / c.block
		blob := c.block * c.bits / 8
		b := randBytes(r, c.n*blocks*blob)
		b, _ = b.Reshape(c.n, blocks, blob)
		sv := make([]float32, c.n*blocks)
		for i := range sv {
			sv[i] = 0.05 + 0.1*r.Float32()
		}
		scales := tensor.Must([]int{c.n * blocks}, sv)
		if c.scales2D {
			scales, _ = scales.Reshape(c.n, blocks)
		}
		ins := []in{{"a", f32(r, c.a...)}, {"b", b}, {"scales", scales}, {"zp", nil}, {"g_idx", nil}, {"bias", nil}}
		switch c.zp {
		case "uint8":
			ins[3].t = randBytes(r, c.n*((blocks*c.bits+7)/8))
		case "float":
			ins[3].t = f32(r, c.n*blocks)
		}
		if c.gidx {
			g := make([]int32, c.k)
			for i := range g {
				g[i] = int32(r.IntN(blocks))
			}
			ins[4].t = i32([]int{c.k}, g...)
		}
		if c.bias {
			ins[5].t = f32(r, c.n)
		}
		for len(ins) > 0 && ins[len(ins)-1].t == nil {
			ins = ins[:len(ins)-1]
		}
		check(t, tc{name: c.name, op: "MatMulNBits", attrs: []ops.Attr{attrInt("K", int64(c.k)), attrInt("N", int64(c.n)),
			attrInt("bits", int64(c.bits)), attrInt("block_size", int64(c.block))}, inputs: ins, outputs: y(tensor.Float32)})
	}
}

func TestAliases(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 1))
	x := f32(r, 2, 3, 4)
	check(t, tc{name: "TransposeMatMul", op: "TransposeMatMul", attrs: []ops.Attr{attrInt("transB", 1), attrFloat("alpha", 0.5)},
		inputs: []in{{"a", x}, {"b", f32(r, 5, 4)}}, outputs: y(tensor.Float32)})
	for _, upper := range []int64{0, 1} {
		check(t, tc{name: fmt.Sprint("Trilu", upper), op: "Trilu", attrs: []ops.Attr{attrInt("upper", upper)},
			inputs: []in{{"x", x}, {"k", tensor.Must([]int{}, []int64{1})}}, outputs: y(tensor.Float32)})
	}
	scale := tensor.Must([]int{}, []float32{0.01})
	for _, zp := range []*tensor.Tensor{
		tensor.Must([]int{}, []int16{-7}),
		tensor.Must([]int{}, []uint16{300}),
		tensor.Must([]int{}, []int8{3}),
		tensor.Must([]int{}, []uint8{128}),
	} {
		check(t, tc{name: fmt.Sprint("QuantizeLinear/", zp.DType()), op: "QuantizeLinear",
			inputs: []in{{"x", x}, {"scale", scale}, {"zp", zp}}, outputs: y(zp.DType())})
		q := tensor.Zeros(zp.DType(), 2, 3, 4)
		switch d := q.Raw().(type) {
		case []int16:
			for i := range d {
				d[i] = int16(r.IntN(2000) - 1000)
			}
		case []uint16:
			for i := range d {
				d[i] = uint16(r.IntN(60000))
			}
		}
		check(t, tc{name: fmt.Sprint("DequantizeLinear/", zp.DType()), op: "DequantizeLinear",
			inputs: []in{{"x", q}, {"scale", scale}, {"zp", zp}}, outputs: y(tensor.Float32)})
	}
	// Per-axis scales along axis 1.
	check(t, tc{name: "QuantizeLinear/axis", op: "QuantizeLinear", attrs: []ops.Attr{attrInt("axis", 1)},
		inputs:  []in{{"x", x}, {"scale", tensor.Must([]int{3}, []float32{0.01, 0.02, 0.05})}, {"zp", tensor.Must([]int{3}, []int16{0, 5, -5})}},
		outputs: y(tensor.Int16)})
}

func TestFusedConvGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 1))
	acts := []struct {
		name   string
		params []float32
	}{{"Relu", nil}, {"Tanh", nil}, {"Sigmoid", nil}, {"LeakyRelu", []float32{0.2}}, {"Clip", []float32{-0.5, 0.7}}, {"HardSigmoid", []float32{0.3, 0.4}}, {"", nil}}
	for _, a := range acts {
		attrs := []ops.Attr{irbuild.Floats("activation_params", a.params...)}
		if a.name != "" {
			attrs = append(attrs, irbuild.String("activation", a.name))
		}
		conv := append([]ops.Attr{attrInts("pads", 1, 1, 1, 1), attrInts("strides", 2, 1)}, attrs...)
		check(t, tc{name: "FusedConv/" + a.name, op: "FusedConv", attrs: conv,
			inputs: []in{{"x", f32(r, 2, 3, 6, 5)}, {"w", f32(r, 4, 3, 3, 3)}, {"b", f32(r, 4)}}, outputs: y(tensor.Float32)})
		gemm := []ops.Attr{attrInt("transB", 1), attrFloat("alpha", 0.5), attrFloat("beta", 2)}
		if a.name != "" {
			gemm = append(gemm, irbuild.String("activation", a.name))
		}
		if len(a.params) > 0 {
			gemm = append(gemm, attrFloat("activation_alpha", a.params[0]))
		}
		if len(a.params) > 1 {
			gemm = append(gemm, attrFloat("activation_beta", a.params[1]))
		}
		if a.name == "" || a.name == "Clip" {
			continue // ONNX Runtime's FusedGemm needs an activation and lacks Clip
		}
		check(t, tc{name: "FusedGemm/" + a.name, op: "FusedGemm", attrs: gemm,
			inputs: []in{{"a", f32(r, 3, 4)}, {"b", f32(r, 5, 4)}, {"c", f32(r, 5)}}, outputs: y(tensor.Float32)})
	}
	// The residual Z is added before the activation.
	check(t, tc{name: "FusedConv/Z", op: "FusedConv", attrs: []ops.Attr{irbuild.String("activation", "Relu")},
		inputs: []in{{"x", f32(r, 1, 2, 5, 5)}, {"w", f32(r, 3, 2, 3, 3)}, {"b", f32(r, 3)}, {"z", f32(r, 1, 3, 3, 3)}}, outputs: y(tensor.Float32)})
}

func i64s(v ...int64) *tensor.Tensor { return tensor.Must([]int{len(v)}, v) }

// refGroupNorm builds GroupNorm from standard ops for ONNX Runtime: x is
// (N, H, W, C) (or NCHW), normalized per group with InstanceNormalization.
func refGroupNorm(b *irbuild.Builder, x, gamma, beta string, shape []int, groups int, silu, channelsLast bool) string {
	n, c := shape[0], shape[len(shape)-1]
	if !channelsLast {
		c = shape[1]
	} else {
		x = b.OpA("Transpose", []ops.Attr{attrInts("perm", 0, 3, 1, 2)}, x)
	}
	nchw := b.Op("Shape", x)
	g := b.Op("Reshape", x, b.Const(i64s(int64(n), int64(groups), -1)))
	ones, zeros := make([]float32, groups), make([]float32, groups)
	for i := range ones {
		ones[i] = 1
	}
	g = b.OpA("InstanceNormalization", []ops.Attr{attrFloat("epsilon", 1e-5)}, g,
		b.Const(tensor.Must([]int{groups}, ones)), b.Const(tensor.Must([]int{groups}, zeros)))
	y := b.Op("Reshape", g, nchw)
	perChannel := b.Const(i64s(int64(c), 1, 1))
	y = b.Op("Add", b.Op("Mul", y, b.Op("Reshape", gamma, perChannel)), b.Op("Reshape", beta, perChannel))
	if silu {
		y = b.Op("Mul", y, b.Op("Sigmoid", y))
	}
	if channelsLast {
		y = b.OpA("Transpose", []ops.Attr{attrInts("perm", 0, 2, 3, 1)}, y)
	}
	return y
}

func TestDiffusionOps(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 1))
	x := f32(r, 2, 5, 8)
	check(t, tc{name: "BiasAdd", op: "BiasAdd", inputs: []in{{"x", x}, {"b", f32(r, 8)}, {"skip", f32(r, 2, 5, 8)}}, outputs: y(tensor.Float32),
		ortOp: func(b *irbuild.Builder, in []string) []string {
			return []string{b.Op("Add", b.Op("Add", in[0], in[1]), in[2])}
		}})
	check(t, tc{name: "BiasSplitGelu", op: "BiasSplitGelu", inputs: []in{{"x", x}, {"b", f32(r, 8)}}, outputs: y(tensor.Float32),
		ortOp: func(b *irbuild.Builder, in []string) []string {
			s := b.OpN("Split", 2, b.Op("Add", in[0], in[1])).With(attrInt("axis", -1))
			return []string{b.Op("Mul", s.Out(0), b.OpN("Gelu", 1, s.Out(1)).Domain(ms).Out(0))}
		}})
	for _, c := range []struct {
		name         string
		shape        []int
		groups       int
		silu         bool
		channelsLast bool
	}{
		{"nhwc", []int{2, 3, 4, 8}, 4, false, true},
		{"nhwc_silu", []int{1, 5, 2, 12}, 3, true, true},
		{"nchw", []int{2, 6, 3, 3}, 2, false, false},
	} {
		ch := c.shape[len(c.shape)-1]
		if !c.channelsLast {
			ch = c.shape[1]
		}
		attrs := []ops.Attr{attrInt("groups", int64(c.groups)), attrInt("activation", b2i(c.silu)), attrInt("channels_last", b2i(c.channelsLast)), attrFloat("epsilon", 1e-5)}
		check(t, tc{name: "GroupNorm/" + c.name, op: "GroupNorm", attrs: attrs,
			inputs: []in{{"x", f32(r, c.shape...)}, {"gamma", f32(r, ch)}, {"beta", f32(r, ch)}}, outputs: y(tensor.Float32),
			ortOp: func(b *irbuild.Builder, in []string) []string {
				return []string{refGroupNorm(b, in[0], in[1], in[2], c.shape, c.groups, c.silu, c.channelsLast)}
			}})
	}
	for _, skipShape := range [][]int{{2, 3, 4, 8}, {2, 1, 1, 8}, {2, 8}} {
		shape := []int{2, 3, 4, 8}
		attrs := []ops.Attr{attrInt("groups", 2), attrInt("activation", 1), attrInt("channels_last", 1), attrFloat("epsilon", 1e-5)}
		check(t, tc{name: fmt.Sprint("SkipGroupNorm/", skipShape), op: "SkipGroupNorm", attrs: attrs,
			inputs:  []in{{"x", f32(r, shape...)}, {"gamma", f32(r, 8)}, {"beta", f32(r, 8)}, {"skip", f32(r, skipShape...)}, {"bias", f32(r, 8)}},
			outputs: []out{{"y", tensor.Float32}, {"s", tensor.Float32}},
			ortOp: func(b *irbuild.Builder, in []string) []string {
				skip := in[3]
				if len(skipShape) == 2 {
					skip = b.Op("Reshape", skip, b.Const(i64s(2, 1, 1, 8)))
				}
				s := b.Op("Add", b.Op("Add", in[0], skip), in[4])
				return []string{refGroupNorm(b, s, in[1], in[2], shape, 2, true, true), s}
			}})
	}
}

func randInt8(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(tensor.Int8, shape...)
	for i := range tensor.Data[int8](t) {
		tensor.Data[int8](t)[i] = int8(r.IntN(256) - 128)
	}
	return t
}

func randUint8(r *rand.Rand, shape ...int) *tensor.Tensor {
	t, _ := randBytes(r, tensor.Zeros(tensor.Uint8, shape...).Len()).Reshape(shape...)
	return t
}

func TestQuantizedMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 1))
	scales := func(n int) *tensor.Tensor {
		v := make([]float32, n)
		for i := range v {
			v[i] = 0.01 + 0.02*r.Float32()
		}
		return tensor.Must([]int{n}, v)
	}
	for _, c := range []struct {
		name                  string
		a                     []int
		n                     int
		perColumn, zero, bias bool
		unsigned              bool
	}{
		{name: "plain", a: []int{3, 8}, n: 5},
		{name: "per_column_zero_bias", a: []int{2, 3, 16}, n: 4, perColumn: true, zero: true, bias: true},
		{name: "uint8_zero", a: []int{4, 8}, n: 6, zero: true, unsigned: true, bias: true},
	} {
		k := c.a[len(c.a)-1]
		bq := randInt8(r, k, c.n)
		if c.unsigned {
			bq = randUint8(r, k, c.n)
		}
		bs := scales(1)
		bs, _ = bs.Reshape()
		if c.perColumn {
			bs = scales(c.n)
		}
		var bz *tensor.Tensor
		if c.zero {
			bz = tensor.Zeros(bq.DType(), bs.Shape()...)
			switch d := bz.Raw().(type) {
			case []int8:
				for i := range d {
					d[i] = int8(r.IntN(20) - 10)
				}
			case []uint8:
				for i := range d {
					d[i] = uint8(120 + r.IntN(20))
				}
			}
		}
		var bias *tensor.Tensor
		if c.bias {
			bias = f32(r, c.n)
		}
		ins := []in{{"a", f32(r, c.a...)}, {"b", bq}, {"b_scale", bs}, {"b_zero", bz}, {"bias", bias}}
		for len(ins) > 0 && ins[len(ins)-1].t == nil {
			ins = ins[:len(ins)-1]
		}
		check(t, tc{name: "DynamicQuantizeMatMul/" + c.name, op: "DynamicQuantizeMatMul", inputs: ins, outputs: y(tensor.Float32)})
		aq := randUint8(r, c.a...)
		as, _ := scales(1).Reshape()
		az := tensor.Scalar(uint8(128))
		ins = []in{{"a", aq}, {"b", bq}, {"a_scale", as}, {"b_scale", bs}, {"a_zero", az}, {"b_zero", bz}, {"bias", bias}}
		for len(ins) > 0 && ins[len(ins)-1].t == nil {
			ins = ins[:len(ins)-1]
		}
		check(t, tc{name: "MatMulIntegerToFloat/" + c.name, op: "MatMulIntegerToFloat", inputs: ins, outputs: y(tensor.Float32)})
	}
}

func TestQuantizedAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 1))
	const b, s, d, heads = 2, 4, 8, 2
	for _, c := range []struct {
		name                  string
		perColumn, zero, mask bool
		past                  int
	}{
		{name: "plain"},
		{name: "per_column_zero_mask", perColumn: true, zero: true, mask: true},
		{name: "past", zero: true, past: 3},
	} {
		ws := tensor.Must([]int{}, []float32{0.02})
		if c.perColumn {
			v := make([]float32, 3*d)
			for i := range v {
				v[i] = 0.01 + 0.02*r.Float32()
			}
			ws = tensor.Must([]int{3 * d}, v)
		}
		ins := []in{{"x", randUint8(r, b, s, d)}, {"w", randInt8(r, d, 3*d)}, {"bias", f32(r, 3*d)},
			{"x_scale", tensor.Must([]int{}, []float32{0.03})}, {"w_scale", ws}, {"mask", nil}, {"x_zero", nil}, {"w_zero", nil}, {"past", nil}}
		if c.mask {
			ins[5].t = i32([]int{b}, 4, 2)
		}
		if c.zero {
			ins[6].t = tensor.Must([]int{}, []uint8{128})
			ins[7].t = tensor.Zeros(tensor.Int8, ws.Shape()...)
		}
		outs := y(tensor.Float32)
		if c.past > 0 {
			ins[8].t = f32(r, 2, b, heads, c.past, d/heads)
			outs = append(outs, out{"present", tensor.Float32})
		}
		for len(ins) > 0 && ins[len(ins)-1].t == nil {
			ins = ins[:len(ins)-1]
		}
		check(t, tc{name: "QAttention/" + c.name, op: "QAttention", attrs: []ops.Attr{attrInt("num_heads", heads)}, inputs: ins, outputs: outs})
	}
	const vocab, maxPos, hidden = 10, 8, 8
	q := func(shape ...int) *tensor.Tensor { return randUint8(r, shape...) }
	sc := func() *tensor.Tensor { return tensor.Must([]int{}, []float32{0.01 + 0.02*r.Float32()}) }
	zp := func() *tensor.Tensor { return tensor.Must([]int{}, []uint8{uint8(100 + r.IntN(50))}) }
	check(t, tc{name: "QEmbedLayerNormalization", op: "QEmbedLayerNormalization", attrs: []ops.Attr{attrFloat("epsilon", 1e-5)},
		inputs: []in{{"ids", randIDs(r, vocab, 2, 5)}, {"seg", randIDs(r, 2, 2, 5)}, {"word", q(vocab, hidden)}, {"pos", q(maxPos, hidden)},
			{"segemb", q(2, hidden)}, {"gamma", q(hidden)}, {"beta", q(hidden)}, {"mask", padMask(5, 5, 3)},
			{"s0", sc()}, {"s1", sc()}, {"s2", sc()}, {"s3", sc()}, {"s4", sc()},
			{"z0", zp()}, {"z1", zp()}, {"z2", zp()}, {"z3", zp()}, {"z4", zp()}},
		outputs: []out{{"y", tensor.Float32}, {"mask_index", tensor.Int32}}})
}

func TestNhwcConv(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 1))
	for _, c := range []struct {
		name  string
		x, w  []int
		attrs []ops.Attr
		bias  bool
	}{
		{"3x3", []int{2, 5, 6, 4}, []int{3, 3, 3, 4}, []ops.Attr{attrInts("pads", 1, 1, 1, 1)}, true},
		{"stride_group", []int{1, 7, 7, 4}, []int{6, 3, 3, 2}, []ops.Attr{attrInts("strides", 2, 2), attrInt("group", 2)}, false},
		{"1x1", []int{2, 3, 3, 8}, []int{5, 1, 1, 8}, nil, true},
	} {
		ins := []in{{"x", f32(r, c.x...)}, {"w", f32(r, c.w...)}}
		if c.bias {
			ins = append(ins, in{"b", f32(r, c.w[0])})
		}
		check(t, tc{name: c.name, op: "NhwcConv", attrs: c.attrs, inputs: ins, outputs: y(tensor.Float32),
			ortOp: func(b *irbuild.Builder, in []string) []string {
				first := []ops.Attr{attrInts("perm", 0, 3, 1, 2)}
				args := []string{b.OpA("Transpose", first, in[0]), b.OpA("Transpose", first, in[1])}
				if len(in) > 2 {
					args = append(args, in[2])
				}
				return []string{b.OpA("Transpose", []ops.Attr{attrInts("perm", 0, 2, 3, 1)}, b.OpA("Conv", c.attrs, args...))}
			}})
	}
}

func TestQLinearOps(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 1))
	sc := func(v float32) *tensor.Tensor { return tensor.Must([]int{}, []float32{v}) }
	u8 := func(v uint8) *tensor.Tensor { return tensor.Must([]int{}, []uint8{v}) }
	i8 := func(v int8) *tensor.Tensor { return tensor.Must([]int{}, []int8{v}) }
	for _, op := range []string{"QLinearAdd", "QLinearMul"} {
		for _, c := range []struct {
			a, b   []int
			signed bool
		}{{[]int{2, 3, 4}, []int{2, 3, 4}, false}, {[]int{2, 3, 4}, []int{4}, false}, {[]int{3, 1}, []int{1, 5}, true}} {
			a, b := randUint8(r, c.a...), randUint8(r, c.b...)
			za, zb, zy := u8(120), u8(130), u8(128)
			if c.signed {
				a, b, za, zb, zy = randInt8(r, c.a...), randInt8(r, c.b...), i8(-3), i8(5), i8(0)
			}
			check(t, tc{name: fmt.Sprint(op, c.a, c.b), op: op, quantTol: 1,
				inputs:  []in{{"a", a}, {"sa", sc(0.02)}, {"za", za}, {"b", b}, {"sb", sc(0.03)}, {"zb", zb}, {"sy", sc(0.05)}, {"zy", zy}},
				outputs: y(zy.DType())})
		}
	}
	x := randUint8(r, 2, 3, 5)
	check(t, tc{name: "QLinearSigmoid", op: "QLinearSigmoid", quantTol: 1,
		inputs: []in{{"x", x}, {"sx", sc(0.05)}, {"zx", u8(128)}, {"sy", sc(1.0 / 256)}, {"zy", u8(0)}}, outputs: y(tensor.Uint8)})
	check(t, tc{name: "QLinearLeakyRelu", op: "QLinearLeakyRelu", quantTol: 1, attrs: []ops.Attr{attrFloat("alpha", 0.1)},
		inputs: []in{{"x", x}, {"sx", sc(0.05)}, {"zx", u8(128)}, {"sy", sc(0.04)}, {"zy", u8(100)}}, outputs: y(tensor.Uint8)})
	for _, opset := range []int64{12, 13} {
		check(t, tc{name: fmt.Sprint("QLinearSoftmax/opset", opset), op: "QLinearSoftmax", quantTol: 1,
			attrs:  []ops.Attr{attrInt("axis", -1), attrInt("opset", opset)},
			inputs: []in{{"x", x}, {"sx", sc(0.05)}, {"zx", u8(128)}, {"sy", sc(1.0 / 256)}, {"zy", u8(0)}}, outputs: y(tensor.Uint8)})
	}
	for _, last := range []int64{0, 1} {
		check(t, tc{name: fmt.Sprint("QLinearGlobalAveragePool/channels_last", last), op: "QLinearGlobalAveragePool", quantTol: 1,
			attrs:  []ops.Attr{attrInt("channels_last", last)},
			inputs: []in{{"x", randUint8(r, 2, 3, 4, 5)}, {"sx", sc(0.05)}, {"zx", u8(128)}, {"sy", sc(0.02)}, {"zy", u8(120)}}, outputs: y(tensor.Uint8)})
	}
	check(t, tc{name: "QLinearConcat", op: "QLinearConcat", quantTol: 1, attrs: []ops.Attr{attrInt("axis", 1)},
		inputs: []in{{"sy", sc(0.05)}, {"zy", u8(128)}, {"x0", randUint8(r, 2, 3, 4)}, {"s0", sc(0.04)}, {"z0", u8(120)},
			{"x1", randUint8(r, 2, 2, 4)}, {"s1", sc(0.06)}, {"z1", u8(130)}}, outputs: y(tensor.Uint8)})
	for _, c := range []struct {
		name           string
		transA, transB bool
		bias, quantOut bool
		perColumn      bool
	}{
		{"plain", false, false, false, true, false},
		{"transB_bias", false, true, true, true, false},
		{"transA_per_column_float_out", true, false, true, false, true},
	} {
		m, k, n := 3, 8, 5
		as := []int{m, k}
		if c.transA {
			as = []int{k, m}
		}
		bs := []int{k, n}
		if c.transB {
			bs = []int{n, k}
		}
		bscale, bzero := sc(0.02), i8(0)
		if c.perColumn {
			v := make([]float32, n)
			for i := range v {
				v[i] = 0.01 + 0.01*float32(i)
			}
			bscale, bzero = tensor.Must([]int{n}, v), tensor.Zeros(tensor.Int8, n)
		}
		ins := []in{{"a", randUint8(r, as...)}, {"sa", sc(0.03)}, {"za", u8(128)}, {"b", randInt8(r, bs...)}, {"sb", bscale}, {"zb", bzero},
			{"c", nil}, {"sy", nil}, {"zy", nil}}
		if c.bias {
			cv := make([]int32, n)
			for i := range cv {
				cv[i] = int32(r.IntN(2000) - 1000)
			}
			ins[6].t = i32([]int{n}, cv...)
		}
		outs := y(tensor.Float32)
		if c.quantOut {
			ins[7].t, ins[8].t = sc(0.5), u8(128)
			outs = y(tensor.Uint8)
		}
		for len(ins) > 0 && ins[len(ins)-1].t == nil {
			ins = ins[:len(ins)-1]
		}
		check(t, tc{name: "QGemm/" + c.name, op: "QGemm", quantTol: 1,
			attrs:  []ops.Attr{attrInt("transA", b2i(c.transA)), attrInt("transB", b2i(c.transB)), attrFloat("alpha", 0.7)},
			inputs: ins, outputs: outs})
	}
}

func TestGatherBlockQuantized(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 1))
	nib := func(dt tensor.DType, shape ...int) *tensor.Tensor {
		x := tensor.Zeros(dt, shape...)
		switch d := x.Raw().(type) {
		case []tensor.I4:
			for i := range d {
				d[i] = tensor.I4(r.IntN(16) - 8)
			}
		case []tensor.U4:
			for i := range d {
				d[i] = tensor.U4(r.IntN(16))
			}
		case []uint8:
			for i := range d {
				d[i] = uint8(r.IntN(256))
			}
		}
		return x
	}
	ids := tensor.Must([]int{2, 3}, []int64{0, 9, 3, 3, -1, 5})
	for _, c := range []struct {
		name  string
		data  *tensor.Tensor
		zero  *tensor.Tensor
		bits  int64
		qaxis int64
		gaxis int64
	}{
		{name: "int4", data: nib(tensor.Int4, 10, 32), bits: 4, qaxis: 1},
		{name: "uint4_zero", data: nib(tensor.Uint4, 10, 32), zero: nib(tensor.Uint4, 10, 2), bits: 4, qaxis: 1},
		{name: "uint8_packed4_zero", data: nib(tensor.Uint8, 10, 16), zero: nib(tensor.Uint8, 10, 1), bits: 4, qaxis: 1},
		{name: "uint8_bits8", data: nib(tensor.Uint8, 10, 32), zero: nib(tensor.Uint8, 10, 2), bits: 8, qaxis: -1},
		{name: "uint8_packed4_default_zero", data: nib(tensor.Uint8, 10, 16), bits: 4, qaxis: 1},
	} {
		logical := append([]int{}, c.data.Shape()...)
		if c.data.DType() == tensor.Uint8 && c.bits == 4 {
			logical[len(logical)-1] *= 2
		}
		qa, _ := ops.NormAxis(c.qaxis, len(logical))
		ss := append([]int{}, logical...)
		ss[qa] = (ss[qa] + 15) / 16
		sv := make([]float32, ss[0]*ss[1])
		for i := range sv {
			sv[i] = 0.01 + 0.05*r.Float32()
		}
		ins := []in{{"data", c.data}, {"indices", ids}, {"scales", tensor.Must(ss, sv)}, {"zero", c.zero}}
		if c.zero == nil {
			ins = ins[:3]
		}
		check(t, tc{name: c.name, op: "GatherBlockQuantized", inputs: ins, outputs: y(tensor.Float32),
			attrs: []ops.Attr{attrInt("bits", c.bits), attrInt("block_size", 16), attrInt("quantize_axis", c.qaxis), attrInt("gather_axis", c.gaxis)}})
	}
}

func TestQLinearWrapped(t *testing.T) {
	r := rand.New(rand.NewPCG(22, 1))
	sc := func(v float32) *tensor.Tensor { return tensor.Must([]int{}, []float32{v}) }
	u8 := func(v uint8) *tensor.Tensor { return tensor.Must([]int{}, []uint8{v}) }
	pool := []ops.Attr{attrInts("kernel_shape", 3, 3), attrInts("strides", 2, 2), attrInts("pads", 1, 1, 1, 1)}
	check(t, tc{name: "QLinearAveragePool/nchw", op: "QLinearAveragePool", quantTol: 1, attrs: pool,
		inputs: []in{{"x", randUint8(r, 1, 3, 6, 6)}, {"sx", sc(0.05)}, {"zx", u8(128)}, {"sy", sc(0.04)}, {"zy", u8(120)}}, outputs: y(tensor.Uint8)})
	check(t, tc{name: "QLinearAveragePool/nhwc_include_pad", op: "QLinearAveragePool", quantTol: 1,
		attrs:  append([]ops.Attr{attrInt("channels_last", 1), attrInt("count_include_pad", 1)}, pool...),
		inputs: []in{{"x", randUint8(r, 2, 5, 6, 3)}, {"sx", sc(0.05)}, {"zx", u8(128)}, {"sy", sc(0.04)}, {"zy", u8(120)}}, outputs: y(tensor.Uint8)})
	for _, c := range []struct {
		axes []int64
		keep int64
	}{{[]int64{1}, 1}, {[]int64{2}, 0}, {[]int64{0, 2}, 1}} {
		check(t, tc{name: fmt.Sprint("QLinearReduceMean", c.axes, c.keep), op: "QLinearReduceMean", quantTol: 1,
			attrs:  []ops.Attr{attrInts("axes", c.axes...), attrInt("keepdims", c.keep)},
			inputs: []in{{"x", randUint8(r, 2, 3, 4)}, {"sx", sc(0.05)}, {"zx", u8(128)}, {"sy", sc(0.03)}, {"zy", u8(110)}}, outputs: y(tensor.Uint8),
			// ONNX Runtime's CPU build lacks QLinearReduceMean.
			ortOp: func(b *irbuild.Builder, in []string) []string {
				m := b.OpA("ReduceMean", []ops.Attr{attrInts("axes", c.axes...), attrInt("keepdims", c.keep)}, b.Op("DequantizeLinear", in[0], in[1], in[2]))
				return []string{b.Op("QuantizeLinear", m, in[3], in[4])}
			}})
	}
	cond := tensor.Zeros(tensor.Bool, 2, 3)
	for i := range tensor.Data[bool](cond) {
		tensor.Data[bool](cond)[i] = r.IntN(2) == 0
	}
	check(t, tc{name: "QLinearWhere", op: "QLinearWhere", quantTol: 1,
		inputs: []in{{"cond", cond}, {"x", randUint8(r, 2, 3)}, {"sx", sc(0.05)}, {"zx", u8(128)}, {"yy", randUint8(r, 3)}, {"sy", sc(0.02)}, {"zy", u8(100)},
			{"sz", sc(0.04)}, {"zz", u8(120)}}, outputs: y(tensor.Uint8)})
}

func TestDecoderMaskedMHA(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 1))
	const n, h, maxLen = 2, 4, 6
	const d = n * h
	for _, c := range []struct {
		name           string
		b, past, beams int
		mask, bias, qk bool
		attnBias       bool
		shareBias      bool
	}{
		{name: "self", b: 2, past: 3, bias: true},
		{name: "self_mask_bias_qk", b: 2, past: 4, mask: true, attnBias: true, qk: true, bias: true},
		{name: "self_mask_bias", b: 2, past: 4, mask: true, attnBias: true, bias: true},
		{name: "beams", b: 4, past: 3, beams: 2, bias: true},
		// Under beam search ONNX Runtime reads attention_bias row
		// b / beam_width for batch entry b (a per-group row in a per-entry
		// shape); gort reads row b, so the beam cases share one bias row.
		{name: "beams_mask_bias_qk", b: 4, past: 4, beams: 2, mask: true, attnBias: true, shareBias: true, qk: true},
		{name: "beams_mask", b: 4, past: 4, beams: 2, mask: true},
		{name: "beams_bias", b: 4, past: 4, beams: 2, attnBias: true, shareBias: true},
		{name: "beams_qk", b: 4, past: 4, beams: 2, qk: true},
	} {
		total := c.past + 1
		attrs := []ops.Attr{attrInt("num_heads", n), attrInt("past_present_share_buffer", 1), attrInt("output_qk", b2i(c.qk))}
		ins := []in{{"q", f32(r, c.b, 1, d)}, {"k", f32(r, c.b, 1, d)}, {"v", f32(r, c.b, 1, d)}, {"mask", nil}, {"attn_bias", nil},
			{"past_key", f32(r, c.b, n, maxLen, h)}, {"past_value", f32(r, c.b, n, maxLen, h)}, {"past_len", i32([]int{}, int32(c.past))},
			{"beam_width", nil}, {"cache_indirection", nil}, {"bias", nil}}
		if c.mask {
			lens := make([]int, c.b)
			for i := range lens {
				lens[i] = total - i%2
			}
			ins[3].t = padMask(total, lens...)
		}
		if c.attnBias {
			rows := c.b
			if c.shareBias {
				rows = 1
			}
			ins[4].t = f32(r, rows, n, 1, total)
		}
		if c.beams > 1 {
			ins[8].t = i32([]int{}, int32(c.beams))
			ci := make([]int32, c.b*maxLen)
			for i := range ci {
				ci[i] = int32(r.IntN(c.beams))
			}
			ins[9].t = i32([]int{c.b / c.beams, c.beams, maxLen}, ci...)
		}
		if c.bias {
			ins[10].t = f32(r, 3*d)
		}
		for len(ins) > 0 && ins[len(ins)-1].t == nil {
			ins = ins[:len(ins)-1]
		}
		outs := []out{{"y", tensor.Float32}, {"present_key", tensor.Float32}, {"present_value", tensor.Float32}}
		if c.qk {
			outs = append(outs, out{"qk", tensor.Float32})
		}
		check(t, tc{name: c.name, op: "DecoderMaskedMultiHeadAttention", attrs: attrs, inputs: ins, outputs: outs})
	}
	// Cross attention over per-head key and value.
	for _, qk := range []bool{false, true} {
		outs := []out{{"y", tensor.Float32}, {"", 0}, {"", 0}}
		if qk {
			outs = append(outs, out{"qk", tensor.Float32})
		}
		check(t, tc{name: fmt.Sprint("cross_qk", qk), op: "DecoderMaskedMultiHeadAttention",
			attrs:   []ops.Attr{attrInt("num_heads", n), attrInt("output_qk", b2i(qk))},
			inputs:  []in{{"q", f32(r, 2, 1, d)}, {"k", f32(r, 2, n, 5, h)}, {"v", f32(r, 2, n, 5, h)}, {"mask", padMask(5, 5, 3)}},
			outputs: outs})
	}
}

// Attention with past_present_share_buffer: past is a (2, B, N, M, H)
// buffer holding past_sequence_length rows.
func TestAttentionSharedBuffer(t *testing.T) {
	r := rand.New(rand.NewPCG(24, 1))
	const b, n, h, maxLen = 2, 2, 4, 8
	for _, c := range []struct {
		s, past int
		mask    bool
	}{{1, 3, false}, {1, 5, true}, {2, 4, true}} {
		total := c.past + c.s
		ins := []in{{"x", f32(r, b, c.s, n*h)}, {"w", f32(r, n*h, 3*n*h)}, {"bias", f32(r, 3*n*h)}, {"mask", nil},
			{"past", f32(r, 2, b, n, maxLen, h)}, {"attn_bias", nil}, {"past_len", i32([]int{1}, int32(c.past))}}
		if c.mask {
			ins[3].t = padMask(total, total, total-1)
		}
		// ONNX Runtime's CPU kernel lacks the shared buffer: it runs the
		// past's first rows and splices the present back into the buffer.
		check(t, tc{name: fmt.Sprintf("s%d_past%d_mask%v", c.s, c.past, c.mask), op: "Attention",
			attrs:   []ops.Attr{attrInt("num_heads", n), attrInt("unidirectional", 1), attrInt("past_present_share_buffer", 1)},
			inputs:  ins,
			outputs: []out{{"y", tensor.Float32}, {"present", tensor.Float32}},
			ortOp: func(bd *irbuild.Builder, in []string) []string {
				slice := func(x string, from, to int) string {
					return bd.Op("Slice", x, bd.Const(i64s(int64(from))), bd.Const(i64s(int64(to))), bd.Const(i64s(3)))
				}
				args := []string{in[0], in[1], in[2], in[3], slice(in[4], 0, c.past)}
				nd := bd.OpN("Attention", 2, args...).Domain(ms).With(attrInt("num_heads", n), attrInt("unidirectional", 1))
				buf := bd.OpA("Concat", []ops.Attr{attrInt("axis", 3)}, nd.Out(1), slice(in[4], total, maxLen))
				return []string{nd.Out(0), buf}
			}})
	}
}

// MultiHeadAttention with past_sequence_length: past_key/value are
// (B, N, M, H) buffers filled to that length.
func TestMultiHeadAttentionSharedBuffer(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 1))
	const b, n, h, maxLen = 2, 2, 4, 7
	for _, c := range []struct {
		s, past int
		mask    bool
	}{{1, 3, false}, {1, 5, true}, {2, 2, true}} {
		total := c.past + c.s
		ins := []in{{"q", f32(r, b, c.s, n*h)}, {"k", f32(r, b, c.s, n*h)}, {"v", f32(r, b, c.s, n*h)}, {"bias", f32(r, 3*n*h)},
			{"mask", nil}, {"ab", nil}, {"pk", f32(r, b, n, maxLen, h)}, {"pv", f32(r, b, n, maxLen, h)}, {"pl", i32([]int{1}, int32(c.past))}}
		if c.mask {
			ins[4].t = padMask(total, total, total-1)
		}
		// ONNX Runtime's CPU kernel takes past_sequence_length but treats
		// the whole buffer as the past (and writes a present one row longer
		// than the buffer into it): it runs the unshared form on the filled
		// rows here, and the present is spliced back into the buffer.
		attrs := []ops.Attr{attrInt("num_heads", n), attrInt("unidirectional", 1)}
		check(t, tc{name: fmt.Sprintf("s%d_past%d_mask%v", c.s, c.past, c.mask), op: "MultiHeadAttention",
			attrs:   attrs,
			inputs:  ins,
			outputs: []out{{"y", tensor.Float32}, {"present_key", tensor.Float32}, {"present_value", tensor.Float32}},
			ortOp: func(bd *irbuild.Builder, in []string) []string {
				slice := func(x string, from, to int) string {
					return bd.Op("Slice", x, bd.Const(i64s(int64(from))), bd.Const(i64s(int64(to))), bd.Const(i64s(2)))
				}
				args := []string{in[0], in[1], in[2], in[3], in[4], "", slice(in[6], 0, c.past), slice(in[7], 0, c.past)}
				nd := bd.OpN("MultiHeadAttention", 3, args...).Domain(ms).With(attrs...)
				splice := func(present, buf string) string {
					return bd.OpA("Concat", []ops.Attr{attrInt("axis", 2)}, present, slice(buf, total, maxLen))
				}
				return []string{nd.Out(0), splice(nd.Out(1), in[6]), splice(nd.Out(2), in[7])}
			}})
	}
}

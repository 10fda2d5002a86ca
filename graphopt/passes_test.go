package graphopt_test

import (
	"math"
	"strings"
	"testing"

	"github.com/gort-ml/gort/runtime/ort/orttest"

	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ir/irbuild"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/tensor"
)

func TestPassOrder(t *testing.T) {
	list := graphopt.Passes()
	if err := graphopt.CheckOrder(list); err != nil {
		t.Fatal(err)
	}
	// The checker itself must catch a violated constraint.
	swapped := append([]*graphopt.Pass(nil), list...)
	swapped[0], swapped[len(swapped)-1] = swapped[len(swapped)-1], swapped[0]
	if err := graphopt.CheckOrder(swapped); err == nil {
		t.Error("CheckOrder accepted dce before fold-constants")
	}
}

var constSeq int

// f32s returns a float32 constant of the given shape: vals, or when none
// are given, values in [-0.5, 0.5] that differ between calls.
func f32s(shape []int, vals ...float32) *tensor.Tensor {
	n := 1
	for _, s := range shape {
		n *= s
	}
	if len(vals) == 0 {
		constSeq++ // each constant differs, so CSE does not merge, say, Q and K weights
		vals = make([]float32, n)
		for i := range vals {
			vals[i] = float32(math.Sin(float64(i)*1.7+float64(constSeq))) * 0.5
		}
	}
	return tensor.Must(shape, vals)
}

func i64s(v ...int64) *tensor.Tensor { return tensor.Must([]int{len(v)}, v) }

func attrs(a ...irbuild.Attr) []irbuild.Attr { return a }

// passCase is a small graph, the op counts the optimized graph must have
// and the options to optimize it with.
type passCase struct {
	name  string
	opset int64
	build func(b *irbuild.Builder, x string) string
	want  map[string]int // op type -> count after optimization
	level graphopt.Level
}

func runCases(t *testing.T, cases []passCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opset := c.opset
			if opset == 0 {
				opset = 17
			}
			b := irbuild.New(c.name, irbuild.Opset{Domain: "", Version: opset})
			x := b.Input("x", tensor.Float32, "batch", "sequence", 8)
			y := c.build(b, x)
			b.Rename(y, "y")
			b.Output("y", tensor.Float32)
			m := b.Model()
			opt, rep := checkEquivalent(t, m, graphopt.Options{Level: c.level}, map[string]int{"batch": 2, "sequence": 5}, nil)
			for op, n := range c.want {
				if got := count(opt, op); got != n {
					t.Errorf("%d %s nodes, want %d\n%s", got, op, n, rep)
				}
			}
			if orttest.Err() == nil {
				compareORT(t, m, opt, 3) // the rewritten graph must stay portable
			}
		})
	}
}

func TestBasicPasses(t *testing.T) {
	runCases(t, []passCase{
		{name: "fold-constants", level: graphopt.Basic, build: func(b *irbuild.Builder, x string) string {
			c := b.Op("Mul", b.Op("Add", b.Const(f32s([]int{8})), b.Const(f32s([]int{8}))), b.Const(tensor.Scalar(float32(2))))
			return b.Op("Add", x, c)
		}, want: map[string]int{"Add": 1, "Mul": 0}},
		{name: "fold-shape-of-static", level: graphopt.Basic, build: func(b *irbuild.Builder, x string) string {
			w := b.Const(f32s([]int{3, 8}))
			s := b.Op("Shape", w)
			return b.Op("Reshape", x, b.OpA("Concat", attrs(irbuild.Int("axis", 0)), b.Op("Slice", s, b.Const(i64s(1)), b.Const(i64s(2))), b.Const(i64s(-1))))
		}, want: map[string]int{"Shape": 0, "Slice": 0}},
		{name: "dce", level: graphopt.Basic, build: func(b *irbuild.Builder, x string) string {
			b.Op("Exp", b.Op("Relu", x)) // dead
			return b.Op("Sigmoid", x)
		}, want: map[string]int{"Exp": 0, "Relu": 0, "Sigmoid": 1}},
		{name: "cse", level: graphopt.Basic, build: func(b *irbuild.Builder, x string) string {
			a := b.Op("Mul", b.Op("Relu", x), b.Const(tensor.Scalar(float32(3))))
			c := b.Op("Mul", b.Op("Relu", x), b.Const(tensor.Scalar(float32(3))))
			return b.Op("Add", a, c)
		}, want: map[string]int{"Relu": 1, "Mul": 1}},
		{name: "eliminate-identity", level: graphopt.Basic, build: func(b *irbuild.Builder, x string) string {
			y := b.Op("Identity", x)
			y = b.OpA("Cast", attrs(irbuild.Int("to", int64(tensor.Float32))), y)
			y = b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 1, 2)), y)
			y = b.Op("Dropout", y)
			return b.Op("Relu", y)
		}, want: map[string]int{"Identity": 0, "Cast": 0, "Transpose": 0, "Dropout": 0}},
		{name: "fold-transpose", level: graphopt.Basic, build: func(b *irbuild.Builder, x string) string {
			y := b.OpA("Transpose", attrs(irbuild.Ints("perm", 1, 0, 2)), x)
			y = b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 2, 1)), y)
			y = b.OpA("Transpose", attrs(irbuild.Ints("perm", 2, 1, 0)), y)
			return b.Op("Relu", y)
		}, want: map[string]int{"Transpose": 1}},
		{name: "fold-transpose-to-identity", level: graphopt.Basic, build: func(b *irbuild.Builder, x string) string {
			y := b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 2, 1)), x)
			y = b.OpA("Transpose", attrs(irbuild.Ints("perm", 0, 2, 1)), y)
			return b.Op("Relu", y)
		}, want: map[string]int{"Transpose": 0}},
		{name: "constant-reshape-target", level: graphopt.Basic, build: func(b *irbuild.Builder, x string) string {
			batch := b.Op("Unsqueeze", b.OpA("Gather", attrs(irbuild.Int("axis", 0)), b.Op("Shape", x), b.Const(tensor.Scalar(int64(0)))), b.Const(i64s(0)))
			last := b.Op("Slice", b.Op("Shape", x), b.Const(i64s(-1)), b.Const(i64s(3)))
			return b.Op("Relu", b.Op("Reshape", x, b.OpA("Concat", attrs(irbuild.Int("axis", 0)), batch, b.Const(i64s(-1)), last)))
		}, want: map[string]int{"Shape": 0, "Concat": 0, "Reshape": 1}},
		{name: "unflatten-gemm", level: graphopt.Basic, build: func(b *irbuild.Builder, x string) string {
			size := b.OpA("Concat", attrs(irbuild.Int("axis", 0)), b.Op("Slice", b.Op("Shape", x), b.Const(i64s(0)), b.Const(i64s(2))), b.Const(i64s(5)))
			y := b.Op("Gemm", b.Op("Reshape", x, b.Const(i64s(-1, 8))), b.Const(f32s([]int{8, 5})), b.Const(f32s([]int{5})))
			return b.Op("Relu", b.Op("Reshape", y, size))
		}, want: map[string]int{"Gemm": 0, "Reshape": 0, "MatMul": 1, "Add": 1}},
		{name: "fold-reshape", level: graphopt.Basic, build: func(b *irbuild.Builder, x string) string {
			y := b.Op("Reshape", x, b.Const(i64s(0, 0, 2, 4)))
			y = b.Op("Reshape", y, b.Const(i64s(-1, 8)))
			return b.Op("Relu", y)
		}, want: map[string]int{"Reshape": 1}},
	})
}

// layerNormParts builds the decomposed LayerNorm exporters write; axesIn
// passes ReduceMean's axes as an input (opset 18+).
func layerNormParts(b *irbuild.Builder, x string, axesIn, affine bool) string {
	mean := func(v string) string {
		if axesIn {
			return b.Op("ReduceMean", v, b.Const(i64s(-1)))
		}
		return b.OpA("ReduceMean", attrs(irbuild.Ints("axes", -1)), v)
	}
	d := b.Op("Sub", x, mean(x))
	v := mean(b.Op("Pow", d, b.Const(tensor.Scalar(float32(2)))))
	y := b.Op("Div", d, b.Op("Sqrt", b.Op("Add", v, b.Const(tensor.Scalar(float32(1e-5))))))
	if affine {
		y = b.Op("Add", b.Op("Mul", y, b.Const(f32s([]int{8}))), b.Const(f32s([]int{8})))
	}
	return y
}

// geluErf builds x*0.5*(1+erf(x/sqrt2)) in one of the associations
// exporters produce.
func geluErf(b *irbuild.Builder, x string, form int) string {
	e := b.Op("Add", b.Op("Erf", b.Op("Div", x, b.Const(tensor.Scalar(float32(math.Sqrt2))))), b.Const(tensor.Scalar(float32(1))))
	half := b.Const(tensor.Scalar(float32(0.5)))
	switch form {
	case 0:
		return b.Op("Mul", b.Op("Mul", x, e), half)
	case 1:
		return b.Op("Mul", b.Op("Mul", x, half), e)
	default:
		return b.Op("Mul", x, b.Op("Mul", e, half))
	}
}

// geluTanh builds 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))).
func geluTanh(b *irbuild.Builder, x string, pow bool) string {
	var cube string
	if pow {
		cube = b.Op("Pow", x, b.Const(tensor.Scalar(float32(3))))
	} else {
		cube = b.Op("Mul", x, b.Op("Mul", x, x))
	}
	in := b.Op("Add", x, b.Op("Mul", b.Const(tensor.Scalar(float32(0.044715))), cube))
	th := b.Op("Tanh", b.Op("Mul", b.Const(tensor.Scalar(float32(math.Sqrt(2/math.Pi)))), in))
	return b.Op("Mul", b.Op("Mul", b.Const(tensor.Scalar(float32(0.5))), x), b.Op("Add", b.Const(tensor.Scalar(float32(1))), th))
}

func TestFusions(t *testing.T) {
	reg := all.Registry()
	cases := []passCase{
		{name: "layernorm-17", build: func(b *irbuild.Builder, x string) string { return layerNormParts(b, x, false, true) },
			want: map[string]int{"LayerNormalization": 1, "ReduceMean": 0, "Sqrt": 0}},
		{name: "layernorm-18-axes-input", opset: 18, build: func(b *irbuild.Builder, x string) string { return layerNormParts(b, x, true, true) },
			want: map[string]int{"LayerNormalization": 1, "ReduceMean": 0}},
		{name: "layernorm-13-no-affine", opset: 13, build: func(b *irbuild.Builder, x string) string { return layerNormParts(b, x, false, false) },
			want: map[string]int{"LayerNormalization": 1, "ReduceMean": 0}},
		{name: "gelu-erf-0", build: func(b *irbuild.Builder, x string) string { return geluErf(b, x, 0) },
			want: map[string]int{"Gelu": 1, "Erf": 0}},
		{name: "gelu-erf-1", build: func(b *irbuild.Builder, x string) string { return geluErf(b, x, 1) },
			want: map[string]int{"Gelu": 1, "Erf": 0}},
		{name: "gelu-erf-2", build: func(b *irbuild.Builder, x string) string { return geluErf(b, x, 2) },
			want: map[string]int{"Gelu": 1, "Erf": 0}},
		{name: "gelu-tanh-pow", build: func(b *irbuild.Builder, x string) string { return geluTanh(b, x, true) },
			want: map[string]int{"FastGelu": 1, "Tanh": 0}},
		{name: "gelu-tanh-mul", build: func(b *irbuild.Builder, x string) string { return geluTanh(b, x, false) },
			want: map[string]int{"FastGelu": 1, "Tanh": 0}},
		{name: "bias-gelu", build: func(b *irbuild.Builder, x string) string {
			return geluErf(b, b.Op("Add", x, b.Const(f32s([]int{8}))), 0)
		}, want: map[string]int{"BiasGelu": 1, "Add": 0}},
		{name: "fast-gelu-bias", build: func(b *irbuild.Builder, x string) string {
			return geluTanh(b, b.Op("Add", b.Const(f32s([]int{8})), x), true)
		}, want: map[string]int{"FastGelu": 1, "Add": 0}},
		{name: "skip-layernorm", build: func(b *irbuild.Builder, x string) string {
			h := b.Op("Add", b.Op("MatMul", x, b.Const(f32s([]int{8, 8}))), b.Const(f32s([]int{8})))
			return b.OpA("LayerNormalization", attrs(irbuild.Int("axis", -1), irbuild.Float("epsilon", 1e-6)),
				b.Op("Add", h, x), b.Const(f32s([]int{8})), b.Const(f32s([]int{8})))
		}, want: map[string]int{"SkipLayerNormalization": 1, "Add": 0, "LayerNormalization": 0}},
		{name: "skip-layernorm-from-parts", build: func(b *irbuild.Builder, x string) string {
			return layerNormParts(b, b.Op("Add", x, b.Op("Relu", x)), false, true)
		}, want: map[string]int{"SkipLayerNormalization": 1}},
		{name: "skip-layernorm-pre-ln", build: func(b *irbuild.Builder, x string) string {
			h := b.Op("Add", b.Op("Add", b.Op("MatMul", x, b.Const(f32s([]int{8, 8}))), b.Const(f32s([]int{8}))), x)
			y := b.OpA("LayerNormalization", attrs(irbuild.Int("axis", -1)), h, b.Const(f32s([]int{8})), b.Const(f32s([]int{8})))
			return b.Op("Add", b.Op("Relu", y), h) // the sum feeds the next residual too
		}, want: map[string]int{"SkipLayerNormalization": 1, "Add": 1, "LayerNormalization": 0}},
		{name: "matmul-add-2d", build: func(b *irbuild.Builder, x string) string {
			x2 := b.Op("Reshape", x, b.Const(i64s(-1, 8)))
			return b.Op("Add", b.Const(f32s([]int{4})), b.Op("MatMul", x2, b.Const(f32s([]int{8, 4}))))
		}, want: map[string]int{"Gemm": 1, "MatMul": 0}},
		{name: "matmul-add-3d-stays", build: func(b *irbuild.Builder, x string) string {
			return b.Op("Add", b.Op("MatMul", x, b.Const(f32s([]int{8, 4}))), b.Const(f32s([]int{4})))
		}, want: map[string]int{"Gemm": 0, "MatMul": 1}},
	}
	if reg.Has("", "Gelu") {
		cases = append(cases,
			passCase{name: "gelu-20-standard", opset: 20, build: func(b *irbuild.Builder, x string) string { return geluErf(b, x, 0) },
				want: map[string]int{"Gelu": 1, "Erf": 0}},
			passCase{name: "gelu-20-tanh-standard", opset: 20, build: func(b *irbuild.Builder, x string) string { return geluTanh(b, x, true) },
				want: map[string]int{"Gelu": 1, "Tanh": 0}})
	}
	runCases(t, cases)
}

// TestFusionsLeaveSharedValues checks that a fusion whose intermediate value
// is read elsewhere does not fire (removing it would break the reader).
func TestFusionsLeaveSharedValues(t *testing.T) {
	runCases(t, []passCase{
		{name: "gelu-shared-erf", build: func(b *irbuild.Builder, x string) string {
			e := b.Op("Erf", b.Op("Div", x, b.Const(tensor.Scalar(float32(math.Sqrt2)))))
			g := b.Op("Mul", b.Op("Mul", x, b.Op("Add", e, b.Const(tensor.Scalar(float32(1))))), b.Const(tensor.Scalar(float32(0.5))))
			return b.Op("Add", g, e)
		}, want: map[string]int{"Gelu": 0, "Erf": 1}},
		{name: "layernorm-shared-mean", build: func(b *irbuild.Builder, x string) string {
			mean := b.OpA("ReduceMean", attrs(irbuild.Ints("axes", -1)), x)
			d := b.Op("Sub", x, mean)
			v := b.OpA("ReduceMean", attrs(irbuild.Ints("axes", -1)), b.Op("Mul", d, d))
			y := b.Op("Div", d, b.Op("Sqrt", b.Op("Add", v, b.Const(tensor.Scalar(float32(1e-5))))))
			return b.Op("Add", y, mean)
		}, want: map[string]int{"LayerNormalization": 0}},
	})
}

func TestOptions(t *testing.T) {
	b := irbuild.New("opts", irbuild.Opset{Domain: "", Version: 17})
	x := b.Input("x", tensor.Float32, 2, 8)
	b.Rename(geluErf(b, x, 0), "y")
	b.Output("y", tensor.Float32)
	m := b.Model()
	before := len(m.Graph.Nodes)
	opt, _, err := graphopt.Optimize(m, graphopt.Options{Disable: []string{"fuse-gelu"}})
	if err != nil {
		t.Fatal(err)
	}
	if count(opt, "Gelu") != 0 {
		t.Error("disabled fuse-gelu ran")
	}
	if _, _, err := graphopt.Optimize(m, graphopt.Options{Disable: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown pass name: err %v", err)
	}
	opt, _, err = graphopt.Optimize(m, graphopt.Options{Level: graphopt.Basic})
	if err != nil || count(opt, "Gelu") != 0 {
		t.Errorf("basic level fused (err %v)", err)
	}
	none := func(string, string) bool { return false }
	if opt, _, err = graphopt.Optimize(m, graphopt.Options{Supported: none}); err != nil || count(opt, "Gelu") != 0 {
		t.Errorf("unsupported Gelu emitted (err %v)", err)
	}
	if len(m.Graph.Nodes) != before {
		t.Error("Optimize modified its input")
	}
	bad := &ir.Model{Graph: &ir.Graph{Nodes: []*ir.Node{{OpType: "Relu", Inputs: []string{"missing"}, Outputs: []string{"y"}}}}}
	if _, _, err := graphopt.Optimize(bad, graphopt.Options{}); err == nil {
		t.Error("invalid model accepted")
	}
}

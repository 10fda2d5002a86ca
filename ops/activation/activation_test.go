package activation

import (
	"math"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

func run(t *testing.T, list []*ops.Op, opset int, attrs []ops.Attr, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	return optest.Run(t, list, list[0].Type, opset, attrs, nil, in...)
}

func fl(name string, v float32) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrFloat, F: v} }
func in(name string, v int64) ops.Attr   { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }

var xs = []float64{-30, -3, -1, -0.5, -1e-3, 0, 1e-3, 0.25, 1, 2.5, 30}

func sig(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// TestUnary checks each elementwise op against its spec formula in float64,
// for float32, float64 and float16 inputs.
func TestUnary(t *testing.T) {
	cases := []struct {
		list  []*ops.Op
		attrs []ops.Attr
		f     func(x float64) float64
	}{
		{Relu, nil, func(x float64) float64 { return math.Max(0, x) }},
		{LeakyRelu, []ops.Attr{fl("alpha", 0.1)}, func(x float64) float64 {
			if x < 0 {
				return float64(float32(0.1)) * x
			}
			return x
		}},
		{ThresholdedRelu, []ops.Attr{fl("alpha", 0.5)}, func(x float64) float64 {
			if x > 0.5 {
				return x
			}
			return 0
		}},
		{Shrink, []ops.Attr{fl("lambd", 1), fl("bias", 0.5)}, func(x float64) float64 {
			switch {
			case x < -1:
				return x + 0.5
			case x > 1:
				return x - 0.5
			}
			return 0
		}},
		{Elu, []ops.Attr{fl("alpha", 2)}, func(x float64) float64 {
			if x < 0 {
				return 2 * (math.Exp(x) - 1)
			}
			return x
		}},
		{Selu, nil, func(x float64) float64 {
			const a, g = 1.67326319217681884765625, 1.05070102214813232421875
			if x > 0 {
				return g * x
			}
			return g * a * (math.Exp(x) - 1)
		}},
		{Celu, []ops.Attr{fl("alpha", 2)}, func(x float64) float64 {
			return math.Max(0, x) + math.Min(0, 2*(math.Exp(x/2)-1))
		}},
		{Sigmoid, nil, sig},
		{HardSigmoid, []ops.Attr{fl("alpha", 0.5), fl("beta", 0.25)}, func(x float64) float64 {
			return math.Max(0, math.Min(1, 0.5*x+0.25))
		}},
		{HardSwish, nil, func(x float64) float64 { return x * math.Max(0, math.Min(1, x/6+0.5)) }},
		{Softplus, nil, func(x float64) float64 { return math.Log(1 + math.Exp(x)) }},
		{Softsign, nil, func(x float64) float64 { return x / (1 + math.Abs(x)) }},
		{Mish, nil, func(x float64) float64 { return x * math.Tanh(math.Log(1+math.Exp(x))) }},
		{Swish, []ops.Attr{fl("alpha", 1.5)}, func(x float64) float64 { return x * sig(1.5*x) }},
		{Gelu, nil, func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }},
		{Gelu, []ops.Attr{{Name: "approximate", Type: ops.AttrString, S: []byte("tanh")}}, func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		}},
	}
	for _, c := range cases {
		name := c.list[0].Type
		opset := c.list[len(c.list)-1].Since
		x32 := make([]float32, len(xs))
		for i, v := range xs {
			x32[i] = float32(v)
		}
		out, err := run(t, c.list, opset, c.attrs, tensor.Must([]int{len(xs)}, x32))
		if err != nil {
			t.Fatal(name, err)
		}
		for i, g := range tensor.Data[float32](out[0]) {
			want := c.f(float64(x32[i]))
			tol := 1e-7 * math.Max(1, math.Abs(want))
			if name == "Gelu" {
				// float32 Gelu uses linalg's erf/tanh approximations:
				// absolute error within 3e-7·max(1, |x|) (1+erf cancels
				// for negative x, so this bound is absolute).
				tol = 3e-7 * math.Max(1, math.Abs(float64(x32[i])))
			}
			if math.Abs(float64(g)-want) > tol {
				t.Errorf("%s float32(%v) = %v, want %v", name, x32[i], g, want)
			}
		}
		out, err = run(t, c.list, opset, c.attrs, tensor.Must([]int{len(xs)}, xs))
		if err != nil {
			t.Fatal(name, err)
		}
		for i, g := range tensor.Data[float64](out[0]) {
			want := c.f(xs[i])
			if math.Abs(g-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Errorf("%s float64(%v) = %v, want %v", name, xs[i], g, want)
			}
		}
		h := make([]tensor.Float16Bits, len(xs))
		for i, v := range xs {
			h[i] = tensor.Float16FromFloat32(float32(v))
		}
		out, err = run(t, c.list, opset, c.attrs, tensor.Must([]int{len(xs)}, h))
		if err != nil {
			t.Fatal(name, err)
		}
		for i, g := range tensor.Data[tensor.Float16Bits](out[0]) {
			want := tensor.Float16FromFloat32(float32(c.f(float64(h[i].Float32()))))
			if g != want {
				t.Errorf("%s float16(%v) = %v, want %v", name, h[i].Float32(), g.Float32(), want.Float32())
			}
		}
	}
}

func TestReluInt(t *testing.T) {
	out, err := run(t, Relu, 14, nil, tensor.Must([]int{3}, []int64{math.MinInt64, 0, math.MaxInt64}))
	if err != nil {
		t.Fatal(err)
	}
	if g := tensor.Data[int64](out[0]); g[0] != 0 || g[2] != math.MaxInt64 {
		t.Fatalf("relu int64 = %v", g)
	}
}

func TestPRelu(t *testing.T) {
	// x is (2, 2, 3); slope (2, 1) broadcasts over the last two dims.
	x := make([]float32, 12)
	for i := range x {
		x[i] = float32(i) - 6
	}
	out, err := run(t, PRelu, 16, nil, tensor.Must([]int{2, 2, 3}, x), tensor.Must([]int{2, 1}, []float32{10, 100}))
	if err != nil {
		t.Fatal(err)
	}
	g := tensor.Data[float32](out[0])
	for i, v := range x {
		s := float32(10)
		if (i/3)%2 == 1 {
			s = 100
		}
		want := v
		if v < 0 {
			want = v * s
		}
		if g[i] != want {
			t.Fatalf("prelu[%d] = %v, want %v", i, g[i], want)
		}
	}
	if _, err := run(t, PRelu, 16, nil, tensor.Must([]int{3}, x[:3]), tensor.Must([]int{2, 3}, x[:6])); err == nil {
		t.Error("slope larger than x: no error")
	}
}

func TestSwiGLU(t *testing.T) {
	a := tensor.Must([]int{3}, []float32{-1, 0.5, 2})
	b := tensor.Must([]int{3}, []float32{2, 3, -1})
	out, err := run(t, SwiGLU, 28, []ops.Attr{fl("alpha", 2)}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range tensor.Data[float32](out[0]) {
		x, y := float64(tensor.Data[float32](a)[i]), float64(tensor.Data[float32](b)[i])
		if want := x * sig(2*x) * y; math.Abs(float64(g)-want) > 1e-6 {
			t.Errorf("swiglu[%d] = %v, want %v", i, g, want)
		}
	}
	if _, err := run(t, SwiGLU, 28, nil, a, tensor.Must([]int{1}, []float32{1})); err == nil {
		t.Error("shape mismatch: no error")
	}
}

// softmaxRef is softmax over groups of x given by key(i), in float64.
func softmaxRef(x []float64, key func(i int) int, log bool) []float64 {
	m, s := map[int]float64{}, map[int]float64{}
	for i, v := range x {
		if old, ok := m[key(i)]; !ok || v > old {
			m[key(i)] = v
		}
	}
	for i, v := range x {
		s[key(i)] += math.Exp(v - m[key(i)])
	}
	out := make([]float64, len(x))
	for i, v := range x {
		if log {
			out[i] = v - m[key(i)] - math.Log(s[key(i)])
		} else {
			out[i] = math.Exp(v-m[key(i)]) / s[key(i)]
		}
	}
	return out
}

// TestSoftmax checks both axis semantics on a (2, 3, 4) input: opset 13
// along one axis, opset 11 over the input flattened to 2-D at axis.
func TestSoftmax(t *testing.T) {
	x := make([]float64, 24)
	x32 := make([]float32, 24)
	for i := range x {
		x32[i] = float32(math.Sin(float64(i))*3 + 1000) // large: needs the max shift
		x[i] = float64(x32[i])
	}
	shape := []int{2, 3, 4}
	cases := []struct {
		opset int
		axis  int64
		key   func(i int) int
	}{
		{13, 2, func(i int) int { return i / 4 }},
		{13, 1, func(i int) int { return (i/12)*4 + i%4 }},
		{13, 0, func(i int) int { return i % 12 }},
		{11, 1, func(i int) int { return i / 12 }},
		{11, 2, func(i int) int { return i / 4 }},
		{11, 0, func(i int) int { return 0 }},
		{1, 3, func(i int) int { return i }},
	}
	for _, c := range cases {
		for _, log := range []bool{false, true} {
			list := Softmax
			if log {
				list = LogSoftmax
			}
			want := softmaxRef(x, c.key, log)
			out, err := run(t, list, c.opset, []ops.Attr{in("axis", c.axis)}, tensor.Must(shape, x32))
			if err != nil {
				t.Fatal(err)
			}
			for i, g := range tensor.Data[float32](out[0]) {
				if math.Abs(float64(g)-want[i]) > 1e-6*math.Abs(want[i])+1e-30 {
					t.Fatalf("log=%v opset %d axis %d: [%d] = %v, want %v", log, c.opset, c.axis, i, g, want[i])
				}
			}
		}
		out, err := run(t, Hardmax, c.opset, []ops.Attr{in("axis", c.axis)}, tensor.Must(shape, x32))
		if err != nil {
			t.Fatal(err)
		}
		// Exactly one 1 per group, at the group's first maximum.
		best := map[int]int{}
		for i, v := range x {
			if b, ok := best[c.key(i)]; !ok || v > x[b] {
				best[c.key(i)] = i
			}
		}
		for i, g := range tensor.Data[float32](out[0]) {
			want := float32(0)
			if best[c.key(i)] == i {
				want = 1
			}
			if g != want {
				t.Fatalf("hardmax opset %d axis %d: [%d] = %v, want %v", c.opset, c.axis, i, g, want)
			}
		}
	}
	if _, err := run(t, Softmax, 13, []ops.Attr{in("axis", 3)}, tensor.Must(shape, x32)); err == nil {
		t.Error("axis 3 at opset 13: no error")
	}
}

// TestParallel checks that splitting over threads gives the serial result.
func TestParallel(t *testing.T) {
	const n = 1 << 17
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)) * 5)
	}
	for _, c := range []struct {
		list  []*ops.Op
		shape []int
	}{{Gelu, []int{n}}, {Softmax, []int{256, 512}}, {LogSoftmax, []int{64, 16, 128}}} {
		op := c.list[len(c.list)-1]
		k, err := op.Compile(&ops.Node{OpType: op.Type, Opset: op.Since})
		if err != nil {
			t.Fatal(err)
		}
		in := []*tensor.Tensor{tensor.Must(c.shape, x)}
		a, err := k.Run(&ops.Ctx{Threads: 1}, in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := k.Run(&ops.Ctx{Threads: 7}, in)
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.Equal(a[0], b[0]) {
			t.Errorf("%s: 7 threads differ from 1", op.Type)
		}
	}
}

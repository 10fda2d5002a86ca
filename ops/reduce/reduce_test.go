package reduce

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

// run compiles list's schema in force at opset and runs it.
func run(t *testing.T, list []*ops.Op, opset int, attrs []ops.Attr, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	return optest.Run(t, list, list[0].Type, opset, attrs, nil, in...)
}

func ints(name string, v ...int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInts, Ints: v} }
func intA(name string, v int64) ops.Attr    { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }

// naive is an independent reference: for every input element, find its
// output element by index arithmetic and collect the values per output.
func naive(shape []int, x []float64, red []bool) (outShape []int, groups [][]float64) {
	for i, d := range shape {
		if !red[i] {
			outShape = append(outShape, d)
		}
	}
	n := 1
	for _, d := range outShape {
		n *= d
	}
	groups = make([][]float64, n)
	for flat := range x {
		rem, o, mul := flat, 0, 1
		for i := len(shape) - 1; i >= 0; i-- {
			c := rem % shape[i]
			rem /= shape[i]
			if !red[i] {
				o += c * mul
				mul *= shape[i]
			}
		}
		groups[o] = append(groups[o], x[flat])
	}
	return outShape, groups
}

var refs = map[string]func([]float64) float64{
	"ReduceSum": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s
	},
	"ReduceMean": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	},
	"ReduceMax": func(v []float64) float64 {
		m := math.Inf(-1)
		for _, x := range v {
			m = math.Max(m, x)
		}
		return m
	},
	"ReduceMin": func(v []float64) float64 {
		m := math.Inf(1)
		for _, x := range v {
			m = math.Min(m, x)
		}
		return m
	},
	"ReduceProd": func(v []float64) float64 {
		p := 1.0
		for _, x := range v {
			p *= x
		}
		return p
	},
	"ReduceL1": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += math.Abs(x)
		}
		return s
	},
	"ReduceL2": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x * x
		}
		return math.Sqrt(s)
	},
	"ReduceLogSum": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return math.Log(s)
	},
	"ReduceLogSumExp": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += math.Exp(x)
		}
		return math.Log(s)
	},
	"ReduceSumSquare": func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x * x
		}
		return s
	},
}

var lists = map[string][]*ops.Op{
	"ReduceSum": ReduceSum, "ReduceMean": ReduceMean, "ReduceMax": ReduceMax, "ReduceMin": ReduceMin,
	"ReduceProd": ReduceProd, "ReduceL1": ReduceL1, "ReduceL2": ReduceL2, "ReduceLogSum": ReduceLogSum,
	"ReduceLogSumExp": ReduceLogSumExp, "ReduceSumSquare": ReduceSumSquare,
}

func close(got, want, rtol float64) bool {
	if math.IsNaN(want) || math.IsInf(want, 0) {
		return got == want || (math.IsNaN(got) && math.IsNaN(want))
	}
	return math.Abs(got-want) <= 1e-6+rtol*math.Abs(want)
}

// TestReduceAxes checks every kind against the naive reference over many
// axis sets (exercising kept and reduced inner groups and size-1 dims), at
// the attribute opset (13) and the input opset (18), float32 and float64.
func TestReduceAxes(t *testing.T) {
	shape := []int{2, 3, 1, 4, 5}
	x64 := make([]float64, 2*3*4*5)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x64 {
		x64[i] = 0.5 + r.Float64() // positive, for LogSum
	}
	x32 := make([]float32, len(x64))
	for i, v := range x64 {
		x32[i] = float32(v)
		x64[i] = float64(x32[i])
	}
	axesSets := [][]int64{{0}, {1}, {4}, {-1}, {0, 2}, {1, 3}, {0, 4}, {1, 2, 4}, {0, 1, 2, 3, 4}, {3, 0}, {2}}
	for name, list := range lists {
		for _, axes := range axesSets {
			for _, keep := range []int64{0, 1} {
				for _, opset := range []int{13, 18} {
					red, err := normAxes(axes, len(shape))
					if err != nil {
						t.Fatal(err)
					}
					wantShape, groups := naive(shape, x64, red)
					if keep == 1 {
						wantShape = reducedShape(shape, red, true)
					}
					attrs := []ops.Attr{intA("keepdims", keep)}
					in := []*tensor.Tensor{tensor.Must(shape, x32)}
					if opset >= 18 || (name == "ReduceSum" && opset >= 13) {
						in = append(in, tensor.Must([]int{len(axes)}, axes))
					} else {
						attrs = append(attrs, ints("axes", axes...))
					}
					out, err := run(t, list, opset, attrs, in...)
					if err != nil {
						t.Fatalf("%s axes %v: %v", name, axes, err)
					}
					if !tensor.SameShape(out[0].Shape(), wantShape) {
						t.Fatalf("%s axes %v keep %d: shape %v, want %v", name, axes, keep, out[0].Shape(), wantShape)
					}
					got := tensor.Data[float32](out[0])
					for i, g := range groups {
						if want := refs[name](g); !close(float64(got[i]), want, 1e-6) {
							t.Fatalf("%s axes %v keep %d opset %d: out[%d] = %v, want %v", name, axes, keep, opset, i, got[i], want)
						}
					}
				}
			}
		}
	}
}

// TestReduceEmpty checks identities of empty reductions and noop_with_empty_axes.
func TestReduceEmpty(t *testing.T) {
	x := tensor.Must([]int{2, 0, 4}, []float32{})
	want := map[string]float64{
		"ReduceSum": 0, "ReduceMean": math.NaN(), "ReduceMax": math.Inf(-1), "ReduceMin": math.Inf(1),
		"ReduceProd": 1, "ReduceL1": 0, "ReduceL2": 0, "ReduceLogSum": math.Inf(-1),
		"ReduceLogSumExp": math.Inf(-1), "ReduceSumSquare": 0,
	}
	for name, w := range want {
		out, err := run(t, lists[name], 20, []ops.Attr{intA("keepdims", 1)}, x, tensor.Must([]int{1}, []int64{1}))
		if err != nil {
			t.Fatal(name, err)
		}
		if !tensor.SameShape(out[0].Shape(), []int{2, 1, 4}) {
			t.Fatalf("%s: shape %v", name, out[0].Shape())
		}
		for _, g := range tensor.Data[float32](out[0]) {
			if !close(float64(g), w, 0) {
				t.Fatalf("%s: %v, want %v", name, g, w)
			}
		}
	}
	// noop: empty axes input with noop_with_empty_axes = 1 reduces nothing.
	y := tensor.Must([]int{2, 2}, []float32{-1, 2, -3, 4})
	out, err := run(t, ReduceSumSquare, 18, []ops.Attr{intA("noop_with_empty_axes", 1)}, y, tensor.Must([]int{0}, []int64{}))
	if err != nil {
		t.Fatal(err)
	}
	if g := tensor.Data[float32](out[0]); !tensor.SameShape(out[0].Shape(), []int{2, 2}) || g[0] != 1 || g[3] != 16 {
		t.Fatalf("noop ReduceSumSquare = %v", out[0])
	}
	// Without noop, empty axes reduce everything.
	out, err = run(t, ReduceSum, 13, []ops.Attr{intA("keepdims", 0)}, y, tensor.Must([]int{0}, []int64{}))
	if err != nil {
		t.Fatal(err)
	}
	if g := tensor.Data[float32](out[0]); out[0].Rank() != 0 || g[0] != 2 {
		t.Fatalf("ReduceSum all = %v", out[0])
	}
}

func TestReduceDTypes(t *testing.T) {
	// int32 sums wrap like numpy's cast back; mean truncates toward zero.
	xi := tensor.Must([]int{2, 3}, []int32{math.MaxInt32, 1, 0, -7, 2, 0})
	cases := []struct {
		name string
		want []int32
	}{
		{"ReduceSum", []int32{math.MinInt32, -5}},
		{"ReduceMean", []int32{(math.MaxInt32 + 1) / 3, -1}},
		{"ReduceMax", []int32{math.MaxInt32, 2}},
		{"ReduceMin", []int32{0, -7}},
		{"ReduceL1", []int32{math.MinInt32, 9}},
		{"ReduceProd", []int32{0, 0}},
	}
	for _, c := range cases {
		out, err := run(t, lists[c.name], 18, []ops.Attr{intA("keepdims", 0)}, xi, tensor.Must([]int{1}, []int64{1}))
		if err != nil {
			t.Fatal(c.name, err)
		}
		if g := tensor.Data[int32](out[0]); g[0] != c.want[0] || g[1] != c.want[1] {
			t.Errorf("%s int32 = %v, want %v", c.name, g, c.want)
		}
	}
	// uint64 max compares unsigned.
	xu := tensor.Must([]int{3}, []uint64{1, math.MaxUint64, 5})
	out, err := run(t, ReduceMax, 20, nil, xu)
	if err != nil || tensor.Data[uint64](out[0])[0] != math.MaxUint64 {
		t.Fatalf("uint64 max = %v, %v", out, err)
	}
	// bool: max is any, min is all.
	xb := tensor.Must([]int{2, 2}, []bool{true, false, false, false})
	for name, want := range map[string][]bool{"ReduceMax": {true, false}, "ReduceMin": {false, false}} {
		out, err := run(t, lists[name], 20, []ops.Attr{intA("keepdims", 0)}, xb, tensor.Must([]int{1}, []int64{1}))
		if err != nil {
			t.Fatal(err)
		}
		if g := tensor.Data[bool](out[0]); g[0] != want[0] || g[1] != want[1] {
			t.Errorf("%s bool = %v, want %v", name, g, want)
		}
	}
	// float16 accumulates wider: 2048 + 1 + 1 is 2050 (float16 sums would stick at 2048).
	h := []tensor.Float16Bits{tensor.Float16FromFloat32(2048), tensor.Float16FromFloat32(1), tensor.Float16FromFloat32(1)}
	out, err = run(t, ReduceSum, 13, nil, tensor.Must([]int{3}, h))
	if err != nil || tensor.Data[tensor.Float16Bits](out[0])[0].Float32() != 2050 {
		t.Fatalf("float16 sum = %v, %v", out, err)
	}
	// NaN propagates through max; LogSumExp does not overflow.
	xf := tensor.Must([]int{3}, []float32{1, float32(math.NaN()), 3})
	out, _ = run(t, ReduceMax, 18, nil, xf)
	if g := tensor.Data[float32](out[0])[0]; g == g {
		t.Errorf("max with NaN = %v", g)
	}
	out, _ = run(t, ReduceLogSumExp, 18, nil, tensor.Must([]int{2}, []float32{1000, 1000}))
	if g := tensor.Data[float32](out[0])[0]; !close(float64(g), 1000+math.Ln2, 1e-6) {
		t.Errorf("logsumexp(1000, 1000) = %v", g)
	}
}

func TestReduceErrors(t *testing.T) {
	x := tensor.Must([]int{2, 2}, []float32{1, 2, 3, 4})
	for _, axes := range [][]int64{{2}, {-3}, {0, 0}, {1, -1}} {
		if _, err := run(t, ReduceSum, 13, nil, x, tensor.Must([]int{len(axes)}, axes)); err == nil {
			t.Errorf("axes %v: no error", axes)
		}
	}
	if _, err := run(t, ReduceSum, 13, nil, tensor.Must([]int{1}, []string{"a"})); err == nil {
		t.Error("string input: no error")
	}
}

func TestReduceInfer(t *testing.T) {
	reg, _ := ops.NewRegistry(ReduceMean)
	op, _ := reg.Lookup("", "ReduceMean", 13)
	n := &ops.Node{Opset: 13, Attrs: []ops.Attr{ints("axes", 1, -1)}}
	ty, err := op.Infer(n, []tensor.Type{tensor.TensorType(tensor.Float32, 2, 3, 4)})
	if err != nil {
		t.Fatal(err)
	}
	if want := tensor.TensorType(tensor.Float32, 2, 1, 1); !optest.SameType(ty[0], want) {
		t.Fatalf("infer = %+v, want %+v", ty[0], want)
	}
}

// TestReduceParallel checks that splitting runs over threads gives the
// serial result, for plans that qualify (trailing axes) and ones that do not.
func TestReduceParallel(t *testing.T) {
	shape := []int{64, 3, 512}
	x := make([]float32, 64*3*512)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	for _, name := range []string{"ReduceSum", "ReduceMax", "ReduceLogSumExp", "ReduceL2"} {
		for _, axes := range [][]int64{{2}, {1, 2}, {0}, {0, 2}} {
			in := []*tensor.Tensor{tensor.Must(shape, x), tensor.Must([]int{len(axes)}, axes)}
			op := lists[name][len(lists[name])-1]
			k, err := op.Compile(&ops.Node{OpType: op.Type, Opset: op.Since})
			if err != nil {
				t.Fatal(err)
			}
			a, err := k.Run(&ops.Ctx{Threads: 1}, in)
			if err != nil {
				t.Fatal(err)
			}
			b, err := k.Run(&ops.Ctx{Threads: 7}, in)
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.Equal(a[0], b[0]) {
				t.Errorf("%s axes %v: 7 threads differ from 1", name, axes)
			}
		}
	}
}

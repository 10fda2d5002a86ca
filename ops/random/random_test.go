package random

import (
	"math"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

func kernel(t *testing.T, op []*ops.Op, attrs ...ops.Attr) *ops.Kernel {
	t.Helper()
	return optest.Kernel(t, op, &ops.Node{Attrs: attrs, Outputs: []string{"y"}})
}

func iattr(name string, v int64) ops.Attr   { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }
func fattr(name string, v float32) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrFloat, F: v} }
func shape(v ...int64) ops.Attr             { return ops.Attr{Name: "shape", Type: ops.AttrInts, Ints: v} }

func run1(t *testing.T, k *ops.Kernel, c *ops.Ctx, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	out, err := k.Run(c, in)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func floats(t *tensor.Tensor) []float64 {
	f := tensor.Zeros(tensor.Float64, t.Shape()...)
	if err := tensor.Convert(f, t, true); err != nil {
		panic(err)
	}
	return tensor.Data[float64](f)
}

func meanStd(v []float64) (float64, float64) {
	var s, s2 float64
	for _, x := range v {
		s += x
		s2 += x * x
	}
	m := s / float64(len(v))
	return m, math.Sqrt(s2/float64(len(v)) - m*m)
}

// fixed is a RandSource that returns constants, to check how kernels use the session's source.
type fixed struct{ u, z float64 }

func (f fixed) Float64() float64     { return f.u }
func (f fixed) NormFloat64() float64 { return f.z }

func TestGenerators(t *testing.T) {
	c := &ops.Ctx{}
	for _, tc := range []struct {
		name      string
		op        []*ops.Op
		attrs     []ops.Attr
		in        []*tensor.Tensor
		dtype     tensor.DType
		shape     []int
		mean, std float64
		lo, hi    float64
	}{
		{"uniform", randomUniformOps, []ops.Attr{shape(100, 100), fattr("low", -2), fattr("high", 4)}, nil,
			tensor.Float32, []int{100, 100}, 1, 6 / math.Sqrt(12), -2, 4},
		{"uniform float16", randomUniformOps, []ops.Attr{shape(10000), iattr("dtype", int64(tensor.Float16))}, nil,
			tensor.Float16, []int{10000}, 0.5, 1 / math.Sqrt(12), 0, 1},
		{"normal", randomNormalOps, []ops.Attr{shape(20000), fattr("mean", 3), fattr("scale", 0.5), iattr("dtype", int64(tensor.Float64))}, nil,
			tensor.Float64, []int{20000}, 3, 0.5, math.Inf(-1), math.Inf(1)},
		{"uniform like takes shape and dtype", randomUniformLikeOps, nil, []*tensor.Tensor{tensor.Zeros(tensor.Float64, 50, 200)},
			tensor.Float64, []int{50, 200}, 0.5, 1 / math.Sqrt(12), 0, 1},
		{"normal like with dtype", randomNormalLikeOps, []ops.Attr{iattr("dtype", int64(tensor.BFloat16))}, []*tensor.Tensor{tensor.Zeros(tensor.Int64, 10000)},
			tensor.BFloat16, []int{10000}, 0, 1, math.Inf(-1), math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := run1(t, kernel(t, tc.op, tc.attrs...), c, tc.in...)
			if y.DType() != tc.dtype || !tensor.SameShape(y.Shape(), tc.shape) {
				t.Fatalf("got %v%v, want %v%v", y.DType(), y.Shape(), tc.dtype, tc.shape)
			}
			v := floats(y)
			m, s := meanStd(v)
			if math.Abs(m-tc.mean) > 0.05*max(tc.std, 0.2) || math.Abs(s-tc.std) > 0.05*tc.std {
				t.Errorf("mean %v std %v, want %v %v", m, s, tc.mean, tc.std)
			}
			for _, x := range v {
				if x < tc.lo || x > tc.hi {
					t.Fatalf("value %v outside [%v, %v]", x, tc.lo, tc.hi)
				}
			}
		})
	}
}

func TestSeedIsDeterministicAndSessionSourceIsUsed(t *testing.T) {
	attrs := []ops.Attr{shape(5), fattr("seed", 3)}
	a := run1(t, kernel(t, randomNormalOps, attrs...), &ops.Ctx{})
	b := run1(t, kernel(t, randomNormalOps, attrs...), &ops.Ctx{Rand: fixed{0.5, 7}})
	if !tensor.Equal(a, b) {
		t.Fatalf("same seed gave %v and %v", a, b)
	}
	other := run1(t, kernel(t, randomNormalOps, shape(5), fattr("seed", 4)), &ops.Ctx{})
	if tensor.Equal(a, other) {
		t.Fatalf("seeds 3 and 4 gave the same values %v", a)
	}
	// Without a seed, the session's source: mean + scale * 7.
	y := run1(t, kernel(t, randomNormalOps, shape(2), fattr("mean", 1), fattr("scale", 2)), &ops.Ctx{Rand: fixed{0.5, 7}})
	if got := tensor.Data[float32](y); got[0] != 15 || got[1] != 15 {
		t.Fatalf("got %v, want [15 15] from the session source", got)
	}
	y = run1(t, kernel(t, randomUniformOps, shape(1), fattr("low", 2), fattr("high", 4)), &ops.Ctx{Rand: fixed{0.25, 0}})
	if got := tensor.Data[float32](y); got[0] != 2.5 {
		t.Fatalf("got %v, want [2.5]", got)
	}
}

func TestBernoulli(t *testing.T) {
	p := tensor.Must([]int{4}, []float64{0, 1, 0, 1})
	y := run1(t, kernel(t, bernoulliOps), &ops.Ctx{}, p)
	if !tensor.Equal(y, p) {
		t.Fatalf("p in {0, 1}: got %v, want %v", y, p)
	}
	yb := run1(t, kernel(t, bernoulliOps, iattr("dtype", int64(tensor.Bool))), &ops.Ctx{}, p)
	if want := tensor.Must([]int{4}, []bool{false, true, false, true}); !tensor.Equal(yb, want) {
		t.Fatalf("bool: got %v, want %v", yb, want)
	}
	many := tensor.Zeros(tensor.Float32, 20000)
	for i := range tensor.Data[float32](many) {
		tensor.Data[float32](many)[i] = 0.3
	}
	y = run1(t, kernel(t, bernoulliOps, iattr("dtype", int64(tensor.Int32)), fattr("seed", 1)), &ops.Ctx{}, many)
	if m, _ := meanStd(floats(y)); math.Abs(m-0.3) > 0.02 {
		t.Fatalf("mean %v, want 0.3", m)
	}
}

func TestMultinomial(t *testing.T) {
	inf := float32(math.Inf(-1))
	x := tensor.Must([]int{2, 3}, []float32{inf, 0, inf, 0, float32(math.Log(3)), inf})
	y := run1(t, kernel(t, multinomialOps, iattr("sample_size", 4000), iattr("dtype", int64(tensor.Int64))), &ops.Ctx{}, x)
	if !tensor.SameShape(y.Shape(), []int{2, 4000}) || y.DType() != tensor.Int64 {
		t.Fatalf("got %v%v", y.DType(), y.Shape())
	}
	d := tensor.Data[int64](y)
	ones := 0
	for s := 0; s < 4000; s++ {
		if d[s] != 1 {
			t.Fatalf("row 0 drew class %d, only class 1 has weight", d[s])
		}
		switch d[4000+s] {
		case 1:
			ones++
		case 0:
		default:
			t.Fatalf("row 1 drew class %d", d[4000+s])
		}
	}
	if f := float64(ones) / 4000; math.Abs(f-0.75) > 0.03 {
		t.Fatalf("class 1 drawn %v of the time, want 0.75", f)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		op    []*ops.Op
		attrs []ops.Attr
		want  string
	}{
		{"no shape", randomUniformOps, nil, "\"shape\" is required"},
		{"negative shape", randomUniformOps, []ops.Attr{shape(2, -1)}, "invalid dimension"},
		{"int dtype", randomNormalOps, []ops.Attr{shape(2), iattr("dtype", int64(tensor.Int32))}, "want float16"},
		{"multinomial dtype", multinomialOps, []ops.Attr{iattr("dtype", int64(tensor.Float32))}, "want int32 or int64"},
		{"negative sample_size", multinomialOps, []ops.Attr{iattr("sample_size", -1)}, "out of range"},
	} {
		o := tc.op[len(tc.op)-1]
		n := &ops.Node{OpType: o.Type, Opset: o.Since, Attrs: tc.attrs}
		_, err := o.Compile(n)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// Limits apply before anything is drawn.
	_, err := kernel(t, randomUniformOps, shape(1<<20, 1<<20)).Run(&ops.Ctx{MaxElements: 1 << 20}, nil)
	if err == nil || !strings.Contains(err.Error(), "size limit") {
		t.Errorf("huge shape: err = %v, want a size limit error", err)
	}
	_, err = kernel(t, randomUniformLikeOps).Run(&ops.Ctx{}, []*tensor.Tensor{tensor.Zeros(tensor.Int32, 2)})
	if err == nil || !strings.Contains(err.Error(), "set dtype") {
		t.Errorf("int input without dtype: err = %v", err)
	}
	_, err = kernel(t, multinomialOps).Run(&ops.Ctx{}, []*tensor.Tensor{tensor.Zeros(tensor.Float32, 3)})
	if err == nil || !strings.Contains(err.Error(), "batch_size, class_size") {
		t.Errorf("1-D multinomial input: err = %v", err)
	}
}

// TestSeededKernelIsSafeForConcurrentRuns runs one seeded kernel from many
// goroutines (a session runs concurrently); run with -race.
func TestSeededKernelIsSafeForConcurrentRuns(t *testing.T) {
	k := kernel(t, randomUniformOps, shape(64), fattr("seed", 9))
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			_, err := k.Run(&ops.Ctx{}, nil)
			errs <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

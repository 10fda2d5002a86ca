package norm

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

// run runs op at opset with n outputs.
func run(t *testing.T, op string, opset int, attrs []ops.Attr, outputs int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	return optest.Run(t, Ops(), op, opset, attrs, []string{"o0", "o1", "o2", "o3", "o4"}[:outputs], in...)
}

var ints, flt = optest.Int, optest.Float

func randData(r *rand.Rand, n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(r.NormFloat64())
	}
	return d
}

func near(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestLayerNormalization compares with a plain two-pass float64 reference
// for several ranks and axes, including the Mean and InvStdDev outputs.
func TestLayerNormalization(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		shape []int
		axis  int
	}{{[]int{4, 6}, 1}, {[]int{4, 6}, 0}, {[]int{2, 3, 5}, -1}, {[]int{2, 3, 5}, -2}, {[]int{2, 1, 3, 4}, 2}} {
		n := 1
		for _, d := range tc.shape {
			n *= d
		}
		a := (tc.axis + len(tc.shape)) % len(tc.shape)
		inner := 1
		for _, d := range tc.shape[a:] {
			inner *= d
		}
		x, s, b := randData(r, n), randData(r, inner), randData(r, inner)
		out, err := run(t, "LayerNormalization", 17, []ops.Attr{ints("axis", int64(tc.axis)), flt("epsilon", 1e-3)}, 3,
			tensor.Must(tc.shape, x), tensor.Must(tc.shape[a:], s), tensor.Must(tc.shape[a:], b))
		if err != nil {
			t.Fatalf("%v axis %d: %v", tc.shape, tc.axis, err)
		}
		wantY := make([]float64, n)
		var wantM, wantI []float64
		for o := 0; o < n/inner; o++ {
			row := x[o*inner : (o+1)*inner]
			var m, v float64
			for _, xv := range row {
				m += float64(xv)
			}
			m /= float64(inner)
			for _, xv := range row {
				v += (float64(xv) - m) * (float64(xv) - m)
			}
			v /= float64(inner)
			is := 1 / math.Sqrt(v+1e-3)
			for j, xv := range row {
				wantY[o*inner+j] = (float64(xv)-m)*is*float64(s[j]) + float64(b[j])
			}
			wantM, wantI = append(wantM, m), append(wantI, is)
		}
		near(t, "Y", tensor.Data[float32](out[0]), wantY, 1e-5)
		near(t, "Mean", tensor.Data[float32](out[1]), wantM, 1e-5)
		near(t, "InvStdDev", tensor.Data[float32](out[2]), wantI, 1e-5)
		if got := out[1].Shape(); len(got) != len(tc.shape) || got[len(got)-1] != 1 && a < len(tc.shape) {
			t.Errorf("Mean shape %v for input %v axis %d", got, tc.shape, tc.axis)
		}
	}
}

func TestRMSNormalization(t *testing.T) {
	// rows [3, 4] and [0, 2]: rms = sqrt(12.5), sqrt(2).
	out, err := run(t, "RMSNormalization", 23, []ops.Attr{flt("epsilon", 0)}, 1,
		tensor.Must([]int{2, 2}, []float32{3, 4, 0, 2}), tensor.Must([]int{2}, []float32{1, 2}))
	if err != nil {
		t.Fatal(err)
	}
	a, b := math.Sqrt(12.5), math.Sqrt(2)
	near(t, "Y", tensor.Data[float32](out[0]), []float64{3 / a, 8 / a, 0, 4 / b}, 1e-6)
}

// TestGroupNormalizationVersions: opset 18 takes scale/bias per group,
// opset 21 per channel.
func TestGroupNormalizationVersions(t *testing.T) {
	// x is (1, 4, 2); groups {c0,c1}, {c2,c3}.
	x := []float32{1, 2, 3, 4, 10, 10, 20, 20}
	norm := func(vals []float64) []float64 {
		var m, v float64
		for _, x := range vals {
			m += x
		}
		m /= float64(len(vals))
		for _, x := range vals {
			v += (x - m) * (x - m)
		}
		v /= float64(len(vals))
		out := make([]float64, len(vals))
		for i, x := range vals {
			out[i] = (x - m) / math.Sqrt(v+1e-5)
		}
		return out
	}
	z := append(norm([]float64{1, 2, 3, 4}), norm([]float64{10, 10, 20, 20})...)
	attrs := []ops.Attr{ints("num_groups", 2)}
	out, err := run(t, "GroupNormalization", 18, attrs, 1, tensor.Must([]int{1, 4, 2}, x),
		tensor.Must([]int{2}, []float32{2, 3}), tensor.Must([]int{2}, []float32{1, -1}))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 8)
	for i := range want {
		g := i / 4
		want[i] = z[i]*[]float64{2, 3}[g] + []float64{1, -1}[g]
	}
	near(t, "opset 18", tensor.Data[float32](out[0]), want, 1e-5)

	sc, bs := []float32{1, 2, 3, 4}, []float32{0, 1, 0, 1}
	out, err = run(t, "GroupNormalization", 21, attrs, 1, tensor.Must([]int{1, 4, 2}, x),
		tensor.Must([]int{4}, sc), tensor.Must([]int{4}, bs))
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i] = z[i]*float64(sc[i/2]) + float64(bs[i/2])
	}
	near(t, "opset 21", tensor.Data[float32](out[0]), want, 1e-5)
	out, err = run(t, "GroupNormalization", 18, attrs, 1, tensor.Must([]int{1, 4, 2}, x),
		tensor.Must([]int{4}, sc), tensor.Must([]int{4}, bs))
	if err != nil {
		t.Fatal(err)
	}
	near(t, "opset 18 with per-channel parameters", tensor.Data[float32](out[0]), want, 1e-5)

	if _, err := run(t, "GroupNormalization", 21, attrs, 1, tensor.Must([]int{1, 4, 2}, x),
		tensor.Must([]int{2}, []float32{1, 1}), tensor.Must([]int{2}, []float32{0, 0})); err == nil {
		t.Error("opset 21 accepted per-group scale")
	}
}

func TestBatchNormalization(t *testing.T) {
	// x is (2, 2, 1): channel 0 holds 1 and 3 (mean 2, var 1), channel 1
	// holds 4 and 6 (mean 5, var 1).
	x := tensor.Must([]int{2, 2, 1}, []float32{1, 4, 3, 6})
	scale := tensor.Must([]int{2}, []float32{1, 2})
	bias := tensor.Must([]int{2}, []float32{0, 1})
	mean := tensor.Must([]int{2}, []float32{0, 1})
	vr := tensor.Must([]int{2}, []float32{1, 4})
	out, err := run(t, "BatchNormalization", 15, []ops.Attr{flt("epsilon", 0)}, 1, x, scale, bias, mean, vr)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "inference", tensor.Data[float32](out[0]), []float64{1, 4, 3, 6}, 1e-6)

	out, err = run(t, "BatchNormalization", 15, []ops.Attr{flt("epsilon", 0), ints("training_mode", 1), flt("momentum", 0.5)}, 3,
		x, scale, bias, mean, vr)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "training Y", tensor.Data[float32](out[0]), []float64{-1, -1, 1, 3}, 1e-6)
	near(t, "running_mean", tensor.Data[float32](out[1]), []float64{0*0.5 + 2*0.5, 1*0.5 + 5*0.5}, 1e-6)
	near(t, "running_var", tensor.Data[float32](out[2]), []float64{1*0.5 + 1*0.5, 4*0.5 + 1*0.5}, 1e-6)
}

func TestLRNAndLpNormalization(t *testing.T) {
	x := tensor.Must([]int{1, 3, 1, 1}, []float32{1, 2, 3})
	out, err := run(t, "LRN", 13, []ops.Attr{ints("size", 3)}, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	f := func(v, sq float64) float64 { return v / math.Pow(1+1e-4/3*sq, 0.75) }
	near(t, "LRN", tensor.Data[float32](out[0]), []float64{f(1, 5), f(2, 14), f(3, 13)}, 1e-6)

	out, err = run(t, "LpNormalization", 22, []ops.Attr{ints("p", 1)}, 1, tensor.Must([]int{2, 2}, []float32{1, -3, 0, 0}))
	if err != nil {
		t.Fatal(err)
	}
	near(t, "L1", tensor.Data[float32](out[0]), []float64{0.25, -0.75, 0, 0}, 1e-7)
}

func TestMeanVarianceNormalization(t *testing.T) {
	// axes [1]: each row of (2, 2) is normalized: [1, 3] -> [-1, 1].
	out, err := run(t, "MeanVarianceNormalization", 13, []ops.Attr{{Name: "axes", Type: ops.AttrInts, Ints: []int64{1}}}, 1,
		tensor.Must([]int{2, 2}, []float32{1, 3, 5, 5}))
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Y", tensor.Data[float32](out[0]), []float64{-1, 1, 0, 0}, 1e-6)
}

func TestDropout(t *testing.T) {
	x := tensor.Must([]int{1000}, randData(rand.New(rand.NewPCG(3, 4)), 1000))
	out, err := run(t, "Dropout", 22, nil, 2, x)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.Equal(out[0], x) || &tensor.Data[float32](out[0])[0] == &tensor.Data[float32](x)[0] {
		t.Error("inference output is not an unaliased copy of the input")
	}
	for _, k := range tensor.Data[bool](out[1]) {
		if !k {
			t.Fatal("inference mask has a false element")
		}
	}
	ratio, training := tensor.Scalar(float32(0.25)), tensor.Scalar(true)
	out, err = run(t, "Dropout", 22, []ops.Attr{ints("seed", 7)}, 2, x, ratio, training)
	if err != nil {
		t.Fatal(err)
	}
	y, m, xd := tensor.Data[float32](out[0]), tensor.Data[bool](out[1]), tensor.Data[float32](x)
	kept := 0
	for i := range y {
		want := float32(0)
		if m[i] {
			want, kept = xd[i]/0.75, kept+1
		}
		if math.Abs(float64(y[i]-want)) > 1e-6 {
			t.Fatalf("y[%d] = %v, want %v", i, y[i], want)
		}
	}
	if kept < 650 || kept > 850 {
		t.Errorf("kept %d of 1000 at ratio 0.25", kept)
	}
	again, _ := run(t, "Dropout", 22, []ops.Attr{ints("seed", 7)}, 2, x, ratio, training)
	if !tensor.Equal(again[1], out[1]) {
		t.Error("the same seed gave a different mask")
	}
	if _, err := run(t, "Dropout", 22, nil, 1, x, tensor.Scalar(float32(1)), training); err == nil || !strings.Contains(err.Error(), "ratio") {
		t.Errorf("ratio 1 in training: err %v", err)
	}
	// Before opset 10 the mask has the input's dtype.
	out, err = run(t, "Dropout", 7, nil, 2, x)
	if err != nil || out[1].DType() != tensor.Float32 {
		t.Errorf("opset 7 mask: %v, %v", out, err)
	}
}

// TestBadInputs checks that malformed inputs give errors, not panics.
func TestBadInputs(t *testing.T) {
	x := tensor.Must([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	for _, tc := range []struct {
		op    string
		opset int
		attrs []ops.Attr
		in    []*tensor.Tensor
	}{
		{"LayerNormalization", 17, nil, []*tensor.Tensor{x, tensor.Must([]int{2}, []float32{1, 1})}},
		{"LayerNormalization", 17, []ops.Attr{ints("axis", 5)}, []*tensor.Tensor{x, tensor.Must([]int{3}, []float32{1, 1, 1})}},
		{"InstanceNormalization", 22, nil, []*tensor.Tensor{x, tensor.Must([]int{2}, []float32{1, 1}), tensor.Must([]int{3}, []float32{1, 1, 1})}},
		{"BatchNormalization", 15, nil, []*tensor.Tensor{tensor.Must([]int{3}, []float32{1, 2, 3}), x, x, x, x}},
		{"LayerNormalization", 17, nil, []*tensor.Tensor{tensor.Must([]int{2}, []int64{1, 2}), tensor.Must([]int{2}, []int64{1, 1})}},
	} {
		if _, err := run(t, tc.op, tc.opset, tc.attrs, 1, tc.in...); err == nil {
			t.Errorf("%s with %v: no error", tc.op, tc.in)
		}
	}
}

// TestHalfPrecision runs LayerNormalization on float16 and RMSNormalization
// on bfloat16 and compares with the float32 results rounded once.
func TestHalfPrecision(t *testing.T) {
	x := []float32{0.5, -1.25, 2, 3.5, -0.75, 1}
	f16 := make([]tensor.Float16Bits, len(x))
	bf := make([]tensor.BFloat16Bits, len(x))
	for i, v := range x {
		f16[i], bf[i] = tensor.Float16FromFloat32(v), tensor.BFloat16FromFloat32(v)
	}
	ones16 := []tensor.Float16Bits{tensor.Float16FromFloat32(1), tensor.Float16FromFloat32(1), tensor.Float16FromFloat32(1)}
	onesBF := []tensor.BFloat16Bits{tensor.BFloat16FromFloat32(1), tensor.BFloat16FromFloat32(1), tensor.BFloat16FromFloat32(1)}
	ref, err := run(t, "LayerNormalization", 17, nil, 1, tensor.Must([]int{2, 3}, x), tensor.Must([]int{3}, []float32{1, 1, 1}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := run(t, "LayerNormalization", 17, nil, 1, tensor.Must([]int{2, 3}, f16), tensor.Must([]int{3}, ones16))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range tensor.Data[tensor.Float16Bits](got[0]) {
		if want := tensor.Float16FromFloat32(tensor.Data[float32](ref[0])[i]); v != want {
			t.Errorf("float16 LayerNorm[%d] = %v, want %v", i, v.Float32(), want.Float32())
		}
	}
	ref, err = run(t, "RMSNormalization", 23, nil, 1, tensor.Must([]int{2, 3}, x), tensor.Must([]int{3}, []float32{1, 1, 1}))
	if err != nil {
		t.Fatal(err)
	}
	got, err = run(t, "RMSNormalization", 23, nil, 1, tensor.Must([]int{2, 3}, bf), tensor.Must([]int{3}, onesBF))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range tensor.Data[tensor.BFloat16Bits](got[0]) {
		if want := tensor.BFloat16FromFloat32(tensor.Data[float32](ref[0])[i]); v != want {
			t.Errorf("bfloat16 RMSNorm[%d] = %v, want %v", i, v.Float32(), want.Float32())
		}
	}
}

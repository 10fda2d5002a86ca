package signal

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

// naiveDFT is the O(n²) definition, the independent reference.
func naiveDFT(x []complex128, inverse bool) []complex128 {
	n := len(x)
	sign := -1.0
	if inverse {
		sign = 1
	}
	out := make([]complex128, n)
	for k := range out {
		var s complex128
		for j, v := range x {
			s += v * cmplx.Rect(1, sign*2*math.Pi*float64(j*k%n)/float64(n))
		}
		if inverse {
			s /= complex(float64(n), 0)
		}
		out[k] = s
	}
	return out
}

func TestFFTPlanMatchesNaiveDFT(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 10, 12, 16, 17, 31, 64, 100, 127, 256} {
		x := make([]complex128, n)
		for i := range x {
			x[i] = complex(r.NormFloat64(), r.NormFloat64())
		}
		p := newFFTPlan(n)
		scratch := p.newScratch()
		for _, inv := range []bool{false, true} {
			got := append([]complex128(nil), x...)
			if inv {
				p.inverse(got, scratch)
				for i := range got {
					got[i] /= complex(float64(n), 0)
				}
			} else {
				p.forward(got, scratch)
			}
			want := naiveDFT(x, inv)
			for k := range want {
				if cmplx.Abs(got[k]-want[k]) > 1e-9*float64(n) {
					t.Fatalf("n=%d inverse=%v: X[%d] = %v, want %v", n, inv, k, got[k], want[k])
				}
			}
		}
	}
}

func f32(shape []int, v ...float32) *tensor.Tensor { return tensor.Must(shape, v) }

func i64(v int64) *tensor.Tensor { return tensor.Scalar(v) }

// complexAt reads element (line, k) of a (..., K, 2) tensor stored as lines.
func asComplex(t *tensor.Tensor) []complex128 {
	d := tensor.Data[float32](t)
	out := make([]complex128, len(d)/2)
	for i := range out {
		out[i] = complex(float64(d[2*i]), float64(d[2*i+1]))
	}
	return out
}

func TestDFT(t *testing.T) {
	// x is (1, 6, 1) real: 0..5.
	x := f32([]int{1, 6, 1}, 0, 1, 2, 3, 4, 5)
	sig := []complex128{0, 1, 2, 3, 4, 5}
	tests := []struct {
		name     string
		opset    int
		attrs    []ops.Attr
		length   *tensor.Tensor
		wantLen  int
		ref      func() []complex128
		realOnly bool
	}{
		{"forward", 17, nil, nil, 6, func() []complex128 { return naiveDFT(sig, false) }, false},
		{"onesided", 17, []ops.Attr{optest.Int("onesided", 1)}, nil, 4, func() []complex128 { return naiveDFT(sig, false)[:4] }, false},
		{"padded", 20, nil, i64(8), 8, func() []complex128 { return naiveDFT(append(append([]complex128{}, sig...), 0, 0), false) }, false},
		{"truncated", 20, nil, i64(5), 5, func() []complex128 { return naiveDFT(sig[:5], false) }, false},
		{"inverse", 20, []ops.Attr{optest.Int("inverse", 1)}, nil, 6, func() []complex128 { return naiveDFT(sig, true) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []*tensor.Tensor{x, tc.length}
			if tc.opset >= 20 {
				in = append(in, i64(1))
			}
			out, err := optest.Run(t, Ops(), "DFT", tc.opset, tc.attrs, []string{"y"}, in...)
			if err != nil {
				t.Fatal(err)
			}
			if s := out[0].Shape(); !tensor.SameShape(s, []int{1, tc.wantLen, 2}) {
				t.Fatalf("shape %v, want [1 %d 2]", s, tc.wantLen)
			}
			got, want := asComplex(out[0]), tc.ref()
			for k := range want {
				if cmplx.Abs(got[k]-want[k]) > 1e-4 {
					t.Fatalf("bin %d = %v, want %v", k, got[k], want[k])
				}
			}
		})
	}
}

func TestDFTAxisAndIRFFTRoundTrip(t *testing.T) {
	// x is (2, 5, 3, 1): transform axis 2 (length 3), then a real signal of
	// length 10 along axis 1 through rfft and irfft comes back unchanged.
	r := rand.New(rand.NewPCG(3, 4))
	v := make([]float32, 2*5*3)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	x := f32([]int{2, 5, 3, 1}, v...)
	out, err := optest.Run(t, Ops(), "DFT", 20, nil, []string{"y"}, x, nil, i64(-2))
	if err != nil {
		t.Fatal(err)
	}
	got := asComplex(out[0])
	for b := 0; b < 2; b++ {
		for i := 0; i < 5; i++ {
			line := make([]complex128, 3)
			for k := range line {
				line[k] = complex(float64(v[(b*5+i)*3+k]), 0)
			}
			want := naiveDFT(line, false)
			for k := range want {
				if g := got[(b*5+i)*3+k]; cmplx.Abs(g-want[k]) > 1e-5 {
					t.Fatalf("(%d, %d, %d) = %v, want %v", b, i, k, g, want[k])
				}
			}
		}
	}

	sig := make([]float32, 10)
	for i := range sig {
		sig[i] = float32(r.NormFloat64())
	}
	spec, err := optest.Run(t, Ops(), "DFT", 17, []ops.Attr{optest.Int("onesided", 1)}, []string{"y"}, f32([]int{1, 10, 1}, sig...))
	if err != nil {
		t.Fatal(err)
	}
	back, err := optest.Run(t, Ops(), "DFT", 17, []ops.Attr{optest.Int("onesided", 1), optest.Int("inverse", 1)}, []string{"y"}, spec[0])
	if err != nil {
		t.Fatal(err)
	}
	if s := back[0].Shape(); !tensor.SameShape(s, []int{1, 10, 1}) {
		t.Fatalf("irfft shape %v, want [1 10 1]", s)
	}
	for i, g := range tensor.Data[float32](back[0]) {
		if math.Abs(float64(g-sig[i])) > 1e-5 {
			t.Fatalf("irfft(rfft(x))[%d] = %v, want %v", i, g, sig[i])
		}
	}
}

func TestDFTErrors(t *testing.T) {
	x := f32([]int{1, 4, 1}, 1, 2, 3, 4)
	tests := []struct {
		name string
		in   []*tensor.Tensor
	}{
		{"zero length", []*tensor.Tensor{x, i64(0)}},
		{"axis on the complex dim", []*tensor.Tensor{x, nil, i64(2)}},
		{"axis too negative", []*tensor.Tensor{x, nil, i64(-4)}},
		{"bad last dim", []*tensor.Tensor{f32([]int{1, 2, 3}, 1, 2, 3, 4, 5, 6)}},
		{"int input", []*tensor.Tensor{tensor.Must([]int{1, 2, 1}, []int64{1, 2})}},
	}
	for _, tc := range tests {
		if _, err := optest.Run(t, Ops(), "DFT", 20, nil, []string{"y"}, tc.in...); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	// A dft_length beyond the session's limit is refused before allocating.
	k, _ := dftOps()[1].Compile(&ops.Node{OpType: "DFT", Opset: 20})
	_, err := k.Run(&ops.Ctx{MaxElements: 1000}, []*tensor.Tensor{x, i64(1 << 30)})
	if !errors.Is(err, ops.ErrLimit) {
		t.Errorf("huge dft_length: err = %v, want ErrLimit", err)
	}
}

func TestSTFT(t *testing.T) {
	// 1 batch, 8 samples, frames of 4 every 2 with a window.
	sig := []float32{1, -2, 3, 0, 5, 1, -1, 2}
	win := []float32{0.5, 1, 1, 0.5}
	out, err := optest.Run(t, Ops(), "STFT", 17, nil, []string{"y"},
		f32([]int{1, 8, 1}, sig...), i64(2), f32([]int{4}, win...), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := out[0].Shape(); !tensor.SameShape(s, []int{1, 3, 3, 2}) {
		t.Fatalf("shape %v, want [1 3 3 2]", s)
	}
	got := asComplex(out[0])
	for f := 0; f < 3; f++ {
		frame := make([]complex128, 4)
		for i := range frame {
			frame[i] = complex(float64(sig[2*f+i]*win[i]), 0)
		}
		want := naiveDFT(frame, false)
		for k := 0; k < 3; k++ {
			if g := got[f*3+k]; cmplx.Abs(g-want[k]) > 1e-5 {
				t.Fatalf("frame %d bin %d = %v, want %v", f, k, g, want[k])
			}
		}
	}
	if _, err := optest.Run(t, Ops(), "STFT", 17, nil, []string{"y"}, f32([]int{1, 8, 1}, sig...), i64(0), f32([]int{4}, win...)); err == nil {
		t.Error("frame_step 0: no error")
	}
	if _, err := optest.Run(t, Ops(), "STFT", 17, nil, []string{"y"}, f32([]int{1, 8, 1}, sig...), i64(1), nil, i64(9)); err == nil {
		t.Error("frame longer than the signal: no error")
	}
}

func TestWindows(t *testing.T) {
	tests := []struct {
		op       string
		periodic int64
		size     int64
		want     []float64
	}{
		{"HannWindow", 1, 4, []float64{0, 0.5, 1, 0.5}},
		{"HannWindow", 0, 5, []float64{0, 0.5, 1, 0.5, 0}},
		{"HammingWindow", 1, 4, []float64{4.0 / 46, 25.0 / 46, 1, 25.0 / 46}},
		{"BlackmanWindow", 0, 3, []float64{0, 1, 0}},
		{"BlackmanWindow", 1, 4, []float64{0, 0.34, 1, 0.34}},
		{"HannWindow", 0, 1, []float64{1}},
		{"HannWindow", 1, 0, []float64{}},
	}
	for _, tc := range tests {
		out, err := optest.Run(t, Ops(), tc.op, 17, []ops.Attr{optest.Int("periodic", tc.periodic)}, []string{"y"}, i64(tc.size))
		if err != nil {
			t.Fatalf("%s(%d): %v", tc.op, tc.size, err)
		}
		got := tensor.Data[float32](out[0])
		if len(got) != len(tc.want) {
			t.Fatalf("%s(%d): %d values, want %d", tc.op, tc.size, len(got), len(tc.want))
		}
		for i, w := range tc.want {
			if math.Abs(float64(got[i])-w) > 1e-6 {
				t.Errorf("%s(%d, periodic=%d)[%d] = %v, want %v", tc.op, tc.size, tc.periodic, i, got[i], w)
			}
		}
	}
	out, err := optest.Run(t, Ops(), "HannWindow", 17, []ops.Attr{optest.Int("output_datatype", int64(tensor.Float64))}, []string{"y"}, i64(3))
	if err != nil || out[0].DType() != tensor.Float64 {
		t.Errorf("output_datatype float64: %v, %v", out, err)
	}
	if _, err := optest.Run(t, Ops(), "HannWindow", 17, nil, []string{"y"}, i64(-1)); err == nil {
		t.Error("negative size: no error")
	}
}

func TestMelWeightMatrix(t *testing.T) {
	// 2 mel bins over a 8-point DFT (5 bins) at 8000 Hz from 0 to 4000 Hz.
	// Mel points: 4 evenly spaced in mel from 0 to mel(4000) = 2146.06, each
	// step 536.5 mel: hz = 0, 426.9, 1114.2, 2220.5 -> bins floor(9·hz/8000)
	// = 0, 0, 1, 2.
	out, err := optest.Run(t, Ops(), "MelWeightMatrix", 17, nil, []string{"y"},
		i64(2), i64(8), i64(8000), tensor.Scalar(float32(0)), tensor.Scalar(float32(4000)))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{
		1, 0, // bin 0: filter 0 peaks at 0 (its rise has no width)
		0, 1, // bin 1: filter 0 falls to 0 at bin 1; filter 1 peaks at 1
		0, 0,
		0, 0,
		0, 0,
	}
	if s := out[0].Shape(); !tensor.SameShape(s, []int{5, 2}) {
		t.Fatalf("shape %v, want [5 2]", s)
	}
	for i, g := range tensor.Data[float32](out[0]) {
		if g != want[i] {
			t.Fatalf("weights %v, want %v", tensor.Data[float32](out[0]), want)
		}
	}
	if _, err := optest.Run(t, Ops(), "MelWeightMatrix", 17, nil, []string{"y"},
		i64(2), i64(8), i64(8000), tensor.Scalar(float32(0)), tensor.Scalar(float32(40000))); err == nil {
		t.Error("upper edge above the Nyquist bin range: no error")
	}
}

func TestDFTManyLinesInParallel(t *testing.T) {
	// 16 lines of a Bluestein length (1000) split over two threads.
	r := rand.New(rand.NewPCG(9, 10))
	const lines, n = 16, 1000
	v := make([]float32, lines*n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	out, err := optest.Run(t, Ops(), "DFT", 20, nil, []string{"y"}, f32([]int{lines, n, 1}, v...))
	if err != nil {
		t.Fatal(err)
	}
	got := asComplex(out[0])
	for _, l := range []int{0, 7, 15} {
		line := make([]complex128, n)
		for i := range line {
			line[i] = complex(float64(v[l*n+i]), 0)
		}
		want := naiveDFT(line, false)
		for k := range want {
			if g := got[l*n+k]; cmplx.Abs(g-want[k]) > 1e-3 {
				t.Fatalf("line %d bin %d = %v, want %v", l, k, g, want[k])
			}
		}
	}
}

func TestInference(t *testing.T) {
	x := tensor.TensorType(tensor.Float32, 1, 10, 6, 1)
	tests := []struct {
		op     string
		opset  int
		attrs  []ops.Attr
		inputs []string
		want   string
	}{
		{"DFT", 17, nil, []string{"x"}, "[1 10 6 2]"},
		{"DFT", 17, []ops.Attr{optest.Int("onesided", 1)}, []string{"x"}, "[1 -1 6 2]"},
		{"DFT", 20, []ops.Attr{optest.Int("onesided", 1)}, []string{"x"}, "[1 10 -1 2]"},
		{"DFT", 20, []ops.Attr{optest.Int("onesided", 1), optest.Int("inverse", 1)}, []string{"x", "", "axis"}, "[-1 -1 -1 1]"},
		{"DFT", 20, nil, []string{"x", "n", "axis"}, "[-1 -1 -1 2]"},
		{"STFT", 17, nil, []string{"x", "step"}, "[1 -1 -1 2]"},
	}
	reg, err := ops.NewRegistry(Ops())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		op, _ := reg.Lookup("", tc.op, tc.opset)
		in := x
		if tc.op == "STFT" {
			in = tensor.TensorType(tensor.Float32, 1, 128, 1)
		}
		out, err := op.Infer(&ops.Node{OpType: tc.op, Opset: tc.opset, Attrs: tc.attrs, Inputs: tc.inputs}, []tensor.Type{in})
		if err != nil {
			t.Fatal(err)
		}
		dims := make([]int64, len(out[0].Shape))
		for i, d := range out[0].Shape {
			dims[i] = d.Size
		}
		if got := fmt.Sprint(dims); got != tc.want {
			t.Errorf("%s-%d %v %v: inferred %s, want %s", tc.op, tc.opset, tc.attrs, tc.inputs, got, tc.want)
		}
	}
}

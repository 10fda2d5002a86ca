package image

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

func str(name, v string) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrString, S: []byte(v)} }

func ints(name string, v ...int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInts, Ints: v} }

func f32(shape []int, v ...float32) *tensor.Tensor { return tensor.Must(shape, v) }

func sizes(v ...int64) *tensor.Tensor { return tensor.Must([]int{len(v)}, v) }

func scales(v ...float32) *tensor.Tensor { return tensor.Must([]int{len(v)}, v) }

func near(t *testing.T, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	for i, w := range want {
		if math.Abs(float64(got[i])-w) > tol*(1+math.Abs(w)) {
			t.Fatalf("[%d] = %v, want %v\ngot  %v\nwant %v", i, got[i], w, got, want)
		}
	}
}

func resize(t *testing.T, attrs []ops.Attr, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	out, err := optest.Run(t, Ops(), "Resize", 19, attrs, []string{"y"}, in...)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func TestResizeNearestModes(t *testing.T) {
	// x is 1x4: 10, 20, 30, 40; sizes give 1x8 or 1x3.
	x := f32([]int{1, 4}, 10, 20, 30, 40)
	tests := []struct {
		coord, nearest string
		out            int64
		want           []float64
	}{
		// half_pixel, 2x: x_orig = (o+0.5)/2-0.5 = -0.25, 0.25, 0.75, ...
		{"half_pixel", "round_prefer_floor", 8, []float64{10, 10, 20, 20, 30, 30, 40, 40}},
		// asymmetric, 2x: x_orig = o/2 = 0, 0.5, 1, ...; ties go to floor or ceil.
		{"asymmetric", "round_prefer_floor", 8, []float64{10, 10, 20, 20, 30, 30, 40, 40}},
		{"asymmetric", "round_prefer_ceil", 8, []float64{10, 20, 20, 30, 30, 40, 40, 40}},
		{"asymmetric", "ceil", 8, []float64{10, 20, 20, 30, 30, 40, 40, 40}},
		// align_corners to 3: x_orig = o·3/2 = 0, 1.5, 3.
		{"align_corners", "floor", 3, []float64{10, 20, 40}},
		{"align_corners", "round_prefer_floor", 3, []float64{10, 20, 40}},
		{"align_corners", "round_prefer_ceil", 3, []float64{10, 30, 40}},
	}
	for _, tc := range tests {
		y := resize(t, []ops.Attr{str("mode", "nearest"), str("coordinate_transformation_mode", tc.coord), str("nearest_mode", tc.nearest)},
			x, nil, nil, sizes(1, tc.out))
		near(t, tensor.Data[float32](y), tc.want, 0)
	}
}

func TestResizeLinearHandComputed(t *testing.T) {
	// 2x2 to 4x4, half_pixel: rows and columns sample at -0.25, 0.25, 0.75,
	// 1.25, clamped to the edge: weights (1, 0), (0.75, 0.25), (0.25, 0.75), (0, 1).
	x := f32([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	y := resize(t, []ops.Attr{str("mode", "linear")}, x, nil, scales(1, 1, 2, 2))
	near(t, tensor.Data[float32](y), []float64{
		1, 1.25, 1.75, 2,
		1.5, 1.75, 2.25, 2.5,
		2.5, 2.75, 3.25, 3.5,
		3, 3.25, 3.75, 4,
	}, 1e-6)
}

// refResize2D is a direct, non-separable float64 reference: every output
// pixel sums w_i·w_j·x[i, j] over the 2-D filter footprint, with its own
// coordinate and kernel code (half_pixel; linear or cubic with parameter a;
// optional antialias; edge clamping, or dropping taps outside the input and
// renormalizing with exclude).
func refResize2D(x []float64, h, w, oh, ow int, cubic, antialias, exclude bool, a float64) []float64 {
	weights := func(o, in, out int) map[int]float64 {
		s := float64(out) / float64(in)
		xo := (float64(o)+0.5)/s - 0.5
		support := 1.0
		if cubic {
			support = 2
		}
		stretch := 1.0
		if antialias && s < 1 {
			stretch = 1 / s
		}
		m := map[int]float64{}
		sum := 0.0
		lo := int(math.Floor(xo - support*stretch))
		hi := int(math.Ceil(xo + support*stretch))
		for i := lo; i <= hi; i++ {
			d := math.Abs(float64(i)-xo) / stretch
			var v float64
			switch {
			case !cubic:
				v = math.Max(0, 1-d)
			case d <= 1:
				v = (a+2)*d*d*d - (a+3)*d*d + 1
			case d < 2:
				v = a*d*d*d - 5*a*d*d + 8*a*d - 4*a
			}
			if exclude && (i < 0 || i >= in) {
				continue
			}
			m[min(max(i, 0), in-1)] += v
			sum += v
		}
		if antialias || exclude {
			for k := range m {
				m[k] /= sum
			}
		}
		return m
	}
	out := make([]float64, oh*ow)
	for r := 0; r < oh; r++ {
		wr := weights(r, h, oh)
		for c := 0; c < ow; c++ {
			wc := weights(c, w, ow)
			for i, a := range wr {
				for j, b := range wc {
					out[r*ow+c] += a * b * x[i*w+j]
				}
			}
		}
	}
	return out
}

func TestResizeAgainstDirectReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		mode      string
		antialias bool
		exclude   bool
		a         float64
		h, w      int
		oh, ow    int
	}{
		{"linear", false, false, -0.75, 5, 7, 9, 4},
		{"cubic", false, false, -0.75, 5, 7, 9, 4},
		{"linear", true, false, -0.75, 9, 8, 4, 3},
		{"cubic", true, false, -0.75, 9, 8, 4, 3},
		{"cubic", true, false, -0.75, 4, 6, 11, 2},
		{"cubic", false, true, -0.5, 6, 5, 3, 13},
		{"cubic", true, true, -0.5, 13, 5, 3, 2},
	} {
		x := make([]float32, tc.h*tc.w)
		x64 := make([]float64, len(x))
		for i := range x {
			x[i] = float32(r.NormFloat64())
			x64[i] = float64(x[i])
		}
		aa, ex := int64(0), int64(0)
		if tc.antialias {
			aa = 1
		}
		if tc.exclude {
			ex = 1
		}
		y := resize(t, []ops.Attr{str("mode", tc.mode), optest.Int("antialias", aa), optest.Int("exclude_outside", ex), optest.Float("cubic_coeff_a", float32(tc.a))},
			f32([]int{1, 1, tc.h, tc.w}, x...), nil, nil, sizes(1, 1, int64(tc.oh), int64(tc.ow)))
		if s := y.Shape(); !tensor.SameShape(s, []int{1, 1, tc.oh, tc.ow}) {
			t.Fatalf("shape %v", s)
		}
		near(t, tensor.Data[float32](y), refResize2D(x64, tc.h, tc.w, tc.oh, tc.ow, tc.mode == "cubic", tc.antialias, tc.exclude, tc.a), 1e-5)
	}
}

func TestResizeCropAndResizeExtrapolates(t *testing.T) {
	// roi 0.5..1.5 on a 3-wide row: x_orig = 1 + o·(1·2)/(3-1) = 1, 2, 3 -> the
	// last is outside [0, 2] and takes extrapolation_value.
	x := f32([]int{1, 3}, 1, 2, 3)
	roi := f32([]int{4}, 0, 0.5, 1, 1.5)
	y := resize(t, []ops.Attr{str("mode", "linear"), str("coordinate_transformation_mode", "tf_crop_and_resize"),
		optest.Float("extrapolation_value", -7)}, x, roi, nil, sizes(1, 3))
	near(t, tensor.Data[float32](y), []float64{2, 3, -7}, 0)
}

func TestResizeAxesAndAspectPolicy(t *testing.T) {
	x := f32([]int{2, 4}, 1, 2, 3, 4, 5, 6, 7, 8)
	// Only axis 1 resized, to 2 (nearest, asymmetric: columns 0 and 2).
	y := resize(t, []ops.Attr{ints("axes", -1), str("coordinate_transformation_mode", "asymmetric")}, x, nil, nil, sizes(2))
	near(t, tensor.Data[float32](y), []float64{1, 3, 5, 7}, 0)
	// not_larger: scale min(4/2, 6/4) = 1.5 -> output 3x6.
	y = resize(t, []ops.Attr{str("keep_aspect_ratio_policy", "not_larger")}, x, nil, nil, sizes(4, 6))
	if s := y.Shape(); !tensor.SameShape(s, []int{3, 6}) {
		t.Errorf("not_larger shape %v, want [3 6]", s)
	}
	y = resize(t, []ops.Attr{str("keep_aspect_ratio_policy", "not_smaller")}, x, nil, nil, sizes(4, 6))
	if s := y.Shape(); !tensor.SameShape(s, []int{4, 8}) {
		t.Errorf("not_smaller shape %v, want [4 8]", s)
	}
}

func TestResizeIntegerAndHalf(t *testing.T) {
	// uint8 linear rounds to nearest: 0 and 255 interpolate to 63.75 -> 64.
	x := tensor.Must([]int{1, 2}, []uint8{0, 255})
	y := resize(t, []ops.Attr{str("mode", "linear")}, x, nil, scales(1, 2))
	if got := tensor.Data[uint8](y); got[0] != 0 || got[1] != 64 || got[2] != 191 || got[3] != 255 {
		t.Errorf("uint8 linear = %v, want [0 64 191 255]", got)
	}
	h := tensor.Must([]int{1, 2}, []tensor.Float16Bits{tensor.Float16FromFloat32(1), tensor.Float16FromFloat32(3)})
	y = resize(t, []ops.Attr{str("mode", "linear")}, h, nil, scales(1, 2))
	want := []float32{1, 1.5, 2.5, 3}
	for i, v := range tensor.Data[tensor.Float16Bits](y) {
		if v.Float32() != want[i] {
			t.Fatalf("float16 linear = %v, want %v", y, want)
		}
	}
	// int64 nearest copies values exactly (no float round trip).
	big := tensor.Must([]int{2}, []int64{1<<62 + 1, 3})
	y = resize(t, nil, big, nil, scales(2))
	if got := tensor.Data[int64](y); got[0] != 1<<62+1 || got[3] != 3 {
		t.Errorf("int64 nearest = %v", got)
	}
}

func TestResizeErrors(t *testing.T) {
	x := f32([]int{1, 2}, 1, 2)
	tests := []struct {
		name  string
		attrs []ops.Attr
		in    []*tensor.Tensor
	}{
		{"both scales and sizes", nil, []*tensor.Tensor{x, nil, scales(1, 2), sizes(1, 4)}},
		{"neither", nil, []*tensor.Tensor{x}},
		{"scales length", nil, []*tensor.Tensor{x, nil, scales(2)}},
		{"negative scale", nil, []*tensor.Tensor{x, nil, scales(1, -2)}},
		{"NaN scale", nil, []*tensor.Tensor{x, nil, scales(1, float32(math.NaN()))}},
		{"negative size", nil, []*tensor.Tensor{x, nil, nil, sizes(1, -1)}},
		{"duplicate axes", []ops.Attr{ints("axes", 1, -1)}, []*tensor.Tensor{x, nil, scales(2, 2)}},
		{"bad mode", []ops.Attr{str("mode", "area")}, []*tensor.Tensor{x, nil, scales(1, 2)}},
		{"roi length", []ops.Attr{str("coordinate_transformation_mode", "tf_crop_and_resize")}, []*tensor.Tensor{x, f32([]int{2}, 0, 1), scales(1, 2)}},
	}
	for _, tc := range tests {
		if _, err := optest.Run(t, Ops(), "Resize", 19, tc.attrs, []string{"y"}, tc.in...); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	// Output sizes from data go through the session's limit.
	k, err := ops.Versions("", "Resize", "d", []int{19}, nil, compileResize)[0].Compile(&ops.Node{OpType: "Resize", Opset: 19})
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Run(&ops.Ctx{MaxElements: 1 << 20}, []*tensor.Tensor{x, nil, scales(1e3, 1e3)})
	if !errors.Is(err, ops.ErrLimit) {
		t.Errorf("huge scales: err = %v, want ErrLimit", err)
	}
}

func TestUpsample(t *testing.T) {
	x := f32([]int{1, 2}, 1, 2)
	attrs := []ops.Attr{{Name: "scales", Type: ops.AttrFloats, Floats: []float32{1, 3}}}
	out, err := optest.Run(t, Ops(), "Upsample", 7, attrs, []string{"y"}, x)
	if err != nil {
		t.Fatal(err)
	}
	near(t, tensor.Data[float32](out[0]), []float64{1, 1, 1, 2, 2, 2}, 0)
	out, err = optest.Run(t, Ops(), "Upsample", 9, []ops.Attr{str("mode", "linear")}, []string{"y"}, x, scales(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	// asymmetric: x_orig = 0, 0.5, 1, 1.5 (clamped).
	near(t, tensor.Data[float32](out[0]), []float64{1, 1.5, 2, 2}, 0)
}

func BenchmarkResizeLinear224To512(b *testing.B) {
	x := f32([]int{1, 3, 224, 224}, make([]float32, 3*224*224)...)
	k, _ := compileResize(&ops.Node{OpType: "Resize", Opset: 19, Attrs: []ops.Attr{str("mode", "linear")}})
	c := &ops.Ctx{Threads: 4}
	in := []*tensor.Tensor{x, nil, nil, sizes(1, 3, 512, 512)}
	for b.Loop() {
		if _, err := k.Run(c, in); err != nil {
			b.Fatal(err)
		}
	}
}

package image_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/image"
	"github.com/gort-ml/gort/ops/signal"
	"github.com/gort-ml/gort/tensor"
)

// randomInput is a small tensor of random shape (rank 0 to 5, dimensions 0
// to 4) and dtype with values that include negatives, zeros, NaN and huge
// magnitudes, or nil.
func randomInput(r *rand.Rand) *tensor.Tensor {
	if r.IntN(8) == 0 {
		return nil
	}
	shape := make([]int, r.IntN(6))
	for i := range shape {
		shape[i] = r.IntN(5)
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	pick := func() float64 {
		switch r.IntN(8) {
		case 0:
			return math.NaN()
		case 1:
			return 1e30 * (r.Float64() - 0.5)
		case 2:
			return 0
		}
		return 4 * (r.Float64() - 0.5)
	}
	switch r.IntN(4) {
	case 0:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(r.IntN(9)) - 2
		}
		return tensor.Must(shape, v)
	case 1:
		v := make([]uint8, n)
		for i := range v {
			v[i] = uint8(r.IntN(256))
		}
		return tensor.Must(shape, v)
	case 2:
		v := make([]float64, n)
		for i := range v {
			v[i] = pick()
		}
		return tensor.Must(shape, v)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(pick())
	}
	return tensor.Must(shape, v)
}

func randomAttrs(r *rand.Rand) []ops.Attr {
	strs := map[string][]string{
		"mode":                           {"nearest", "linear", "cubic", "bilinear", "bicubic", "avg", "max"},
		"coordinate_transformation_mode": {"half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize", "pytorch_half_pixel", "half_pixel_symmetric", "output_half_pixel"},
		"padding_mode":                   {"zeros", "border", "reflection"},
		"nearest_mode":                   {"floor", "ceil", "round_prefer_ceil"},
		"keep_aspect_ratio_policy":       {"stretch", "not_larger", "not_smaller"},
		"pixel_format":                   {"RGB", "BGR", "Grayscale"},
	}
	intNames := []string{"antialias", "exclude_outside", "align_corners", "onesided", "inverse", "axis", "periodic", "center_point_box", "output_height", "output_width", "sampling_ratio"}
	var attrs []ops.Attr
	for name, vs := range strs {
		if r.IntN(2) == 0 {
			attrs = append(attrs, ops.Attr{Name: name, Type: ops.AttrString, S: []byte(vs[r.IntN(len(vs))])})
		}
	}
	for _, name := range intNames {
		if r.IntN(3) == 0 {
			attrs = append(attrs, ops.Attr{Name: name, Type: ops.AttrInt, I: int64(r.IntN(5)) - 1})
		}
	}
	if r.IntN(4) == 0 {
		attrs = append(attrs, ops.Attr{Name: "axes", Type: ops.AttrInts, Ints: []int64{int64(r.IntN(5)) - 2}})
	}
	return attrs
}

// TestRandomInputsNeverPanic runs every image and signal schema on random
// inputs and attributes: kernels must return errors, never panic.
func TestRandomInputsNeverPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	list := append(image.Ops(), signal.Ops()...)
	c := &ops.Ctx{MaxElements: 1 << 16, Threads: 2}
	for iter := 0; iter < 30000; iter++ {
		op := list[r.IntN(len(list))]
		in := make([]*tensor.Tensor, r.IntN(6))
		for i := range in {
			in[i] = randomInput(r)
		}
		mustNotPanic(t, c, op, randomAttrs(r), in)
	}
}

// plausible builds inputs of the ranks an op expects, with random sizes
// and values (NaN, huge, negative and zero included), so that kernels get
// past the shape checks.
func plausible(r *rand.Rand, op string) []*tensor.Tensor {
	val := func() float32 {
		switch r.IntN(10) {
		case 0:
			return float32(math.NaN())
		case 1:
			return 1e30
		case 2:
			return -1e30
		case 3:
			return 0
		}
		return float32(4 * (r.Float64() - 0.5))
	}
	ft := func(shape ...int) *tensor.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = val()
		}
		return tensor.Must(shape, v)
	}
	it := func(v ...int64) *tensor.Tensor { return tensor.Must([]int{len(v)}, v) }
	sc := func(v int64) *tensor.Tensor { return tensor.Scalar(v) }
	d := func() int { return r.IntN(5) }
	small := func() int64 { return int64(r.IntN(12)) - 2 }
	switch op {
	case "Resize", "Upsample":
		rank := 1 + r.IntN(4)
		shape := make([]int, rank)
		for i := range shape {
			shape[i] = d()
		}
		var sizes *tensor.Tensor
		if r.IntN(2) == 0 {
			s := make([]int64, rank)
			for i := range s {
				s[i] = small()
			}
			sizes = it(s...)
		}
		scales := make([]float32, rank)
		for i := range scales {
			scales[i] = []float32{0.3, 0.5, 1, 1.7, 2, 3, -1, 0, float32(math.NaN()), 1e-9}[r.IntN(10)]
		}
		if op == "Upsample" {
			return []*tensor.Tensor{ft(shape...), tensor.Must([]int{rank}, scales)}
		}
		if sizes != nil {
			return []*tensor.Tensor{ft(shape...), ft(2 * rank), nil, sizes}
		}
		return []*tensor.Tensor{ft(shape...), ft(2 * rank), tensor.Must([]int{rank}, scales)}
	case "GridSample":
		if r.IntN(2) == 0 {
			return []*tensor.Tensor{ft(1, d(), d(), d()), ft(1, d(), d(), 2)}
		}
		return []*tensor.Tensor{ft(1, d(), d(), d(), d()), ft(1, d(), d(), d(), 3)}
	case "AffineGrid":
		return []*tensor.Tensor{ft(1, 2, 3), it(1, small(), small(), small())}
	case "RoiAlign":
		n := d()
		b := make([]int64, n)
		for i := range b {
			b[i] = int64(r.IntN(3)) - 1
		}
		return []*tensor.Tensor{ft(1+r.IntN(2), d(), d(), d()), ft(n, 4), it(b...)}
	case "NonMaxSuppression":
		b, n := 1+r.IntN(2), d()
		return []*tensor.Tensor{ft(b, n, 4), ft(b, d(), n), it(small()), ft(1), ft(1)}
	case "DFT":
		return []*tensor.Tensor{ft(1, d(), 1+r.IntN(2)), sc(small()), sc(small())}
	case "STFT":
		return []*tensor.Tensor{ft(1, 2*d(), 1+r.IntN(2)), sc(small()), ft(d()), sc(small())}
	case "MelWeightMatrix":
		return []*tensor.Tensor{sc(small()), sc(small()), sc(100 * small()), tensor.Scalar(val()), tensor.Scalar(val())}
	case "ImageDecoder":
		v := make([]uint8, r.IntN(64))
		for i := range v {
			v[i] = uint8(r.IntN(256))
		}
		copy(v, []string{"BM", "P6", "P5", "II*\x00", "\xff\xd8", "\x89PNG\r\n\x1a\n"}[r.IntN(6)])
		return []*tensor.Tensor{tensor.Must([]int{len(v)}, v)}
	}
	return []*tensor.Tensor{sc(small())}
}

func TestPlausibleInputsNeverPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	list := append(image.Ops(), signal.Ops()...)
	c := &ops.Ctx{MaxElements: 1 << 16, Threads: 2}
	for iter := 0; iter < 30000; iter++ {
		op := list[r.IntN(len(list))]
		in := plausible(r, op.Type)
		mustNotPanic(t, c, op, randomAttrs(r), in)
	}
}

// mustNotPanic compiles and runs op, failing the test if either panics;
// errors are expected and ignored.
func mustNotPanic(t *testing.T, c *ops.Ctx, op *ops.Op, attrs []ops.Attr, in []*tensor.Tensor) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("%s-%d panicked: %v\nattrs %v\ninputs %v", op.Type, op.Since, p, attrs, fmt.Sprint(in))
		}
	}()
	k, err := op.Compile(&ops.Node{OpType: op.Type, Opset: op.Since, Attrs: attrs, Outputs: []string{"y"}})
	if err != nil {
		return
	}
	k.Run(c, in)
}

package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/optest"
	"github.com/gort-ml/gort/tensor"
)

// kernel compiles the newest schema of op for a node with the given attributes.
func kernel(t *testing.T, op []*ops.Op, attrs ...ops.Attr) *ops.Kernel {
	t.Helper()
	return optest.Kernel(t, op, &ops.Node{Attrs: attrs, Outputs: []string{"y"}})
}

func iattr(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }

func f32(shape []int, v ...float32) *tensor.Tensor { return tensor.Must(shape, v) }

func run1(t *testing.T, k *ops.Kernel, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	out, err := k.Run(&ops.Ctx{}, in)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// qcase is one Q/DQ case: x, scale and an optional zero point in, want out.
type qcase struct {
	name               string
	attrs              []ops.Attr
	x, scale, zp, want *tensor.Tensor
}

func runCases(t *testing.T, op []*ops.Op, cases []qcase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := []*tensor.Tensor{tc.x, tc.scale}
			if tc.zp != nil {
				in = append(in, tc.zp)
			}
			got := run1(t, kernel(t, op, tc.attrs...), in...)
			if !tensor.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestQuantizeLinear(t *testing.T) {
	runCases(t, quantizeLinearOps, []qcase{
		{"uint8 per tensor", nil,
			f32([]int{6}, 0, 2, 3, 1000, -254, -1000), tensor.Scalar[float32](2), tensor.Scalar[uint8](128),
			tensor.Must([]int{6}, []uint8{128, 129, 130, 255, 1, 0})},
		{"ties to even", nil,
			f32([]int{6}, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5), tensor.Scalar[float32](1), tensor.Scalar[int8](0),
			tensor.Must([]int{6}, []int8{0, 2, 2, 0, -2, -2})},
		{"default uint8 output", nil,
			f32([]int{3}, -1, 10, 300), tensor.Scalar[float32](1), nil,
			tensor.Must([]int{3}, []uint8{0, 10, 255})},
		{"per axis", nil, // x (1, 3, 2), axis 1
			f32([]int{1, 3, 2}, 1, 2, 4, 6, 8, -8), f32([]int{3}, 1, 2, 4), tensor.Must([]int{3}, []int8{0, 1, -1}),
			tensor.Must([]int{1, 3, 2}, []int8{1, 2, 3, 4, 1, -3})},
		{"blocked, remainder block", []ops.Attr{iattr("block_size", 2)}, // x (2, 3), scale (2, 2)
			f32([]int{2, 3}, 2, 4, 9, 10, 20, 30), f32([]int{2, 2}, 2, 3, 10, 5), nil,
			tensor.Must([]int{2, 3}, []uint8{1, 2, 3, 1, 2, 6})},
		{"blocked axis 0", []ops.Attr{iattr("block_size", 2), iattr("axis", 0)}, // x (3, 2), scale (2, 2)
			f32([]int{3, 2}, 2, 4, 6, 8, 10, 12), f32([]int{2, 2}, 2, 4, 10, 3), nil,
			tensor.Must([]int{3, 2}, []uint8{1, 1, 3, 2, 1, 4})},
		{"int4 saturates", nil,
			f32([]int{4}, 100, -100, 7.4, -8.6), tensor.Scalar[float32](1), tensor.Scalar(tensor.I4(0)),
			tensor.Must([]int{4}, []tensor.I4{7, -8, 7, -8})},
		{"uint2 and zero point", nil,
			f32([]int{4}, -1, 0, 1, 9), tensor.Scalar[float32](1), tensor.Scalar(tensor.U2(1)),
			tensor.Must([]int{4}, []tensor.U2{0, 1, 2, 3})},
		{"int2", nil,
			f32([]int{4}, -5, -1, 0.4, 5), tensor.Scalar[float32](1), tensor.Scalar(tensor.I2(0)),
			tensor.Must([]int{4}, []tensor.I2{-2, -1, 0, 1})},
		{"float8 saturates", nil,
			f32([]int{3}, 1000, -1000, 1), tensor.Scalar[float32](1), tensor.Scalar(tensor.F8E4M3FN(0)),
			tensor.Must([]int{3}, []tensor.F8E4M3FN{0x7e, 0xfe, 0x38})},
		{"float8 without saturation", []ops.Attr{iattr("saturate", 0)},
			f32([]int{2}, 1000, 0.5), tensor.Scalar[float32](0.5), tensor.Scalar(tensor.F8E4M3FN(0)),
			tensor.Must([]int{2}, []tensor.F8E4M3FN{0x7f, 0x38})},
		{"float4", nil,
			f32([]int{4}, 1, 5, 100, -0.25), tensor.Scalar[float32](1), tensor.Scalar(tensor.F4E2M1(0)),
			tensor.Must([]int{4}, []tensor.F4E2M1{0x2, 0x6, 0x7, 0x8})},
		{"output_dtype", []ops.Attr{iattr("output_dtype", int64(tensor.Int16))},
			f32([]int{2}, 2049, -40000), tensor.Scalar[float32](1), nil,
			tensor.Must([]int{2}, []int16{2049, -32768})},
		{"precision float16 rounds x first", []ops.Attr{iattr("output_dtype", int64(tensor.Int16)), iattr("precision", int64(tensor.Float16))},
			f32([]int{1}, 2049), tensor.Scalar[float32](1), nil,
			tensor.Must([]int{1}, []int16{2048})},
		{"float16 scale divides in float16", nil, // 35.71875 / 0.3701171875 = 96.5065 rounds to 96.5 in float16, then to 96 (ONNX Runtime, in float32: 97)
			tensor.Must([]int{1}, []tensor.Float16Bits{tensor.Float16FromFloat32(35.71875)}), tensor.Scalar(tensor.Float16FromFloat32(0.37)), tensor.Scalar[int8](3),
			tensor.Must([]int{1}, []int8{99})},
		{"int32 input", nil,
			tensor.Must([]int{3}, []int32{10, -10, 1000}), tensor.Scalar[float32](4), tensor.Scalar[int8](0),
			tensor.Must([]int{3}, []int8{2, -2, 127})},
	})
}

func TestDequantizeLinear(t *testing.T) {
	runCases(t, dequantizeLinearOps, []qcase{
		{"uint8", nil,
			tensor.Must([]int{4}, []uint8{0, 3, 128, 255}), tensor.Scalar[float32](2), tensor.Scalar[uint8](128),
			f32([]int{4}, -256, -250, 0, 254)},
		{"per axis", nil,
			tensor.Must([]int{1, 3, 2}, []int8{1, 2, 3, 4, 5, 6}), f32([]int{3}, 1, 2, 4), tensor.Must([]int{3}, []int8{0, 1, -1}),
			f32([]int{1, 3, 2}, 1, 2, 4, 6, 24, 28)},
		{"blocked", []ops.Attr{iattr("block_size", 2)},
			tensor.Must([]int{2, 3}, []uint8{1, 2, 3, 4, 5, 6}), f32([]int{2, 2}, 2, 3, 10, 5), tensor.Must([]int{2, 2}, []uint8{1, 0, 4, 0}),
			f32([]int{2, 3}, 0, 2, 9, 0, 10, 30)},
		{"per axis, innermost", []ops.Attr{iattr("axis", -1)},
			tensor.Must([]int{2, 2}, []uint8{1, 2, 3, 4}), f32([]int{2}, 1, 10), tensor.Must([]int{2}, []uint8{0, 1}),
			f32([]int{2, 2}, 1, 10, 3, 30)},
		{"1-D x, default axis", nil,
			tensor.Must([]int{2}, []int8{3, 3}), f32([]int{2}, 1, 2), nil,
			f32([]int{2}, 3, 6)},
		{"int32 without zero point", nil,
			tensor.Must([]int{2}, []int32{-100000, 7}), tensor.Scalar[float32](0.5), nil,
			f32([]int{2}, -50000, 3.5)},
		{"int4", nil,
			tensor.Must([]int{3}, []tensor.I4{-8, 0, 7}), tensor.Scalar[float32](0.5), tensor.Scalar(tensor.I4(1)),
			f32([]int{3}, -4.5, -0.5, 3)},
		{"uint2", nil,
			tensor.Must([]int{2}, []tensor.U2{0, 3}), tensor.Scalar[float32](3), nil,
			f32([]int{2}, 0, 9)},
		{"float8", nil,
			tensor.Must([]int{3}, []tensor.F8E4M3FN{0x7e, 0x38, 0x7f}), tensor.Scalar[float32](2), nil,
			f32([]int{3}, 896, 2, float32(math.NaN()))},
		{"float16 scale gives float16", nil,
			tensor.Must([]int{2}, []int16{1, 3}), tensor.Scalar(tensor.Float16FromFloat32(0.1)), nil,
			tensor.Must([]int{2}, []tensor.Float16Bits{tensor.Float16FromFloat32(0.1), tensor.Float16FromFloat32(3 * tensor.Float16FromFloat32(0.1).Float32())})},
		{"output_dtype bfloat16", []ops.Attr{iattr("output_dtype", int64(tensor.BFloat16))},
			tensor.Must([]int{1}, []uint16{300}), tensor.Scalar[float32](1), nil,
			tensor.Must([]int{1}, []tensor.BFloat16Bits{tensor.BFloat16FromFloat32(300)})},
	})
}

func TestQuantizeErrors(t *testing.T) {
	x := f32([]int{2, 4}, 1, 2, 3, 4, 5, 6, 7, 8)
	for _, tc := range []struct {
		name  string
		op    []*ops.Op
		attrs []ops.Attr
		in    []*tensor.Tensor
		want  string
	}{
		{"zero scale", quantizeLinearOps, nil, []*tensor.Tensor{x, tensor.Scalar[float32](0)}, "y_scale[0] is 0"},
		{"zero point shape", quantizeLinearOps, nil, []*tensor.Tensor{x, f32([]int{4}, 1, 1, 1, 1), tensor.Must([]int{2}, []uint8{0, 0})}, "y_zero_point has shape [2]"},
		{"per-axis length", quantizeLinearOps, nil, []*tensor.Tensor{x, f32([]int{3}, 1, 1, 1)}, "1-D of length 4"},
		{"block does not fit", quantizeLinearOps, []ops.Attr{iattr("block_size", 3)}, []*tensor.Tensor{x, f32([]int{2, 1}, 1, 1)}, "must be 2"},
		{"output_dtype mismatch", quantizeLinearOps, []ops.Attr{iattr("output_dtype", int64(tensor.Int8))}, []*tensor.Tensor{x, tensor.Scalar[float32](1), tensor.Scalar[uint8](0)}, "output_dtype int8 differs"},
		{"dq zero point dtype", dequantizeLinearOps, nil, []*tensor.Tensor{tensor.Must([]int{1}, []int8{1}), tensor.Scalar[float32](1), tensor.Scalar[uint8](0)}, "x_zero_point is uint8"},
		{"dq float input", dequantizeLinearOps, nil, []*tensor.Tensor{x, tensor.Scalar[float32](1)}, "not a quantized type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kernel(t, tc.op, tc.attrs...).Run(&ops.Ctx{}, tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDynamicQuantizeLinear(t *testing.T) {
	// The example of the ONNX operator documentation.
	x := f32([]int{6}, 0, 2, -3, -2.5, 1.34, 0.5)
	out, err := kernel(t, dynamicQuantizeLinearOps).Run(&ops.Ctx{}, []*tensor.Tensor{x})
	if err != nil {
		t.Fatal(err)
	}
	if want := tensor.Must([]int{6}, []uint8{153, 255, 0, 26, 221, 179}); !tensor.Equal(out[0], want) {
		t.Errorf("y = %v, want %v", out[0], want)
	}
	if s := tensor.Data[float32](out[1])[0]; math.Abs(float64(s)-5.0/255) > 1e-7 {
		t.Errorf("y_scale = %v, want 5/255", s)
	}
	if zp := tensor.Data[uint8](out[2])[0]; zp != 153 {
		t.Errorf("y_zero_point = %d, want 153", zp)
	}
	// All zeros: the range is empty and the scale is 1.
	out, err = kernel(t, dynamicQuantizeLinearOps).Run(&ops.Ctx{}, []*tensor.Tensor{f32([]int{2}, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if s := tensor.Data[float32](out[1])[0]; s != 1 {
		t.Errorf("y_scale = %v for zeros, want 1", s)
	}
}

// randInts returns a tensor of random int8 or uint8 values.
func randInts(rng *rand.Rand, d tensor.DType, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(d, shape...)
	switch v := t.Raw().(type) {
	case []int8:
		for i := range v {
			v[i] = int8(rng.IntN(256) - 128)
		}
	case []uint8:
		for i := range v {
			v[i] = uint8(rng.IntN(256))
		}
	}
	return t
}

func ints(t *tensor.Tensor) []int64 {
	v := make([]float64, t.Len())
	readF64(v, t.Raw(), 0)
	out := make([]int64, len(v))
	for i, f := range v {
		out[i] = int64(f)
	}
	return out
}

// refMatMulInteger is a direct int64 matmul for 2-D or 3-D (batched, same
// batch) operands; zero points are scalars or per row / per column vectors.
func refMatMulInteger(a, b []int64, batch, m, k, n int, azp, bzp []int64) []int64 {
	out := make([]int64, batch*m*n)
	for bi := 0; bi < batch; bi++ {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				s := int64(0)
				for kk := 0; kk < k; kk++ {
					s += (a[(bi*m+i)*k+kk] - azp[i%len(azp)]) * (b[(bi*k+kk)*n+j] - bzp[j%len(bzp)])
				}
				out[(bi*m+i)*n+j] = s
			}
		}
	}
	return out
}

func TestMatMulIntegerAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		batch, m, k, n int
		da, db         tensor.DType
		perRow, perCol bool
	}{
		{1, 3, 5, 4, tensor.Uint8, tensor.Int8, false, false},
		{2, 4, 7, 3, tensor.Int8, tensor.Uint8, true, true},
		{3, 1, 16, 9, tensor.Uint8, tensor.Uint8, false, true},
		{1, 17, 33, 5, tensor.Int8, tensor.Int8, true, false},
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			a := randInts(rng, tc.da, tc.batch, tc.m, tc.k)
			b := randInts(rng, tc.db, tc.batch, tc.k, tc.n)
			azp, bzp := randInts(rng, tc.da), randInts(rng, tc.db)
			if tc.perRow {
				azp = randInts(rng, tc.da, tc.m)
			}
			if tc.perCol {
				bzp = randInts(rng, tc.db, tc.n)
			}
			got := run1(t, kernel(t, matMulIntegerOps), a, b, azp, bzp)
			want := refMatMulInteger(ints(a), ints(b), tc.batch, tc.m, tc.k, tc.n, ints(azp), ints(bzp))
			if !tensor.SameShape(got.Shape(), []int{tc.batch, tc.m, tc.n}) {
				t.Fatalf("shape %v", got.Shape())
			}
			for i, g := range tensor.Data[int32](got) {
				if int64(g) != want[i] {
					t.Fatalf("y[%d] = %d, want %d", i, g, want[i])
				}
			}
		})
	}
}

func TestMatMulIntegerShapes(t *testing.T) {
	a := tensor.Must([]int{3}, []uint8{1, 2, 3})        // 1-D: (1, 3), dropped
	b := tensor.Must([]int{2, 3, 2}, make([]uint8, 12)) // batch 2
	for i := range tensor.Data[uint8](b) {
		tensor.Data[uint8](b)[i] = uint8(i)
	}
	got := run1(t, kernel(t, matMulIntegerOps), a, b)
	// b[0] = [[0 1] [2 3] [4 5]], b[1] = [[6 7] [8 9] [10 11]]
	want := tensor.Must([]int{2, 2}, []int32{16, 22, 52, 58})
	if !tensor.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestQLinearMatMul(t *testing.T) {
	// The example of the ONNX operator documentation.
	a := tensor.Must([]int{2, 4}, []uint8{208, 236, 0, 238, 3, 214, 255, 29})
	b := tensor.Must([]int{4, 3}, []uint8{152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247})
	got := run1(t, kernel(t, qlinearMatMulOps),
		a, tensor.Scalar[float32](0.0066), tensor.Scalar[uint8](113),
		b, tensor.Scalar[float32](0.00705), tensor.Scalar[uint8](114),
		tensor.Scalar[float32](0.0107), tensor.Scalar[uint8](118))
	want := tensor.Must([]int{2, 3}, []uint8{168, 115, 255, 1, 66, 151})
	if !tensor.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestQLinearMatMulPerRowColumn(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m, k, n := 5, 6, 4
	a := randInts(rng, tensor.Int8, m, k)
	b := randInts(rng, tensor.Int8, k, n)
	as, bs := make([]float32, m), make([]float32, n)
	for i := range as {
		as[i] = float32(0.01 + 0.01*float64(i))
	}
	for j := range bs {
		bs[j] = float32(0.02 + 0.005*float64(j))
	}
	azp := randInts(rng, tensor.Int8, m)
	bzp := randInts(rng, tensor.Int8, n)
	ys, yzp := float32(0.5), int8(-3)
	got := run1(t, kernel(t, qlinearMatMulOps),
		a, tensor.Must([]int{m}, as), azp, b, tensor.Must([]int{n}, bs), bzp,
		tensor.Scalar(ys), tensor.Scalar(yzp))
	acc := refMatMulInteger(ints(a), ints(b), 1, m, k, n, ints(azp), ints(bzp))
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			real := float64(acc[i*n+j]) * float64(as[i]) * float64(bs[j]) / float64(ys)
			want := math.Max(-128, math.Min(127, math.RoundToEven(real)+float64(yzp)))
			g := float64(tensor.Data[int8](got)[i*n+j])
			// The kernel's multiplier rounds to float32; allow one step at exact ties.
			if math.Abs(g-want) > 1 || (math.Abs(g-want) == 1 && math.Abs(real-math.Floor(real)-0.5) > 1e-4) {
				t.Fatalf("y[%d,%d] = %v, want %v (real %v)", i, j, g, want, real)
			}
		}
	}
}

// refConv is a direct 2-D convolution of int64 values (N, C, H, W) with
// zero padding after centering.
func refConv(x []int64, xs []int, w []int64, ws []int, group, sh, sw, dh, dw, pt, pl, oh, ow int) []int64 {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	m, cg, kh, kw := ws[0], ws[1], ws[2], ws[3]
	mg := m / group
	out := make([]int64, n*m*oh*ow)
	for b := 0; b < n; b++ {
		for oc := 0; oc < m; oc++ {
			g := oc / mg
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					s := int64(0)
					for ci := 0; ci < cg; ci++ {
						for ky := 0; ky < kh; ky++ {
							for kx := 0; kx < kw; kx++ {
								iy, ix := oy*sh-pt+ky*dh, ox*sw-pl+kx*dw
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								s += x[((b*c+g*cg+ci)*h+iy)*wd+ix] * w[((oc*cg+ci)*kh+ky)*kw+kx]
							}
						}
					}
					out[((b*m+oc)*oh+oy)*ow+ox] = s
				}
			}
		}
	}
	return out
}

func TestConvIntegerAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		n, c, h, w, m, kh, kw, group, stride, dil, pad int
		perChannel                                     bool
	}{
		{1, 1, 5, 5, 1, 3, 3, 1, 1, 1, 0, false},
		{2, 4, 7, 6, 6, 3, 2, 2, 2, 1, 1, true},
		{1, 3, 9, 9, 2, 3, 3, 1, 1, 2, 2, true},
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			x := randInts(rng, tensor.Uint8, tc.n, tc.c, tc.h, tc.w)
			w := randInts(rng, tensor.Int8, tc.m, tc.c/tc.group, tc.kh, tc.kw)
			xzp := randInts(rng, tensor.Uint8)
			wzp := randInts(rng, tensor.Int8)
			if tc.perChannel {
				wzp = randInts(rng, tensor.Int8, tc.m)
			}
			p := int64(tc.pad)
			k := kernel(t, convIntegerOps,
				ops.Attr{Name: "pads", Type: ops.AttrInts, Ints: []int64{p, p, p, p}},
				ops.Attr{Name: "strides", Type: ops.AttrInts, Ints: []int64{int64(tc.stride), int64(tc.stride)}},
				ops.Attr{Name: "dilations", Type: ops.AttrInts, Ints: []int64{int64(tc.dil), int64(tc.dil)}},
				iattr("group", int64(tc.group)))
			got := run1(t, k, x, w, xzp, wzp)
			oh := (tc.h+2*tc.pad-tc.dil*(tc.kh-1)-1)/tc.stride + 1
			ow := (tc.w+2*tc.pad-tc.dil*(tc.kw-1)-1)/tc.stride + 1
			xi, wi := ints(x), ints(w)
			for i := range xi {
				xi[i] -= ints(xzp)[0]
			}
			wz := ints(wzp)
			per := len(wi) / tc.m
			for i := range wi {
				wi[i] -= wz[(i/per)%len(wz)]
			}
			want := refConv(xi, x.Shape(), wi, w.Shape(), tc.group, tc.stride, tc.stride, tc.dil, tc.dil, tc.pad, tc.pad, oh, ow)
			if !tensor.SameShape(got.Shape(), []int{tc.n, tc.m, oh, ow}) {
				t.Fatalf("shape %v, want %v", got.Shape(), []int{tc.n, tc.m, oh, ow})
			}
			for i, g := range tensor.Data[int32](got) {
				if int64(g) != want[i] {
					t.Fatalf("y[%d] = %d, want %d", i, g, want[i])
				}
			}
		})
	}
}

func TestConvIntegerAutoPad(t *testing.T) {
	x := tensor.Must([]int{1, 1, 3, 3}, []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9})
	w := tensor.Must([]int{1, 1, 2, 2}, []uint8{1, 1, 1, 1})
	for _, tc := range []struct {
		mode string
		want []int32
	}{
		{"SAME_UPPER", []int32{12, 16, 9, 24, 28, 15, 15, 17, 9}}, // pads (0, 0, 1, 1)
		{"SAME_LOWER", []int32{1, 3, 5, 5, 12, 16, 11, 24, 28}},   // pads (1, 1, 0, 0)
		{"VALID", []int32{12, 16, 24, 28}},
	} {
		got := run1(t, kernel(t, convIntegerOps, ops.Attr{Name: "auto_pad", Type: ops.AttrString, S: []byte(tc.mode)}), x, w)
		if g := tensor.Data[int32](got); fmt.Sprint(g) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.mode, g, tc.want)
		}
	}
}

func TestQLinearConv(t *testing.T) {
	// 1x1 kernel, per-channel weights: y = round((x - 10) * (w - wzp) * xs*ws/ys + B) + yzp.
	x := tensor.Must([]int{1, 1, 1, 3}, []uint8{10, 20, 40})
	w := tensor.Must([]int{2, 1, 1, 1}, []int8{3, -2})
	got := run1(t, kernel(t, qlinearConvOps),
		x, tensor.Scalar[float32](0.5), tensor.Scalar[uint8](10),
		w, f32([]int{2}, 1, 0.25), tensor.Must([]int{2}, []int8{1, 0}),
		tensor.Scalar[float32](1), tensor.Scalar[uint8](100),
		tensor.Must([]int{2}, []int32{4, 0}))
	// channel 0: (x-10)*2 + 4 = 4, 24, 64; * 0.5 -> 2, 12, 32; +100
	// channel 1: (x-10)*-2 = 0, -20, -60; * 0.125 -> 0, -2.5, -7.5 -> 0, -2, -8; +100
	want := tensor.Must([]int{1, 2, 1, 3}, []uint8{102, 112, 132, 100, 98, 92})
	if !tensor.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestOddInputsNeverPanic runs every schema of the family on inputs of
// wrong dtypes, ranks and counts: each must return (an error or a result),
// never panic.
func TestOddInputsNeverPanic(t *testing.T) {
	odd := []*tensor.Tensor{
		nil,
		tensor.Scalar[float32](0),
		tensor.Scalar[uint8](3),
		tensor.Zeros(tensor.Float32, 0),
		tensor.Zeros(tensor.Float32, 2, 0, 3),
		f32([]int{2, 2}, 1, 2, 3, 4),
		tensor.Zeros(tensor.Int8, 1, 1, 3, 3),
		tensor.Zeros(tensor.Uint8, 2, 1, 1),
		tensor.Zeros(tensor.String, 2),
		tensor.Zeros(tensor.Int64, 4),
		tensor.Must([]int{2}, []float32{float32(math.NaN()), float32(math.Inf(1))}),
	}
	attrs := [][]ops.Attr{nil,
		{iattr("axis", 5), iattr("block_size", 2)},
		{iattr("axis", -1), iattr("block_size", math.MaxInt64)},
		{iattr("group", 3), {Name: "strides", Type: ops.AttrInts, Ints: []int64{1}}},
		{{Name: "pads", Type: ops.AttrInts, Ints: []int64{1, 1, 1, 1}}, {Name: "auto_pad", Type: ops.AttrString, S: []byte("SAME_LOWER")}},
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, op := range Ops() {
		for _, at := range attrs {
			n := &ops.Node{OpType: op.Type, Opset: op.Since, Attrs: at, Outputs: []string{"y"}}
			k, err := op.Compile(n)
			if err != nil || n.Err() != nil {
				continue
			}
			for trial := 0; trial < 200; trial++ {
				in := make([]*tensor.Tensor, rng.IntN(10))
				for i := range in {
					in[i] = odd[rng.IntN(len(odd))]
				}
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("%s-%d %v on %v: panic %v", op.Type, op.Since, at, in, r)
						}
					}()
					k.Run(&ops.Ctx{MaxElements: 1 << 20}, in)
				}()
			}
		}
	}
}

func TestConvAttributeLimits(t *testing.T) {
	x := tensor.Zeros(tensor.Uint8, 1, 1, 4, 4)
	w := tensor.Zeros(tensor.Uint8, 1, 1, 2, 2)
	for _, tc := range []struct {
		attrs []ops.Attr
		want  string
	}{
		{[]ops.Attr{{Name: "pads", Type: ops.AttrInts, Ints: []int64{1 << 50, 0, 0, 0}}}, "out of range"},
		{[]ops.Attr{{Name: "dilations", Type: ops.AttrInts, Ints: []int64{1 << 39, 1}}}, "exceeds padded input"},
		{[]ops.Attr{{Name: "strides", Type: ops.AttrInts, Ints: []int64{0, 1}}}, "must be in [1, 2^40]"},
		{[]ops.Attr{{Name: "pads", Type: ops.AttrInts, Ints: []int64{1 << 10, 1 << 10, 0, 0}}}, "size limit"},
		{[]ops.Attr{{Name: "kernel_shape", Type: ops.AttrInts, Ints: []int64{3, 3}}}, "differs from w's"},
		{[]ops.Attr{iattr("group", 2)}, "group 2 must divide"},
	} {
		_, err := kernel(t, convIntegerOps, tc.attrs...).Run(&ops.Ctx{MaxElements: 1 << 16}, []*tensor.Tensor{x, w})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one containing %q", tc.attrs, err, tc.want)
		}
	}
}

func TestQLinearMatMulFloat8(t *testing.T) {
	e4 := func(v ...float32) []tensor.F8E4M3FN {
		out := make([]tensor.F8E4M3FN, len(v))
		for i, f := range v {
			out[i] = tensor.Float8E4M3FNFromFloat32(f, true)
		}
		return out
	}
	a := tensor.Must([]int{2, 2}, e4(1, 2, -3, 0.5))
	b := tensor.Must([]int{2, 1}, e4(1, 0.5))
	zero := tensor.Scalar(tensor.F8E4M3FN(0))
	got := run1(t, kernel(t, qlinearMatMulOps),
		a, tensor.Scalar[float32](1), zero, b, tensor.Scalar[float32](2), zero,
		tensor.Scalar[float32](0.5), zero)
	// rows: (1 + 1) * 2 / 0.5 = 8; (-3 + 0.25) * 2 / 0.5 = -11
	want := tensor.Must([]int{2, 1}, e4(8, -11))
	if !tensor.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestInferMatMulShapes(t *testing.T) {
	in := []tensor.Type{tensor.TensorType(tensor.Uint8, 2, 3, 4), tensor.TensorType(tensor.Int8, 4, 5)}
	out, err := inferMatMulInteger(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := tensor.TensorType(tensor.Int32, 2, 3, 5); out[0].DType != want.DType || fmt.Sprint(out[0].Shape) != fmt.Sprint(want.Shape) {
		t.Fatalf("got %+v, want %+v", out[0], want)
	}
	in[1] = tensor.TensorType(tensor.Int8, 3, 5)
	if _, err := inferMatMulInteger(nil, in); err == nil {
		t.Fatal("inner dimensions 4 and 3: want an error")
	}
	in[1] = tensor.Type{Kind: tensor.KindTensor, DType: tensor.Int8}
	if out, err := inferMatMulInteger(nil, in); err != nil || out[0].HasShape {
		t.Fatalf("unknown shape: got %+v, %v", out, err)
	}
}

func TestInferConvShapes(t *testing.T) {
	n := &ops.Node{OpType: "ConvInteger", Attrs: []ops.Attr{
		{Name: "strides", Type: ops.AttrInts, Ints: []int64{2, 2}},
		{Name: "pads", Type: ops.AttrInts, Ints: []int64{1, 1, 1, 1}},
	}}
	out, err := inferConvInteger(n, []tensor.Type{tensor.TensorType(tensor.Uint8, 1, 3, 9, 8), tensor.TensorType(tensor.Uint8, 4, 3, 3, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if want := tensor.TensorType(tensor.Int32, 1, 4, 5, 4); fmt.Sprint(out[0]) != fmt.Sprint(want) {
		t.Fatalf("got %+v, want %+v", out[0], want)
	}
}

// TestMatMulIntegerExtremes checks sums far beyond float32's exact range
// (they must stay exact) and beyond int32's (they wrap, as int32
// accumulation does).
func TestMatMulIntegerExtremes(t *testing.T) {
	for _, tc := range []struct {
		k    int
		want int32
	}{
		{1000, 1000 * 255 * 255},
		{40000, int32(int64(40000*255*255) - 1<<32)},
	} {
		a := tensor.Zeros(tensor.Uint8, 1, tc.k)
		b := tensor.Zeros(tensor.Uint8, tc.k, 1)
		for i := range tensor.Data[uint8](a) {
			tensor.Data[uint8](a)[i] = 255
			tensor.Data[uint8](b)[i] = 255
		}
		got := tensor.Data[int32](run1(t, kernel(t, matMulIntegerOps), a, b))[0]
		if got != tc.want {
			t.Errorf("K=%d: got %d, want %d", tc.k, got, tc.want)
		}
		// (0 - 255) * 255 per term, through a's zero point.
		got = tensor.Data[int32](run1(t, kernel(t, matMulIntegerOps), tensor.Zeros(tensor.Uint8, 1, tc.k), b, tensor.Scalar[uint8](255)))[0]
		if want := -tc.want; got != want {
			t.Errorf("K=%d negative: got %d, want %d", tc.k, got, want)
		}
	}
}

// TestThreadsGiveTheSameResult runs Q and DQ on tensors large enough to be
// split over goroutines, for every granularity, with 1 and 4 threads.
func TestThreadsGiveTheSameResult(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	x := tensor.Zeros(tensor.Float32, 64, 96, 50)
	for i := range tensor.Data[float32](x) {
		tensor.Data[float32](x)[i] = float32(rng.NormFloat64() * 50)
	}
	xq := randInts(rng, tensor.Int8, 64, 96, 50)
	ones := func(shape ...int) *tensor.Tensor {
		s := tensor.Zeros(tensor.Float32, shape...)
		for i := range tensor.Data[float32](s) {
			tensor.Data[float32](s)[i] = 0.5 + float32(i%7)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		attrs []ops.Attr
		scale *tensor.Tensor
	}{
		{"per tensor", nil, tensor.Scalar[float32](0.7)},
		{"per axis", []ops.Attr{iattr("axis", 1)}, ones(96)},
		{"per axis innermost", []ops.Attr{iattr("axis", 2)}, ones(50)},
		{"blocked", []ops.Attr{iattr("axis", 1), iattr("block_size", 32)}, ones(64, 3, 50)},
		{"blocked innermost", []ops.Attr{iattr("axis", 2), iattr("block_size", 16)}, ones(64, 96, 4)},
	} {
		for _, c := range []struct {
			op []*ops.Op
			x  *tensor.Tensor
		}{{quantizeLinearOps, x}, {dequantizeLinearOps, xq}} {
			k := kernel(t, c.op, tc.attrs...)
			one, err := k.Run(&ops.Ctx{Threads: 1}, []*tensor.Tensor{c.x, tc.scale})
			if err != nil {
				t.Fatal(err)
			}
			many, err := k.Run(&ops.Ctx{Threads: 4}, []*tensor.Tensor{c.x, tc.scale})
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.Equal(one[0], many[0]) {
				t.Errorf("%s %s: 1 and 4 threads differ", c.op[0].Type, tc.name)
			}
		}
	}
}

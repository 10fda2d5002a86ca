package elementwise

import (
	"math"
	"strings"
	"testing"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// compile looks up op type at the given opset and compiles it with attrs.
func compile(tb testing.TB, typ string, opset int, attrs []ops.Attr) (*ops.Kernel, error) {
	tb.Helper()
	reg, err := ops.NewRegistry(Ops())
	if err != nil {
		tb.Fatal(err)
	}
	op, err := reg.Lookup("", typ, opset)
	if err != nil {
		tb.Fatal(err)
	}
	return op.Compile(&ops.Node{OpType: typ, Opset: opset, Attrs: attrs})
}

// run compiles op type at the given opset with attrs and runs it once.
func run(t *testing.T, typ string, opset int, attrs []ops.Attr, in ...*tensor.Tensor) (*tensor.Tensor, error) {
	t.Helper()
	k, err := compile(t, typ, opset, attrs)
	if err != nil {
		return nil, err
	}
	out, err := k.Run(&ops.Ctx{}, in)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func mustRun(t *testing.T, typ string, opset int, attrs []ops.Attr, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	y, err := run(t, typ, opset, attrs, in...)
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return y
}

func intAttr(name string, v int64) ops.Attr { return ops.Attr{Name: name, Type: ops.AttrInt, I: v} }

func f32(shape []int, v ...float32) *tensor.Tensor { return tensor.Must(shape, v) }

// TestBroadcastAgainstNaive compares Add/Sub on many shape pairs with a
// reference that computes every output index by division.
func TestBroadcastAgainstNaive(t *testing.T) {
	pairs := [][2][]int{
		{{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {}}, {{}, {2, 3, 4}}, {{2, 3, 4}, {4}}, {{2, 3, 4}, {3, 1}},
		{{2, 1, 4}, {1, 3, 1}}, {{1, 3, 1, 5}, {2, 1, 4, 1}}, {{5}, {3, 1}}, {{2, 3, 4}, {1, 1, 1}},
		{{3, 1}, {1}}, {{2, 0, 3}, {3}}, {{4, 1, 1}, {4, 2, 3}},
	}
	for _, p := range pairs {
		a, b := seq(p[0], 1), seq(p[1], 100)
		for _, op := range []struct {
			name string
			f    func(x, y float32) float32
		}{{"Add", func(x, y float32) float32 { return x + y }}, {"Sub", func(x, y float32) float32 { return x - y }}} {
			got := mustRun(t, op.name, 14, nil, a, b)
			want := naive(t, a, b, op.f)
			if !tensor.Equal(got, want) {
				t.Errorf("%s %v %v: got %v, want %v", op.name, p[0], p[1], got, want)
			}
		}
	}
}

func seq(shape []int, start float32) *tensor.Tensor {
	t := tensor.Zeros(tensor.Float32, shape...)
	for i := range tensor.Data[float32](t) {
		tensor.Data[float32](t)[i] = start + float32(i)
	}
	return t
}

func naive(t *testing.T, a, b *tensor.Tensor, f func(x, y float32) float32) *tensor.Tensor {
	shape, err := tensor.BroadcastShapes(a.Shape(), b.Shape())
	if err != nil {
		t.Fatal(err)
	}
	out := tensor.Zeros(tensor.Float32, shape...)
	o := tensor.Data[float32](out)
	at := func(x *tensor.Tensor, idx []int) float32 {
		off, st := len(idx)-x.Rank(), 1
		flat := 0
		for d := x.Rank() - 1; d >= 0; d-- {
			if x.Shape()[d] != 1 {
				flat += idx[off+d] * st
			}
			st *= x.Shape()[d]
		}
		return tensor.Data[float32](x)[flat]
	}
	idx := make([]int, len(shape))
	for i := range o {
		r := i
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d] = r % shape[d]
			r /= shape[d]
		}
		o[i] = f(at(a, idx), at(b, idx))
	}
	return out
}

func TestIntegerArithmetic(t *testing.T) {
	a := tensor.Must([]int{6}, []int32{7, -7, 7, -7, 5, math.MinInt32})
	b := tensor.Must([]int{6}, []int32{2, 2, -2, -2, 0, -1})
	tests := []struct {
		typ   string
		attrs []ops.Attr
		want  []int32
	}{
		{"Div", nil, []int32{3, -3, -3, 3, 0, math.MinInt32}},
		{"Mod", nil, []int32{1, 1, -1, -1, 0, 0}},
		{"Mod", []ops.Attr{intAttr("fmod", 1)}, []int32{1, -1, 1, -1, 0, 0}},
		{"Pow", nil, []int32{49, 49, 0, 0, 1, 0}},
		{"Max", nil, []int32{7, 2, 7, -2, 5, -1}},
	}
	for _, tt := range tests {
		got := mustRun(t, tt.typ, 15, tt.attrs, a, b)
		if w := tensor.Must([]int{6}, tt.want); !tensor.Equal(got, w) {
			t.Errorf("%s %v: got %v, want %v", tt.typ, tt.attrs, got, w)
		}
	}
}

func TestFloatSpecials(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name string
		got  *tensor.Tensor
		want *tensor.Tensor
	}{
		{"Round halves to even", mustRun(t, "Round", 22, nil, f32([]int{6}, 0.5, 1.5, 2.5, -2.5, 2.6, -0.4)),
			f32([]int{6}, 0, 2, 2, -2, 3, 0)},
		{"Mod float python sign", mustRun(t, "Mod", 13, nil, f32([]int{2}, 5.5, -5.5), f32([]int{2}, -2, 2)),
			f32([]int{2}, -0.5, 0.5)},
		{"Mod float fmod", mustRun(t, "Mod", 13, []ops.Attr{intAttr("fmod", 1)}, f32([]int{2}, 5.5, -5.5), f32([]int{2}, -2, 2)),
			f32([]int{2}, 1.5, -1.5)},
		{"Max NaN propagates", mustRun(t, "Max", 13, nil, f32([]int{2}, nan, 1), f32([]int{2}, 1, nan)), f32([]int{2}, nan, nan)},
		{"Sign", mustRun(t, "Sign", 13, nil, f32([]int{4}, -3, 0, 2, nan)), f32([]int{4}, -1, 0, 1, nan)},
		{"Mean", mustRun(t, "Mean", 13, nil, f32([]int{2}, 1, 2), f32([]int{2}, 3, 4), f32([]int{1}, 5)), f32([]int{2}, 3, 11.0/3)},
		{"Clip min > max", mustRun(t, "Clip", 13, nil, f32([]int{3}, -5, 0, 5), f32(nil, 2), f32(nil, 1)), f32([]int{3}, 1, 1, 1)},
		{"Clip legacy attrs", mustRun(t, "Clip", 6, []ops.Attr{{Name: "min", Type: ops.AttrFloat, F: -1}}, f32([]int{3}, -5, nan, 5)),
			f32([]int{3}, -1, nan, 5)},
		{"Pow float^int", mustRun(t, "Pow", 15, nil, f32([]int{2}, 2, 9), tensor.Must([]int{2}, []int64{3, -1})), f32([]int{2}, 8, 1.0/9)},
		{"Pow int^float", mustRun(t, "Pow", 15, nil, tensor.Must([]int{2}, []int64{2, 9}), f32([]int{2}, 0.5, 0.5)),
			tensor.Must([]int{2}, []int64{1, 3})},
		{"Pow int32^int64", mustRun(t, "Pow", 15, nil, tensor.Must([]int{2}, []int32{3, -2}), tensor.Must([]int{2}, []int64{19, 3})),
			tensor.Must([]int{2}, []int32{1162261467, -8})},
		{"Pow float32^float64", mustRun(t, "Pow", 15, nil, f32([]int{2}, 2, 10), tensor.Must([]int{2}, []float64{0.5, -1})),
			f32([]int{2}, float32(math.Sqrt2), 0.1)},
	}
	for _, tt := range tests {
		if !tensor.Equal(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestHalfPrecision(t *testing.T) {
	h := func(v ...float32) *tensor.Tensor {
		d := make([]tensor.Float16Bits, len(v))
		for i, x := range v {
			d[i] = tensor.Float16FromFloat32(x)
		}
		return tensor.Must([]int{len(v)}, d)
	}
	// 2049 is not a float16: 2048 + 1 rounds to 2048 (ties to even).
	if got, want := mustRun(t, "Add", 14, nil, h(2048, 1), h(1, 1)), h(2048, 2); !tensor.Equal(got, want) {
		t.Errorf("float16 Add: got %v, want %v", got, want)
	}
	if got := mustRun(t, "Less", 13, nil, h(1, 3), h(2, 2)); !tensor.Equal(got, tensor.Must([]int{2}, []bool{true, false})) {
		t.Errorf("float16 Less: got %v", got)
	}
}

func TestLegacyBroadcast(t *testing.T) {
	a := seq([]int{2, 3, 2}, 0)
	b := f32([]int{3}, 10, 20, 30)
	got := mustRun(t, "Add", 6, []ops.Attr{intAttr("broadcast", 1), intAttr("axis", 1)}, a, b)
	want := f32([]int{2, 3, 2}, 10, 11, 22, 23, 34, 35, 16, 17, 28, 29, 40, 41)
	if !tensor.Equal(got, want) {
		t.Errorf("Add-6 axis=1: got %v, want %v", got, want)
	}
	if _, err := run(t, "Add", 6, nil, a, b); err == nil {
		t.Error("Add-6 without broadcast accepted differing shapes")
	}
}

func TestWhereBitsPath(t *testing.T) {
	cond := tensor.Must([]int{2, 1}, []bool{true, false})
	x := tensor.Must([]int{2}, []tensor.F8E4M3FN{0x38, 0x40})
	z := tensor.Must([]int{1}, []tensor.F8E4M3FN{0x7e})
	got := mustRun(t, "Where", 16, nil, cond, x, z)
	want := tensor.Must([]int{2, 2}, []tensor.F8E4M3FN{0x38, 0x40, 0x7e, 0x7e})
	if !tensor.Equal(got, want) {
		t.Errorf("Where float8: got %v, want %v", got, want)
	}
}

func TestBitwise(t *testing.T) {
	a := tensor.Must([]int{3}, []uint8{1, 0x80, 0xff})
	s := tensor.Must([]int{3}, []uint8{3, 1, 8})
	left := mustRun(t, "BitShift", 11, []ops.Attr{{Name: "direction", Type: ops.AttrString, S: []byte("LEFT")}}, a, s)
	if w := tensor.Must([]int{3}, []uint8{8, 0, 0}); !tensor.Equal(left, w) {
		t.Errorf("BitShift LEFT: got %v, want %v", left, w)
	}
	not := mustRun(t, "BitwiseNot", 18, nil, tensor.Must([]int{2}, []int16{0, -1}))
	if w := tensor.Must([]int{2}, []int16{-1, 0}); !tensor.Equal(not, w) {
		t.Errorf("BitwiseNot: got %v, want %v", not, w)
	}
}

// TestBitShiftSigned checks BitShift-28 on every int8 value and shift
// count from -10 to 10 against arithmetic: a right shift is floor(x / 2^s),
// a left shift x * 2^s wrapped to 8 bits, and a count outside [0, 8) gives
// the sign fill (-1 for a negative x shifted right, else 0). BitShift-11
// refuses signed inputs.
func TestBitShiftSigned(t *testing.T) {
	var xs, ss []int8
	for x := -128; x < 128; x++ {
		for s := -10; s <= 10; s++ {
			xs, ss = append(xs, int8(x)), append(ss, int8(s))
		}
	}
	x := tensor.Must([]int{len(xs)}, xs)
	s := tensor.Must([]int{len(ss)}, ss)
	dir := func(d string) []ops.Attr { return []ops.Attr{{Name: "direction", Type: ops.AttrString, S: []byte(d)}} }
	left := tensor.Data[int8](mustRun(t, "BitShift", 28, dir("LEFT"), x, s))
	right := tensor.Data[int8](mustRun(t, "BitShift", 28, dir("RIGHT"), x, s))
	for i := range xs {
		v, n := int64(xs[i]), int64(ss[i])
		wantL, wantR := int64(0), int64(0)
		if v < 0 {
			wantR = -1
		}
		if n >= 0 && n < 8 {
			wantL = (v*(1<<n)%256+256+128)%256 - 128
			wantR = int64(math.Floor(float64(v) / float64(int64(1)<<n)))
		}
		if int64(left[i]) != wantL || int64(right[i]) != wantR {
			t.Fatalf("%d shifted by %d: LEFT %d RIGHT %d, want %d and %d", v, n, left[i], right[i], wantL, wantR)
		}
	}
	// Wider types shift by counts past their width the same way.
	x64 := tensor.Must([]int{4}, []int64{-5, 5, -5, 1})
	s64 := tensor.Must([]int{4}, []int64{64, 64, 2, 63})
	if got, w := mustRun(t, "BitShift", 28, dir("RIGHT"), x64, s64), tensor.Must([]int{4}, []int64{-1, 0, -2, 0}); !tensor.Equal(got, w) {
		t.Errorf("int64 RIGHT: got %v, want %v", got, w)
	}
	if got, w := mustRun(t, "BitShift", 28, dir("LEFT"), x64, s64), tensor.Must([]int{4}, []int64{0, 0, -20, math.MinInt64}); !tensor.Equal(got, w) {
		t.Errorf("int64 LEFT: got %v, want %v", got, w)
	}
	if _, err := run(t, "BitShift", 11, dir("LEFT"), x, s); err == nil || !strings.Contains(err.Error(), "opset 28") {
		t.Errorf("BitShift-11 on int8: err %v, want one naming opset 28", err)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		typ string
		in  []*tensor.Tensor
	}{
		{"Add", []*tensor.Tensor{f32([]int{2}, 1, 2), tensor.Must([]int{2}, []int32{1, 2})}},
		{"Add", []*tensor.Tensor{f32([]int{2}, 1, 2), f32([]int{3}, 1, 2, 3)}},
		{"Sqrt", []*tensor.Tensor{tensor.Must([]int{1}, []int32{4})}},
		{"Neg", []*tensor.Tensor{tensor.Must([]int{1}, []uint8{4})}},
		{"Where", []*tensor.Tensor{f32([]int{1}, 1), f32([]int{1}, 1), f32([]int{1}, 1)}},
		{"Clip", []*tensor.Tensor{f32([]int{1}, 1), f32([]int{2}, 0, 1)}},
		{"And", []*tensor.Tensor{f32([]int{1}, 1), f32([]int{1}, 1)}},
	}
	for _, tt := range cases {
		if _, err := run(t, tt.typ, 16, nil, tt.in...); err == nil {
			t.Errorf("%s accepted invalid inputs %v", tt.typ, tt.in)
		}
	}
	if _, err := run(t, "BitCast", 26, []ops.Attr{intAttr("to", int64(tensor.Int64))}, f32([]int{1}, 1)); err == nil {
		t.Error("BitCast float32 -> int64 accepted")
	}
}

// TestParallelChunks checks the multi-goroutine flat path against the
// naive reference.
func TestParallelChunks(t *testing.T) {
	a, b := seq([]int{3, 1 << 16}, 0), seq([]int{3, 1 << 16}, 5)
	k, err := compile(t, "Sub", 14, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := k.Run(&ops.Ctx{Threads: 4}, []*tensor.Tensor{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if want := naive(t, a, b, func(x, y float32) float32 { return x - y }); !tensor.Equal(out[0], want) {
		t.Error("parallel Sub differs from the reference")
	}
}

func TestCastAttributes(t *testing.T) {
	x := f32([]int{3}, 1.7, -2.2, 300)
	// Cast-1 names the target type with a string.
	got := mustRun(t, "Cast", 1, []ops.Attr{{Name: "to", Type: ops.AttrString, S: []byte("INT32")}}, x)
	if w := tensor.Must([]int{3}, []int32{1, -2, 300}); !tensor.Equal(got, w) {
		t.Errorf("Cast-1 to INT32: got %v, want %v", got, w)
	}
	// 500 is past E4M3FN's 448 (rounding to 512): NaN without saturation.
	got = mustRun(t, "Cast", 19, []ops.Attr{intAttr("to", int64(tensor.Float8E4M3FN)), intAttr("saturate", 0)}, f32([]int{3}, 1.7, -2.2, 500))
	if w := tensor.Must([]int{3}, []tensor.F8E4M3FN{0x3e, 0xc1, 0x7f}); !tensor.Equal(got, w) {
		t.Errorf("Cast-19 saturate=0: got %v, want %v", got, w)
	}
	got = mustRun(t, "CastLike", 25, []ops.Attr{{Name: "round_mode", Type: ops.AttrString, S: []byte("down")}},
		f32([]int{2}, 3, 0.3), tensor.Must([]int{1}, []tensor.F8E8M0{0}))
	if w := tensor.Must([]int{2}, []tensor.F8E8M0{0x80, 0x7d}); !tensor.Equal(got, w) {
		t.Errorf("CastLike round_mode=down: got %v, want %v", got, w)
	}
	if _, err := run(t, "Cast", 25, []ops.Attr{intAttr("to", 99)}, x); err == nil {
		t.Error("Cast to dtype 99 accepted")
	}
	if _, err := run(t, "Cast", 25, []ops.Attr{intAttr("to", 1), {Name: "round_mode", Type: ops.AttrString, S: []byte("sideways")}}, x); err == nil {
		t.Error("round_mode sideways accepted")
	}
	ty, err := inferCastLike(nil, []tensor.Type{tensor.TensorType(tensor.Float32, 2, 3), tensor.TensorType(tensor.Int8)})
	if err != nil || ty[0].DType != tensor.Int8 || len(ty[0].Shape) != 2 {
		t.Errorf("CastLike infer: %v, %v", ty, err)
	}
}

// TestParallelMatchesSerial runs generic-kernel ops on one and on four
// goroutines and wants identical results.
func TestParallelMatchesSerial(t *testing.T) {
	a, b := seq([]int{1 << 17}, -1000), seq(nil, 3)
	for _, tc := range []struct {
		typ string
		in  []*tensor.Tensor
	}{{"Exp", []*tensor.Tensor{a}}, {"Less", []*tensor.Tensor{a, b}}, {"Max", []*tensor.Tensor{b, a}}} {
		k, err := compile(t, tc.typ, 13, nil)
		if err != nil {
			t.Fatal(err)
		}
		one, err1 := k.Run(&ops.Ctx{Threads: 1}, tc.in)
		four, err4 := k.Run(&ops.Ctx{Threads: 4}, tc.in)
		if err1 != nil || err4 != nil {
			t.Fatal(err1, err4)
		}
		if !tensor.Equal(one[0], four[0]) {
			t.Errorf("%s differs between 1 and 4 threads", tc.typ)
		}
	}
}

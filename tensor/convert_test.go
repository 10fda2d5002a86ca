package tensor

import (
	"math"
	"testing"
)

var (
	nan32 = float32(math.NaN())
	inf32 = float32(math.Inf(1))
)

// Expected bit patterns are hand-computed from the format definitions
// (bias, mantissa width, NaN/Inf encodings) and the ONNX Cast tables.
func TestFloat8FromFloat32(t *testing.T) {
	tests := []struct {
		name string
		f    float32
		sat  bool
		e4   uint8 // E4M3FN
		e4uz uint8 // E4M3FNUZ
		e5   uint8 // E5M2
		e5uz uint8 // E5M2FNUZ
	}{
		{"zero", 0, true, 0x00, 0x00, 0x00, 0x00},
		{"neg zero", float32(math.Copysign(0, -1)), true, 0x80, 0x00, 0x80, 0x00},
		{"one", 1, true, 0x38, 0x40, 0x3c, 0x40},
		{"half", 0.5, false, 0x30, 0x38, 0x38, 0x3c},
		{"-2", -2, true, 0xc0, 0xc8, 0xc0, 0xc4},
		{"max e4m3fn", 448, false, 0x7e, 0x80, 0x5f, 0x63},
		{"big sat", 1e6, true, 0x7e, 0x7f, 0x7b, 0x7f},
		{"big nosat", 1e6, false, 0x7f, 0x80, 0x7c, 0x80},
		{"-big sat", -1e6, true, 0xfe, 0xff, 0xfb, 0xff},
		{"-big nosat", -1e6, false, 0xff, 0x80, 0xfc, 0x80},
		{"inf sat", inf32, true, 0x7e, 0x7f, 0x7b, 0x7f},
		{"inf nosat", inf32, false, 0x7f, 0x80, 0x7c, 0x80},
		{"-inf nosat", -inf32, false, 0xff, 0x80, 0xfc, 0x80},
		{"nan", nan32, true, 0x7f, 0x80, 0x7e, 0x80},
		{"tiny", 1e-7, true, 0x00, 0x00, 0x00, 0x00},
		{"-tiny", -1e-7, true, 0x80, 0x00, 0x80, 0x00},
		// 2^-9 is E4M3FN's smallest subnormal; 2^-10 ties to 0, 3*2^-10 to 2*2^-9.
		// In E5M2 they are normal: 2^-9 = exponent 6 (bias 15), 7 (bias 16).
		{"min subnormal", 0x1p-9, true, 0x01, 0x02, 0x18, 0x1c},
		{"tie to zero", 0x1p-10, true, 0x00, 0x01, 0x14, 0x18},
		{"tie up", 3 * 0x1p-10, true, 0x02, 0x03, 0x1a, 0x1e},
		// 1.0625 = 1 + 1/16 ties between 1 and 1.125 (E4M3) -> 1 (even).
		{"tie even", 1.0625, true, 0x38, 0x40, 0x3c, 0x40},
		// 464 ties between 448 (mantissa 110, even) and 480 (the NaN slot): stays 448.
		// In E5M2, 448 = 1.75*2^8; 464 and 465 round to it.
		{"464", 464, false, 0x7e, 0x80, 0x5f, 0x63},
		{"465 nosat", 465, false, 0x7f, 0x80, 0x5f, 0x63},
		// 61440 ties between 57344 and 65536 (even) -> overflow.
		{"61440 nosat", 61440, false, 0x7f, 0x80, 0x7c, 0x80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Float8E4M3FNFromFloat32(tt.f, tt.sat); uint8(got) != tt.e4 {
				t.Errorf("E4M3FN(%g, %v) = %#x, want %#x", tt.f, tt.sat, got, tt.e4)
			}
			if got := Float8E4M3FNUZFromFloat32(tt.f, tt.sat); uint8(got) != tt.e4uz {
				t.Errorf("E4M3FNUZ(%g, %v) = %#x, want %#x", tt.f, tt.sat, got, tt.e4uz)
			}
			if got := Float8E5M2FromFloat32(tt.f, tt.sat); uint8(got) != tt.e5 {
				t.Errorf("E5M2(%g, %v) = %#x, want %#x", tt.f, tt.sat, got, tt.e5)
			}
			if got := Float8E5M2FNUZFromFloat32(tt.f, tt.sat); uint8(got) != tt.e5uz {
				t.Errorf("E5M2FNUZ(%g, %v) = %#x, want %#x", tt.f, tt.sat, got, tt.e5uz)
			}
		})
	}
}

func TestFloat8Decode(t *testing.T) {
	tests := []struct {
		name      string
		got, want float32
	}{
		{"e4m3fn max", F8E4M3FN(0x7e).Float32(), 448},
		{"e4m3fn min subnormal", F8E4M3FN(0x01).Float32(), 0x1p-9},
		{"e4m3fn -1", F8E4M3FN(0xb8).Float32(), -1},
		{"e4m3fnuz max", F8E4M3FNUZ(0x7f).Float32(), 240},
		{"e4m3fnuz 1", F8E4M3FNUZ(0x40).Float32(), 1},
		{"e5m2 max", F8E5M2(0x7b).Float32(), 57344},
		{"e5m2 inf", F8E5M2(0x7c).Float32(), inf32},
		{"e5m2 -inf", F8E5M2(0xfc).Float32(), -inf32},
		{"e5m2fnuz max", F8E5M2FNUZ(0x7f).Float32(), 57344},
		{"e5m2fnuz min subnormal", F8E5M2FNUZ(0x01).Float32(), 0x1p-17},
		{"e8m0 1", F8E8M0(0x7f).Float32(), 1},
		{"e8m0 min", F8E8M0(0x00).Float32(), 0x1p-127},
		{"e8m0 max", F8E8M0(0xfe).Float32(), 0x1p127},
		{"e2m1 6", F4E2M1(0x7).Float32(), 6},
		{"e2m1 -0.5", F4E2M1(0x9).Float32(), -0.5},
		{"e2m1 1.5", F4E2M1(0x3).Float32(), 1.5},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %g, want %g", tt.name, tt.got, tt.want)
		}
	}
	for _, b := range []float32{F8E4M3FN(0x7f).Float32(), F8E4M3FN(0xff).Float32(), F8E4M3FNUZ(0x80).Float32(),
		F8E5M2(0x7e).Float32(), F8E5M2FNUZ(0x80).Float32(), F8E8M0(0xff).Float32()} {
		if b == b {
			t.Errorf("NaN pattern decoded to %g", b)
		}
	}
	// Every finite pattern round-trips through its encoder.
	for b := 0; b < 256; b++ {
		if v := F8E4M3FN(b).Float32(); v == v && Float8E4M3FNFromFloat32(v, false) != F8E4M3FN(b) {
			t.Errorf("e4m3fn %#x -> %g does not round-trip", b, v)
		}
		if v := F8E5M2(b).Float32(); v == v && Float8E5M2FromFloat32(v, false) != F8E5M2(b) {
			t.Errorf("e5m2 %#x -> %g does not round-trip", b, v)
		}
		if v := F8E4M3FNUZ(b).Float32(); v == v && Float8E4M3FNUZFromFloat32(v, false) != F8E4M3FNUZ(b) {
			t.Errorf("e4m3fnuz %#x -> %g does not round-trip", b, v)
		}
		if v := F8E5M2FNUZ(b).Float32(); v == v && Float8E5M2FNUZFromFloat32(v, false) != F8E5M2FNUZ(b) {
			t.Errorf("e5m2fnuz %#x -> %g does not round-trip", b, v)
		}
	}
}

func TestFloat4AndE8M0(t *testing.T) {
	f4 := []struct {
		f    float32
		want F4E2M1
	}{
		{0.25, 0x0}, {0.75, 0x2}, {1.25, 0x2}, {-3.5, 0xe}, {2.5, 0x4}, {100, 0x7}, {-inf32, 0xf}, {nan32, 0x8}, {5, 0x6},
	}
	for _, tt := range f4 {
		if got := Float4E2M1FromFloat32(tt.f); got != tt.want {
			t.Errorf("float4(%g) = %#x, want %#x", tt.f, got, tt.want)
		}
	}
	e8 := []struct {
		f    float32
		sat  bool
		mode E8M0Rounding
		want F8E8M0
	}{
		{0, true, E8M0RoundUp, 0x00},
		{0.124, true, E8M0RoundUp, 0x7c},
		{0.25, true, E8M0RoundUp, 0x7d},
		{1.1, true, E8M0RoundUp, 0x80},
		{1.1, true, E8M0RoundDown, 0x7f},
		{1.4, true, E8M0RoundNearest, 0x7f},
		{1.5, true, E8M0RoundNearest, 0x80},
		{-2, true, E8M0RoundUp, 0x80},
		{nan32, true, E8M0RoundUp, 0xff},
		{inf32, true, E8M0RoundUp, 0xff},
		{0x1.8p127, true, E8M0RoundUp, 0xfe},
		{0x1.8p127, false, E8M0RoundUp, 0xff},
	}
	for _, tt := range e8 {
		if got := Float8E8M0FromFloat32(tt.f, tt.sat, tt.mode); got != tt.want {
			t.Errorf("e8m0(%g, sat=%v, mode=%d) = %#x, want %#x", tt.f, tt.sat, tt.mode, got, tt.want)
		}
	}
}

func TestConvertNumeric(t *testing.T) {
	tests := []struct {
		name string
		src  *Tensor
		want *Tensor
	}{
		{"f32 to i32 truncates", Must([]int{5}, []float32{2.7, -2.7, nan32, 3e9, -0.5}),
			Must([]int{5}, []int32{2, -2, math.MinInt32, math.MinInt32, 0})},
		{"f32 to u8 wraps through int32", Must([]int{3}, []float32{-1, 300, 255.9}), Must([]int{3}, []uint8{255, 44, 255})},
		{"f64 to i64", Must([]int{3}, []float64{1e300, -7.9, math.NaN()}), Must([]int{3}, []int64{math.MinInt64, -7, math.MinInt64})},
		{"f64 to u64", Must([]int{2}, []float64{0x1p63 + 4096, 5}), Must([]int{2}, []uint64{1<<63 + 4096, 5})},
		{"i64 to i8 wraps", Must([]int{3}, []int64{300, -129, 127}), Must([]int{3}, []int8{44, 127, 127})},
		{"u64 to f32", Must([]int{1}, []uint64{math.MaxUint64}), Must([]int{1}, []float32{0x1p64})},
		{"bool to f32", Must([]int{2}, []bool{true, false}), Must([]int{2}, []float32{1, 0})},
		{"f32 to bool", Must([]int{3}, []float32{0, -0.5, nan32}), Must([]int{3}, []bool{false, true, true})},
		{"f32 to int4 wraps", Must([]int{4}, []float32{-9, -8, 8, 15.5}), Must([]int{4}, []I4{7, -8, -8, -1})},
		{"f32 to uint4 wraps", Must([]int{3}, []float32{-1, 16, 7}), Must([]int{3}, []U4{15, 0, 7})},
		{"f32 to int2 wraps", Must([]int{4}, []float32{-3, -2, 2, 3}), Must([]int{4}, []I2{1, -2, -2, -1})},
		{"int4 to i8", Must([]int{2}, []I4{-8, 7}), Must([]int{2}, []int8{-8, 7})},
		{"uint2 to f32", Must([]int{2}, []U2{3, 1}), Must([]int{2}, []float32{3, 1})},
		{"i32 to f16", Must([]int{2}, []int32{2049, -3}), Must([]int{2}, []Float16Bits{0x6800, 0xc200})},
		// 1 + 2^-11 + 2^-40 rounds up directly; through float32 it would tie down to 1.
		{"f64 to f16 rounds once", Must([]int{1}, []float64{1 + 0x1p-11 + 0x1p-40}), Must([]int{1}, []Float16Bits{0x3c01})},
		{"f32 to bf16 ties to even", Must([]int{2}, []float32{math.Float32frombits(0x3f808000), math.Float32frombits(0x3f818000)}),
			Must([]int{2}, []BFloat16Bits{0x3f80, 0x3f82})},
		{"f16 to e4m3fn", Must([]int{2}, []Float16Bits{0x3c00, 0x7c00}), Must([]int{2}, []F8E4M3FN{0x38, 0x7e})},
		{"e5m2 to f16", Must([]int{2}, []F8E5M2{0x3c, 0xfc}), Must([]int{2}, []Float16Bits{0x3c00, 0xfc00})},
		{"e4m3fn to i32", Must([]int{2}, []F8E4M3FN{0x7e, 0xb8}), Must([]int{2}, []int32{448, -1})},
		{"c64 to c128", Must([]int{1}, []complex64{1 + 2i}), Must([]int{1}, []complex128{1 + 2i})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Zeros(tt.want.DType(), tt.want.Shape()...)
			if err := Convert(got, tt.src, true); err != nil {
				t.Fatal(err)
			}
			if !Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConvertStrings(t *testing.T) {
	src := Must([]int{6}, []string{"1.5", "INF", "-inf", "NaN", " 1e-5 ", "+Inf"})
	got := Zeros(Float32, 6)
	if err := Convert(got, src, true); err != nil {
		t.Fatal(err)
	}
	want := Must([]int{6}, []float32{1.5, inf32, -inf32, nan32, 1e-5, inf32})
	if !Equal(got, want) {
		t.Errorf("strings to float32: got %v, want %v", got, want)
	}
	ints := Zeros(Int64, 3)
	if err := Convert(ints, Must([]int{3}, []string{"9007199254740993", "-7", "100.5"}), true); err != nil {
		t.Fatal(err)
	}
	if w := Must([]int{3}, []int64{9007199254740993, -7, 100}); !Equal(ints, w) {
		t.Errorf("strings to int64: got %v, want %v", ints, w)
	}
	if err := Convert(Zeros(Float32, 1), Must([]int{1}, []string{"hello"}), true); err == nil {
		t.Error("parsing \"hello\" succeeded")
	}

	fmts := []struct {
		src  *Tensor
		want []string
	}{
		{Must([]int{8}, []float32{0.1, 1e-5, 100, 1e16, 123456789, inf32, nan32, -2.5}),
			[]string{"0.1", "1e-05", "100.0", "1e+16", "123456790.0", "inf", "nan", "-2.5"}},
		{Must([]int{3}, []float64{0.1, 1.5e300, 0.0001}), []string{"0.1", "1.5e+300", "0.0001"}},
		{Must([]int{2}, []bool{true, false}), []string{"True", "False"}},
		{Must([]int{2}, []int8{-5, 42}), []string{"-5", "42"}},
		{Must([]int{1}, []uint64{math.MaxUint64}), []string{"18446744073709551615"}},
		{Must([]int{2}, []Float16Bits{0x2e66, 0x3c00}), []string{"0.1", "1.0"}},
	}
	for _, tt := range fmts {
		got := Zeros(String, tt.src.Shape()...)
		if err := Convert(got, tt.src, true); err != nil {
			t.Fatal(err)
		}
		for i, s := range Data[string](got) {
			if s != tt.want[i] {
				t.Errorf("%v element %d formats as %q, want %q", tt.src.DType(), i, s, tt.want[i])
			}
		}
	}
}

func TestConvertErrors(t *testing.T) {
	if err := Convert(Zeros(Float32, 2), Zeros(Float32, 3), true); err == nil {
		t.Error("shape mismatch accepted")
	}
	if err := Convert(Zeros(Float32, 1), Zeros(Complex64, 1), true); err == nil {
		t.Error("complex to float accepted")
	}
}

// TestConvertEveryPair converts special values between every pair of
// supported dtypes: every pair except complex <-> real must succeed, and
// integer values must survive a round trip through any wider type.
func TestConvertEveryPair(t *testing.T) {
	var dtypes []DType
	for d := DType(1); d <= Float6E3M2; d++ {
		if d.Supported() {
			dtypes = append(dtypes, d)
		}
	}
	vals := []float64{0, 1, -1, 2, 0.5, -3.75, 100, 1e6, -1e30, math.Inf(1), math.NaN()}
	for _, from := range dtypes {
		if from == String || from == Complex64 || from == Complex128 {
			continue
		}
		src := Zeros(from, len(vals))
		if err := Convert(src, Must([]int{len(vals)}, vals), true); err != nil {
			t.Fatalf("float64 -> %v: %v", from, err)
		}
		for _, to := range dtypes {
			dst := Zeros(to, len(vals))
			err := Convert(dst, src, false)
			complexPair := (to == Complex64 || to == Complex128) != (from == Complex64 || from == Complex128)
			if (err != nil) != complexPair {
				t.Errorf("%v -> %v: err = %v", from, to, err)
			}
		}
	}
	strs := Must([]int{4}, []string{"1", "-2.5", "inf", "nan"})
	for _, to := range dtypes {
		err := Convert(Zeros(to, 4), strs, true)
		if (err != nil) != (to == Complex64 || to == Complex128) {
			t.Errorf("string -> %v: err = %v", to, err)
		}
	}
	// Small integers round-trip through every numeric dtype that holds them.
	ints := Must([]int{3}, []int8{1, 0, -1})
	for _, via := range dtypes {
		if via == Bool || via == String || via == Complex64 || via == Complex128 || !via.IsSigned() && via.IsInt() || via == Float8E8M0 {
			continue
		}
		mid := Zeros(via, 3)
		back := Zeros(Int8, 3)
		if err := Convert(mid, ints, true); err != nil {
			t.Fatal(err)
		}
		if err := Convert(back, mid, true); err != nil {
			t.Fatal(err)
		}
		if !Equal(back, ints) {
			t.Errorf("int8 through %v: got %v", via, back)
		}
	}
}

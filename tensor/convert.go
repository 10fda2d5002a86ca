package tensor

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file converts elements between every dtype gort holds, as ONNX Cast
// defines it (opset 25): floats round to nearest even; float8 formats
// saturate or overflow to NaN/Inf per the saturate flag; float4 always
// saturates; floats convert to integers by truncation toward zero (NaN and
// out-of-range values follow the x86 conversion NumPy uses: through int32
// for types up to 32 bits, int64 otherwise); integers convert to narrower
// integers (int4, uint2, ...) by wrapping; strings parse as decimal or
// scientific numbers ("1e-5", "INF", "-inf", "NaN") and numbers format as
// Python/NumPy print them ("0.1", "1e-05", "inf", "True").

// E8M0Rounding is the rounding mode for conversions to float8e8m0 (Cast's
// round_mode attribute).
type E8M0Rounding int

// Rounding modes for float8e8m0.
const (
	E8M0RoundUp      E8M0Rounding = iota // any fraction rounds away from zero ("up", the default)
	E8M0RoundDown                        // fractions are dropped ("down")
	E8M0RoundNearest                     // nearest power of two, ties up ("nearest")
)

// ParseE8M0Rounding maps Cast's round_mode attribute ("up", "down", "nearest") to a mode.
func ParseE8M0Rounding(s string) (E8M0Rounding, error) {
	switch s {
	case "up":
		return E8M0RoundUp, nil
	case "down":
		return E8M0RoundDown, nil
	case "nearest":
		return E8M0RoundNearest, nil
	}
	return 0, fmt.Errorf("tensor: round_mode %q is not one of up, down, nearest", s)
}

// minifloat describes a small binary floating-point format for rounding:
// man mantissa bits, exponent bias, largest finite value and its bits, and
// the NaN / Inf encodings (without sign).
type minifloat struct {
	man     int
	bias    int
	max     float64
	maxBits uint16
	sign    uint16 // sign bit
	nan     uint16 // NaN bits; for uz formats the whole pattern (no sign)
	inf     uint16 // 0 when the format has no infinity
	uz      bool   // no negative zero; NaN is the negative-zero pattern
	satAll  bool   // always saturates (float4)
	nanFix  bool   // NaN converts to nan exactly, whatever its sign (float4)
}

var (
	fmtE4M3FN   = minifloat{man: 3, bias: 7, max: 448, maxBits: 0x7e, sign: 0x80, nan: 0x7f}
	fmtE4M3FNUZ = minifloat{man: 3, bias: 8, max: 240, maxBits: 0x7f, sign: 0x80, nan: 0x80, uz: true}
	fmtE5M2     = minifloat{man: 2, bias: 15, max: 57344, maxBits: 0x7b, sign: 0x80, nan: 0x7e, inf: 0x7c}
	fmtE5M2FNUZ = minifloat{man: 2, bias: 16, max: 57344, maxBits: 0x7f, sign: 0x80, nan: 0x80, uz: true}
	// float4 has no NaN or Inf: it saturates, and NaN becomes -0 as ml_dtypes does.
	fmtE2M1 = minifloat{man: 1, bias: 1, max: 6, maxBits: 0x7, sign: 0x8, nan: 0x8, satAll: true, nanFix: true}
	fmtHalf = minifloat{man: 10, bias: 15, max: 65504, maxBits: 0x7bff, sign: 0x8000, nan: 0x7e00, inf: 0x7c00}
	fmtBF16 = minifloat{man: 7, bias: 127, max: 0x1.fep127, maxBits: 0x7f7f, sign: 0x8000, nan: 0x7fc0, inf: 0x7f80}
)

// round encodes f in the format with round-to-nearest-even. Values beyond
// the largest finite value saturate when sat (or the format always
// saturates), else become Inf where the format has one, NaN otherwise.
func (m *minifloat) round(f float64, sat bool) uint16 {
	sat = sat || m.satAll
	var sign uint16
	if math.Signbit(f) {
		sign = m.sign
	}
	nan := m.nan
	if !m.uz && !m.nanFix {
		nan |= sign
	}
	if f != f {
		return nan
	}
	a := math.Abs(f)
	if a == 0 {
		if m.uz {
			return 0
		}
		return sign
	}
	if math.IsInf(a, 1) {
		switch {
		case sat:
			return sign | m.maxBits
		case m.inf != 0:
			return sign | m.inf
		}
		return nan
	}
	_, ex := math.Frexp(a)
	e := ex - 1 // a = 1.x * 2^e
	emin := 1 - m.bias
	if e < emin {
		e = emin
	}
	r := math.RoundToEven(math.Ldexp(a, m.man-e)) // a in units of the last mantissa bit
	if math.Ldexp(r, e-m.man) > m.max {
		switch {
		case sat:
			return sign | m.maxBits
		case m.inf != 0:
			return sign | m.inf
		}
		return nan
	}
	if r == 0 {
		if m.uz {
			return 0
		}
		return sign
	}
	one := float64(uint(1) << m.man)
	if r >= 2*one { // rounding carried into the next binade
		r /= 2
		e++
	}
	if r < one { // subnormal: exponent field 0
		return sign | uint16(r)
	}
	return sign | uint16(e+m.bias)<<m.man | uint16(r-one)
}

// decodeTable builds the value of every 8-bit (or smaller) pattern.
func decodeTable(n int, expBits, man, bias int, isNaN func(b int) bool, isInf func(b int) bool) []float32 {
	t := make([]float32, n)
	signBit := 1 << (expBits + man)
	for b := 0; b < n; b++ {
		mag := b &^ signBit
		s := 1.0
		if b&signBit != 0 {
			s = -1
		}
		e := mag >> man
		mm := mag & (1<<man - 1)
		var v float64
		switch {
		case isNaN(b):
			v = math.NaN()
		case isInf(b):
			v = math.Inf(int(s))
		case e == 0:
			v = s * math.Ldexp(float64(mm), 1-bias-man)
		default:
			v = s * math.Ldexp(float64(mm|1<<man), e-bias-man)
		}
		t[b] = float32(v)
	}
	return t
}

func never(int) bool { return false }

var (
	tabE4M3FN   = decodeTable(256, 4, 3, 7, func(b int) bool { return b&0x7f == 0x7f }, never)
	tabE4M3FNUZ = decodeTable(256, 4, 3, 8, func(b int) bool { return b == 0x80 }, never)
	tabE5M2     = decodeTable(256, 5, 2, 15, func(b int) bool { return b&0x7f > 0x7c }, func(b int) bool { return b&0x7f == 0x7c })
	tabE5M2FNUZ = decodeTable(256, 5, 2, 16, func(b int) bool { return b == 0x80 }, never)
	tabE2M1     = decodeTable(16, 2, 1, 1, never, never)
)

// Float8E4M3FNFromFloat32 rounds f to float8e4m3fn (ties to even). Out-of-range
// values and ±Inf become ±448 when saturate, NaN otherwise.
func Float8E4M3FNFromFloat32(f float32, saturate bool) F8E4M3FN {
	return F8E4M3FN(fmtE4M3FN.round(float64(f), saturate))
}

// Float8E4M3FNUZFromFloat32 rounds f to float8e4m3fnuz (ties to even; -0 becomes 0).
// Out-of-range values and ±Inf become ±240 when saturate, NaN otherwise.
func Float8E4M3FNUZFromFloat32(f float32, saturate bool) F8E4M3FNUZ {
	return F8E4M3FNUZ(fmtE4M3FNUZ.round(float64(f), saturate))
}

// Float8E5M2FromFloat32 rounds f to float8e5m2 (ties to even). Out-of-range
// values and ±Inf become ±57344 when saturate, ±Inf otherwise.
func Float8E5M2FromFloat32(f float32, saturate bool) F8E5M2 {
	return F8E5M2(fmtE5M2.round(float64(f), saturate))
}

// Float8E5M2FNUZFromFloat32 rounds f to float8e5m2fnuz (ties to even; -0 becomes 0).
// Out-of-range values and ±Inf become ±57344 when saturate, NaN otherwise.
func Float8E5M2FNUZFromFloat32(f float32, saturate bool) F8E5M2FNUZ {
	return F8E5M2FNUZ(fmtE5M2FNUZ.round(float64(f), saturate))
}

// Float4E2M1FromFloat32 rounds f to float4e2m1 (ties to even), saturating at ±6.
func Float4E2M1FromFloat32(f float32) F4E2M1 { return F4E2M1(fmtE2M1.round(float64(f), true)) }

// Float8E8M0FromFloat32 converts |f| to float8e8m0 (a power of two 2^(e-127))
// from f's float32 exponent, rounding the mantissa by mode. NaN and ±Inf
// become NaN (0xff); with saturate, rounding never carries past 2^127.
func Float8E8M0FromFloat32(f float32, saturate bool, mode E8M0Rounding) F8E8M0 {
	b := math.Float32bits(f)
	e := (b >> 23) & 0xff
	if e == 0xff {
		return 0xff
	}
	up := false
	switch mode {
	case E8M0RoundUp:
		up = b&0x7fffff != 0
	case E8M0RoundNearest:
		g := b&0x400000 != 0
		rest := b&0x3fffff != 0
		up = g && (rest || e > 0)
	}
	if up && !(saturate && e == 0xfe) {
		e++
	}
	return F8E8M0(e)
}

// Float32 widens the value exactly.
func (v F8E4M3FN) Float32() float32 { return tabE4M3FN[v] }

// Float32 widens the value exactly.
func (v F8E4M3FNUZ) Float32() float32 { return tabE4M3FNUZ[v] }

// Float32 widens the value exactly.
func (v F8E5M2) Float32() float32 { return tabE5M2[v] }

// Float32 widens the value exactly.
func (v F8E5M2FNUZ) Float32() float32 { return tabE5M2FNUZ[v] }

// Float32 widens the value exactly (only the low nibble is read).
func (v F4E2M1) Float32() float32 { return tabE2M1[v&0xf] }

// Float32 returns 2^(v-127), or NaN for 0xff.
func (v F8E8M0) Float32() float32 {
	if v == 0xff {
		return float32(math.NaN())
	}
	if v == 0 {
		return math.Float32frombits(0x400000) // 2^-127 is subnormal in float32
	}
	return math.Float32frombits(uint32(v) << 23)
}

// Float16FromFloat64 rounds f to half precision directly (no double rounding through float32).
func Float16FromFloat64(f float64) Float16Bits { return Float16Bits(fmtHalf.round(f, false)) }

// BFloat16FromFloat64 rounds f to bfloat16 directly (no double rounding through float32).
func BFloat16FromFloat64(f float64) BFloat16Bits { return BFloat16Bits(fmtBF16.round(f, false)) }

// Int4 / Int2 wrapping: keep the low bits and sign-extend.

// I4FromInt64 wraps v to a signed 4-bit integer (v mod 16 in [-8, 8)).
func I4FromInt64(v int64) I4 { return I4(int8(v<<4) >> 4) }

// U4FromInt64 wraps v to an unsigned 4-bit integer (v mod 16).
func U4FromInt64(v int64) U4 { return U4(v & 0xf) }

// I2FromInt64 wraps v to a signed 2-bit integer (v mod 4 in [-2, 2)).
func I2FromInt64(v int64) I2 { return I2(int8(v<<6) >> 6) }

// U2FromInt64 wraps v to an unsigned 2-bit integer (v mod 4).
func U2FromInt64(v int64) U2 { return U2(v & 0x3) }

// TruncInt64 converts f to int64 by truncation toward zero; NaN and values
// outside the int64 range give math.MinInt64 (the x86 conversion result).
func TruncInt64(f float64) int64 {
	if f != f || f >= 0x1p63 || f < -0x1p63 {
		return math.MinInt64
	}
	return int64(f)
}

// TruncInt32 converts f to int32 by truncation toward zero; NaN and values
// outside the int32 range give math.MinInt32 (the x86 conversion result).
func TruncInt32(f float64) int32 {
	if f != f || f >= 0x1p31 || f <= -0x1p31-1 {
		return math.MinInt32
	}
	return int32(f)
}

// TruncUint64 converts f to uint64 as NumPy does on x86: values >= 2^63 go
// through an offset, negative values wrap, NaN and overflow give 2^63.
func TruncUint64(f float64) uint64 {
	if f >= 0x1p63 && f < 0x1p64 {
		return uint64(TruncInt64(f-0x1p63)) ^ 1<<63
	}
	return uint64(TruncInt64(f))
}

// ParseNumber parses an ONNX Cast string: decimal or scientific notation,
// "INF"/"+INF"/"-INF"/"NaN" in any case, surrounding spaces ignored.
func ParseNumber(s string) (float64, error) {
	t := strings.TrimSpace(s)
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, nil // ±Inf or ±0, as C's strtod gives
		}
		return 0, fmt.Errorf("tensor: cannot parse %q as a number", s)
	}
	return f, nil
}

// FormatFloat formats f as Python's repr of a float of the given bit size
// (16, 32 or 64): the shortest digits that round-trip, positional notation
// with a ".0" for 1e-4 <= |f| < 1e16, scientific ("1e-05", "1.5e+20")
// otherwise; "inf", "-inf", "nan".
func FormatFloat(f float64, bits int) string {
	switch {
	case f != f:
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	var digits string // "d.ddde±XX" with shortest digits
	switch bits {
	case 32, 64:
		digits = strconv.FormatFloat(f, 'e', -1, bits)
	default:
		// Shortest digits that round back to the same 16-bit (or smaller) value.
		h := Float16FromFloat64(f)
		for p := 0; p < 17; p++ {
			digits = strconv.FormatFloat(f, 'e', p, 64)
			g, _ := strconv.ParseFloat(digits, 64)
			if Float16FromFloat64(g) == h {
				break
			}
		}
	}
	mant, expS, _ := strings.Cut(digits, "e")
	exp, _ := strconv.Atoi(expS)
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	ds := strings.Replace(mant, ".", "", 1)
	ds = strings.TrimRight(ds, "0")
	if ds == "" {
		ds = "0"
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	if f == 0 || (exp >= -4 && exp < 16) {
		switch {
		case f == 0:
			b.WriteString("0.0")
		case exp < 0:
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", -exp-1))
			b.WriteString(ds)
		case len(ds) <= exp+1:
			b.WriteString(ds)
			b.WriteString(strings.Repeat("0", exp+1-len(ds)))
			b.WriteString(".0")
		default:
			b.WriteString(ds[:exp+1])
			b.WriteByte('.')
			b.WriteString(ds[exp+1:])
		}
		return b.String()
	}
	b.WriteByte(ds[0])
	if len(ds) > 1 {
		b.WriteByte('.')
		b.WriteString(ds[1:])
	}
	b.WriteByte('e')
	if exp < 0 {
		b.WriteByte('-')
		exp = -exp
	} else {
		b.WriteByte('+')
	}
	if exp < 10 {
		b.WriteByte('0')
	}
	b.WriteString(strconv.Itoa(exp))
	return b.String()
}

// Convert writes src's elements, converted to dst's dtype, into dst (same
// shape). saturate is Cast's flag for float8 targets; float8e8m0 targets
// round up (Cast's default round_mode). It fails on a shape mismatch, on
// complex to or from a non-complex dtype, and on strings that do not parse.
func Convert(dst, src *Tensor, saturate bool) error {
	return ConvertRound(dst, src, saturate, E8M0RoundUp)
}

// ConvertRound is Convert with the rounding mode for float8e8m0 targets.
func ConvertRound(dst, src *Tensor, saturate bool, mode E8M0Rounding) error {
	if !SameShape(dst.shape, src.shape) {
		return fmt.Errorf("%w: convert %v to %v: shapes differ", ErrShape, src.shape, dst.shape)
	}
	if dst.dtype == src.dtype {
		copyAny(dst.data, src.data)
		return nil
	}
	if castNative(dst.data, src.data) || castHalf(dst.data, src.data) {
		return nil
	}
	cv := converter{sat: saturate, mode: mode}
	switch {
	case src.dtype == String:
		return cv.fromStrings(dst, src.data.([]string))
	case dst.dtype == String:
		return cv.toStrings(dst.data.([]string), src)
	case src.dtype == Complex64 || src.dtype == Complex128 || dst.dtype == Complex64 || dst.dtype == Complex128:
		return cv.complex(dst, src)
	}
	n := src.Len()
	var fbuf [256]float64
	var ibuf [256]int64
	srcFloat := src.dtype.IsFloat()
	unsigned := !srcFloat && src.dtype != Bool && !src.dtype.IsSigned()
	for off := 0; off < n; off += len(fbuf) {
		k := min(len(fbuf), n-off)
		if srcFloat {
			readFloats(fbuf[:k], src.data, off)
			cv.writeFloats(dst.data, off, fbuf[:k])
		} else {
			readInts(ibuf[:k], src.data, off)
			cv.writeInts(dst.data, off, ibuf[:k], unsigned, fbuf[:k])
		}
	}
	return nil
}

type converter struct {
	sat  bool
	mode E8M0Rounding
}

// castNative converts between Go's native numeric types directly; floats
// convert to integers by truncation with x86 out-of-range results.
func castNative(dst, src any) bool {
	switch s := src.(type) {
	case []float32:
		return castFrom(dst, s, true)
	case []float64:
		return castFrom(dst, s, true)
	case []int8:
		return castFrom(dst, s, false)
	case []int16:
		return castFrom(dst, s, false)
	case []int32:
		return castFrom(dst, s, false)
	case []int64:
		return castFrom(dst, s, false)
	case []uint8:
		return castFrom(dst, s, false)
	case []uint16:
		return castFrom(dst, s, false)
	case []uint32:
		return castFrom(dst, s, false)
	case []uint64:
		return castFrom(dst, s, false)
	case []bool:
		return castBool(dst, s)
	}
	return false
}

func castFrom[S Number](dst any, s []S, isFloat bool) bool {
	switch d := dst.(type) {
	case []float32:
		numCast(d, s)
	case []float64:
		numCast(d, s)
	case []int8:
		intCast(d, s, isFloat, true)
	case []int16:
		intCast(d, s, isFloat, true)
	case []int32:
		intCast(d, s, isFloat, true)
	case []int64:
		intCast(d, s, isFloat, false)
	case []uint8:
		intCast(d, s, isFloat, true)
	case []uint16:
		intCast(d, s, isFloat, true)
	case []uint32:
		intCast(d, s, isFloat, false)
	case []uint64:
		if isFloat {
			for i, v := range s {
				d[i] = TruncUint64(float64(v))
			}
		} else {
			numCast(d, s)
		}
	case []bool:
		for i, v := range s {
			d[i] = v != 0
		}
	default:
		return false
	}
	return true
}

func numCast[S, D Number](d []D, s []S) {
	for i, v := range s {
		d[i] = D(v)
	}
}

// intCast converts to an integer type; from floats it truncates through
// int32 (via32) or int64 and wraps, as C on x86 does.
func intCast[S Number, D Integer](d []D, s []S, isFloat, via32 bool) {
	switch {
	case !isFloat:
		numCast(d, s)
	case via32:
		for i, v := range s {
			d[i] = D(TruncInt32(float64(v)))
		}
	default:
		for i, v := range s {
			d[i] = D(TruncInt64(float64(v)))
		}
	}
}

func castBool(dst any, s []bool) bool {
	switch d := dst.(type) {
	case []float32:
		boolCast(d, s)
	case []float64:
		boolCast(d, s)
	case []int8:
		boolCast(d, s)
	case []int16:
		boolCast(d, s)
	case []int32:
		boolCast(d, s)
	case []int64:
		boolCast(d, s)
	case []uint8:
		boolCast(d, s)
	case []uint16:
		boolCast(d, s)
	case []uint32:
		boolCast(d, s)
	case []uint64:
		boolCast(d, s)
	default:
		return false
	}
	return true
}

func boolCast[D Number](d []D, s []bool) {
	for i, v := range s {
		if v {
			d[i] = 1
		} else {
			d[i] = 0
		}
	}
}

// castHalf covers the hot float32 <-> float16/bfloat16 conversions.
func castHalf(dst, src any) bool {
	switch s := src.(type) {
	case []float32:
		switch d := dst.(type) {
		case []Float16Bits:
			for i, v := range s {
				d[i] = Float16FromFloat32(v)
			}
			return true
		case []BFloat16Bits:
			for i, v := range s {
				d[i] = BFloat16FromFloat32(v)
			}
			return true
		}
	case []Float16Bits:
		if d, ok := dst.([]float32); ok {
			for i, v := range s {
				d[i] = v.Float32()
			}
			return true
		}
	case []BFloat16Bits:
		if d, ok := dst.([]float32); ok {
			for i, v := range s {
				d[i] = v.Float32()
			}
			return true
		}
	}
	return false
}

// readFloats widens src[off:off+len(buf)] of a floating-point dtype into buf (exact).
func readFloats(buf []float64, src any, off int) {
	switch s := src.(type) {
	case []float32:
		widen(buf, s[off:], func(v float32) float64 { return float64(v) })
	case []float64:
		copy(buf, s[off:])
	case []Float16Bits:
		widen(buf, s[off:], func(v Float16Bits) float64 { return float64(v.Float32()) })
	case []BFloat16Bits:
		widen(buf, s[off:], func(v BFloat16Bits) float64 { return float64(v.Float32()) })
	case []F8E4M3FN:
		widen(buf, s[off:], func(v F8E4M3FN) float64 { return float64(v.Float32()) })
	case []F8E4M3FNUZ:
		widen(buf, s[off:], func(v F8E4M3FNUZ) float64 { return float64(v.Float32()) })
	case []F8E5M2:
		widen(buf, s[off:], func(v F8E5M2) float64 { return float64(v.Float32()) })
	case []F8E5M2FNUZ:
		widen(buf, s[off:], func(v F8E5M2FNUZ) float64 { return float64(v.Float32()) })
	case []F8E8M0:
		widen(buf, s[off:], func(v F8E8M0) float64 { return float64(v.Float32()) })
	case []F4E2M1:
		widen(buf, s[off:], func(v F4E2M1) float64 { return float64(v.Float32()) })
	default:
		panic(fmt.Sprintf("tensor: readFloats of %T", src))
	}
}

func widen[S, D any](buf []D, s []S, f func(S) D) {
	for i := range buf {
		buf[i] = f(s[i])
	}
}

// readInts reads src[off:off+len(buf)] of an integer or bool dtype into buf
// (uint64 as its bit pattern).
func readInts(buf []int64, src any, off int) {
	switch s := src.(type) {
	case []int8:
		widenInt(buf, s[off:])
	case []int16:
		widenInt(buf, s[off:])
	case []int32:
		widenInt(buf, s[off:])
	case []int64:
		copy(buf, s[off:])
	case []uint8:
		widenInt(buf, s[off:])
	case []uint16:
		widenInt(buf, s[off:])
	case []uint32:
		widenInt(buf, s[off:])
	case []uint64:
		widenInt(buf, s[off:])
	case []I4:
		widenInt(buf, s[off:])
	case []U4:
		widenInt(buf, s[off:])
	case []I2:
		widenInt(buf, s[off:])
	case []U2:
		widenInt(buf, s[off:])
	case []bool:
		widen(buf, s[off:], func(v bool) int64 {
			if v {
				return 1
			}
			return 0
		})
	default:
		panic(fmt.Sprintf("tensor: readInts of %T", src))
	}
}

func widenInt[S Integer | I4 | U4 | I2 | U2](buf []int64, s []S) {
	for i := range buf {
		buf[i] = int64(s[i])
	}
}

// writeFloats converts buf (exact values of a float source) into dst[off:].
func (cv converter) writeFloats(dst any, off int, buf []float64) {
	switch d := dst.(type) {
	case []float32:
		narrow(d[off:], buf, func(v float64) float32 { return float32(v) })
	case []float64:
		copy(d[off:], buf)
	case []Float16Bits:
		narrow(d[off:], buf, Float16FromFloat64)
	case []BFloat16Bits:
		narrow(d[off:], buf, BFloat16FromFloat64)
	case []F8E4M3FN:
		narrow(d[off:], buf, func(v float64) F8E4M3FN { return F8E4M3FN(fmtE4M3FN.round(v, cv.sat)) })
	case []F8E4M3FNUZ:
		narrow(d[off:], buf, func(v float64) F8E4M3FNUZ { return F8E4M3FNUZ(fmtE4M3FNUZ.round(v, cv.sat)) })
	case []F8E5M2:
		narrow(d[off:], buf, func(v float64) F8E5M2 { return F8E5M2(fmtE5M2.round(v, cv.sat)) })
	case []F8E5M2FNUZ:
		narrow(d[off:], buf, func(v float64) F8E5M2FNUZ { return F8E5M2FNUZ(fmtE5M2FNUZ.round(v, cv.sat)) })
	case []F8E8M0:
		narrow(d[off:], buf, func(v float64) F8E8M0 { return Float8E8M0FromFloat32(float32(v), cv.sat, cv.mode) })
	case []F4E2M1:
		narrow(d[off:], buf, func(v float64) F4E2M1 { return F4E2M1(fmtE2M1.round(v, true)) })
	case []bool:
		narrow(d[off:], buf, func(v float64) bool { return v != 0 })
	case []int64:
		narrow(d[off:], buf, TruncInt64)
	case []uint64:
		narrow(d[off:], buf, TruncUint64)
	case []int32:
		narrow(d[off:], buf, TruncInt32)
	case []uint32:
		narrow(d[off:], buf, func(v float64) uint32 { return uint32(TruncInt64(v)) })
	case []int16:
		narrow(d[off:], buf, func(v float64) int16 { return int16(TruncInt32(v)) })
	case []uint16:
		narrow(d[off:], buf, func(v float64) uint16 { return uint16(TruncInt32(v)) })
	case []int8:
		narrow(d[off:], buf, func(v float64) int8 { return int8(TruncInt32(v)) })
	case []uint8:
		narrow(d[off:], buf, func(v float64) uint8 { return uint8(TruncInt32(v)) })
	case []I4:
		narrow(d[off:], buf, func(v float64) I4 { return I4FromInt64(int64(TruncInt32(v))) })
	case []U4:
		narrow(d[off:], buf, func(v float64) U4 { return U4FromInt64(int64(TruncInt32(v))) })
	case []I2:
		narrow(d[off:], buf, func(v float64) I2 { return I2FromInt64(int64(TruncInt32(v))) })
	case []U2:
		narrow(d[off:], buf, func(v float64) U2 { return U2FromInt64(int64(TruncInt32(v))) })
	default:
		panic(fmt.Sprintf("tensor: writeFloats to %T", dst))
	}
}

func narrow[D any](d []D, buf []float64, f func(float64) D) {
	for i, v := range buf {
		d[i] = f(v)
	}
}

// writeInts converts buf (integers; unsigned means uint64 bit patterns) into
// dst[off:]: integers wrap, floats round to nearest. fbuf is scratch of len(buf).
func (cv converter) writeInts(dst any, off int, buf []int64, unsigned bool, fbuf []float64) {
	switch d := dst.(type) {
	case []int8:
		narrowInt(d[off:], buf)
	case []int16:
		narrowInt(d[off:], buf)
	case []int32:
		narrowInt(d[off:], buf)
	case []int64:
		copy(d[off:], buf)
	case []uint8:
		narrowInt(d[off:], buf)
	case []uint16:
		narrowInt(d[off:], buf)
	case []uint32:
		narrowInt(d[off:], buf)
	case []uint64:
		narrowInt(d[off:], buf)
	case []I4:
		for i, v := range buf {
			d[off+i] = I4FromInt64(v)
		}
	case []U4:
		for i, v := range buf {
			d[off+i] = U4FromInt64(v)
		}
	case []I2:
		for i, v := range buf {
			d[off+i] = I2FromInt64(v)
		}
	case []U2:
		for i, v := range buf {
			d[off+i] = U2FromInt64(v)
		}
	case []bool:
		for i, v := range buf {
			d[off+i] = v != 0
		}
	case []float32:
		// Round once from the integer (an int64 through float64 could round twice).
		for i, v := range buf {
			if unsigned {
				d[off+i] = float32(uint64(v))
			} else {
				d[off+i] = float32(v)
			}
		}
	default:
		for i, v := range buf {
			if unsigned {
				fbuf[i] = float64(uint64(v))
			} else {
				fbuf[i] = float64(v)
			}
		}
		cv.writeFloats(dst, off, fbuf)
	}
}

func narrowInt[D Integer](d []D, buf []int64) {
	for i, v := range buf {
		d[i] = D(v)
	}
}

// fromStrings parses each string (see ParseNumber) and converts the number.
// Integer targets parse integers exactly when the string is one.
func (cv converter) fromStrings(dst *Tensor, src []string) error {
	if d, ok := dst.data.([]bool); ok {
		for i, s := range src {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "true":
				d[i] = true
				continue
			case "false", "":
				d[i] = false
				continue
			}
			f, err := ParseNumber(s)
			if err != nil {
				return err
			}
			d[i] = f != 0
		}
		return nil
	}
	if dst.dtype.IsInt() {
		buf := make([]int64, 1)
		fbuf := make([]float64, 1)
		for i, s := range src {
			t := strings.TrimSpace(s)
			if v, err := strconv.ParseInt(t, 10, 64); err == nil {
				buf[0] = v
				cv.writeInts(dst.data, i, buf, false, fbuf)
				continue
			}
			if v, err := strconv.ParseUint(t, 10, 64); err == nil {
				buf[0] = int64(v)
				cv.writeInts(dst.data, i, buf, true, fbuf)
				continue
			}
			f, err := ParseNumber(s)
			if err != nil {
				return err
			}
			fbuf[0] = f
			cv.writeFloats(dst.data, i, fbuf)
		}
		return nil
	}
	if dst.dtype == Complex64 || dst.dtype == Complex128 {
		return fmt.Errorf("tensor: cannot convert string to %v", dst.dtype)
	}
	var fbuf [256]float64
	for off := 0; off < len(src); off += len(fbuf) {
		k := min(len(fbuf), len(src)-off)
		for i := range k {
			f, err := ParseNumber(src[off+i])
			if err != nil {
				return err
			}
			fbuf[i] = f
		}
		cv.writeFloats(dst.data, off, fbuf[:k])
	}
	return nil
}

// toStrings formats each element as NumPy's astype(str) does.
func (cv converter) toStrings(d []string, src *Tensor) error {
	switch s := src.data.(type) {
	case []bool:
		for i, v := range s {
			if v {
				d[i] = "True"
			} else {
				d[i] = "False"
			}
		}
		return nil
	case []float32:
		for i, v := range s {
			d[i] = FormatFloat(float64(v), 32)
		}
		return nil
	case []float64:
		for i, v := range s {
			d[i] = FormatFloat(v, 64)
		}
		return nil
	case []complex64, []complex128:
		return fmt.Errorf("tensor: cannot convert %v to string", src.dtype)
	}
	n := src.Len()
	var fbuf [256]float64
	var ibuf [256]int64
	for off := 0; off < n; off += len(fbuf) {
		k := min(len(fbuf), n-off)
		if src.dtype.IsFloat() {
			readFloats(fbuf[:k], src.data, off)
			for i, v := range fbuf[:k] {
				d[off+i] = FormatFloat(v, 16)
			}
			continue
		}
		readInts(ibuf[:k], src.data, off)
		for i, v := range ibuf[:k] {
			if src.dtype == Uint64 {
				d[off+i] = strconv.FormatUint(uint64(v), 10)
			} else {
				d[off+i] = strconv.FormatInt(v, 10)
			}
		}
	}
	return nil
}

// complex converts between complex64 and complex128; other pairs are errors.
func (cv converter) complex(dst, src *Tensor) error {
	switch s := src.data.(type) {
	case []complex64:
		if d, ok := dst.data.([]complex128); ok {
			for i, v := range s {
				d[i] = complex128(v)
			}
			return nil
		}
	case []complex128:
		if d, ok := dst.data.([]complex64); ok {
			for i, v := range s {
				d[i] = complex64(v)
			}
			return nil
		}
	}
	return fmt.Errorf("tensor: cannot convert %v to %v", src.dtype, dst.dtype)
}

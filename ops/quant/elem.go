package quant

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// chunk is how many elements a kernel converts at a time through a stack buffer.
const chunk = 256

// quantRange is the saturation range of each integer quantized dtype.
var quantRange = map[tensor.DType][2]float64{
	tensor.Uint8: {0, 255}, tensor.Int8: {-128, 127},
	tensor.Uint16: {0, 65535}, tensor.Int16: {-32768, 32767},
	tensor.Uint4: {0, 15}, tensor.Int4: {-8, 7},
	tensor.Uint2: {0, 3}, tensor.Int2: {-2, 1},
}

// floatQuant reports the quantized dtypes that are small floats.
func floatQuant(d tensor.DType) bool {
	switch d {
	case tensor.Float8E4M3FN, tensor.Float8E4M3FNUZ, tensor.Float8E5M2, tensor.Float8E5M2FNUZ, tensor.Float4E2M1:
		return true
	}
	return false
}

// quantDType reports whether d is a dtype QuantizeLinear can produce.
func quantDType(d tensor.DType) bool {
	_, isInt := quantRange[d]
	return isInt || floatQuant(d)
}

// readF64 widens src[off:off+len(dst)] exactly into dst. src is the raw
// slice of a numeric tensor of any dtype gort quantizes to or from.
func readF64(dst []float64, src any, off int) {
	switch s := src.(type) {
	case []float32:
		widen(dst, s[off:])
	case []float64:
		copy(dst, s[off:])
	case []int8:
		widen(dst, s[off:])
	case []uint8:
		widen(dst, s[off:])
	case []int16:
		widen(dst, s[off:])
	case []uint16:
		widen(dst, s[off:])
	case []int32:
		widen(dst, s[off:])
	case []int64:
		widen(dst, s[off:])
	case []tensor.I4:
		widen(dst, s[off:])
	case []tensor.U4:
		widen(dst, s[off:])
	case []tensor.I2:
		widen(dst, s[off:])
	case []tensor.U2:
		widen(dst, s[off:])
	case []tensor.Float16Bits:
		widenF(dst, s[off:])
	case []tensor.BFloat16Bits:
		widenF(dst, s[off:])
	case []tensor.F8E4M3FN:
		widenF(dst, s[off:])
	case []tensor.F8E4M3FNUZ:
		widenF(dst, s[off:])
	case []tensor.F8E5M2:
		widenF(dst, s[off:])
	case []tensor.F8E5M2FNUZ:
		widenF(dst, s[off:])
	case []tensor.F8E8M0:
		widenF(dst, s[off:])
	case []tensor.F4E2M1:
		widenF(dst, s[off:])
	default:
		panic(fmt.Sprintf("quant: readF64 of %T", src)) // dtypes are checked before
	}
}

// readable reports whether readF64 accepts tensors of dtype d.
func readable(d tensor.DType) bool {
	switch d {
	case tensor.Float32, tensor.Float64, tensor.Int8, tensor.Uint8, tensor.Int16, tensor.Uint16,
		tensor.Int32, tensor.Int64, tensor.Int4, tensor.Uint4, tensor.Int2, tensor.Uint2,
		tensor.Float16, tensor.BFloat16, tensor.Float8E4M3FN, tensor.Float8E4M3FNUZ,
		tensor.Float8E5M2, tensor.Float8E5M2FNUZ, tensor.Float8E8M0, tensor.Float4E2M1:
		return true
	}
	return false
}

type realNum interface {
	tensor.Number | tensor.I4 | tensor.U4 | tensor.I2 | tensor.U2
}

func widen[T realNum](dst []float64, s []T) {
	for i := range dst {
		dst[i] = float64(s[i])
	}
}

type smallFloat interface {
	tensor.Float16Bits | tensor.BFloat16Bits | tensor.F8E4M3FN | tensor.F8E4M3FNUZ |
		tensor.F8E5M2 | tensor.F8E5M2FNUZ | tensor.F8E8M0 | tensor.F4E2M1
	Float32() float32
}

func widenF[T smallFloat](dst []float64, s []T) {
	for i := range dst {
		dst[i] = float64(s[i].Float32())
	}
}

// params reads a scale or zero-point tensor (small: one value per quantization
// group) as float64; nil gives a single 0.
func params(t *tensor.Tensor) []float64 {
	if t == nil {
		return []float64{0}
	}
	v := make([]float64, t.Len())
	readF64(v, t.Raw(), 0)
	return v
}

// checkScales fails when a scale that is divided by is zero or not finite.
func checkScales(name string, s []float64) error {
	for i, v := range s {
		if v == 0 || math.IsInf(v, 0) || v != v {
			return fmt.Errorf("%s[%d] is %v; scales must be finite and non-zero", name, i, v)
		}
	}
	return nil
}

// storeQuant writes buf (values already divided by the scale, rounded and
// shifted by the zero point for integer outputs) into dst[off:], saturating
// integers to their range (NaN becomes 0) and rounding floats to the
// float8/float4 format (float8 saturates when sat, else overflows to NaN/Inf).
func storeQuant(dst any, off int, buf []float64, sat bool) {
	switch d := dst.(type) {
	case []uint8:
		storeInt(d[off:], buf, 0, 255)
	case []int8:
		storeInt(d[off:], buf, -128, 127)
	case []uint16:
		storeInt(d[off:], buf, 0, 65535)
	case []int16:
		storeInt(d[off:], buf, -32768, 32767)
	case []tensor.U4:
		storeInt(d[off:], buf, 0, 15)
	case []tensor.I4:
		storeInt(d[off:], buf, -8, 7)
	case []tensor.U2:
		storeInt(d[off:], buf, 0, 3)
	case []tensor.I2:
		storeInt(d[off:], buf, -2, 1)
	case []tensor.F8E4M3FN:
		for i, v := range buf {
			d[off+i] = tensor.Float8E4M3FNFromFloat32(float32(v), sat)
		}
	case []tensor.F8E4M3FNUZ:
		for i, v := range buf {
			d[off+i] = tensor.Float8E4M3FNUZFromFloat32(float32(v), sat)
		}
	case []tensor.F8E5M2:
		for i, v := range buf {
			d[off+i] = tensor.Float8E5M2FromFloat32(float32(v), sat)
		}
	case []tensor.F8E5M2FNUZ:
		for i, v := range buf {
			d[off+i] = tensor.Float8E5M2FNUZFromFloat32(float32(v), sat)
		}
	case []tensor.F4E2M1:
		for i, v := range buf {
			d[off+i] = tensor.Float4E2M1FromFloat32(float32(v))
		}
	default:
		panic(fmt.Sprintf("quant: storeQuant to %T", dst)) // dtypes are checked before
	}
}

func storeInt[T tensor.Integer | tensor.I4 | tensor.U4 | tensor.I2 | tensor.U2](d []T, buf []float64, lo, hi float64) {
	for i, v := range buf {
		d[i] = T(saturate(v, lo, hi))
	}
}

// saturate clamps v to [lo, hi]; NaN gives 0 clamped.
func saturate(v, lo, hi float64) float64 {
	switch {
	case v != v:
		v = 0
	case v < lo:
		return lo
	case v > hi:
		return hi
	}
	return min(max(v, lo), hi)
}

// storeFloat rounds buf (float32 results) into dst[off:], a float32, float16
// or bfloat16 slice.
func storeFloat(dst any, off int, buf []float32) {
	switch d := dst.(type) {
	case []float32:
		copy(d[off:], buf)
	case []tensor.Float16Bits:
		for i, v := range buf {
			d[off+i] = tensor.Float16FromFloat32(v)
		}
	case []tensor.BFloat16Bits:
		for i, v := range buf {
			d[off+i] = tensor.BFloat16FromFloat32(v)
		}
	default:
		panic(fmt.Sprintf("quant: storeFloat to %T", dst))
	}
}

// floatOut reports the dtypes DequantizeLinear may produce.
func floatOut(d tensor.DType) bool {
	return d == tensor.Float32 || d == tensor.Float16 || d == tensor.BFloat16
}

// roundTo rounds a float32 to dtype d's precision (float16 / bfloat16), or
// returns it unchanged.
func roundTo(d tensor.DType, v float32) float32 {
	switch d {
	case tensor.Float16:
		return tensor.Float16FromFloat32(v).Float32()
	case tensor.BFloat16:
		return tensor.BFloat16FromFloat32(v).Float32()
	}
	return v
}

// needInputs checks the input count and that the named inputs are present.
func needInputs(in []*tensor.Tensor, names []string, required int) error {
	if len(in) > len(names) {
		return fmt.Errorf("%d inputs, at most %d allowed", len(in), len(names))
	}
	for i := 0; i < required; i++ {
		if i >= len(in) || in[i] == nil {
			return fmt.Errorf("input %d (%s) is required", i, names[i])
		}
	}
	return nil
}

// opt returns input i or nil when it is absent.
func opt(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// sameShapeParams checks that a zero point matches its scale's shape
// (scalars and one-element tensors are interchangeable).
func sameShapeParams(scaleName string, scale *tensor.Tensor, zpName string, zp *tensor.Tensor) error {
	if zp == nil {
		return nil
	}
	if scale.Len() == 1 && zp.Len() == 1 {
		return nil
	}
	if !tensor.SameShape(scale.Shape(), zp.Shape()) {
		return fmt.Errorf("%s has shape %v but %s has shape %v; they must match", zpName, zp.Shape(), scaleName, scale.Shape())
	}
	return nil
}

// fits checks, without allocating, that a tensor of shape is within the
// session's size limit (what Ctx.New would check).
func fits(c *ops.Ctx, shape ...int) error {
	n, err := tensor.NumElements(shape)
	if err != nil {
		return err
	}
	if c != nil && c.MaxElements > 0 && n > c.MaxElements {
		return fmt.Errorf("%w: %v has %d elements, the session allows %d (raise runtime.Options.MaxTensorElements)", ops.ErrLimit, shape, n, c.MaxElements)
	}
	return nil
}

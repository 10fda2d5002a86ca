package quant

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// QuantizeLinear: y = saturate(round(x / y_scale) + y_zero_point) for
// integer outputs (round half to even, saturate to the type's range) and
// y = cast(x / y_scale + y_zero_point) for float8 (saturate attribute) and
// float4 outputs. The output dtype is y_zero_point's, else output_dtype
// (21+), else uint8. The division runs in the precision attribute's dtype
// (23+), else y_scale's. Scales are per tensor (scalar), per axis (1-D along
// axis, 13+) or blocked (block_size, 21+). It fails on zero scales,
// zero-point shapes that differ from the scale's, and scale shapes that fit
// none of the granularities.
var quantizeLinearOps = ops.Versions("", "QuantizeLinear",
	"y = saturate(round(x / y_scale) + y_zero_point): per-tensor, per-axis or blocked, int2..int16, float8, float4 outputs",
	[]int{10, 13, 19, 21, 23, 24, 25}, inferQuantize, compileQuantize)

// DequantizeLinear: y = (x - x_zero_point) * x_scale, computed in float32 and
// rounded to the output dtype (output_dtype, 23+, else x_scale's dtype), with
// the same scale granularities as QuantizeLinear.
var dequantizeLinearOps = ops.Versions("", "DequantizeLinear",
	"y = (x - x_zero_point) * x_scale: per-tensor, per-axis or blocked; int2..int32, float8, float4 inputs",
	[]int{10, 13, 19, 21, 23, 24, 25}, inferDequantize, compileDequantize)

// DynamicQuantizeLinear: uint8 quantization of a float32 tensor with the
// range [min(0, min x), max(0, max x)]: y_scale = range/255 (1 when the
// range is empty), y_zero_point = round(clamp(-min/y_scale, 0, 255)),
// y = saturate(round(x / y_scale) + y_zero_point).
var dynamicQuantizeLinearOps = ops.Versions("", "DynamicQuantizeLinear",
	"y, y_scale, y_zero_point = uint8 quantization of x over its range extended to include 0",
	[]int{11}, inferDynamicQuantize, ops.Simple(runDynamicQuantize))

// quantAttrs are QuantizeLinear's and DequantizeLinear's attributes.
type quantAttrs struct {
	axis, block int64
	sat         bool
	outDType    tensor.DType // output_dtype; Undefined when absent
	precision   tensor.DType // precision (QuantizeLinear 23+); Undefined when absent
}

func readQuantAttrs(n *ops.Node) (quantAttrs, error) {
	a := quantAttrs{
		axis:      n.Int("axis", 1),
		block:     n.Int("block_size", 0),
		sat:       n.Int("saturate", 1) != 0,
		outDType:  tensor.DType(n.Int("output_dtype", 0)),
		precision: tensor.DType(n.Int("precision", 0)),
	}
	if err := n.Err(); err != nil {
		return a, err
	}
	if a.block < 0 {
		return a, fmt.Errorf("block_size %d is negative", a.block)
	}
	switch a.precision {
	case tensor.Undefined, tensor.Float32, tensor.Float16, tensor.BFloat16, tensor.Float64:
	default:
		return a, fmt.Errorf("precision %v is not a float type (float32, float16, bfloat16)", a.precision)
	}
	return a, nil
}

func inferQuantize(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	t := in[0]
	t.Kind = tensor.KindTensor
	t.DType = tensor.DType(n.Int("output_dtype", 0))
	if len(in) > 2 && in[2].DType != tensor.Undefined {
		t.DType = in[2].DType
	}
	if t.DType == tensor.Undefined {
		t.DType = tensor.Uint8
	}
	return []tensor.Type{t}, nil
}

func inferDequantize(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("DequantizeLinear needs x and x_scale")
	}
	t := in[0]
	t.Kind = tensor.KindTensor
	t.DType = tensor.DType(n.Int("output_dtype", 0))
	if t.DType == tensor.Undefined {
		t.DType = in[1].DType
		if t.DType == tensor.Float8E8M0 {
			t.DType = tensor.Undefined // an error at run time: output_dtype is needed
		}
	}
	return []tensor.Type{t}, nil
}

var quantizeNames = []string{"x", "y_scale", "y_zero_point"}

func compileQuantize(n *ops.Node) (*ops.Kernel, error) {
	a, err := readQuantAttrs(n)
	if err != nil {
		return nil, err
	}
	if a.outDType != tensor.Undefined && !quantDType(a.outDType) {
		return nil, fmt.Errorf("output_dtype %v is not a quantized type (int2..int16, uint2..uint16, float8, float4e2m1)", a.outDType)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		y, err := quantize(c, a, in)
		return []*tensor.Tensor{y}, err
	}}, nil
}

func quantize(c *ops.Ctx, a quantAttrs, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, quantizeNames, 2); err != nil {
		return nil, err
	}
	x, scale, zp := in[0], in[1], opt(in, 2)
	switch x.DType() {
	case tensor.Float32, tensor.Float16, tensor.BFloat16, tensor.Int32, tensor.Float64:
	default:
		return nil, fmt.Errorf("x is %v, want float32, float16, bfloat16 or int32", x.DType())
	}
	switch scale.DType() {
	case tensor.Float32, tensor.Float16, tensor.BFloat16, tensor.Int32, tensor.Float8E8M0, tensor.Float64:
	default:
		return nil, fmt.Errorf("y_scale is %v, want float32, float16, bfloat16, int32 or float8e8m0", scale.DType())
	}
	out := tensor.Uint8
	switch {
	case zp != nil:
		out = zp.DType()
		if a.outDType != tensor.Undefined && a.outDType != out {
			return nil, fmt.Errorf("output_dtype %v differs from y_zero_point's dtype %v", a.outDType, out)
		}
	case a.outDType != tensor.Undefined:
		out = a.outDType
	}
	if !quantDType(out) {
		return nil, fmt.Errorf("y_zero_point is %v, not a quantized type (int2..int16, uint2..uint16, float8, float4e2m1)", out)
	}
	if err := sameShapeParams("y_scale", scale, "y_zero_point", zp); err != nil {
		return nil, err
	}
	lay, err := newLayout(x.Shape(), scale.Shape(), a.axis, a.block, "y_scale")
	if err != nil {
		return nil, err
	}
	s := params(scale)
	if err := checkScales("y_scale", s); err != nil {
		return nil, err
	}
	z := params(zp)
	if len(z) == 1 && len(s) > 1 {
		z = make([]float64, len(s)) // absent zero point: 0 for every group
	}
	prec := a.precision
	if prec == tensor.Undefined {
		prec = scale.DType()
	}
	y, err := c.New(out, x.Shape()...)
	if err != nil {
		return nil, err
	}
	isInt := !floatQuant(out)
	src, dst := x.Raw(), y.Raw()
	err = lay.each(c, func(sc *scratch, off, n, p, stride int) {
		for c0 := 0; c0 < n; c0 += chunk {
			b := sc.f64[:min(chunk, n-c0)]
			readF64(b, src, off+c0)
			divide(prec, b, s, p+c0*stride, stride)
			for j, q := range b {
				k := p + (c0+j)*stride
				switch {
				case isInt:
					q = math.RoundToEven(q) + z[k]
				case z[k] != 0 || out == tensor.Float4E2M1: // float4 adds its zero point even when 0, turning -0 into +0
					q = float64(float32(q) + float32(z[k]))
				}
				b[j] = q
			}
			storeQuant(dst, off+c0, b, a.sat)
		}
	})
	return y, err
}

// divide replaces each b[j] by b[j] / s[p + j*stride] computed in dtype
// prec: float16 and bfloat16 round both operands and the quotient to that
// type; float32 (and float8e8m0 scales) divide in float32; anything wider
// (int32 scales) divides in float64.
func divide(prec tensor.DType, b, s []float64, p, stride int) {
	switch prec {
	case tensor.Float16, tensor.BFloat16:
		for j, x := range b {
			b[j] = float64(roundTo(prec, roundTo(prec, float32(x))/roundTo(prec, float32(s[p+j*stride]))))
		}
	case tensor.Float32, tensor.Float8E8M0:
		for j, x := range b {
			b[j] = float64(float32(x) / float32(s[p+j*stride]))
		}
	default:
		for j, x := range b {
			b[j] = x / s[p+j*stride]
		}
	}
}

var dequantizeNames = []string{"x", "x_scale", "x_zero_point"}

func compileDequantize(n *ops.Node) (*ops.Kernel, error) {
	a, err := readQuantAttrs(n)
	if err != nil {
		return nil, err
	}
	if a.outDType != tensor.Undefined && !floatOut(a.outDType) {
		return nil, fmt.Errorf("output_dtype %v, want float32, float16 or bfloat16", a.outDType)
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		y, err := dequantize(c, a, in)
		return []*tensor.Tensor{y}, err
	}}, nil
}

func dequantize(c *ops.Ctx, a quantAttrs, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, dequantizeNames, 2); err != nil {
		return nil, err
	}
	x, scale, zp := in[0], in[1], opt(in, 2)
	if !quantDType(x.DType()) && x.DType() != tensor.Int32 {
		return nil, fmt.Errorf("x is %v, not a quantized type (int2..int32, uint2..uint16, float8, float4e2m1)", x.DType())
	}
	if zp != nil && zp.DType() != x.DType() {
		return nil, fmt.Errorf("x_zero_point is %v but x is %v; they must match", zp.DType(), x.DType())
	}
	switch scale.DType() {
	case tensor.Float32, tensor.Float16, tensor.BFloat16, tensor.Float8E8M0:
	default:
		return nil, fmt.Errorf("x_scale is %v, want float32, float16, bfloat16 or float8e8m0", scale.DType())
	}
	out := a.outDType
	if out == tensor.Undefined {
		out = scale.DType()
		if out == tensor.Float8E8M0 {
			return nil, fmt.Errorf("x_scale is float8e8m0: set output_dtype to choose the output type")
		}
	}
	if err := sameShapeParams("x_scale", scale, "x_zero_point", zp); err != nil {
		return nil, err
	}
	lay, err := newLayout(x.Shape(), scale.Shape(), a.axis, a.block, "x_scale")
	if err != nil {
		return nil, err
	}
	s := params(scale)
	z := params(zp)
	if len(z) == 1 && len(s) > 1 {
		z = make([]float64, len(s))
	}
	y, err := c.New(out, x.Shape()...)
	if err != nil {
		return nil, err
	}
	src, dst := x.Raw(), y.Raw()
	err = lay.each(c, func(sc *scratch, off, n, p, stride int) {
		for c0 := 0; c0 < n; c0 += chunk {
			b := sc.f64[:min(chunk, n-c0)]
			r := sc.f32[:len(b)]
			readF64(b, src, off+c0)
			for j, v := range b {
				k := p + (c0+j)*stride
				r[j] = float32(v-z[k]) * float32(s[k])
			}
			storeFloat(dst, off+c0, r)
		}
	})
	return y, err
}

func inferDynamicQuantize(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input 0 missing")
	}
	y := in[0]
	y.Kind, y.DType = tensor.KindTensor, tensor.Uint8
	return []tensor.Type{y, tensor.TensorType(tensor.Float32), tensor.TensorType(tensor.Uint8)}, nil
}

func runDynamicQuantize(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, []string{"x"}, 1); err != nil {
		return nil, err
	}
	if in[0].DType() != tensor.Float32 {
		return nil, fmt.Errorf("x is %v, want float32", in[0].DType())
	}
	x := tensor.Data[float32](in[0])
	// The range always includes 0; NaNs are left out of it.
	var lo, hi float32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	scale := float32(1)
	if hi != lo {
		scale = (hi - lo) / 255
	}
	zp := float32(math.RoundToEven(float64(min(max(0-lo/scale, 0), 255))))
	y, err := c.New(tensor.Uint8, in[0].Shape()...)
	if err != nil {
		return nil, err
	}
	yd := tensor.Data[uint8](y)
	for i, v := range x {
		q := float32(math.RoundToEven(float64(v/scale))) + zp
		yd[i] = uint8(saturate(float64(q), 0, 255))
	}
	return []*tensor.Tensor{y, tensor.Scalar(scale), tensor.Scalar(uint8(zp))}, nil
}

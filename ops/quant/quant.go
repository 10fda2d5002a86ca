// Package quant holds gort's kernels for the quantization operator family.
//
// # Overview
//
// QuantizeLinear and DequantizeLinear (per-tensor, per-axis and blocked
// scales; integer outputs from 2 to 16 bits, float8 and float4 outputs),
// DynamicQuantizeLinear, and the integer GEMMs MatMulInteger, ConvInteger,
// QLinearMatMul and QLinearConv. Integer products accumulate in int32 (and
// wrap there, as ONNX allows); requantization rounds half to even and
// saturates to the output type.
//
// Element conversions reuse package tensor (float8 saturation, float4,
// float16/bfloat16 rounding); scales and zero points are small and are read
// once per run into float32 / float64 slices, while the quantized tensors
// stream through fixed-size chunks so no kernel allocates per element.
package quant

import "github.com/gort-ml/gort/ops"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		quantizeLinearOps, dequantizeLinearOps, dynamicQuantizeLinearOps,
		matMulIntegerOps, qlinearMatMulOps,
		convIntegerOps, qlinearConvOps,
	)
}

// Package contrib holds gort's kernels for the ONNX Runtime contrib
// operators (domain "com.microsoft", version 1) that models optimized or
// quantized by ONNX Runtime contain, so such models run natively.
//
// # Overview
//
// The ops follow ONNX Runtime's CPU kernels, against which the tests check
// them on random inputs (ops its CPU build lacks are checked against
// equivalent graphs of standard ops run by it):
//
//   - fused activations: Gelu, BiasGelu, FastGelu, QuickGelu, BiasSoftmax;
//   - FusedMatMul (and its older name TransposeMatMul), FusedConv,
//     FusedGemm (Conv and Gemm with the activation after them folded in);
//   - normalizations: SkipLayerNormalization, SkipSimplifiedLayerNormalization,
//     EmbedLayerNormalization, and SimplifiedLayerNormalization and
//     LayerNormalization-1, which ONNX Runtime declares in the default domain;
//   - attention: Attention, MultiHeadAttention, GroupQueryAttention,
//     DecoderMaskedMultiHeadAttention, RotaryEmbedding;
//   - int4 LLM weights: MatMulNBits (2/4/8-bit blockwise) and
//     GatherBlockQuantized (quantized embeddings);
//   - Stable Diffusion fusions, GPU-only in ONNX Runtime: BiasAdd,
//     BiasSplitGelu, GroupNorm, SkipGroupNorm, NhwcConv;
//   - dynamic quantization: DynamicQuantizeMatMul, MatMulIntegerToFloat,
//     QAttention, QEmbedLayerNormalization (computed from the dequantized
//     8-bit values);
//   - static (QOperator) quantization: QLinearAdd, QLinearMul,
//     QLinearSigmoid, QLinearLeakyRelu, QLinearSoftmax, QLinearConcat,
//     QLinearGlobalAveragePool, QLinearAveragePool, QLinearReduceMean,
//     QLinearWhere, QGemm (dequantize, compute in float, requantize with
//     round half to even);
//   - the contrib versions of ops ONNX later standardized (Trilu,
//     QuantizeLinear, DequantizeLinear) run the standard kernels.
//
// Float16 and bfloat16 compute in float32, float64 in float64. Attention
// masks follow ONNX Runtime: padded keys get mask_filter_value (default
// -10000) added to their score rather than -inf, and future keys of a
// causal mask the lowest float32, so a row whose visible keys are all
// padded averages those keys' values instead of producing zeros.
package contrib

import "github.com/gort-ml/gort/ops"

// ms is ONNX Runtime's contrib operator domain.
const ms = "com.microsoft"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		activationOps(),
		matmulOps(),
		normOps(),
		attentionOps(),
		dmmhaOps(),
		quantOps(),
		gatherQuantizedOps(),
		aliasOps(),
		fusedOps(),
		diffusionOps(),
		nhwcConvOps(),
		qmatmulOps(),
		qattentionOps(),
		qlinearOps(),
		qwrapOps(),
	)
}

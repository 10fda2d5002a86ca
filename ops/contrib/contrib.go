// Package contrib holds gort's kernels for the ONNX Runtime contrib
// operators (domain "com.microsoft", version 1) that transformer models
// optimized by ONNX Runtime contain, so such models run natively.
//
// # Overview
//
// The ops follow ONNX Runtime's CPU kernels, against which the tests check
// them on random inputs: fused activations (Gelu, BiasGelu, FastGelu,
// QuickGelu), FusedMatMul, BiasSoftmax, the fused normalizations
// (SkipLayerNormalization, SkipSimplifiedLayerNormalization,
// EmbedLayerNormalization, and SimplifiedLayerNormalization and
// LayerNormalization-1, which ONNX Runtime declares in the default domain),
// the attention family (Attention, MultiHeadAttention,
// GroupQueryAttention, RotaryEmbedding), and MatMulNBits, the blockwise
// 2/4/8-bit weight quantization of int4 LLM exports, with
// GatherBlockQuantized for their quantized embeddings. The contrib versions
// of ops ONNX later standardized (Trilu, QuantizeLinear, DequantizeLinear)
// run the standard kernels, as do FusedConv and FusedGemm (Conv and Gemm
// with the activation ONNX Runtime's optimizer folds into them). The Stable
// Diffusion fusions (BiasAdd, BiasSplitGelu, GroupNorm, SkipGroupNorm,
// NhwcConv),
// GPU-only in ONNX Runtime, run here on any machine. Dynamically quantized
// exports' DynamicQuantizeMatMul, MatMulIntegerToFloat, QAttention and
// QEmbedLayerNormalization compute from the dequantized 8-bit values, and
// the QOperator ops of static quantization (QLinearAdd, QLinearMul,
// QLinearSigmoid, QLinearLeakyRelu, QLinearSoftmax, QLinearConcat,
// QLinearGlobalAveragePool, QGemm, and QLinearAveragePool, QLinearReduceMean
// and QLinearWhere around the standard kernels) requantize their float
// results.
//
// Float16 and bfloat16 compute in float32, float64 in float64. Attention
// masks follow ONNX Runtime: masked keys get mask_filter_value (default
// -10000) added to their score rather than -inf, so a fully masked row
// averages every value instead of producing zeros.
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

// Package nn holds gort's kernels for the nn operator family: matrix
// products (MatMul, Gemm, Einsum, Det), convolutions (Conv, ConvTranspose,
// DeformConv) and pooling.
//
// # Overview
//
// Float32 products go through Sgemm, a cache-blocked pure-Go SGEMM that
// MatMul, Gemm and Conv (im2col + GEMM) share; float16 and bfloat16 are
// computed in float32 and rounded once; float64 and integer products use a
// plain generic kernel.
package nn

import "github.com/gort-ml/gort/ops"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(MatMul, Gemm, Einsum, Det, Conv, ConvTranspose, DeformConv,
		MaxPool, AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool, GlobalLpPool, MaxUnpool)
}

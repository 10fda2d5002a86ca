// Package elementwise holds gort's kernels for the elementwise operator family.
//
// # Overview
//
// Unary math (Abs, Exp, Sin, Round, IsNaN, ...), binary arithmetic with numpy
// broadcasting (Add, Sub, Mul, Div, Pow, Mod), variadic Max/Min/Sum/Mean,
// comparisons, logic and bitwise ops, Where, Clip, and the conversions Cast,
// CastLike and BitCast. Kernels are generic functions (map1, map2, map3)
// instantiated through a dtype switch; float16 and bfloat16 compute in
// float32 and round back (ties to even).
package elementwise

import "github.com/gort-ml/gort/ops"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		unaryOpLists, isNaNOps, isInfOps,
		binaryOpLists, variadicOpLists,
		compareOpLists, logicOpLists, bitwiseOpLists,
		whereOps, clipOps,
		castOps, castLikeOps, bitCastOps,
	)
}

// Package activation holds gort's kernels for the activation operator family.
//
// # Overview
//
// Elementwise activations (Relu, Elu, Sigmoid, Gelu, ...) run one generic
// loop per op, instantiated for float32 and float64; float16 and bfloat16
// inputs go through a float32 scratch buffer chunk by chunk and are rounded
// to nearest even. Transcendental functions are evaluated in float64, so
// float32 results are within about one ulp; exponentials of non-positive
// arguments (Softmax, Sigmoid and the ops built on it) use a range-reduced
// polynomial with relative error below 1e-8 for float32 outputs. Softmax,
// LogSoftmax and Hardmax view the input as (outer, n, inner) and reduce over
// n with the running maximum subtracted first, so large inputs do not
// overflow.
package activation

import "github.com/gort-ml/gort/ops"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		Relu, LeakyRelu, PRelu, ThresholdedRelu, Shrink,
		Elu, Selu, Celu,
		Sigmoid, HardSigmoid, HardSwish, Softplus, Softsign, Mish, Swish, SwiGLU,
		Gelu,
		Softmax, LogSoftmax, Hardmax,
	)
}

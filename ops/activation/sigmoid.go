package activation

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// sigmoid is 1/(1+exp(-v)), evaluated without overflow for either sign;
// exp only sees arguments <= 0, so float32 results use the fast expNeg.
func sigmoid[T tensor.Float](v float64) float64 {
	if v >= 0 {
		return 1 / (1 + expFor[T](-v))
	}
	e := expFor[T](v)
	return e / (1 + e)
}

// softplus is log(1+exp(v)), evaluated without overflow for large v.
func softplus[T tensor.Float](v float64) float64 {
	if v > 0 {
		return v + math.Log1p(expFor[T](-v))
	}
	return math.Log1p(expFor[T](v))
}

// Sigmoid is y = 1/(1+exp(-x)).
var Sigmoid = ops.Versions("", "Sigmoid", "y = 1/(1+exp(-x))", []int{1, 6, 13},
	ops.InferSameAs(0), ops.Simple(unary(floatFn{f32: sigmoidK[float32], f64: sigmoidK[float64]}, false).Run))

func sigmoidK[T tensor.Float](dst, src []T) {
	for i, x := range src {
		dst[i] = T(sigmoid[T](float64(x)))
	}
}

// HardSigmoid is y = max(0, min(1, alpha*x + beta)) (alpha = 0.2, beta = 0.5).
var HardSigmoid = ops.Versions("", "HardSigmoid", "y = max(0, min(1, alpha*x+beta)) (alpha = 0.2, beta = 0.5)", []int{1, 6, 22},
	ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		a := float64(n.Float("alpha", 0.2))
		b := float64(n.Float("beta", 0.5))
		if err := n.Err(); err != nil {
			return nil, err
		}
		return unary(floatFn{
			f32: func(d, s []float32) { hardSigmoid(d, s, a, b, false) },
			f64: func(d, s []float64) { hardSigmoid(d, s, a, b, false) },
		}, false), nil
	})

// HardSwish is y = x * max(0, min(1, x/6 + 0.5)).
var HardSwish = ops.Versions("", "HardSwish", "y = x * max(0, min(1, x/6 + 0.5))", []int{14, 22},
	ops.InferSameAs(0), ops.Simple(unary(floatFn{
		f32: func(d, s []float32) { hardSigmoid(d, s, 1.0/6, 0.5, true) },
		f64: func(d, s []float64) { hardSigmoid(d, s, 1.0/6, 0.5, true) },
	}, false).Run))

// hardSigmoid computes max(0, min(1, alpha*x+beta)), times x when swish is set.
func hardSigmoid[T tensor.Float](dst, src []T, alpha, beta float64, swish bool) {
	for i, x := range src {
		v := float64(x)
		h := max(0, min(1, alpha*v+beta)) // the builtins keep NaN
		if swish {
			h *= v
		}
		dst[i] = T(h)
	}
}

// Softplus is y = log(1 + exp(x)).
var Softplus = ops.Versions("", "Softplus", "y = log(1 + exp(x))", []int{1, 22},
	ops.InferSameAs(0), ops.Simple(unary(floatFn{f32: softplusK[float32], f64: softplusK[float64]}, false).Run))

func softplusK[T tensor.Float](dst, src []T) {
	for i, x := range src {
		dst[i] = T(softplus[T](float64(x)))
	}
}

// Softsign is y = x / (1 + |x|).
var Softsign = ops.Versions("", "Softsign", "y = x / (1 + |x|)", []int{1, 22},
	ops.InferSameAs(0), ops.Simple(unary(floatFn{f32: softsign[float32], f64: softsign[float64]}, false).Run))

func softsign[T tensor.Float](dst, src []T) {
	for i, x := range src {
		v := float64(x)
		dst[i] = T(v / (1 + math.Abs(v)))
	}
}

// Mish is y = x * tanh(softplus(x)).
var Mish = ops.Versions("", "Mish", "y = x * tanh(log(1 + exp(x)))", []int{18, 22},
	ops.InferSameAs(0), ops.Simple(unary(floatFn{f32: mish[float32], f64: mish[float64]}, false).Run))

func mish[T tensor.Float](dst, src []T) {
	for i, x := range src {
		v := float64(x)
		dst[i] = T(v * math.Tanh(softplus[T](v)))
	}
}

// Swish is y = x * sigmoid(alpha * x) (alpha = 1).
var Swish = ops.Versions("", "Swish", "y = x * sigmoid(alpha*x) (alpha = 1)", []int{24},
	ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		a := float64(n.Float("alpha", 1))
		if err := n.Err(); err != nil {
			return nil, err
		}
		return unary(floatFn{
			f32: func(d, s []float32) { swish(d, s, a) },
			f64: func(d, s []float64) { swish(d, s, a) },
		}, false), nil
	})

func swish[T tensor.Float](dst, src []T, alpha float64) {
	for i, x := range src {
		v := float64(x)
		dst[i] = T(v * sigmoid[T](alpha*v))
	}
}

// SwiGLU is Y = A * sigmoid(alpha*A) * B for A and B of identical shapes
// (no broadcasting; alpha = 1).
var SwiGLU = ops.Versions("", "SwiGLU", "Y = Swish_alpha(A) * B, A and B of identical shape (alpha = 1)", []int{28},
	ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		a := float64(n.Float("alpha", 1))
		if err := n.Err(); err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 2, 2); err != nil {
				return nil, err
			}
			ga, b := in[0], in[1]
			if ga.DType() != b.DType() || !tensor.SameShape(ga.Shape(), b.Shape()) {
				return nil, fmt.Errorf("A (%v%v) and B (%v%v) must have the same dtype and shape", ga.DType(), ga.Shape(), b.DType(), b.Shape())
			}
			out, err := c.New(ga.DType(), ga.Shape()...)
			if err != nil {
				return nil, err
			}
			switch ga.DType() {
			case tensor.Float32:
				swiglu(tensor.Data[float32](out), tensor.Data[float32](ga), tensor.Data[float32](b), a)
			case tensor.Float64:
				swiglu(tensor.Data[float64](out), tensor.Data[float64](ga), tensor.Data[float64](b), a)
			default:
				x, err := floats(ga)
				if err != nil {
					return nil, err
				}
				y, err := floats(b)
				if err != nil {
					return nil, err
				}
				swiglu(x, x, y, a)
				storeFloats(out, x)
			}
			return []*tensor.Tensor{out}, nil
		}}, nil
	})

// swiglu sets dst = a * sigmoid(alpha*a) * b; dst may be a.
func swiglu[T tensor.Float](dst, a, b []T, alpha float64) {
	b = b[:len(a)]
	for i, x := range a {
		v := float64(x)
		dst[i] = T(v * sigmoid[T](alpha*v) * float64(b[i]))
	}
}

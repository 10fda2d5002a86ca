package activation

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Elu is y = x for x >= 0, alpha*(exp(x)-1) otherwise (alpha = 1).
var Elu = ops.Versions("", "Elu", "y = x if x >= 0 else alpha*(exp(x)-1) (alpha = 1)", []int{1, 6, 22},
	ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		a := float64(n.Float("alpha", 1))
		if err := n.Err(); err != nil {
			return nil, err
		}
		return unary(floatFn{
			f32: func(d, s []float32) { elu(d, s, a, 1) },
			f64: func(d, s []float64) { elu(d, s, a, 1) },
		}, false), nil
	})

// Selu is y = gamma*x for x > 0, gamma*alpha*(exp(x)-1) otherwise, with
// alpha = 1.67326319217681884765625 and gamma = 1.05070102214813232421875.
var Selu = ops.Versions("", "Selu", "y = gamma*x if x > 0 else gamma*alpha*(exp(x)-1)", []int{1, 6, 22},
	ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		a := float64(n.Float("alpha", 1.67326319217681884765625))
		g := float64(n.Float("gamma", 1.05070102214813232421875))
		if err := n.Err(); err != nil {
			return nil, err
		}
		return unary(floatFn{
			f32: func(d, s []float32) { elu(d, s, a, g) },
			f64: func(d, s []float64) { elu(d, s, a, g) },
		}, false), nil
	})

// elu computes gamma*(x if x > 0 else alpha*(exp(x)-1)) in float64.
func elu[T tensor.Float](dst, src []T, alpha, gamma float64) {
	for i, x := range src {
		v := float64(x)
		if v <= 0 {
			v = alpha * math.Expm1(v)
		}
		dst[i] = T(gamma * v)
	}
}

// Celu is y = max(0, x) + min(0, alpha*(exp(x/alpha)-1)) (alpha = 1).
var Celu = ops.Versions("", "Celu", "y = max(0,x) + min(0, alpha*(exp(x/alpha)-1)) (alpha = 1)", []int{12, 28},
	ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		a := float64(n.Float("alpha", 1))
		if err := n.Err(); err != nil {
			return nil, err
		}
		if a == 0 {
			return nil, fmt.Errorf("celu alpha must not be 0")
		}
		return unary(floatFn{
			f32: func(d, s []float32) { celu(d, s, a) },
			f64: func(d, s []float64) { celu(d, s, a) },
		}, false), nil
	})

func celu[T tensor.Float](dst, src []T, alpha float64) {
	for i, x := range src {
		v := float64(x)
		dst[i] = T(max(0, v) + min(0, alpha*math.Expm1(v/alpha)))
	}
}

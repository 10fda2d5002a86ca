package activation

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/linalg"
	"github.com/gort-ml/gort/tensor"
)

// Gelu is y = 0.5*x*(1 + erf(x/sqrt(2))) with approximate = "none", or
// y = 0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3))) with approximate = "tanh".
var Gelu = ops.Versions("", "Gelu", "y = 0.5*x*(1+erf(x/sqrt(2))); approximate=tanh: 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3)))", []int{20},
	ops.InferSameAs(0), func(n *ops.Node) (*ops.Kernel, error) {
		mode := n.String("approximate", "none")
		if err := n.Err(); err != nil {
			return nil, err
		}
		switch mode {
		case "none":
			return unary(floatFn{f32: geluErf32, f64: geluErf[float64]}, false), nil
		case "tanh":
			return unary(floatFn{f32: geluTanh32, f64: geluTanh[float64]}, false), nil
		}
		return nil, fmt.Errorf("approximate is %q, want \"none\" or \"tanh\"", mode)
	})

// geluErf32 and geluTanh32 are the float32 (and float16, bfloat16) forms:
// linalg's vectorized float32 approximations, within 3e-7·max(1, |x|) of
// the exact values.
func geluErf32(dst, src []float32)  { linalg.Activate(linalg.ActGelu, dst, src, nil) }
func geluTanh32(dst, src []float32) { linalg.Activate(linalg.ActGeluTanh, dst, src, nil) }

func geluErf[T tensor.Float](dst, src []T) {
	for i, x := range src {
		v := float64(x)
		dst[i] = T(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
	}
}

func geluTanh[T tensor.Float](dst, src []T) {
	k := math.Sqrt(2 / math.Pi)
	for i, x := range src {
		v := float64(x)
		dst[i] = T(0.5 * v * (1 + math.Tanh(k*(v+0.044715*v*v*v))))
	}
}

package contrib

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/ops/nn"
	"github.com/gort-ml/gort/tensor"
)

// fusedOps are the Conv and Gemm that ONNX Runtime's graph optimizer fuses
// with the activation after them (and, for FusedConv, a residual Z added
// before it): Y = activation(op(...) + Z).
func fusedOps() []*ops.Op {
	return ops.Join(
		fusedAct("FusedConv", "Conv", nn.Conv, 11, 3,
			"Y = activation(Conv(X, W, B) + Z), activation one of Relu, Tanh, Sigmoid, LeakyRelu, Clip, HardSigmoid"),
		fusedAct("FusedGemm", "Gemm", nn.Gemm, 13, 3,
			"Y = activation(alpha * A' B' + beta * C), activation one of Relu, Tanh, Sigmoid, LeakyRelu, Clip, HardSigmoid"),
	)
}

// activation returns the elementwise function ONNX Runtime's fused
// activation attributes name.
func activation(name string, params []float32) (func(float64) float64, error) {
	param := func(i int, def float64) float64 {
		if i < len(params) {
			return float64(params[i])
		}
		return def
	}
	switch name {
	case "", "Identity":
		return nil, nil
	case "Relu":
		return func(x float64) float64 { return max(x, 0) }, nil
	case "Tanh":
		return math.Tanh, nil
	case "Sigmoid":
		return func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, nil
	case "LeakyRelu":
		alpha := param(0, 0.01)
		return func(x float64) float64 {
			if x < 0 {
				return alpha * x
			}
			return x
		}, nil
	case "Clip":
		lo, hi := param(0, math.Inf(-1)), param(1, math.Inf(1))
		return func(x float64) float64 { return min(max(x, lo), hi) }, nil
	case "HardSigmoid":
		alpha, beta := param(0, 0.2), param(1, 0.5)
		return func(x float64) float64 { return min(max(alpha*x+beta, 0), 1) }, nil
	}
	return nil, fmt.Errorf("activation %q, want Relu, Tanh, Sigmoid, LeakyRelu, Clip, HardSigmoid or Identity", name)
}

// fusedAct declares com.microsoft typ version 1: the default-domain op
// std (in force at opset) on its first nIn inputs, plus an optional input
// Z after them, then the activation attribute's function.
func fusedAct(typ, stdType string, list []*ops.Op, opset, nIn int, doc string) []*ops.Op {
	var std *ops.Op
	for _, op := range list {
		if op.Type == stdType && op.Since <= opset && (std == nil || op.Since > std.Since) {
			std = op
		}
	}
	if std == nil {
		return nil
	}
	compile := func(n *ops.Node) (*ops.Kernel, error) {
		params := n.Floats("activation_params", nil)
		if params == nil && (n.Has("activation_alpha") || n.Has("leaky_relu_alpha") || n.Has("activation_beta")) {
			// FusedGemm names its parameters.
			alpha := n.Float("activation_alpha", n.Float("leaky_relu_alpha", 0.01))
			params = []float32{alpha, n.Float("activation_beta", float32(math.Inf(1)))}
			if n.String("activation", "") == "HardSigmoid" {
				params = []float32{n.Float("activation_alpha", 0.2), n.Float("activation_beta", 0.5)}
			}
		}
		f, err := activation(n.String("activation", ""), params)
		if err != nil {
			return nil, err
		}
		if err := n.Err(); err != nil {
			return nil, err
		}
		inner := *n
		inner.Domain, inner.Opset, inner.Attrs = "", opset, nil
		for _, a := range n.Attrs {
			switch a.Name {
			case "activation", "activation_params", "activation_alpha", "activation_beta", "activation_gamma", "leaky_relu_alpha":
			default:
				inner.Attrs = append(inner.Attrs, a)
			}
		}
		if len(inner.Inputs) > nIn {
			inner.Inputs = inner.Inputs[:nIn]
		}
		k, err := std.Compile(&inner)
		if err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			var z *tensor.Tensor
			if len(in) > nIn {
				z, in = in[nIn], in[:nIn]
			}
			out, err := k.Run(c, in)
			if err != nil || len(out) == 0 {
				return out, err
			}
			y := out[0]
			if z != nil && !tensor.SameShape(z.Shape(), y.Shape()) {
				return nil, fmt.Errorf("Z has shape %v, want the output's %v", z.Shape(), y.Shape())
			}
			if z == nil && f == nil {
				return out, nil
			}
			if floatio.Wide(y.DType()) {
				out[0], err = applyAct[float64](c, y, z, f)
			} else {
				out[0], err = applyAct[float32](c, y, z, f)
			}
			return out, err
		}}, nil
	}
	return ops.Versions(ms, typ, doc, []int{1}, std.Infer, compile)
}

// applyAct returns f(y + z) (z nil for none) as a new tensor of y's dtype.
func applyAct[F tensor.Float](c *ops.Ctx, y, z *tensor.Tensor, f func(float64) float64) (*tensor.Tensor, error) {
	x, o, err := floatio.Like[F](c, y)
	if err != nil {
		return nil, err
	}
	var zv []F
	if z != nil {
		if zv, err = floatio.Load[F](z); err != nil {
			return nil, fmt.Errorf("Z: %w", err)
		}
	}
	for i, v := range x {
		s := float64(v)
		if zv != nil {
			s += float64(zv[i])
		}
		if f != nil {
			s = f(s)
		}
		o.Buf[i] = F(s)
	}
	return o.Done(), nil
}

// NhwcConv (Stable Diffusion fusion, GPU-only in ONNX Runtime) is Conv with
// X and Y channels-last, (N, H, W, C), and W (M, kH, kW, C/group); it runs
// ops/nn's Conv between transposes.
func nhwcConvOps() []*ops.Op {
	var std *ops.Op
	for _, op := range nn.Conv {
		if op.Since <= 11 && (std == nil || op.Since > std.Since) {
			std = op
		}
	}
	compile := func(n *ops.Node) (*ops.Kernel, error) {
		inner := *n
		inner.Domain, inner.Opset = "", 11
		k, err := std.Compile(&inner)
		if err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := ops.Want(in, 2, 3); err != nil {
				return nil, err
			}
			if in[0].Rank() < 3 || in[1].Rank() != in[0].Rank() {
				return nil, fmt.Errorf("X %v and W %v must be (N, spatial..., C) and (M, kernel..., C/group)", in[0].Shape(), in[1].Shape())
			}
			x, err := channelsFirst(c, in[0])
			if err != nil {
				return nil, err
			}
			w, err := channelsFirst(c, in[1])
			if err != nil {
				return nil, err
			}
			out, err := k.Run(c, []*tensor.Tensor{x, w, opt(in, 2)})
			if err != nil {
				return nil, err
			}
			y, err := channelsLast(c, out[0])
			return []*tensor.Tensor{y}, err
		}}, nil
	}
	return ops.Versions(ms, "NhwcConv", "Y = Conv(X, W, B) with X, Y (N, H, W, C) and W (M, kH, kW, C/group)", []int{1}, nil, compile)
}

// channelsFirst moves the last axis of x to position 1; channelsLast moves
// axis 1 last.
func channelsFirst(c *ops.Ctx, x *tensor.Tensor) (*tensor.Tensor, error) {
	r := x.Rank()
	perm := []int{0, r - 1}
	for i := 1; i < r-1; i++ {
		perm = append(perm, i)
	}
	return transposed(c, x, perm)
}

func channelsLast(c *ops.Ctx, x *tensor.Tensor) (*tensor.Tensor, error) {
	r := x.Rank()
	perm := []int{0}
	for i := 2; i < r; i++ {
		perm = append(perm, i)
	}
	return transposed(c, x, append(perm, 1))
}

// transposed returns x with its axes permuted (float dtypes).
func transposed(c *ops.Ctx, x *tensor.Tensor, perm []int) (*tensor.Tensor, error) {
	if floatio.Wide(x.DType()) {
		return transposedAs[float64](c, x, perm)
	}
	return transposedAs[float32](c, x, perm)
}

func transposedAs[F tensor.Float](c *ops.Ctx, x *tensor.Tensor, perm []int) (*tensor.Tensor, error) {
	v, err := floatio.Load[F](x)
	if err != nil {
		return nil, err
	}
	p, shape := permuted(v, x.Shape(), perm)
	return floatio.Store(c, x.DType(), shape, p)
}

// Package training holds gort's kernels for the ai.onnx.preview.training
// operator family.
//
// # Overview
//
// The optimizers Adagrad, Adam and Momentum (standard and Nesterov), each
// updating any number of tensors in one node: inputs are R (learning rate,
// scalar), T (update count, int64 scalar), then the optimized tensors X_1..X_n,
// their gradients G_1..G_n and their state tensors (H for Adagrad; V for
// Momentum; V then H for Adam); outputs are the new X_1..X_n followed by the
// new states in the same order. Updates compute in float64 and round to each
// tensor's dtype (float32 or float64).
//
// Gradient is not implemented: it differentiates the graph around the node,
// which a kernel never sees; gradient graphs are built by package autodiff.
package training

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Domain is the ONNX domain of the training operators.
const Domain = "ai.onnx.preview.training"

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(adagradOps, adamOps, momentumOps)
}

// Adagrad, per tensor:
//
//	r = R / (1 + T * decay_factor)
//	G_regularized = norm_coefficient * X + G
//	H_new = H + G_regularized^2
//	X_new = X - r * G_regularized / (sqrt(H_new) + epsilon)
//
// Inputs R, T, X_1..X_n, G_1..G_n, H_1..H_n; outputs X_new_1..n, H_new_1..n.
var adagradOps = ops.Versions(Domain, "Adagrad",
	"X_new = X - R/(1+T*decay_factor) * Gr / (sqrt(H + Gr^2) + epsilon), Gr = norm_coefficient*X + G",
	[]int{1}, inferOptimizer(3), compileAdagrad)

// Adam, per tensor:
//
//	G_regularized = norm_coefficient * X + G
//	V_new = alpha * V + (1 - alpha) * G_regularized
//	H_new = beta * H + (1 - beta) * G_regularized^2
//	R_adjusted = T > 0 ? R * sqrt(1 - beta^T) / (1 - alpha^T) : R
//	X_new = (1 - norm_coefficient_post) * (X - R_adjusted * V_new / (sqrt(H_new) + epsilon))
//
// Inputs R, T, X_1..n, G_1..n, V_1..n, H_1..n; outputs X_new_1..n, V_new_1..n, H_new_1..n.
var adamOps = ops.Versions(Domain, "Adam",
	"X_new = (1-norm_coefficient_post) * (X - R_adj * V_new / (sqrt(H_new) + epsilon)), bias-corrected R_adj",
	[]int{1}, inferOptimizer(4), compileAdam)

// Momentum, per tensor (beta_adjusted = T > 0 ? beta : 1):
//
//	G_regularized = norm_coefficient * X + G
//	V_new = alpha * V + beta_adjusted * G_regularized
//	X_new = X - R * V_new                             (mode "standard")
//	X_new = X - R * (G_regularized + alpha * V_new)   (mode "nesterov")
//
// Inputs R, T, X_1..n, G_1..n, V_1..n; outputs X_new_1..n, V_new_1..n.
var momentumOps = ops.Versions(Domain, "Momentum",
	"V_new = alpha*V + beta'*Gr; X_new = X - R*V_new (standard) or X - R*(Gr + alpha*V_new) (nesterov)",
	[]int{1}, inferOptimizer(3), compileMomentum)

// inferOptimizer gives each output the type of the input it updates: with
// groups input groups (X, G, states...) of n tensors, output j of the new X
// takes X_j's type and output state s, j takes that state's input type.
func inferOptimizer(groups int) func(*ops.Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		k := len(in) - 2
		if k <= 0 || k%groups != 0 {
			return nil, fmt.Errorf("%d inputs; want R, T and %d groups of equally many tensors", len(in), groups)
		}
		cnt := k / groups
		out := append([]tensor.Type{}, in[2:2+cnt]...)
		return append(out, in[2+2*cnt:]...), nil
	}
}

// step is one optimizer's update of one element: x, g and the states in,
// the new x and states out. states has one slot per state tensor.
type step func(x, g float64, states []float64) float64

// run applies an element update to every optimized tensor. groups counts the
// input groups (X, G and each state). scalars receives R and T and returns
// the element update for this run.
func run(c *ops.Ctx, in []*tensor.Tensor, groups int, scalars func(r float64, t int64) step) ([]*tensor.Tensor, error) {
	if len(in) < 2+groups || (len(in)-2)%groups != 0 {
		return nil, fmt.Errorf("%d inputs; want R, T and then %d groups of equally many tensors (X..., G..., states...)", len(in), groups)
	}
	for i, t := range in {
		if t == nil {
			return nil, fmt.Errorf("input %d is missing", i)
		}
	}
	r, t := in[0], in[1]
	if r.Len() != 1 || (r.DType() != tensor.Float32 && r.DType() != tensor.Float64) {
		return nil, fmt.Errorf("R is %v%v, want a float32 or float64 scalar", r.DType(), r.Shape())
	}
	if t.Len() != 1 || t.DType() != tensor.Int64 {
		return nil, fmt.Errorf("T is %v%v, want an int64 scalar", t.DType(), t.Shape())
	}
	rv := [1]float64{}
	if r.DType() == tensor.Float32 {
		rv[0] = float64(tensor.Data[float32](r)[0])
	} else {
		rv[0] = tensor.Data[float64](r)[0]
	}
	upd := scalars(rv[0], tensor.Data[int64](t)[0])
	cnt := (len(in) - 2) / groups
	outs := make([]*tensor.Tensor, (groups-1)*cnt)
	for j := 0; j < cnt; j++ {
		ts := make([]*tensor.Tensor, groups) // X, G, states
		for gi := range ts {
			ts[gi] = in[2+gi*cnt+j]
			if d := ts[gi].DType(); d != tensor.Float32 && d != tensor.Float64 {
				return nil, fmt.Errorf("input %d is %v, want float32 or float64", 2+gi*cnt+j, d)
			}
			if !tensor.SameShape(ts[gi].Shape(), ts[0].Shape()) {
				return nil, fmt.Errorf("input %d has shape %v but the tensor it belongs to (input %d) has %v", 2+gi*cnt+j, ts[gi].Shape(), 2+j, ts[0].Shape())
			}
		}
		res := make([]*tensor.Tensor, groups-1) // X_new, states_new
		for i := range res {
			src := ts[0]
			if i > 0 {
				src = ts[i+1]
			}
			o, err := c.New(src.DType(), src.Shape()...)
			if err != nil {
				return nil, err
			}
			res[i] = o
		}
		if err := apply(c, ts, res, upd); err != nil {
			return nil, err
		}
		for i, o := range res {
			outs[i*cnt+j] = o
		}
	}
	return outs, nil
}

// apply runs upd over every element of one optimized tensor (ts = X, G,
// states; res = X_new, states_new), reading and writing float32 or float64.
func apply(c *ops.Ctx, ts, res []*tensor.Tensor, upd step) error {
	ns := len(ts) - 2
	states := make([]float64, ns)
	n := ts[0].Len()
	for i := 0; i < n; i++ {
		if i%65536 == 0 {
			if err := c.Check(); err != nil {
				return err
			}
		}
		for s := 0; s < ns; s++ {
			states[s] = at(ts[2+s], i)
		}
		x := upd(at(ts[0], i), at(ts[1], i), states)
		set(res[0], i, x)
		for s := 0; s < ns; s++ {
			set(res[1+s], i, states[s])
		}
	}
	return nil
}

func at(t *tensor.Tensor, i int) float64 {
	if d, ok := t.Raw().([]float32); ok {
		return float64(d[i])
	}
	return tensor.Data[float64](t)[i]
}

func set(t *tensor.Tensor, i int, v float64) {
	if d, ok := t.Raw().([]float32); ok {
		d[i] = float32(v)
		return
	}
	tensor.Data[float64](t)[i] = v
}

func compileAdagrad(n *ops.Node) (*ops.Kernel, error) {
	eps := float64(n.Float("epsilon", 1e-6))
	decay := float64(n.Float("decay_factor", 0))
	norm := float64(n.Float("norm_coefficient", 0))
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return run(c, in, 3, func(r float64, t int64) step {
			rate := r / (1 + float64(t)*decay)
			return func(x, g float64, st []float64) float64 {
				gr := norm*x + g
				st[0] += gr * gr // H_new
				return x - rate*gr/(math.Sqrt(st[0])+eps)
			}
		})
	}}, nil
}

func compileAdam(n *ops.Node) (*ops.Kernel, error) {
	alpha := float64(n.Float("alpha", 0.9))
	beta := float64(n.Float("beta", 0.999))
	eps := float64(n.Float("epsilon", 1e-6))
	norm := float64(n.Float("norm_coefficient", 0))
	post := float64(n.Float("norm_coefficient_post", 0))
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return run(c, in, 4, func(r float64, t int64) step {
			rate := r
			if t > 0 {
				rate = r * math.Sqrt(1-math.Pow(beta, float64(t))) / (1 - math.Pow(alpha, float64(t)))
			}
			return func(x, g float64, st []float64) float64 {
				gr := norm*x + g
				st[0] = alpha*st[0] + (1-alpha)*gr    // V_new
				st[1] = beta*st[1] + (1-beta)*(gr*gr) // H_new
				return (1 - post) * (x - rate*st[0]/(math.Sqrt(st[1])+eps))
			}
		})
	}}, nil
}

func compileMomentum(n *ops.Node) (*ops.Kernel, error) {
	for _, name := range []string{"alpha", "beta", "norm_coefficient", "mode"} {
		if !n.Has(name) {
			return nil, fmt.Errorf("attribute %q is required", name)
		}
	}
	alpha := float64(n.Float("alpha", 0))
	beta := float64(n.Float("beta", 0))
	norm := float64(n.Float("norm_coefficient", 0))
	mode := n.String("mode", "")
	if err := n.Err(); err != nil {
		return nil, err
	}
	if mode != "standard" && mode != "nesterov" {
		return nil, fmt.Errorf("mode %q is neither \"standard\" nor \"nesterov\"", mode)
	}
	nesterov := mode == "nesterov"
	return &ops.Kernel{Run: func(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return run(c, in, 3, func(r float64, t int64) step {
			b := beta
			if t <= 0 {
				b = 1 // the first update takes the whole gradient
			}
			return func(x, g float64, st []float64) float64 {
				gr := norm*x + g
				st[0] = alpha*st[0] + b*gr // V_new
				if nesterov {
					return x - r*(gr+alpha*st[0])
				}
				return x - r*st[0]
			}
		})
	}}, nil
}

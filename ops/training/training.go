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
	"sync"
	"sync/atomic"

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

// kind names an optimizer.
type kind int

const (
	adagrad kind = iota
	adam
	momentum
)

// hyper holds an optimizer's attributes and, once R and T are read, the
// learning rate and gradient coefficient of this step.
type hyper struct {
	kind                   kind
	eps, decay, norm, post float64
	alpha, beta            float64
	nesterov               bool
	rate, gradCoef         float64 // set per run
}

// groups is the number of input groups: X, G and the state tensors.
func (h hyper) groups() int {
	if h.kind == adam {
		return 4
	}
	return 3
}

// forStep fills rate and gradCoef from R and T.
func (h hyper) forStep(r float64, t int64) hyper {
	h.rate, h.gradCoef = r, h.beta
	switch h.kind {
	case adagrad:
		h.rate = r / (1 + float64(t)*h.decay)
	case adam:
		if t > 0 {
			h.rate = r * math.Sqrt(1-math.Pow(h.beta, float64(t))) / (1 - math.Pow(h.alpha, float64(t)))
		}
	case momentum:
		if t <= 0 {
			h.gradCoef = 1 // the first update takes the whole gradient
		}
	}
	return h
}

// run checks the inputs (R, T, then groups of X, G and states) and updates
// every optimized tensor; outputs are X_new..., then each state's new values.
func (h hyper) run(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	groups := h.groups()
	if len(in) < 2+groups || (len(in)-2)%groups != 0 {
		return nil, fmt.Errorf("%d inputs; want R, T and then %d groups of equally many tensors (X..., G..., states...)", len(in), groups)
	}
	for i, t := range in {
		if t == nil {
			return nil, fmt.Errorf("input %d is missing", i)
		}
	}
	r, t := in[0], in[1]
	var rv float64
	switch {
	case r.Len() == 1 && r.DType() == tensor.Float32:
		rv = float64(tensor.Data[float32](r)[0])
	case r.Len() == 1 && r.DType() == tensor.Float64:
		rv = tensor.Data[float64](r)[0]
	default:
		return nil, fmt.Errorf("R is %v%v, want a float32 or float64 scalar", r.DType(), r.Shape())
	}
	if t.Len() != 1 || t.DType() != tensor.Int64 {
		return nil, fmt.Errorf("T is %v%v, want an int64 scalar", t.DType(), t.Shape())
	}
	h = h.forStep(rv, tensor.Data[int64](t)[0])
	cnt := (len(in) - 2) / groups
	outs := make([]*tensor.Tensor, (groups-1)*cnt)
	for j := 0; j < cnt; j++ {
		ts := make([]*tensor.Tensor, groups) // X, G, states
		for gi := range ts {
			ts[gi] = in[2+gi*cnt+j]
			if d := ts[gi].DType(); d != tensor.Float32 && d != tensor.Float64 {
				return nil, fmt.Errorf("input %d is %v, want float32 or float64", 2+gi*cnt+j, d)
			}
			if ts[gi].DType() != ts[0].DType() {
				return nil, fmt.Errorf("input %d is %v but the tensor it belongs to (input %d) is %v", 2+gi*cnt+j, ts[gi].DType(), 2+j, ts[0].DType())
			}
			if !tensor.SameShape(ts[gi].Shape(), ts[0].Shape()) {
				return nil, fmt.Errorf("input %d has shape %v but the tensor it belongs to (input %d) has %v", 2+gi*cnt+j, ts[gi].Shape(), 2+j, ts[0].Shape())
			}
		}
		res := make([]*tensor.Tensor, groups-1) // X_new, states_new
		for i := range res {
			o, err := c.New(ts[0].DType(), ts[0].Shape()...)
			if err != nil {
				return nil, err
			}
			res[i] = o
			outs[i*cnt+j] = o
		}
		var err error
		if ts[0].DType() == tensor.Float32 {
			err = update[float32](c, h, ts, res)
		} else {
			err = update[float64](c, h, ts, res)
		}
		if err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// update applies one step to one optimized tensor: ts = X, G, states in;
// res = X_new, states_new out. It computes in float64 and splits large
// tensors over Ctx.Threads.
func update[F tensor.Float](c *ops.Ctx, h hyper, ts, res []*tensor.Tensor) error {
	x, g := tensor.Data[F](ts[0]), tensor.Data[F](ts[1])
	xo := tensor.Data[F](res[0])
	s0, s0o := tensor.Data[F](ts[2]), tensor.Data[F](res[1])
	var s1, s1o []F
	if h.kind == adam {
		s1, s1o = tensor.Data[F](ts[3]), tensor.Data[F](res[2])
	}
	return parallel(c, len(x), func(lo, hi int) {
		switch h.kind {
		case adagrad: // s0 = H
			for i := lo; i < hi; i++ {
				xi := float64(x[i])
				gr := h.norm*xi + float64(g[i])
				hn := float64(s0[i]) + gr*gr
				s0o[i] = F(hn)
				xo[i] = F(xi - h.rate*gr/(math.Sqrt(hn)+h.eps))
			}
		case adam: // s0 = V, s1 = H
			for i := lo; i < hi; i++ {
				xi := float64(x[i])
				gr := h.norm*xi + float64(g[i])
				v := h.alpha*float64(s0[i]) + (1-h.alpha)*gr
				hn := h.beta*float64(s1[i]) + (1-h.beta)*(gr*gr)
				s0o[i], s1o[i] = F(v), F(hn)
				xo[i] = F((1 - h.post) * (xi - h.rate*v/(math.Sqrt(hn)+h.eps)))
			}
		case momentum: // s0 = V
			for i := lo; i < hi; i++ {
				xi := float64(x[i])
				gr := h.norm*xi + float64(g[i])
				v := h.alpha*float64(s0[i]) + h.gradCoef*gr
				s0o[i] = F(v)
				if h.nesterov {
					xo[i] = F(xi - h.rate*(gr+h.alpha*v))
				} else {
					xo[i] = F(xi - h.rate*v)
				}
			}
		}
	})
}

// parallel runs f over [0, n) in chunks spread over Ctx.Threads goroutines,
// checking for cancellation between chunks.
func parallel(c *ops.Ctx, n int, f func(lo, hi int)) error {
	const grain = 1 << 16
	threads := 1
	if c != nil && c.Threads > 1 {
		threads = c.Threads
	}
	if threads == 1 || n <= grain {
		for lo := 0; lo < n; lo += grain {
			if err := c.Check(); err != nil {
				return err
			}
			f(lo, min(n, lo+grain))
		}
		return nil
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(grain)) - grain
				if lo >= n || c.Check() != nil {
					return
				}
				f(lo, min(n, lo+grain))
			}
		}()
	}
	wg.Wait()
	return c.Check()
}

func compileAdagrad(n *ops.Node) (*ops.Kernel, error) {
	h := hyper{
		kind:  adagrad,
		eps:   float64(n.Float("epsilon", 1e-6)),
		decay: float64(n.Float("decay_factor", 0)),
		norm:  float64(n.Float("norm_coefficient", 0)),
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: h.run}, nil
}

func compileAdam(n *ops.Node) (*ops.Kernel, error) {
	h := hyper{
		kind:  adam,
		alpha: float64(n.Float("alpha", 0.9)),
		beta:  float64(n.Float("beta", 0.999)),
		eps:   float64(n.Float("epsilon", 1e-6)),
		norm:  float64(n.Float("norm_coefficient", 0)),
		post:  float64(n.Float("norm_coefficient_post", 0)),
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	return &ops.Kernel{Run: h.run}, nil
}

func compileMomentum(n *ops.Node) (*ops.Kernel, error) {
	for _, name := range []string{"alpha", "beta", "norm_coefficient", "mode"} {
		if !n.Has(name) {
			return nil, fmt.Errorf("attribute %q is required", name)
		}
	}
	h := hyper{
		kind:  momentum,
		alpha: float64(n.Float("alpha", 0)),
		beta:  float64(n.Float("beta", 0)),
		norm:  float64(n.Float("norm_coefficient", 0)),
	}
	mode := n.String("mode", "")
	if err := n.Err(); err != nil {
		return nil, err
	}
	if mode != "standard" && mode != "nesterov" {
		return nil, fmt.Errorf("mode %q is neither \"standard\" nor \"nesterov\"", mode)
	}
	h.nesterov = mode == "nesterov"
	return &ops.Kernel{Run: h.run}, nil
}

package train

import (
	"fmt"
	"strings"

	"github.com/gort-ml/gort/autodiff"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Optimizer emits the update of one parameter in standard ONNX ops.
//
// The step graph feeds every optimizer the learning rate (a float scalar
// input, so schedules live outside the graph) and the 1-based step number t
// (an int64 scalar input, for bias correction).
type Optimizer interface {
	// Name identifies the optimizer in checkpoints ("adamw", "sgd").
	Name() string
	// Slots names the per-parameter state tensors, zero-initialised.
	Slots() []string
	// Update emits p' and the new state from p, its gradient g and state.
	Update(u *Update) (newParam string, newState []string)
}

// Update is what an optimizer sees of one parameter.
type Update struct {
	B     *autodiff.Builder
	Name  string   // parameter name
	Param string   // current value
	Grad  string   // gradient (already clipped)
	State []string // current state, in Slots order
	LR    string   // float scalar, the parameter's dtype
	T     string   // step t as a float scalar of the parameter's dtype (1-based)
	Decay bool     // weight decay applies to this parameter
}

// SGD is stochastic gradient descent with optional momentum, Nesterov
// momentum and L2 weight decay, as torch.optim.SGD (dampening 0):
//
//	g ← g + λp;  b ← μb + g;  g ← g + μb (Nesterov) or b;  p ← p − lr·g
type SGD struct {
	Momentum    float64
	Nesterov    bool
	WeightDecay float64
	// PreviewOp emits ONNX's ai.onnx.preview.training Momentum op instead of
	// standard ops: the same update (ONNX's standard and nesterov modes equal
	// torch's SGD with dampening 0), for runtimes that implement the training
	// preview domain. ONNX Runtime's CPU build does not.
	PreviewOp bool
}

// TrainingDomain is the ONNX preview training operator domain.
const TrainingDomain = "ai.onnx.preview.training"

func (o SGD) Name() string { return "sgd" }

func (o SGD) Slots() []string {
	if o.Momentum == 0 {
		return nil
	}
	return []string{"momentum"}
}

func (o SGD) Update(u *Update) (string, []string) {
	b, g := u.B, u.Grad
	if o.PreviewOp && o.Momentum != 0 {
		// Momentum(R, T, X, G, V): T counts previous updates (0 on the first
		// step, where ONNX uses beta = 1, matching torch's buffer init).
		mode := "standard"
		if o.Nesterov {
			mode = "nesterov"
		}
		wd := 0.0
		if u.Decay {
			wd = o.WeightDecay
		}
		t := b.Op("Sub", nil, InputStep, b.Const(tensor.Scalar(int64(1))))
		outs := b.OpDomain(TrainingDomain, "Momentum", 2, []ops.Attr{
			{Name: "alpha", Type: ops.AttrFloat, F: float32(o.Momentum)},
			{Name: "beta", Type: ops.AttrFloat, F: 1},
			{Name: "norm_coefficient", Type: ops.AttrFloat, F: float32(wd)},
			{Name: "mode", Type: ops.AttrString, S: []byte(mode)},
		}, u.LR, t, u.Param, g, u.State[0])
		return outs[0], []string{outs[1]}
	}
	if o.WeightDecay != 0 && u.Decay {
		g = b.Op("Add", nil, g, b.Op("Mul", nil, u.Param, b.Scalar(o.WeightDecay, u.Param)))
	}
	var state []string
	if o.Momentum != 0 {
		buf := b.Op("Add", nil, b.Op("Mul", nil, u.State[0], b.Scalar(o.Momentum, u.Param)), g)
		state = []string{buf}
		if o.Nesterov {
			g = b.Op("Add", nil, g, b.Op("Mul", nil, buf, b.Scalar(o.Momentum, u.Param)))
		} else {
			g = buf
		}
	}
	return b.Op("Sub", nil, u.Param, b.Op("Mul", nil, g, u.LR)), state
}

// Adam is Adam (Kingma & Ba) with bias correction; with Decoupled it is
// AdamW (Loshchilov & Hutter), exactly as torch.optim.AdamW computes it:
//
//	m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
//	p ← p·(1 − lr·λ)                              (AdamW, decayed params only)
//	p ← p − lr · (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)
//
// Without Decoupled, WeightDecay is L2 regularisation added to g (torch.optim.Adam).
//
// There is no preview-op form: ONNX's ai.onnx.preview.training Adam adds ε
// to √v before bias correction (torch adds it after) and applies its
// post-update decay as (1−λ)·p rather than p·(1 − lr·λ), so it is not the
// same optimizer.
type Adam struct {
	Beta1, Beta2, Eps float64
	WeightDecay       float64
	Decoupled         bool
}

// AdamW returns AdamW with PyTorch's defaults (β 0.9/0.999, ε 1e-8) and the given decay.
func AdamW(weightDecay float64) Adam {
	return Adam{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay, Decoupled: true}
}

func (o Adam) Name() string {
	if o.Decoupled {
		return "adamw"
	}
	return "adam"
}

func (o Adam) Slots() []string { return []string{"exp_avg", "exp_avg_sq"} }

func (o Adam) Update(u *Update) (string, []string) {
	b, g, p := u.B, u.Grad, u.Param
	if o.WeightDecay != 0 && u.Decay && !o.Decoupled {
		g = b.Op("Add", nil, g, b.Op("Mul", nil, p, b.Scalar(o.WeightDecay, p)))
	}
	m := b.Op("Add", nil, b.Op("Mul", nil, u.State[0], b.Scalar(o.Beta1, p)), b.Op("Mul", nil, g, b.Scalar(1-o.Beta1, p)))
	v := b.Op("Add", nil, b.Op("Mul", nil, u.State[1], b.Scalar(o.Beta2, p)), b.Op("Mul", nil, b.Op("Mul", nil, g, g), b.Scalar(1-o.Beta2, p)))
	bc1 := b.Op("Sub", nil, b.Scalar(1, p), b.Op("Pow", nil, b.Scalar(o.Beta1, p), u.T))
	bc2 := b.Op("Sub", nil, b.Scalar(1, p), b.Op("Pow", nil, b.Scalar(o.Beta2, p), u.T))
	denom := b.Op("Add", nil, b.Op("Div", nil, b.Op("Sqrt", nil, v), b.Op("Sqrt", nil, bc2)), b.Scalar(o.Eps, p))
	step := b.Op("Div", nil, b.Op("Mul", nil, m, b.Op("Div", nil, u.LR, bc1)), denom)
	if o.WeightDecay != 0 && u.Decay && o.Decoupled {
		p = b.Op("Mul", nil, p, b.Op("Sub", nil, b.Scalar(1, p), b.Op("Mul", nil, u.LR, b.Scalar(o.WeightDecay, p))))
	}
	return b.Op("Sub", nil, p, step), []string{m, v}
}

// DefaultDecay is the weight-decay filter of Hugging Face's trainers: no
// decay for biases and normalisation weights (1-D parameters) nor for any
// parameter whose name mentions a norm.
func DefaultDecay(name string, rank int) bool {
	lower := strings.ToLower(name)
	return rank >= 2 && !strings.Contains(lower, "norm")
}

// clipByGlobalNorm scales every gradient by min(1, maxNorm/(‖g‖₂+1e-6)),
// ‖g‖₂ over all gradients together, as torch.nn.utils.clip_grad_norm_.
// It returns the clipped gradients and the norm before clipping.
func clipByGlobalNorm(b *autodiff.Builder, grads []string, like string, maxNorm float64) ([]string, string, error) {
	if len(grads) == 0 {
		return nil, "", fmt.Errorf("train: no gradients to clip")
	}
	var sq []string
	for _, g := range grads {
		sq = append(sq, b.Op("ReduceSum", []ops.Attr{{Name: "keepdims", Type: ops.AttrInt, I: 0}}, b.Op("Mul", nil, g, g)))
	}
	total := sq[0]
	if len(sq) > 1 {
		total = b.Op("Sum", nil, sq...)
	}
	norm := b.Op("Sqrt", nil, total)
	coef := b.Op("Min", nil, b.Scalar(1, like), b.Op("Div", nil, b.Scalar(maxNorm, like), b.Op("Add", nil, norm, b.Scalar(1e-6, like))))
	out := make([]string, len(grads))
	for i, g := range grads {
		out[i] = b.Op("Mul", nil, g, coef)
	}
	return out, norm, nil
}

package train

import (
	"fmt"
	"sort"

	"github.com/gort-ml/gort/autodiff"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

// Names of the step graph's scalar inputs and its loss output.
const (
	InputLR        = "train/lr"   // float scalar: this step's learning rate
	InputStep      = "train/step" // int64 scalar: the 1-based step number t
	OutputLoss     = "train/loss"
	OutputGradNorm = "train/grad_norm" // only with clipping
)

// Config describes a training step.
type Config struct {
	// Loss is the scalar loss value of the forward graph (see CrossEntropy, MSE, ...).
	Loss string
	// Params are the initializers to train. Nil means every floating-point
	// initializer, minus Frozen.
	Params []string
	// Frozen reports parameters to keep fixed (frozen backbones).
	Frozen func(name string) bool
	// Optimizer updates parameters; nil means AdamW(0.01).
	Optimizer Optimizer
	// Decay reports whether weight decay applies; nil means DefaultDecay.
	Decay func(name string, rank int) bool
	// ClipNorm clips gradients by their global L2 norm when > 0.
	ClipNorm float64
}

// Slot is one optimizer state tensor of one parameter.
type Slot struct {
	Param, Slot string
	Input       string // graph input carrying the current value
	Output      string // graph output carrying the new value
}

// Step is a training step as one ONNX graph: inputs are the batch, the
// parameters, the optimizer state, the learning rate and the step number;
// outputs are the loss, the updated parameters and the updated state.
// Because it is an ordinary ONNX graph, the native runtime and ONNX Runtime
// both run it.
type Step struct {
	Model     *ir.Model
	Batch     []string                  // batch inputs (the forward graph's inputs)
	Params    []string                  // trainable parameters, graph inputs of the same names
	NewParams map[string]string         // parameter -> output with its updated value
	Slots     []Slot                    // optimizer state
	Init      map[string]*tensor.Tensor // initial parameter values
	Optimizer Optimizer
	DType     tensor.DType // of the parameters (and of lr)
	Clipped   bool
}

// Build turns a forward model with a loss into a training-step graph. The
// forward model is not modified.
func Build(forward *ir.Model, cfg Config) (*Step, error) {
	m := cloneModel(forward)
	g := m.Graph
	if cfg.Optimizer == nil {
		cfg.Optimizer = AdamW(0.01)
	}
	if cfg.Decay == nil {
		cfg.Decay = DefaultDecay
	}
	inits := map[string]*ir.Initializer{}
	for _, in := range g.Initializers {
		inits[in.Name] = in
	}
	params := cfg.Params
	if params == nil {
		for _, in := range g.Initializers {
			if in.T.DType().IsFloat() && (cfg.Frozen == nil || !cfg.Frozen(in.Name)) {
				params = append(params, in.Name)
			}
		}
	}
	if len(params) == 0 {
		return nil, fmt.Errorf("train: no trainable parameters (all frozen or none floating-point)")
	}
	st := &Step{Model: m, Params: params, NewParams: map[string]string{}, Init: map[string]*tensor.Tensor{}, Optimizer: cfg.Optimizer}
	for _, v := range g.Inputs {
		if inits[v.Name] == nil {
			st.Batch = append(st.Batch, v.Name)
		}
	}
	// Parameters move from initializers to inputs; their values are kept in Init.
	isParam := map[string]bool{}
	for _, p := range params {
		in := inits[p]
		if in == nil {
			return nil, fmt.Errorf("train: parameter %q is not an initializer of the model", p)
		}
		if !in.T.DType().IsFloat() {
			return nil, fmt.Errorf("train: parameter %q is %v; only floating-point tensors train", p, in.T.DType())
		}
		if st.DType == tensor.Undefined {
			st.DType = in.T.DType()
		} else if st.DType != in.T.DType() {
			return nil, fmt.Errorf("train: parameters mix %v and %v (%q); cast them to one dtype", st.DType, in.T.DType(), p)
		}
		isParam[p] = true
		st.Init[p] = in.T
	}
	var keep []*ir.Initializer
	for _, in := range g.Initializers {
		if !isParam[in.Name] {
			keep = append(keep, in)
		}
	}
	g.Initializers = keep
	var declared []*ir.ValueInfo
	for _, v := range g.Inputs {
		if !isParam[v.Name] {
			declared = append(declared, v)
		}
	}
	g.Inputs = declared
	for _, p := range params {
		g.Inputs = append(g.Inputs, &ir.ValueInfo{Name: p, Type: tensor.TensorType(st.DType, st.Init[p].Shape()...)})
	}
	g.Inputs = append(g.Inputs,
		&ir.ValueInfo{Name: InputLR, Type: tensor.TensorType(st.DType)},
		&ir.ValueInfo{Name: InputStep, Type: tensor.TensorType(tensor.Int64)})

	grads, err := autodiff.Gradients(m, cfg.Loss, params)
	if err != nil {
		return nil, err
	}
	b := autodiff.NewBuilder(m, "optim/")
	gs := make([]string, len(params))
	for i, p := range params {
		gs[i] = grads[p]
	}
	outputs := []*ir.ValueInfo{{Name: b.Alias(OutputLoss, cfg.Loss), Type: tensor.TensorType(st.DType)}}
	if cfg.ClipNorm > 0 {
		var norm string
		gs, norm, err = clipByGlobalNorm(b, gs, params[0], cfg.ClipNorm)
		if err != nil {
			return nil, err
		}
		outputs = append(outputs, &ir.ValueInfo{Name: b.Alias(OutputGradNorm, norm), Type: tensor.TensorType(st.DType)})
		st.Clipped = true
	}
	t := b.Op("CastLike", nil, InputStep, InputLR)
	for i, p := range params {
		shape := st.Init[p].Shape()
		var state []string
		for _, slot := range cfg.Optimizer.Slots() {
			name := p + "/" + slot
			g.Inputs = append(g.Inputs, &ir.ValueInfo{Name: name, Type: tensor.TensorType(st.DType, shape...)})
			state = append(state, name)
		}
		b.SetPrefix("optim/" + p + "/")
		np, ns := cfg.Optimizer.Update(&Update{B: b, Name: p, Param: p, Grad: gs[i], State: state,
			LR: InputLR, T: t, Decay: cfg.Decay(p, len(shape))})
		out := b.Alias(p+".new", np)
		st.NewParams[p] = out
		outputs = append(outputs, &ir.ValueInfo{Name: out, Type: tensor.TensorType(st.DType, shape...)})
		for j, slot := range cfg.Optimizer.Slots() {
			so := b.Alias(state[j]+".new", ns[j])
			st.Slots = append(st.Slots, Slot{Param: p, Slot: slot, Input: state[j], Output: so})
			outputs = append(outputs, &ir.ValueInfo{Name: so, Type: tensor.TensorType(st.DType, shape...)})
		}
	}
	g.Outputs = outputs
	if err := g.Validate(nil); err != nil {
		return nil, fmt.Errorf("train: step graph: %w", err)
	}
	return st, nil
}

// InitialState returns zero optimizer state for every slot.
func (s *Step) InitialState() map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for _, sl := range s.Slots {
		out[sl.Input] = tensor.Zeros(s.DType, s.Init[sl.Param].Shape()...)
	}
	return out
}

// cloneModel copies the model's graph structure (nodes, value lists and
// initializer list) so that Build never modifies the caller's model. Tensors
// are shared: nothing here writes to them.
func cloneModel(m *ir.Model) *ir.Model {
	c := *m
	g := *m.Graph
	g.Nodes = append([]*ir.Node{}, g.Nodes...)
	g.Inputs = append([]*ir.ValueInfo{}, g.Inputs...)
	g.Outputs = append([]*ir.ValueInfo{}, g.Outputs...)
	g.Initializers = append([]*ir.Initializer{}, g.Initializers...)
	c.Graph = &g
	return &c
}

func sortedNames(m map[string]*tensor.Tensor) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package train

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gort-ml/gort/autodiff"
	"github.com/gort-ml/gort/graphopt"
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
	// Params are the initializers to train. Nil means every initializer
	// DefaultTrainable accepts, minus Frozen.
	Params []string
	// Frozen reports parameters to keep fixed (frozen backbones).
	Frozen func(name string) bool
	// Optimizer updates parameters; nil means AdamW(0.01).
	Optimizer Optimizer
	// Decay reports whether weight decay applies; nil means DefaultDecay.
	Decay func(name string, rank int) bool
	// ClipNorm clips gradients by their global L2 norm when > 0.
	ClipNorm float64
	// Accumulate sums gradients over this many micro-batches before each
	// update (the Trainer then takes that many batches per Step); 0 or 1: none.
	Accumulate int
	// NoOptimize skips graphopt on the step graphs. By default the same
	// passes as for inference run over forward, backward and update
	// together (folding the run-time shape arithmetic of broadcast
	// gradients, CSE, DCE, and fusions whose intermediates backward nodes
	// do not read).
	NoOptimize bool
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

	// With Config.Accumulate > 1: the forward+backward graph (outputs the
	// loss then one gradient per parameter, named GradNames) and the update
	// graph (inputs GradInputs). Model remains the fused single-batch step.
	Accumulate  int
	GradModel   *ir.Model
	GradNames   []string
	UpdateModel *ir.Model
	GradInputs  []string
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
			if DefaultTrainable(in.Name, in.T) && (cfg.Frozen == nil || !cfg.Frozen(in.Name)) {
				params = append(params, in.Name)
			}
		}
	}
	if len(params) == 0 {
		return nil, fmt.Errorf("train: no trainable parameters (all frozen or none floating-point)")
	}
	st := &Step{Model: m, Params: params, NewParams: map[string]string{}, Init: map[string]*tensor.Tensor{}, Optimizer: cfg.Optimizer, Accumulate: max(1, cfg.Accumulate)}
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

	// Ranks from one probe run fill what static inference cannot see; a
	// model the probe cannot run still differentiates where inference suffices.
	probed, _ := probeRanks(forward)
	grads, err := autodiff.GradientsWith(m, cfg.Loss, params, autodiff.Options{Types: probed})
	if err != nil {
		return nil, err
	}
	b := autodiff.NewBuilder(m, "optim/")
	gs := make([]string, len(params))
	for i, p := range params {
		gs[i] = grads[p]
	}
	outputs := []*ir.ValueInfo{{Name: b.Alias(OutputLoss, cfg.Loss), Type: tensor.TensorType(st.DType)}}
	if cfg.Accumulate > 1 {
		// The fused graph stays available (Model) for export; training runs
		// GradModel per micro-batch and UpdateModel once per step.
		gm := cloneModel(m)
		gm.Graph.Inputs = withoutOptimizerInputs(gm.Graph.Inputs)
		gm.Graph.Outputs = append([]*ir.ValueInfo{}, outputs...)
		for i, p := range params {
			gm.Graph.Outputs = append(gm.Graph.Outputs, &ir.ValueInfo{Name: gs[i], Type: tensor.TensorType(st.DType, st.Init[p].Shape()...)})
		}
		st.GradModel = gm
		st.GradNames = gs
		st.UpdateModel, st.GradInputs, err = updateModel(m, st, cfg)
		if err != nil {
			return nil, err
		}
	}
	upd, err := emitUpdate(b, g, st, gs, cfg)
	if err != nil {
		return nil, err
	}
	outputs = append(outputs, upd...)
	g.Outputs = outputs
	if err := g.Validate(nil); err != nil {
		return nil, fmt.Errorf("train: step graph: %w", err)
	}
	for _, mp := range []*ir.Model{st.Model, st.UpdateModel} {
		if mp != nil && usesDomain(mp.Graph, TrainingDomain) && mp.Opset(TrainingDomain) == 0 {
			mp.Opsets = append(append([]ir.OpsetID{}, mp.Opsets...), ir.OpsetID{Domain: TrainingDomain, Version: 1})
		}
	}
	if !cfg.NoOptimize {
		for _, mp := range []**ir.Model{&st.Model, &st.GradModel, &st.UpdateModel} {
			if *mp == nil {
				continue
			}
			om, _, err := graphopt.Optimize(*mp, graphopt.Options{})
			if err != nil {
				return nil, fmt.Errorf("train: optimizing the step graph: %w (set Config.NoOptimize to skip)", err)
			}
			*mp = om
		}
	}
	return st, nil
}

// emitUpdate appends gradient clipping and the optimizer update of every
// parameter, declaring the state inputs, and returns the new outputs.
func emitUpdate(b *autodiff.Builder, g *ir.Graph, st *Step, gs []string, cfg Config) ([]*ir.ValueInfo, error) {
	params := st.Params
	var outputs []*ir.ValueInfo
	if cfg.ClipNorm > 0 {
		var norm string
		var err error
		gs, norm, err = clipByGlobalNorm(b, gs, params[0], cfg.ClipNorm)
		if err != nil {
			return nil, err
		}
		outputs = append(outputs, &ir.ValueInfo{Name: b.Alias(OutputGradNorm, norm), Type: tensor.TensorType(st.DType)})
		st.Clipped = true
	}
	t := b.Op("CastLike", nil, InputStep, InputLR)
	st.Slots = nil
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
	return outputs, nil
}

// updateModel is the optimizer update alone: inputs are the parameters,
// their (accumulated) gradients "grad/<param>", the state, lr and step.
func updateModel(fwd *ir.Model, st *Step, cfg Config) (*ir.Model, []string, error) {
	g := &ir.Graph{Name: "update"}
	m := &ir.Model{IRVersion: fwd.IRVersion, Opsets: fwd.Opsets, ProducerName: "gort", Graph: g}
	var gin []string
	for _, p := range st.Params {
		shape := st.Init[p].Shape()
		g.Inputs = append(g.Inputs, &ir.ValueInfo{Name: p, Type: tensor.TensorType(st.DType, shape...)})
		gin = append(gin, "grad/"+p)
		g.Inputs = append(g.Inputs, &ir.ValueInfo{Name: "grad/" + p, Type: tensor.TensorType(st.DType, shape...)})
	}
	g.Inputs = append(g.Inputs,
		&ir.ValueInfo{Name: InputLR, Type: tensor.TensorType(st.DType)},
		&ir.ValueInfo{Name: InputStep, Type: tensor.TensorType(tensor.Int64)})
	b := autodiff.NewBuilder(m, "optim/")
	shadow := &Step{Params: st.Params, Init: st.Init, DType: st.DType, NewParams: map[string]string{}}
	outs, err := emitUpdate(b, g, shadow, gin, cfg)
	if err != nil {
		return nil, nil, err
	}
	g.Outputs = outs
	if err := g.Validate(nil); err != nil {
		return nil, nil, fmt.Errorf("train: update graph: %w", err)
	}
	return m, gin, nil
}

// withoutOptimizerInputs drops lr and step, which the gradient graph does not read.
func withoutOptimizerInputs(in []*ir.ValueInfo) []*ir.ValueInfo {
	var out []*ir.ValueInfo
	for _, v := range in {
		if v.Name != InputLR && v.Name != InputStep {
			out = append(out, v)
		}
	}
	return out
}

// DefaultTrainable tells weights from constants among a model's
// initializers: floating-point tensors of rank >= 1 whose names are not the
// ones exporters give to folded constants ("onnx::Mul_42", "/encoder/Constant_output_0").
// Scalars (rank 0) are constants: scale factors, epsilons, mask fill values.
func DefaultTrainable(name string, t *tensor.Tensor) bool {
	if !t.DType().IsFloat() || t.Rank() == 0 {
		return false
	}
	return !strings.HasPrefix(name, "onnx::") && !strings.HasPrefix(name, "/")
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

func usesDomain(g *ir.Graph, domain string) bool {
	for _, n := range g.Nodes {
		if n.Domain == domain {
			return true
		}
	}
	return false
}

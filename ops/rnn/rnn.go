// Package rnn holds gort's kernels for the recurrent operator family.
//
// # Overview
//
// RNN, GRU and LSTM share one driver: attributes (directions, activations
// with their alpha/beta, clip, layout) are read at Compile time; at run time
// X·Wᵀ is computed for every time step in one GEMM, then each step adds
// H·Rᵀ (one GEMM over the batch) and applies the cell's gate equations.
// sequence_lens stops each batch entry early (its Y rows stay zero and Y_h
// holds its last state; an empty sequence gives zero Y_h and Y_c, as ONNX
// Runtime does); the reverse direction starts at each entry's last valid
// step. float32 products use ops/nn's SGEMM; float16 and bfloat16
// compute in float32, float64 in float64.
package rnn

import (
	"fmt"
	"math"
	"strings"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(rnnOps, gruOps, lstmOps)
}

// cell is the recurrent unit of a node.
type cell int

const (
	cellRNN cell = iota
	cellGRU
	cellLSTM
)

var cellNames = [...]string{"RNN", "GRU", "LSTM"}

// gates is how many hidden-sized blocks W, R and half of B hold.
func (k cell) gates() int { return [...]int{1, 3, 4}[k] }

// nActs is how many activations one direction takes.
func (k cell) nActs() int { return [...]int{1, 2, 3}[k] }

// defaultActs is one direction's activations when the attribute is absent.
func (k cell) defaultActs() []string {
	return [][]string{{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}}[k]
}

// RNN: H_t = f(X_t·Wᵀ + H_{t-1}·Rᵀ + Wb + Rb), f = Tanh by default.
var rnnOps = ops.Versions("", "RNN", "RNN: H_t = f(X_t·Wᵀ + H_{t-1}·Rᵀ + Wb + Rb) per direction; Y stacks H_t, Y_h is the last H",
	[]int{1, 7, 14, 22}, inferRecurrent(cellRNN), compileRecurrent(cellRNN))

// GRU (gates z, r, h; f = Sigmoid, g = Tanh by default):
//
//	z = f(X·Wzᵀ + H·Rzᵀ + Wbz + Rbz),  r = f(X·Wrᵀ + H·Rrᵀ + Wbr + Rbr)
//	h = g(X·Whᵀ + (r ⊙ H)·Rhᵀ + Rbh + Wbh)        (linear_before_reset = 0)
//	h = g(X·Whᵀ + r ⊙ (H·Rhᵀ + Rbh) + Wbh)        (linear_before_reset = 1)
//	H' = (1 - z) ⊙ h + z ⊙ H
var gruOps = ops.Versions("", "GRU", "GRU: H' = (1-z)⊙h + z⊙H with update z, reset r and candidate h (linear_before_reset selects where r applies)",
	[]int{1, 3, 7, 14, 22}, inferRecurrent(cellGRU), compileRecurrent(cellGRU))

// LSTM (gates i, o, f, c; f = Sigmoid, g = h = Tanh by default; P holds
// the peepholes Pi, Po, Pf):
//
//	i = f(X·Wiᵀ + H·Riᵀ + Pi ⊙ C + Wbi + Rbi)
//	f = f(X·Wfᵀ + H·Rfᵀ + Pf ⊙ C + Wbf + Rbf)   (1 - i when input_forget = 1)
//	c = g(X·Wcᵀ + H·Rcᵀ + Wbc + Rbc)
//	C' = f ⊙ C + i ⊙ c
//	o = f(X·Woᵀ + H·Roᵀ + Po ⊙ C' + Wbo + Rbo)
//	H' = o ⊙ h(C')
var lstmOps = ops.Versions("", "LSTM", "LSTM: C' = f⊙C + i⊙g(..), H' = o⊙h(C') with input, output, forget gates and optional peepholes",
	[]int{1, 7, 14, 22}, inferRecurrent(cellLSTM), compileRecurrent(cellLSTM))

// act is one activation function with its parameters.
type act struct {
	fn          actFn
	alpha, beta float64
}

type actFn int

const (
	actRelu actFn = iota
	actTanh
	actSigmoid
	actSoftsign
	actSoftplus
	actAffine
	actLeakyRelu
	actThresholdedRelu
	actScaledTanh
	actHardSigmoid
	actElu
)

// actParams gives, for each supported activation (lower case), whether it
// takes alpha and beta and their defaults.
var actParams = map[string]struct {
	fn              actFn
	alpha, beta     bool
	defAlpha, defBe float64
}{
	"relu":            {actRelu, false, false, 0, 0},
	"tanh":            {actTanh, false, false, 0, 0},
	"sigmoid":         {actSigmoid, false, false, 0, 0},
	"softsign":        {actSoftsign, false, false, 0, 0},
	"softplus":        {actSoftplus, false, false, 0, 0},
	"affine":          {actAffine, true, true, 1, 0},
	"leakyrelu":       {actLeakyRelu, true, false, 0.01, 0},
	"thresholdedrelu": {actThresholdedRelu, true, false, 1, 0},
	"scaledtanh":      {actScaledTanh, true, true, 1, 1},
	"hardsigmoid":     {actHardSigmoid, true, true, 0.2, 0.5},
	"elu":             {actElu, true, false, 1, 0},
}

// parseActs reads the activations, consuming activation_alpha and
// activation_beta in order for the functions that take them (defaults when
// the lists run out).
func parseActs(names []string, alphas, betas []float32) ([]act, error) {
	out := make([]act, len(names))
	for i, name := range names {
		key := strings.ToLower(name)
		ps, ok := actParams[key]
		if !ok {
			return nil, fmt.Errorf("activations[%d] is %q; want Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign or Softplus", i, name)
		}
		a := act{fn: ps.fn, alpha: ps.defAlpha, beta: ps.defBe}
		if ps.alpha && len(alphas) > 0 {
			a.alpha, alphas = float64(alphas[0]), alphas[1:]
		}
		if ps.beta && len(betas) > 0 {
			a.beta, betas = float64(betas[0]), betas[1:]
		}
		out[i] = a
	}
	return out, nil
}

// apply is the activation on one value.
func (a *act) apply(x float64) float64 {
	switch a.fn {
	case actRelu:
		return max(x, 0)
	case actTanh:
		return math.Tanh(x)
	case actSigmoid:
		if x >= 0 {
			return 1 / (1 + math.Exp(-x))
		}
		e := math.Exp(x)
		return e / (1 + e)
	case actSoftsign:
		return x / (1 + math.Abs(x))
	case actSoftplus:
		if x > 30 {
			return x
		}
		return math.Log1p(math.Exp(x))
	case actAffine:
		return a.alpha*x + a.beta
	case actLeakyRelu:
		if x < 0 {
			return a.alpha * x
		}
		return x
	case actThresholdedRelu:
		if x > a.alpha {
			return x
		}
		return 0
	case actScaledTanh:
		return a.alpha * math.Tanh(a.beta*x)
	case actHardSigmoid:
		return max(0, min(1, a.alpha*x+a.beta))
	case actElu:
		if x < 0 {
			return a.alpha * (math.Exp(x) - 1)
		}
		return x
	}
	panic("rnn: unknown activation") // parseActs admits only the functions above
}

// params are a node's compiled attributes.
type params struct {
	kind        cell
	hidden      int // 0: from R
	dirs        int
	reverse     []bool // per direction
	acts        []act  // dirs * kind.nActs()
	clip        float64
	lbr         bool // GRU linear_before_reset
	inputForget bool // LSTM input_forget
	layout      int64
	outputs     [3]bool // Y, Y_h, Y_c wanted
	nOut        int
}

func compileRecurrent(kind cell) func(n *ops.Node) (*ops.Kernel, error) {
	return func(n *ops.Node) (*ops.Kernel, error) {
		p, err := readParams(kind, n)
		if err != nil {
			return nil, err
		}
		return &ops.Kernel{Run: p.run}, nil
	}
}

func readParams(kind cell, n *ops.Node) (*params, error) {
	p := &params{kind: kind}
	hidden := n.Int("hidden_size", 0)
	direction := n.String("direction", "forward")
	names := n.Strings("activations", nil)
	alphas := n.Floats("activation_alpha", nil)
	betas := n.Floats("activation_beta", nil)
	clip := n.Float("clip", 0)
	lbr := n.Int("linear_before_reset", 0)
	inputForget := n.Int("input_forget", 0)
	p.layout = n.Int("layout", 0)
	if err := n.Err(); err != nil {
		return nil, err
	}
	if hidden < 0 || hidden > 1<<24 {
		return nil, fmt.Errorf("attribute hidden_size is %d, want a positive size", hidden)
	}
	p.hidden = int(hidden)
	switch direction {
	case "forward":
		p.reverse = []bool{false}
	case "reverse":
		p.reverse = []bool{true}
	case "bidirectional":
		p.reverse = []bool{false, true}
	default:
		return nil, fmt.Errorf("attribute direction is %q, want forward, reverse or bidirectional", direction)
	}
	p.dirs = len(p.reverse)
	na := kind.nActs()
	switch {
	case names == nil:
		for range p.dirs {
			names = append(names, kind.defaultActs()...)
		}
	case len(names) == na && p.dirs == 2:
		// One direction's list applies to both.
		names = append(append([]string{}, names...), names...)
	case len(names) != na*p.dirs:
		return nil, fmt.Errorf("attribute activations has %d functions, %s with %d direction(s) takes %d", len(names), cellNames[kind], p.dirs, na*p.dirs)
	}
	var err error
	if p.acts, err = parseActs(names, alphas, betas); err != nil {
		return nil, err
	}
	if math.IsNaN(float64(clip)) || clip < 0 {
		return nil, fmt.Errorf("attribute clip is %v, want a positive threshold", clip)
	}
	p.clip = float64(clip)
	if lbr != 0 && lbr != 1 || inputForget != 0 && inputForget != 1 {
		return nil, fmt.Errorf("linear_before_reset and input_forget must be 0 or 1")
	}
	p.lbr, p.inputForget = lbr == 1, inputForget == 1
	if p.layout != 0 && p.layout != 1 {
		return nil, fmt.Errorf("attribute layout is %d, want 0 or 1", p.layout)
	}
	maxOut := 2
	if kind == cellLSTM {
		maxOut = 3
	}
	if len(n.Outputs) > maxOut {
		return nil, fmt.Errorf("%d outputs, %s has at most %d", len(n.Outputs), cellNames[kind], maxOut)
	}
	p.nOut = len(n.Outputs)
	for i, name := range n.Outputs {
		p.outputs[i] = name != ""
	}
	return p, nil
}

// inferRecurrent gives the outputs X's dtype and, when X's shape and the
// hidden size are known, their shapes.
func inferRecurrent(kind cell) func(*ops.Node, []tensor.Type) ([]tensor.Type, error) {
	return func(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
		if len(in) == 0 {
			return nil, fmt.Errorf("input X is required")
		}
		dirs := int64(1)
		if n.String("direction", "forward") == "bidirectional" {
			dirs = 2
		}
		hidden := tensor.Dim{Size: n.Int("hidden_size", -1)}
		if hidden.Size <= 0 && len(in) > 2 && in[2].HasShape && len(in[2].Shape) == 3 {
			hidden = in[2].Shape[2]
		}
		out := make([]tensor.Type, len(n.Outputs))
		for i := range out {
			out[i] = tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
		}
		x := in[0]
		if !x.HasShape || len(x.Shape) != 3 {
			return out, nil
		}
		seq, batch := x.Shape[0], x.Shape[1]
		d := tensor.Dim{Size: dirs}
		y := []tensor.Dim{seq, d, batch, hidden}
		yh := []tensor.Dim{d, batch, hidden}
		if n.Int("layout", 0) == 1 {
			seq, batch = batch, seq
			y = []tensor.Dim{batch, seq, d, hidden}
			yh = []tensor.Dim{batch, d, hidden}
		}
		for i := range out {
			out[i].HasShape = true
			out[i].Shape = yh
			if i == 0 {
				out[i].Shape = y
			}
		}
		return out, nil
	}
}

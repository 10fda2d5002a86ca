package control

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/sequence"
	"github.com/gort-ml/gort/tensor"
)

// Scan iterates body over slices of its scan inputs, carrying state:
//
//	s = initial_state
//	for t := 0; t < T; t++ {           // T = scan inputs' length along their axes
//		s, y_t = body(s, x_0[t], ..., x_{M-1}[t])
//	}
//	outputs = s, stack(y_0, ..., y_{T-1}) along scan_output_axes
//
// where x_j[t] is the slice at t along scan_input_axes[j] (t counted from
// the end when scan_input_directions[j] = 1) and an output with
// scan_output_directions[k] = 1 is stacked in reverse order.
//
// Version 8 differs: every input and output has a leading batch dimension,
// the first input is an optional sequence_lens (one length per batch entry;
// outputs past a batch entry's length are zero) and the attribute
// directions plays the role of scan_input_directions (axes are always the
// one after the batch axis). Versions from 11 accept negative axes.
var Scan = ops.Join(
	ops.Versions("", "Scan", "s, ys = fold body over batch-major scan inputs (version 8: batch axis, sequence_lens)",
		[]int{8}, nil, compileScan8),
	ops.Versions("", "Scan", "s, ys = fold body over slices of the scan inputs along scan_input_axes",
		[]int{9, 11, 16, 19, 21, 23, 24, 25}, nil, compileScan9),
)

// scanSpec is a compiled Scan node.
type scanSpec struct {
	body             ops.Subgraph
	nState, nIn, nSc int
	inAxes, outAxes  []int64
	inRev, outRev    []bool
	outTypes         []tensor.Type
}

// compileScanCommon reads what Scan 8 and Scan 9+ share. nState is the number
// of state variables (node inputs minus the scan inputs, minus
// sequence_lens for version 8).
func compileScanCommon(n *ops.Node, nState int) (*scanSpec, error) {
	body, err := n.Subgraph("body")
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	m := n.Int("num_scan_inputs", 0)
	if !n.Has("num_scan_inputs") || m < 1 {
		return nil, fmt.Errorf("attribute num_scan_inputs is %d, want >= 1", m)
	}
	nIn := int(m)
	if nState < 0 {
		return nil, fmt.Errorf("num_scan_inputs is %d but the node has only %d inputs", m, len(n.Inputs))
	}
	if got := len(body.Inputs()); got != nState+nIn {
		return nil, fmt.Errorf("body takes %d inputs, want %d (%d state variables and %d scan inputs)", got, nState+nIn, nState, nIn)
	}
	nSc := len(body.Outputs()) - nState
	if nSc < 0 {
		return nil, fmt.Errorf("body has %d outputs, want at least the %d state variables", len(body.Outputs()), nState)
	}
	if len(n.Outputs) > nState+nSc {
		return nil, fmt.Errorf("node has %d outputs, the body yields %d", len(n.Outputs), nState+nSc)
	}
	s := &scanSpec{body: body, nState: nState, nIn: nIn, nSc: nSc,
		inAxes: make([]int64, nIn), outAxes: make([]int64, nSc), outTypes: sequence.OutputTypes(body)}
	return s, nil
}

// flags reads a list attribute of 0/1 directions of length want.
func flags(n *ops.Node, name string, want int) ([]bool, error) {
	v := n.Ints(name, nil)
	out := make([]bool, want)
	if v == nil {
		return out, nil
	}
	if len(v) != want {
		return nil, fmt.Errorf("attribute %s has %d entries, want %d", name, len(v), want)
	}
	for i, d := range v {
		if d != 0 && d != 1 {
			return nil, fmt.Errorf("attribute %s[%d] is %d, want 0 (forward) or 1 (reverse)", name, i, d)
		}
		out[i] = d == 1
	}
	return out, nil
}

func axesAttr(n *ops.Node, name string, want int, dst []int64) error {
	v := n.Ints(name, nil)
	if v == nil {
		return nil
	}
	if len(v) != want {
		return fmt.Errorf("attribute %s has %d entries, want %d", name, len(v), want)
	}
	copy(dst, v)
	return nil
}

func compileScan9(n *ops.Node) (*ops.Kernel, error) {
	nState := len(n.Inputs) - int(n.Int("num_scan_inputs", 0))
	s, err := compileScanCommon(n, nState)
	if err != nil {
		return nil, err
	}
	if err := axesAttr(n, "scan_input_axes", s.nIn, s.inAxes); err != nil {
		return nil, err
	}
	if err := axesAttr(n, "scan_output_axes", s.nSc, s.outAxes); err != nil {
		return nil, err
	}
	if s.inRev, err = flags(n, "scan_input_directions", s.nIn); err != nil {
		return nil, err
	}
	if s.outRev, err = flags(n, "scan_output_directions", s.nSc); err != nil {
		return nil, err
	}
	nOut := len(n.Outputs)
	return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		states, xs, err := s.split(in, 0)
		if err != nil {
			return nil, err
		}
		outs, err := s.run(c, states, xs)
		if err != nil {
			return nil, err
		}
		return outs[:nOut], nil
	}}, nil
}

// split checks and separates the state and scan inputs found after skip
// leading inputs.
func (s *scanSpec) split(in []tensor.Value, skip int) (states []tensor.Value, xs []*tensor.Tensor, err error) {
	if len(in) != skip+s.nState+s.nIn {
		return nil, nil, fmt.Errorf("%d inputs, want %d", len(in), skip+s.nState+s.nIn)
	}
	states = in[skip : skip+s.nState]
	for j, v := range states {
		if v == nil {
			return nil, nil, fmt.Errorf("state input %d is missing", j)
		}
	}
	xs = make([]*tensor.Tensor, s.nIn)
	for j, v := range in[skip+s.nState:] {
		if o, ok := v.(*tensor.Optional); ok && o.V != nil {
			v = o.V
		}
		t, ok := v.(*tensor.Tensor)
		if !ok || t == nil {
			return nil, nil, fmt.Errorf("scan input %d is a %T, want a tensor", j, v)
		}
		xs[j] = t
	}
	return states, xs, nil
}

// run is Scan 9+ on one set of inputs: it returns the final states followed
// by the stacked scan outputs.
func (s *scanSpec) run(c *ops.Ctx, states []tensor.Value, xs []*tensor.Tensor) ([]tensor.Value, error) {
	axes := make([]int, s.nIn)
	T := -1
	for j, x := range xs {
		a, err := ops.NormAxis(s.inAxes[j], x.Rank())
		if err != nil {
			return nil, fmt.Errorf("scan input %d: %w", j, err)
		}
		axes[j] = a
		if T < 0 {
			T = x.Shape()[a]
		} else if x.Shape()[a] != T {
			return nil, fmt.Errorf("scan input %d has %d entries along axis %d, scan input 0 has %d; they must match", j, x.Shape()[a], a, T)
		}
	}
	carried := append([]tensor.Value{}, states...)
	scans := make([]stacker, s.nSc)
	args := make([]tensor.Value, s.nState+s.nIn)
	for t := 0; t < T; t++ {
		if err := c.Check(); err != nil {
			return nil, fmt.Errorf("scan cancelled at iteration %d: %w", t, err)
		}
		copy(args, carried)
		for j, x := range xs {
			idx := t
			if s.inRev[j] {
				idx = T - 1 - t
			}
			e, err := sequence.Slab(c, x, axes[j], idx, 1, true)
			if err != nil {
				return nil, fmt.Errorf("scan input %d: %w", j, err)
			}
			args[s.nState+j] = e
		}
		res, err := s.body.Run(c, args)
		if err != nil {
			return nil, fmt.Errorf("iteration %d: %w", t, err)
		}
		copy(carried, res[:s.nState])
		for k := range scans {
			if err := scans[k].add(c, res[s.nState+k], k, int64(t)); err != nil {
				return nil, err
			}
		}
	}
	outs := make([]tensor.Value, s.nState+s.nSc)
	copy(outs, carried)
	for k := range scans {
		var typ tensor.Type
		if s.nState+k < len(s.outTypes) {
			typ = s.outTypes[s.nState+k]
		}
		y, err := scans[k].stack(c, s.outAxes[k], s.outRev[k], typ)
		if err != nil {
			return nil, fmt.Errorf("scan output %d: %w", k, err)
		}
		outs[s.nState+k] = y
	}
	return outs, nil
}

func compileScan8(n *ops.Node) (*ops.Kernel, error) {
	nState := len(n.Inputs) - 1 - int(n.Int("num_scan_inputs", 0))
	s, err := compileScanCommon(n, nState)
	if err != nil {
		return nil, err
	}
	if s.inRev, err = flags(n, "directions", s.nIn); err != nil {
		return nil, err
	}
	s.outRev = make([]bool, s.nSc)
	nOut := len(n.Outputs)
	return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
		outs, err := s.runBatched(c, in)
		if err != nil {
			return nil, err
		}
		return outs[:nOut], nil
	}}, nil
}

// runBatched is Scan 8: Scan 9 per batch entry b on (state[b], x[b][:len_b]),
// scan outputs zero-padded to the longest length, all restacked along the
// batch axis.
func (s *scanSpec) runBatched(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("no inputs")
	}
	states, xs, err := s.split(in, 1)
	if err != nil {
		return nil, err
	}
	st := make([]*tensor.Tensor, len(states))
	for j, v := range states {
		t, ok := v.(*tensor.Tensor)
		if !ok || t.Rank() == 0 {
			return nil, fmt.Errorf("state input %d must be a tensor with a batch axis", j)
		}
		st[j] = t
	}
	batch, T := -1, -1
	for j, x := range xs {
		if x.Rank() < 2 {
			return nil, fmt.Errorf("scan input %d has shape %v, want (batch, sequence, ...)", j, x.Shape())
		}
		if batch < 0 {
			batch, T = x.Shape()[0], x.Shape()[1]
		} else if x.Shape()[0] != batch || x.Shape()[1] != T {
			return nil, fmt.Errorf("scan input %d has shape %v; batch and sequence dimensions must match scan input 0 (%v)", j, x.Shape(), xs[0].Shape())
		}
	}
	for j, t := range st {
		if t.Shape()[0] != batch {
			return nil, fmt.Errorf("state input %d has batch size %d, the scan inputs %d", j, t.Shape()[0], batch)
		}
	}
	if batch == 0 {
		return nil, fmt.Errorf("scan inputs have batch size 0; Scan-8 needs at least one batch entry")
	}
	lens := make([]int, batch)
	for b := range lens {
		lens[b] = T
	}
	if in[0] != nil {
		t, ok := in[0].(*tensor.Tensor)
		if !ok {
			return nil, fmt.Errorf("input 0 (sequence_lens) is a %T, want an int tensor", in[0])
		}
		l, err := ops.Ints64(t)
		if err != nil {
			return nil, fmt.Errorf("input 0 (sequence_lens): %w", err)
		}
		if len(l) != batch {
			return nil, fmt.Errorf("sequence_lens has %d entries, the batch size is %d", len(l), batch)
		}
		for b, v := range l {
			if v < 0 || v > int64(T) {
				return nil, fmt.Errorf("sequence_lens[%d] is %d, want a length in [0, %d]", b, v, T)
			}
			lens[b] = int(v)
		}
	}
	perBatch := make([]stacker, s.nState+s.nSc) // output k over the batch
	for b := 0; b < batch; b++ {
		bs := make([]tensor.Value, len(st))
		for j, t := range st {
			if bs[j], err = sequence.Slab(c, t, 0, b, 1, true); err != nil {
				return nil, err
			}
		}
		bx := make([]*tensor.Tensor, len(xs))
		for j, x := range xs {
			row, err := sequence.Slab(c, x, 0, b, 1, true)
			if err != nil {
				return nil, err
			}
			if bx[j], err = sequence.Slab(c, row, 0, 0, lens[b], false); err != nil {
				return nil, err
			}
		}
		outs, err := s.run(c, bs, bx)
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", b, err)
		}
		for k, v := range outs {
			if t, ok := v.(*tensor.Tensor); ok && k >= s.nState && lens[b] < T {
				if v, err = padTo(c, t, T); err != nil {
					return nil, err
				}
			}
			if err := perBatch[k].add(c, v, k, int64(b)); err != nil {
				return nil, fmt.Errorf("batch %d: %w", b, err)
			}
		}
	}
	res := make([]tensor.Value, len(perBatch))
	for k := range perBatch {
		out, err := perBatch[k].stack(c, 0, false, tensor.Type{})
		if err != nil {
			return nil, fmt.Errorf("output %d: %w", k, err)
		}
		res[k] = out
	}
	return res, nil
}

// padTo appends zero rows to t along axis 0 up to n rows (Scan 8 outputs
// past a batch entry's sequence length).
func padTo(c *ops.Ctx, t *tensor.Tensor, n int) (*tensor.Tensor, error) {
	shape := append([]int{}, t.Shape()...)
	shape[0] = n - shape[0]
	z, err := c.New(t.DType(), shape...)
	if err != nil {
		return nil, err
	}
	return sequence.Concat(c, []*tensor.Tensor{t, z}, 0, false)
}

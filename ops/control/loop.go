package control

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/sequence"
	"github.com/gort-ml/gort/tensor"
)

// Loop runs body while i < M (when M is given) and cond (when cond is given):
//
//	v, cond = v_initial, cond_input (true when omitted)
//	for i := 0; (M absent || i < M) && cond; i++ {
//		cond, v, scan_i = body(i, cond, v)
//	}
//	outputs = v, stack(scan_0, scan_1, ...) along a new axis 0
//
// The body's condition output ends the loop even when the cond input is
// omitted: the spec's table calls it ignored in that case, but ONNX Runtime
// and the ONNX reference implementation both honour it, and models are
// written against them.
//
// Loop-carried values may be tensors, sequences or optionals; they are passed
// through unchanged when the body never runs (outputs alias the inputs, like
// Identity). Scan outputs must keep one shape across iterations; with zero
// iterations they are empty tensors of shape [0, body output shape...], a
// symbolic dimension counting as 0 and an unknown rank giving [0], as ONNX
// Runtime does. Versions differ only in the types allowed.
var Loop = ops.Versions("", "Loop", "v, scans = iterate body(i, cond, v) while i < M && cond",
	[]int{1, 11, 13, 16, 19, 21, 23, 24, 25}, nil,
	func(n *ops.Node) (*ops.Kernel, error) {
		body, err := n.Subgraph("body")
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		if len(n.Inputs) < 2 {
			return nil, fmt.Errorf("Loop has %d inputs, want M, cond and the loop-carried values (M and cond may be empty names)", len(n.Inputs))
		}
		nCarried := len(n.Inputs) - 2
		if got := len(body.Inputs()); got != 2+nCarried {
			return nil, fmt.Errorf("body takes %d inputs, want %d (iteration number, condition and %d loop-carried values)", got, 2+nCarried, nCarried)
		}
		nScan := len(body.Outputs()) - 1 - nCarried
		if nScan < 0 {
			return nil, fmt.Errorf("body has %d outputs, want at least %d (condition and %d loop-carried values)", len(body.Outputs()), 1+nCarried, nCarried)
		}
		nOut := len(n.Outputs)
		if nOut > nCarried+nScan {
			return nil, fmt.Errorf("node has %d outputs, the body yields %d loop-carried values and %d scan outputs", nOut, nCarried, nScan)
		}
		inTypes := body.InputTypes()
		outTypes := sequence.OutputTypes(body)
		// Like ONNX Runtime, pass the iteration number and condition as
		// shape [1] to a body that declares them rank 1, else as scalars.
		iterShape, condShape := counterShape(inTypes[0]), counterShape(inTypes[1])
		return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
			var (
				maxTrip = int64(-1) // -1: no bound
				cond    = true
				err     error
			)
			if len(in) > 0 && in[0] != nil {
				if maxTrip, err = tripCount(in[0]); err != nil {
					return nil, err
				}
			}
			if len(in) > 1 && in[1] != nil {
				if cond, err = truth(in[1], "input 1 (cond)"); err != nil {
					return nil, err
				}
			}
			carried := make([]tensor.Value, nCarried)
			for j := range carried {
				if 2+j < len(in) {
					carried[j] = in[2+j]
				}
				if carried[j] == nil {
					if j+2 >= len(inTypes) || inTypes[j+2].Kind != tensor.KindOptional {
						return nil, fmt.Errorf("loop-carried input %d is missing", j)
					}
					carried[j] = &tensor.Optional{Elem: elemOf(inTypes[j+2])}
				}
			}
			scans := make([]stacker, nScan)
			args := make([]tensor.Value, 2+nCarried)
			for i := int64(0); (maxTrip < 0 || i < maxTrip) && cond; i++ {
				if err := c.Check(); err != nil {
					return nil, fmt.Errorf("loop cancelled at iteration %d: %w", i, err)
				}
				args[0] = tensor.Must(iterShape, []int64{i})
				args[1] = tensor.Must(condShape, []bool{cond})
				copy(args[2:], carried)
				res, err := body.Run(c, args)
				if err != nil {
					return nil, fmt.Errorf("iteration %d: %w", i, err)
				}
				if cond, err = truth(res[0], "body output 0 (condition)"); err != nil {
					return nil, fmt.Errorf("iteration %d: %w", i, err)
				}
				copy(carried, res[1:1+nCarried])
				for k := range scans {
					if err := scans[k].add(c, res[1+nCarried+k], k, i); err != nil {
						return nil, err
					}
				}
			}
			outs := make([]tensor.Value, nCarried+nScan)
			copy(outs, carried)
			for k := range scans {
				var typ tensor.Type
				if 1+nCarried+k < len(outTypes) {
					typ = outTypes[1+nCarried+k]
				}
				t, err := scans[k].stack(c, 0, false, typ)
				if err != nil {
					return nil, fmt.Errorf("scan output %d: %w", k, err)
				}
				outs[nCarried+k] = t
			}
			return outs[:nOut], nil
		}}, nil
	})

// tripCount reads M: a one-element int64 (or int32) tensor; a negative
// count runs no iteration.
func tripCount(v tensor.Value) (int64, error) {
	t, ok := v.(*tensor.Tensor)
	if !ok {
		return 0, fmt.Errorf("input 0 (M) is a %T, want an int64 tensor", v)
	}
	if t.Len() != 1 {
		return 0, fmt.Errorf("input 0 (M) has shape %v, want a single element", t.Shape())
	}
	m, err := ops.Ints64(t)
	if err != nil {
		return 0, fmt.Errorf("input 0 (M): %w", err)
	}
	return max(m[0], 0), nil
}

func counterShape(t tensor.Type) []int {
	if t.Kind == tensor.KindTensor && t.HasShape && len(t.Shape) == 1 {
		return []int{1}
	}
	return []int{}
}

func elemOf(t tensor.Type) tensor.Type {
	if t.Elem != nil {
		return *t.Elem
	}
	return tensor.Type{}
}

// stacker accumulates one scan output over the iterations of a Loop or Scan.
type stacker struct {
	items []*tensor.Tensor
	elems int
}

// add appends iteration it's value of scan output k, checking that its shape
// matches the earlier ones and that the total stays within c's limit (an
// empty value counts as one element, so a loop cannot pile up unbounded
// numbers of them).
func (s *stacker) add(c *ops.Ctx, v tensor.Value, k int, it int64) error {
	if o, ok := v.(*tensor.Optional); ok && o.V != nil {
		v = o.V
	}
	t, ok := v.(*tensor.Tensor)
	if !ok || t == nil {
		return fmt.Errorf("iteration %d: scan output %d is a %T, want a tensor", it, k, v)
	}
	if len(s.items) > 0 && !tensor.SameShape(t.Shape(), s.items[0].Shape()) {
		return fmt.Errorf("iteration %d: scan output %d has shape %v, %v before; scan outputs must keep one shape", it, k, t.Shape(), s.items[0].Shape())
	}
	if len(s.items) > 0 && t.DType() != s.items[0].DType() {
		return fmt.Errorf("iteration %d: scan output %d is %v, %v before", it, k, t.DType(), s.items[0].DType())
	}
	limit := tensor.MaxElements
	if c != nil && c.MaxElements > 0 {
		limit = c.MaxElements
	}
	cost := max(t.Len(), 1)
	if cost > limit-s.elems {
		return fmt.Errorf("%w: scan output %d would exceed %d elements after %d iterations (raise runtime.Options.MaxTensorElements)", ops.ErrLimit, k, limit, it+1)
	}
	s.elems += cost
	s.items = append(s.items, t)
	return nil
}

// stack joins the accumulated values along a new axis (reversed when
// reverse). With no values it returns an empty tensor typed from the body's
// declared output type: its shape (symbolic dimensions as 0) with a 0
// inserted at axis, or shape [0] when the rank is unknown.
func (s *stacker) stack(c *ops.Ctx, axis int64, reverse bool, typ tensor.Type) (*tensor.Tensor, error) {
	if len(s.items) == 0 {
		d := typ.DType
		if typ.Kind != tensor.KindTensor || d == tensor.Undefined {
			d = tensor.Float32
		}
		shape := []int{0}
		if typ.Kind == tensor.KindTensor && typ.HasShape {
			dims := make([]int, len(typ.Shape))
			for i, dim := range typ.Shape {
				dims[i] = int(max(dim.Size, 0))
			}
			if a, err := ops.NormAxis(axis, len(dims)+1); err == nil {
				shape = append(append(append([]int{}, dims[:a]...), 0), dims[a:]...)
			}
		}
		return c.New(d, shape...)
	}
	items := s.items
	if reverse {
		items = make([]*tensor.Tensor, len(s.items))
		for i, t := range s.items {
			items[len(items)-1-i] = t
		}
	}
	return sequence.Concat(c, items, axis, true)
}

// Package control holds gort's kernels for the control-flow operators If,
// Loop and Scan.
//
// # Overview
//
// Each op compiles its graph attributes once with ops.Node.Subgraph; the
// runtime binds the body's inputs by position and the values it captures
// from enclosing graphs. Bodies may produce tensors, sequences or optionals
// wherever the spec allows (If outputs, Loop-carried values). Loop and Scan
// check cancellation on every iteration and bound their accumulated scan
// outputs by Ctx.MaxElements before concatenating them, so a hostile trip
// count can neither hang a session nor exhaust memory.
package control

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(If, Loop, Scan)
}

// If runs then_branch when cond (a one-element tensor) is true, else
// else_branch, and returns that branch's outputs. Versions differ only in the
// types allowed.
var If = ops.Versions("", "If", "outputs = cond ? then_branch() : else_branch()",
	[]int{1, 11, 13, 16, 19, 21, 23, 24, 25}, nil,
	func(n *ops.Node) (*ops.Kernel, error) {
		then, err := n.Subgraph("then_branch")
		if err != nil {
			return nil, fmt.Errorf("then_branch: %w", err)
		}
		els, err := n.Subgraph("else_branch")
		if err != nil {
			return nil, fmt.Errorf("else_branch: %w", err)
		}
		nOut := len(n.Outputs)
		for _, b := range []struct {
			name string
			g    ops.Subgraph
		}{{"then_branch", then}, {"else_branch", els}} {
			if len(b.g.Outputs()) < nOut {
				return nil, fmt.Errorf("%s has %d outputs, the node has %d", b.name, len(b.g.Outputs()), nOut)
			}
		}
		return &ops.Kernel{RunValues: func(c *ops.Ctx, in []tensor.Value) ([]tensor.Value, error) {
			if len(in) == 0 || in[0] == nil {
				return nil, fmt.Errorf("input 0 (cond) is required")
			}
			cond, err := truth(in[0], "cond")
			if err != nil {
				return nil, err
			}
			branch, name := els, "else_branch"
			if cond {
				branch, name = then, "then_branch"
			}
			outs, err := branch.Run(c, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return outs[:nOut], nil
		}}, nil
	})

// truth reads a one-element tensor (bool, or a number: non-zero is true).
func truth(v tensor.Value, what string) (bool, error) {
	if o, ok := v.(*tensor.Optional); ok && o.V != nil {
		v = o.V
	}
	t, ok := v.(*tensor.Tensor)
	if !ok || t == nil {
		return false, fmt.Errorf("%s is a %T, want a bool tensor", what, v)
	}
	if t.Len() != 1 {
		return false, fmt.Errorf("%s has shape %v, want a single element", what, t.Shape())
	}
	switch t.DType() {
	case tensor.Bool:
		return tensor.Data[bool](t)[0], nil
	case tensor.Float32:
		return tensor.Data[float32](t)[0] != 0, nil
	case tensor.Float64:
		return tensor.Data[float64](t)[0] != 0, nil
	}
	if t.DType().IsInt() {
		if v, err := ops.Ints64(t); err == nil {
			return v[0] != 0, nil
		}
		if t.DType() == tensor.Uint8 {
			return tensor.Data[uint8](t)[0] != 0, nil
		}
	}
	return false, fmt.Errorf("%s is %v, want bool", what, t.DType())
}

package autodiff

import (
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/tensor"
)

// InferTypes returns the statically known type of every value of the main
// graph: declared inputs, initializers and value_info, then each node's
// outputs from its op's inference function in topological order. Values
// whose type cannot be inferred are absent.
func InferTypes(m *ir.Model) map[string]tensor.Type {
	g := m.Graph
	types := g.DeclaredTypes()
	order, err := g.TopoOrder(nil)
	if err != nil {
		return types
	}
	reg := all.Registry()
	for _, i := range order {
		n := g.Nodes[i]
		v := m.Opset(n.Domain)
		if v == 0 {
			v = 1
		}
		inferNode(reg, n, v, types)
	}
	return types
}

// inferNode adds to types the output types of n (at opset v of its
// domain) that its op's inference function gives from its inputs' types.
func inferNode(reg *ops.Registry, n *ir.Node, v int, types map[string]tensor.Type) {
	op, err := reg.Lookup(n.Domain, n.OpType, v)
	if err != nil || op.Infer == nil {
		return
	}
	on := &ops.Node{Name: n.Name, OpType: n.OpType, Domain: ops.NormDomain(n.Domain), Opset: v,
		Attrs: n.Attrs, Inputs: n.Inputs, Outputs: n.Outputs}
	in := make([]tensor.Type, len(n.Inputs))
	for j, x := range n.Inputs {
		in[j] = types[x]
	}
	on.InputTypes = in
	outs, err := op.Infer(on, in)
	if err != nil {
		return
	}
	for j, t := range outs {
		if j < len(n.Outputs) && n.Outputs[j] != "" && t.Kind != tensor.KindUnknown {
			if _, known := types[n.Outputs[j]]; !known {
				types[n.Outputs[j]] = t
			}
		}
	}
}

// staticShape returns the shape of x when every dimension is known.
func (b *Builder) staticShape(x string) ([]int, bool) {
	s, ok := b.dims(x)
	if !ok || !known(s...) {
		return nil, false
	}
	return s, true
}

// staticRank returns the rank of x when known.
func (b *Builder) staticRank(x string) (int, bool) {
	t, ok := b.types[x]
	if !ok || t.Kind != tensor.KindTensor || !t.HasShape {
		return 0, false
	}
	return len(t.Shape), true
}

package graphopt

import (
	"fmt"
	"math"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/tensor"
)

// view indexes a graph for pattern matching: producers, consumers,
// constants and inferred types. Passes build one per run.
type view struct {
	m        *ir.Model
	g        *ir.Graph
	producer map[string]*ir.Node
	users    map[string][]*ir.Node
	consts   map[string]*tensor.Tensor
	inputs   map[string]bool // graph inputs (an initializer listed as input is overridable, not constant)
	outputs  map[string]bool
	captured map[string]bool // read by some subgraph
	types    map[string]tensor.Type
	vals     map[string][]tensor.Dim // shape values (see trackValues)
	names    map[string]bool         // every value name, for fresh names
	fresh    int
}

func newView(m *ir.Model, g *ir.Graph) *view {
	v := &view{m: m, g: g, producer: map[string]*ir.Node{}, users: map[string][]*ir.Node{},
		consts: map[string]*tensor.Tensor{}, inputs: map[string]bool{}, outputs: map[string]bool{},
		captured: map[string]bool{}, names: map[string]bool{}}
	for _, in := range g.Inputs {
		v.inputs[in.Name] = true
		v.names[in.Name] = true
	}
	for _, t := range g.Initializers {
		v.names[t.Name] = true
		if !v.inputs[t.Name] {
			v.consts[t.Name] = t.T
		}
	}
	for _, o := range g.Outputs {
		v.outputs[o.Name] = true
	}
	for _, n := range g.Nodes {
		v.names[n.Name] = true // node names stay unique too (ORT requires it)
		for _, o := range n.Outputs {
			if o != "" {
				v.producer[o] = n
				v.names[o] = true
			}
		}
		for _, in := range n.Inputs {
			if in != "" {
				v.users[in] = append(v.users[in], n)
			}
		}
		for _, sg := range n.Subgraphs() {
			for _, name := range sg.FreeNames() {
				v.captured[name] = true
				v.users[name] = append(v.users[name], n)
			}
		}
	}
	v.types, v.vals = inferShapeValues(m, g)
	return v
}

// newName returns a name no value or node of the graph has.
func (v *view) newName(base string) string {
	for {
		v.fresh++
		name := fmt.Sprintf("%s_opt%d", base, v.fresh)
		if !v.names[name] {
			v.names[name] = true
			return name
		}
	}
}

// op returns the producer of value s if it has the given type in the
// default domain.
func (v *view) op(s, opType string) *ir.Node {
	n := v.producer[s]
	if n == nil || n.OpType != opType || !isONNX(n.Domain) {
		return nil
	}
	return n
}

func isONNX(d string) bool { return d == "" || d == "ai.onnx" }

// only reports whether value s is read by exactly the node n and is not a
// graph output or captured: a value a fusion may swallow.
func (v *view) only(s string, n *ir.Node) bool {
	if v.outputs[s] || v.captured[s] {
		return false
	}
	u := v.users[s]
	for _, x := range u {
		if x != n {
			return false
		}
	}
	return len(u) > 0
}

// internal reports whether every output of every node in inner is read
// only by nodes of the set (the pattern), so removing the set loses nothing.
// The values in keep are the pattern's results and may be read anywhere.
func (v *view) internal(set []*ir.Node, keep ...string) bool {
	in := map[*ir.Node]bool{}
	for _, n := range set {
		in[n] = true
	}
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k] = true
	}
	for _, n := range set {
		for _, o := range n.Outputs {
			if o == "" || kept[o] {
				continue
			}
			if v.outputs[o] || v.captured[o] {
				return false
			}
			for _, u := range v.users[o] {
				if !in[u] {
					return false
				}
			}
		}
	}
	return true
}

// withDead extends a fusion's node set by the nodes that only it reads
// (transitively), such as the shape arithmetic of a mask the fusion
// replaces, so that the set can be removed as a whole. Producers of the
// values in needed (which the replacement reads) are never added.
func (v *view) withDead(set []*ir.Node, needed ...string) []*ir.Node {
	in := map[*ir.Node]bool{}
	for _, n := range set {
		in[n] = true
	}
	keep := map[string]bool{}
	for _, s := range needed {
		keep[s] = true
	}
	out := append([]*ir.Node(nil), set...)
	for changed := true; changed; {
		changed = false
		for _, n := range v.g.Nodes {
			if in[n] || len(n.Subgraphs()) > 0 {
				continue
			}
			dead, read := true, false
			for _, o := range n.Outputs {
				if o == "" {
					continue
				}
				if keep[o] || v.outputs[o] || v.captured[o] {
					dead = false
					break
				}
				for _, u := range v.users[o] {
					read = true
					dead = dead && in[u]
				}
			}
			if dead && read {
				in[n] = true
				out = append(out, n)
				changed = true
			}
		}
	}
	return out
}

// scalar returns the value of s when it is a constant holding one element.
func (v *view) scalar(s string) (float64, bool) {
	t, ok := v.consts[s]
	if !ok || t.Len() != 1 {
		return 0, false
	}
	return toFloat64(t)
}

func toFloat64(t *tensor.Tensor) (float64, bool) {
	if t.Len() != 1 {
		return 0, false
	}
	f, err := tensor.New(tensor.Float64, t.Shape()...)
	if err != nil {
		return 0, false
	}
	if err := tensor.Convert(f, t, false); err != nil {
		return 0, false
	}
	return tensor.Data[float64](f)[0], true
}

// isScalar reports whether s is a constant close to want.
func (v *view) isScalar(s string, want float64, tol float64) bool {
	x, ok := v.scalar(s)
	return ok && math.Abs(x-want) <= tol*math.Max(1, math.Abs(want))
}

// ints returns the int64 contents of a constant.
func (v *view) ints(s string) ([]int64, bool) {
	t, ok := v.consts[s]
	if !ok {
		return nil, false
	}
	x, err := ops.Ints64(t)
	return x, err == nil
}

// rank returns the inferred rank of s.
func (v *view) rank(s string) (int, bool) {
	t, ok := v.types[s]
	if !ok || t.Kind != tensor.KindTensor || !t.HasShape {
		return 0, false
	}
	return len(t.Shape), true
}

// dtype returns the inferred element type of s.
func (v *view) dtype(s string) tensor.DType {
	if t, ok := v.types[s]; ok && t.Kind == tensor.KindTensor {
		return t.DType
	}
	return tensor.Undefined
}

// lastDim returns the size of s's last dimension when known.
func (v *view) lastDim(s string) (int64, bool) {
	t, ok := v.types[s]
	if !ok || t.Kind != tensor.KindTensor || !t.HasShape || len(t.Shape) == 0 {
		return 0, false
	}
	d := t.Shape[len(t.Shape)-1]
	return d.Size, d.Known()
}

// sameShape reports whether a and b have equal known ranks and dimensions
// that are equal as numbers or as the same symbolic name.
func (v *view) sameShape(a, b string) bool {
	ta, ok1 := v.types[a]
	tb, ok2 := v.types[b]
	if !ok1 || !ok2 || !ta.HasShape || !tb.HasShape || len(ta.Shape) != len(tb.Shape) {
		return false
	}
	for i := range ta.Shape {
		x, y := ta.Shape[i], tb.Shape[i]
		switch {
		case x.Known() && y.Known():
			if x.Size != y.Size {
				return false
			}
		case x.Param != "" && x.Param == y.Param:
		default:
			return false
		}
	}
	return true
}

// vector1D reports whether constant s is 1-D of length n (or, with n < 0,
// 1-D of any length).
func (v *view) vector1D(s string, n int64) bool {
	t, ok := v.consts[s]
	if !ok || t.Rank() != 1 {
		return false
	}
	return n < 0 || int64(t.Shape()[0]) == n
}

// attrInt returns an integer attribute of n.
func attrInt(n *ir.Node, name string, def int64) int64 {
	for _, a := range n.Attrs {
		if a.Name == name && a.Type == ops.AttrInt {
			return a.I
		}
	}
	return def
}

func attrFloat(n *ir.Node, name string, def float32) float32 {
	for _, a := range n.Attrs {
		if a.Name == name && a.Type == ops.AttrFloat {
			return a.F
		}
	}
	return def
}

func attrInts(n *ir.Node, name string) ([]int64, bool) {
	for _, a := range n.Attrs {
		if a.Name == name && a.Type == ops.AttrInts {
			return a.Ints, true
		}
	}
	return nil, false
}

func hasAttr(n *ir.Node, name string) bool {
	for _, a := range n.Attrs {
		if a.Name == name {
			return true
		}
	}
	return false
}

// other returns the input of a two-input node that is not s ("" if neither is).
func other(n *ir.Node, s string) string {
	if len(n.Inputs) != 2 {
		return ""
	}
	switch s {
	case n.Inputs[0]:
		return n.Inputs[1]
	case n.Inputs[1]:
		return n.Inputs[0]
	}
	return ""
}

// node makes a new node with a fresh name.
func (v *view) node(opType, domain string, inputs, outputs []string, attrs ...ops.Attr) *ir.Node {
	return &ir.Node{Name: v.newName(opType), OpType: opType, Domain: domain, Inputs: inputs, Outputs: outputs, Attrs: attrs}
}

// inferTypes returns the statically known type of every value of g from
// declared types and each op's inference function, in topological order.
func inferTypes(m *ir.Model, g *ir.Graph) map[string]tensor.Type {
	types, _ := inferShapeValues(m, g)
	return types
}

// inferShapeValues is inferTypes that also returns the shape values
// trackValues follows.
func inferShapeValues(m *ir.Model, g *ir.Graph) (map[string]tensor.Type, map[string][]tensor.Dim) {
	types := g.DeclaredTypes()
	vals := map[string][]tensor.Dim{}
	order, err := g.TopoOrder(nil)
	if err != nil {
		return types, vals
	}
	reg := all.Registry()
	consts := map[string]*tensor.Tensor{}
	for _, t := range g.Initializers {
		consts[t.Name] = t.T
	}
	for _, in := range g.Inputs {
		delete(consts, in.Name)
	}
	for _, i := range order {
		n := g.Nodes[i]
		in := make([]tensor.Type, len(n.Inputs))
		for j, x := range n.Inputs {
			if x != "" {
				in[j] = types[x]
			}
		}
		var outs []tensor.Type
		if op, on := lookup(reg, m, n); op != nil && op.Infer != nil {
			on.InputTypes = in
			outs, _ = safeInfer(op, on, in)
		}
		trackValues(consts, vals, n, in)
		if ts, ok := splitInfer(consts, n, in); ok {
			outs = ts
		} else if t, ok := symbolicInfer(consts, vals, n, in); ok {
			if len(outs) == 0 {
				outs = make([]tensor.Type, 1)
			}
			outs[0] = t
		}
		for j, t := range outs {
			if j < len(n.Outputs) && n.Outputs[j] != "" && t.Kind != tensor.KindUnknown {
				if _, known := types[n.Outputs[j]]; !known {
					types[n.Outputs[j]] = t
				}
			}
		}
	}
	return types, vals
}

func safeInfer(op *ops.Op, on *ops.Node, in []tensor.Type) (out []tensor.Type, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("infer panicked: %v", r)
		}
	}()
	return op.Infer(on, in)
}

// opsetOf is the model's opset for a domain, 1 for contrib domains it does
// not import (as the native runtime does).
func opsetOf(m *ir.Model, domain string) int {
	v := m.Opset(domain)
	if v == 0 {
		v = 1
	}
	return v
}

// lookup finds n's schema and builds the ops.Node that Infer and Compile see.
func lookup(reg *ops.Registry, m *ir.Model, n *ir.Node) (*ops.Op, *ops.Node) {
	v := opsetOf(m, n.Domain)
	op, err := reg.Lookup(n.Domain, n.OpType, v)
	if err != nil {
		return nil, nil
	}
	return op, &ops.Node{Name: n.Name, OpType: n.OpType, Domain: ops.NormDomain(n.Domain), Opset: v,
		Attrs: n.Attrs, Inputs: n.Inputs, Outputs: n.Outputs}
}

// axes reads the axes of a node that takes them as an attribute (older
// opsets) or as a constant second input (Unsqueeze, Squeeze, ReduceMean
// from opset 13 or 18).
func (v *view) axes(n *ir.Node) ([]int64, bool) {
	if a, ok := attrInts(n, "axes"); ok {
		return a, true
	}
	if len(n.Inputs) > 1 && n.Inputs[1] != "" {
		return v.ints(n.Inputs[1])
	}
	return nil, false
}

package graphopt

import (
	"context"
	"fmt"
	"strings"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/all"
	"github.com/gort-ml/gort/tensor"
)

// MaxFoldElements bounds one output constant folding materializes (a
// bert-large FFN weight's Transpose fits); MaxFoldBytes bounds the growth.
const MaxFoldElements = 1 << 26

// MaxFoldBytes bounds how much one folding pass may grow the model's
// constants (bytes created beyond the constant inputs they replace).
const MaxFoldBytes = 8 << 20

func tensorBytes(t *tensor.Tensor) int64 {
	if t == nil {
		return 0
	}
	return int64(t.Len()) * int64(max(t.DType().Size(), 1))
}

// randomOps draw from a generator: folding or merging them changes results.
var randomOps = map[string]bool{
	"RandomNormal": true, "RandomUniform": true, "RandomNormalLike": true, "RandomUniformLike": true,
	"Bernoulli": true, "Multinomial": true, "Dropout": true,
}

// inferShapes records the inferred types of the first outputs of the ops
// the symbolic rules of shapes.go cover as value_info, where the graph
// declares none, so later tools see symbolic shapes (batch, sequence)
// through Reshape and attention. Types from other ops' inference stay
// internal: ONNX Runtime rejects a model whose value_info disagrees with
// its own inference, so only types derived here are written.
func inferShapes(m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	declared := map[string]bool{}
	for _, v := range g.ValueInfo {
		declared[v.Name] = true
	}
	for _, v := range g.Outputs {
		declared[v.Name] = true
	}
	types := inferTypes(m, g)
	var infos []*ir.ValueInfo
	for _, n := range g.Nodes {
		if !hasShapeRule(n.OpType) {
			continue // only types the symbolic rules here derive (see shapes.go)
		}
		for _, o := range n.Outputs[:1] {
			t, ok := types[o]
			if o == "" || declared[o] || !ok || t.Kind != tensor.KindTensor || t.DType == tensor.Undefined || !t.HasShape || anonymousDim(t) {
				continue
			}
			declared[o] = true
			infos = append(infos, &ir.ValueInfo{Name: o, Type: t})
		}
	}
	if len(infos) == 0 {
		return nil, nil
	}
	return []*Patch{{ValueInfo: infos}}, nil
}

// anonymousDim reports whether t has a dimension neither known nor named:
// such types say little, and ONNX Runtime has been seen to mistype values
// declared with them (hann window function bodies).
func anonymousDim(t tensor.Type) bool {
	for _, d := range t.Shape {
		if !d.Known() && (d.Param == "" || strings.HasPrefix(d.Param, "?")) {
			return true
		}
	}
	return false
}

// foldConstants evaluates nodes whose inputs are all constants with the
// native kernels and replaces them by initializers; Shape and Size of
// statically shaped values fold too.
func foldConstants(m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	v := newView(m, g)
	reg := all.Registry()
	order, err := g.TopoOrder(nil)
	if err != nil {
		return nil, err
	}
	consts := v.consts
	conds := ifConditionNodes(v)
	// Folding must not let a model grow its constants without bound at
	// compile time, outside the session's run-time limits: the net growth
	// (output bytes beyond the bytes of constant inputs read by nothing
	// else) is capped at
	// MaxFoldBytes per pass. A weight's Transpose costs nothing; a
	// ConstantOfShape from a tiny shape costs its whole output.
	budget := int64(MaxFoldBytes)
	readers := map[string]int{}
	for _, n := range g.Nodes {
		for _, x := range n.Inputs {
			readers[x]++
		}
	}
	var patches []*Patch
	for _, i := range order {
		n := g.Nodes[i]
		if !foldable(v, n, conds) {
			continue
		}
		var outs []*tensor.Tensor
		if s := staticShapeFold(v, n); s != nil {
			outs = []*tensor.Tensor{s}
		} else if c, ok := castLikeConst(v, n, consts); ok {
			if outs, err = evalNode(reg, m, c, []*tensor.Tensor{consts[n.Inputs[0]]}); err != nil {
				continue
			}
		} else {
			in := make([]*tensor.Tensor, len(n.Inputs))
			ok := true
			for j, x := range n.Inputs {
				if x == "" {
					continue
				}
				if in[j], ok = consts[x]; !ok {
					break
				}
			}
			if !ok {
				continue
			}
			if outs, err = evalNode(reg, m, n, in); err != nil {
				continue // left to run time, where the error (if real) is reported
			}
		}
		growth := int64(0)
		for _, t := range outs {
			growth += tensorBytes(t)
		}
		for _, x := range n.Inputs {
			if readers[x] == 1 { // only then does the input become dead
				growth -= tensorBytes(consts[x])
			}
		}
		if budget -= max(growth, 0); budget < 0 {
			break // the rest runs at run time, under the session's limits
		}
		p := &Patch{Remove: []*ir.Node{n}}
		for j, o := range n.Outputs {
			if o == "" {
				continue
			}
			if j >= len(outs) || outs[j] == nil {
				p = nil
				break
			}
			consts[o] = outs[j]
			p.Inits = append(p.Inits, &ir.Initializer{Name: o, T: outs[j]})
		}
		if p != nil {
			patches = append(patches, p)
		}
	}
	return patches, nil
}

func foldable(v *view, n *ir.Node, conds map[*ir.Node]bool) bool {
	if randomOps[n.OpType] || len(n.Subgraphs()) > 0 || len(n.Outputs) == 0 {
		return false
	}
	for _, o := range n.Outputs {
		if v.outputs[o] {
			return false // graph outputs stay computed by a node
		}
	}
	return !conds[n]
}

// ifConditionNodes returns the nodes an If condition depends on. They are
// not folded: a constant If condition makes ONNX Runtime inline the branch
// and check it strictly, which rejects function bodies (AffineGrid's) that
// it accepts while the condition is computed.
func ifConditionNodes(v *view) map[*ir.Node]bool {
	set := map[*ir.Node]bool{}
	var stack []string
	for _, n := range v.g.Nodes {
		if n.OpType == "If" && len(n.Inputs) > 0 {
			stack = append(stack, n.Inputs[0])
		}
	}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		p := v.producer[s]
		if p == nil || set[p] {
			continue
		}
		set[p] = true
		stack = append(stack, p.Inputs...)
	}
	return set
}

// castLikeConst turns CastLike(constant, x) with x's dtype known into the
// equivalent Cast, which folds (function bodies such as Gelu's cast every
// constant like the input).
func castLikeConst(v *view, n *ir.Node, consts map[string]*tensor.Tensor) (*ir.Node, bool) {
	if n.OpType != "CastLike" || !isONNX(n.Domain) || len(n.Inputs) != 2 {
		return nil, false
	}
	if _, ok := consts[n.Inputs[0]]; !ok {
		return nil, false
	}
	d := v.dtype(n.Inputs[1])
	if d == tensor.Undefined {
		return nil, false
	}
	c := &ir.Node{Name: n.Name, OpType: "Cast", Inputs: n.Inputs[:1], Outputs: n.Outputs,
		Attrs: append([]ops.Attr{{Name: "to", Type: ops.AttrInt, I: int64(d)}}, n.Attrs...)}
	return c, true
}

// staticShapeFold returns the value of Shape(x) or Size(x) when x's shape is
// fully known, else nil.
func staticShapeFold(v *view, n *ir.Node) *tensor.Tensor {
	if !isONNX(n.Domain) || (n.OpType != "Shape" && n.OpType != "Size") || len(n.Inputs) != 1 || hasAttr(n, "start") || hasAttr(n, "end") {
		return nil
	}
	t, ok := v.types[n.Inputs[0]]
	if !ok || t.Kind != tensor.KindTensor || !t.HasShape {
		return nil
	}
	dims := make([]int64, len(t.Shape))
	size := int64(1)
	for i, d := range t.Shape {
		if !d.Known() {
			return nil
		}
		dims[i] = d.Size
		size *= d.Size
	}
	if n.OpType == "Size" {
		return tensor.Scalar(size)
	}
	return tensor.Must([]int{len(dims)}, dims)
}

// evalNode runs one node's native kernel on constant inputs.
func evalNode(reg *ops.Registry, m *ir.Model, n *ir.Node, in []*tensor.Tensor) (outs []*tensor.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kernel panicked: %v", r)
		}
	}()
	op, on := lookup(reg, m, n)
	if op == nil {
		return nil, fmt.Errorf("no kernel for %s", n.OpType)
	}
	on.InputTypes = make([]tensor.Type, len(in))
	for i, t := range in {
		if t != nil {
			on.InputTypes[i] = tensor.TensorType(t.DType(), t.Shape()...)
		}
	}
	k, err := op.Compile(on)
	if err == nil {
		err = on.Err()
	}
	if err != nil {
		return nil, err
	}
	if k == nil || k.Run == nil {
		return nil, fmt.Errorf("%s does not run on plain tensors", n.OpType)
	}
	c := &ops.Ctx{Context: context.Background(), MaxElements: MaxFoldElements, Threads: 1}
	outs, err = k.Run(c, in)
	if err != nil {
		return nil, err
	}
	for _, t := range outs {
		if t != nil && t.Len() > MaxFoldElements {
			return nil, fmt.Errorf("output of %d elements is too big to fold", t.Len())
		}
	}
	return outs, nil
}

// eliminateDead removes nodes whose outputs nothing reads (transitively from
// the graph outputs) and initializers no live node reads.
func eliminateDead(m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	producer := map[string]*ir.Node{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				producer[o] = n
			}
		}
	}
	live := map[*ir.Node]bool{}
	used := map[string]bool{}
	var stack []string
	for _, o := range g.Outputs {
		stack = append(stack, o.Name)
	}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if used[s] {
			continue
		}
		used[s] = true
		n := producer[s]
		if n == nil || live[n] {
			continue
		}
		live[n] = true
		stack = append(stack, n.Inputs...)
		for _, sg := range n.Subgraphs() {
			stack = append(stack, sg.FreeNames()...)
		}
	}
	p := &Patch{}
	for _, n := range g.Nodes {
		if !live[n] {
			p.Remove = append(p.Remove, n)
		}
	}
	inputs := map[string]bool{}
	for _, in := range g.Inputs {
		inputs[in.Name] = true
	}
	for _, t := range g.Initializers {
		if !used[t.Name] && !inputs[t.Name] {
			p.DropInits = append(p.DropInits, t.Name)
		}
	}
	if len(p.Remove) == 0 && len(p.DropInits) == 0 {
		return nil, nil
	}
	return []*Patch{p}, nil
}

// eliminateCommon merges nodes that compute the same op on the same inputs
// with the same attributes, and identical small initializers.
func eliminateCommon(m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	v := newView(m, g)
	var patches []*Patch
	rename := map[string]string{}
	resolve := func(s string) string {
		if r, ok := rename[s]; ok {
			return r
		}
		return s
	}
	// Initializers first, so nodes reading equal constants become equal.
	seenInit := map[string]string{}
	for _, t := range g.Initializers {
		if _, isConst := v.consts[t.Name]; !isConst || v.outputs[t.Name] || v.captured[t.Name] || t.T.Len() > 64 {
			continue
		}
		key := fmt.Sprintf("%v%v%v", t.T.DType(), t.T.Shape(), t.T.Raw())
		if first, ok := seenInit[key]; ok {
			rename[t.Name] = first
			patches = append(patches, &Patch{Rename: map[string]string{t.Name: first}, DropInits: []string{t.Name}})
			continue
		}
		seenInit[key] = t.Name
	}
	order, err := g.TopoOrder(nil)
	if err != nil {
		return nil, err
	}
	seen := map[string]*ir.Node{}
	reg := all.Registry()
	for _, i := range order {
		n := g.Nodes[i]
		// Ops gort does not know may be model-local functions with random
		// ops inside; two calls are not one.
		if len(n.Inputs) == 0 || randomOps[n.OpType] || len(n.Subgraphs()) > 0 || !reg.Has(n.Domain, n.OpType) {
			continue
		}
		key, ok := nodeKey(n, resolve)
		if !ok {
			continue
		}
		first, dup := seen[key]
		if !dup {
			seen[key] = n
			continue
		}
		p := &Patch{Remove: []*ir.Node{n}, Rename: map[string]string{}}
		for j, o := range n.Outputs {
			if o == "" {
				continue
			}
			if v.outputs[o] || v.captured[o] || j >= len(first.Outputs) || first.Outputs[j] == "" {
				p = nil
				break
			}
			p.Rename[o] = first.Outputs[j]
		}
		if p == nil {
			continue
		}
		for k, r := range p.Rename {
			rename[k] = r
		}
		patches = append(patches, p)
	}
	return patches, nil
}

// nodeKey renders what makes two nodes compute the same thing; ok is false
// for nodes whose attributes cannot be compared cheaply.
func nodeKey(n *ir.Node, resolve func(string) string) (string, bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%d|", n.Domain, n.OpType, n.Overload, len(n.Outputs))
	for _, in := range n.Inputs {
		b.WriteString(resolve(in))
		b.WriteByte(',')
	}
	b.WriteByte('|')
	for _, a := range n.Attrs {
		switch a.Type {
		case ops.AttrFloat:
			fmt.Fprintf(&b, "%s=f%v;", a.Name, a.F)
		case ops.AttrInt:
			fmt.Fprintf(&b, "%s=i%d;", a.Name, a.I)
		case ops.AttrString:
			fmt.Fprintf(&b, "%s=s%q;", a.Name, a.S)
		case ops.AttrFloats:
			fmt.Fprintf(&b, "%s=F%v;", a.Name, a.Floats)
		case ops.AttrInts:
			fmt.Fprintf(&b, "%s=I%v;", a.Name, a.Ints)
		case ops.AttrStrings:
			fmt.Fprintf(&b, "%s=S%q;", a.Name, a.Strings)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// eliminateIdentity removes Identity nodes, Casts to the input's own type,
// inference-mode Dropouts and Transposes with the identity permutation,
// reading their input wherever their output was read.
func eliminateIdentity(m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	v := newView(m, g)
	var patches []*Patch
	for _, n := range g.Nodes {
		if !isONNX(n.Domain) || len(n.Inputs) == 0 || n.Inputs[0] == "" || len(n.Outputs) == 0 {
			continue
		}
		x, y := n.Inputs[0], n.Outputs[0]
		if v.outputs[y] || v.captured[y] {
			continue
		}
		t, ok := v.types[x]
		if !ok || t.Kind != tensor.KindTensor {
			continue // sequences and optionals pass through Identity too; leave them
		}
		drop := false
		switch n.OpType {
		case "Identity":
			drop = true
		case "Cast":
			drop = t.DType != tensor.Undefined && int64(t.DType) == attrInt(n, "to", -1) && !hasAttr(n, "saturate")
		case "Dropout":
			drop = inferenceDropout(v, n)
		case "Transpose":
			r, ok := v.rank(x)
			perm, has := attrInts(n, "perm")
			drop = ok && has && isIdentityPerm(perm, r)
		}
		if drop {
			patches = append(patches, &Patch{Remove: []*ir.Node{n}, Rename: map[string]string{y: x}})
		}
	}
	return patches, nil
}

func inferenceDropout(v *view, n *ir.Node) bool {
	if opsetOf(v.m, "") < 7 {
		return false // is_test attribute era
	}
	if len(n.Inputs) > 2 && n.Inputs[2] != "" {
		x, ok := v.scalar(n.Inputs[2])
		if !ok || x != 0 {
			return false
		}
	}
	for _, o := range n.Outputs[1:] {
		if o != "" && (len(v.users[o]) > 0 || v.outputs[o]) {
			return false
		}
	}
	return true
}

func isIdentityPerm(perm []int64, rank int) bool {
	if len(perm) != rank {
		return false
	}
	for i, p := range perm {
		if p != int64(i) {
			return false
		}
	}
	return true
}

// foldTransposeReshape composes Transpose(Transpose(x)) into one Transpose
// and Reshape(Reshape(x)) into one Reshape (when the outer shape has no 0,
// which would copy a dimension of the intermediate).
func foldTransposeReshape(m *ir.Model, g *ir.Graph) ([]*Patch, error) {
	v := newView(m, g)
	var patches []*Patch
	for _, n := range g.Nodes {
		if !isONNX(n.Domain) || len(n.Inputs) == 0 {
			continue
		}
		switch n.OpType {
		case "Transpose":
			inner := v.op(n.Inputs[0], "Transpose")
			if inner == nil {
				continue
			}
			r, ok := v.rank(inner.Inputs[0])
			if !ok {
				continue
			}
			p1, ok1 := permOf(inner, r)
			p2, ok2 := permOf(n, r)
			if !ok1 || !ok2 {
				continue
			}
			perm := make([]int64, r)
			for i := range perm {
				perm[i] = p1[p2[i]]
			}
			nn := v.node("Transpose", "", []string{inner.Inputs[0]}, n.Outputs, ops.Attr{Name: "perm", Type: ops.AttrInts, Ints: perm})
			p := &Patch{Remove: []*ir.Node{n}, Add: []*ir.Node{nn}}
			if v.only(n.Inputs[0], n) {
				p.Remove = append(p.Remove, inner)
			}
			patches = append(patches, p)
		case "Reshape":
			if p := constReshape(v, n); p != nil {
				patches = append(patches, p)
				continue
			}
			inner := v.op(n.Inputs[0], "Reshape")
			if inner == nil || len(n.Inputs) != 2 || attrInt(n, "allowzero", 0) != 0 || attrInt(inner, "allowzero", 0) != 0 {
				continue
			}
			shape, ok := v.ints(n.Inputs[1])
			if !ok {
				continue
			}
			zero := false
			for _, s := range shape {
				zero = zero || s == 0
			}
			if zero {
				continue
			}
			nn := v.node("Reshape", "", []string{inner.Inputs[0], n.Inputs[1]}, n.Outputs)
			p := &Patch{Remove: []*ir.Node{n}, Add: []*ir.Node{nn}}
			if v.only(n.Inputs[0], n) {
				p.Remove = append(p.Remove, inner)
			}
			patches = append(patches, p)
		}
	}
	return patches, nil
}

// constReshape replaces a Reshape whose target shape is computed from
// Shape ops (x.view(x.size()[:-1] + (heads, size)) in PyTorch exports) by
// one with a constant target, so fusions see it and the shape arithmetic
// becomes dead.
func constReshape(v *view, n *ir.Node) *Patch {
	if len(n.Inputs) != 2 || attrInt(n, "allowzero", 0) != 0 {
		return nil
	}
	if _, isConst := v.consts[n.Inputs[1]]; isConst {
		return nil
	}
	dims, ok := v.vals[n.Inputs[1]]
	xt, ok2 := v.types[n.Inputs[0]]
	if !ok || !ok2 || !xt.HasShape {
		return nil
	}
	shape, ok := reshapeTarget(n.Inputs[0], xt, dims)
	if !ok {
		return nil
	}
	name := v.newName("reshape_shape")
	nn := v.node("Reshape", "", []string{n.Inputs[0], name}, n.Outputs)
	return &Patch{Remove: []*ir.Node{n}, Add: []*ir.Node{nn},
		Inits: []*ir.Initializer{{Name: name, T: tensor.Must([]int{len(shape)}, shape)}}}
}

// permOf returns a Transpose's permutation (reversed axes by default).
func permOf(n *ir.Node, rank int) ([]int64, bool) {
	perm, ok := attrInts(n, "perm")
	if !ok {
		perm = make([]int64, rank)
		for i := range perm {
			perm[i] = int64(rank - 1 - i)
		}
	}
	if len(perm) != rank {
		return nil, false
	}
	seen := make([]bool, rank)
	for _, p := range perm {
		if p < 0 || int(p) >= rank || seen[p] {
			return nil, false
		}
		seen[p] = true
	}
	return perm, true
}

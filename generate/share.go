package generate

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/gort-ml/gort/graphopt"
	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// ErrNotShareable is wrapped by ShareCache's errors when a model is not of
// the form it rewrites; Load then keeps the model's own layout.
var ErrNotShareable = errors.New("the KV cache cannot be shared in place")

// ShareCache rewrites a decoder that grows its cache by concatenation
// (past_key_values.N.* of P positions in, present.N.* of P + S out: the
// with-past layout, optimum's decoder_with_past_model.onnx and its merged
// decoder) into the Shared layout, so that the native runtime writes the
// cache in place:
//
//   - a merged decoder keeps only its use_cache_branch = true branch (with
//     an empty past it also serves the prompt's step);
//   - graphopt fuses each layer's attention into com.microsoft
//     MultiHeadAttention(…, past_key, past_value), whose present outputs
//     are the graph's present.N.*;
//   - past and present become (batch, heads, max_sequence, head_size)
//     buffers: every MultiHeadAttention takes past_sequence_length =
//     width(attention_mask) − width(input_ids) and writes the step's rows
//     after it, and every Shape of a past input reads that length on axis 2,
//     so the graph's mask and position arithmetic sees the lengths it was
//     exported for.
//
// The result is optimized (pass it to runtime.NewSession as is). It needs
// attention_mask and input_ids inputs, and past inputs read by nothing but
// the fused attention and Shape; otherwise the error wraps
// ErrNotShareable and says what stood in the way. m is not modified.
func ShareCache(m *ir.Model) (*ir.Model, error) {
	if m == nil || m.Graph == nil {
		return nil, fmt.Errorf("generate: %w: no graph", ErrNotShareable)
	}
	m, err := cacheBranch(m)
	if err != nil {
		return nil, err
	}
	if m.Opset("") < 13 {
		return nil, fmt.Errorf("generate: %w: opset %d is below 13", ErrNotShareable, m.Opset(""))
	}
	opt, _, err := graphopt.Optimize(m, graphopt.Options{})
	if err != nil {
		return nil, fmt.Errorf("generate: optimizing before sharing the cache: %w", err)
	}
	return shareBuffers(opt)
}

// cacheBranch returns m with an If on the use_cache_branch input replaced
// by its then_branch (the with-past graph), and the input dropped; m
// itself when it has no such input.
func cacheBranch(m *ir.Model) (*ir.Model, error) {
	g := m.Graph
	const flag = "use_cache_branch"
	if !hasInput(g, flag) {
		return m, nil
	}
	ng := *g
	ng.Nodes = nil
	ng.Inputs = nil
	ng.Initializers = append([]*ir.Initializer(nil), g.Initializers...)
	for _, in := range g.Inputs {
		if in.Name != flag {
			ng.Inputs = append(ng.Inputs, in)
		}
	}
	names := newNamer(g, func(n *ir.Node) bool { return usesName(n, flag) })
	inlined := 0
	for _, n := range g.Nodes {
		if !usesName(n, flag) {
			ng.Nodes = append(ng.Nodes, n)
			continue
		}
		if n.OpType != "If" || !(n.Domain == "" || n.Domain == "ai.onnx") || len(n.Inputs) == 0 || n.Inputs[0] != flag || usesFree(n, flag) {
			return nil, fmt.Errorf("generate: %w: %s reads use_cache_branch (only an If on it is understood)", ErrNotShareable, ir.NodeLabel(n, -1))
		}
		var then *ir.Graph
		for _, a := range n.Attrs {
			if sg, ok := a.G.(*ir.Graph); ok && a.Name == "then_branch" {
				then = sg
			}
		}
		if then == nil || len(then.Outputs) != len(n.Outputs) {
			return nil, fmt.Errorf("generate: %w: %s has no then_branch with %d outputs", ErrNotShareable, ir.NodeLabel(n, -1), len(n.Outputs))
		}
		nodes, inits, err := inline(then, n.Outputs, names)
		if err != nil {
			return nil, err
		}
		ng.Nodes = append(ng.Nodes, nodes...)
		ng.Initializers = append(ng.Initializers, inits...)
		inlined++
	}
	if inlined == 0 {
		return nil, fmt.Errorf("generate: %w: use_cache_branch is an input that no If reads", ErrNotShareable)
	}
	nm := *m
	nm.Graph = &ng
	if err := ng.Validate(nil); err != nil {
		return nil, fmt.Errorf("generate: the merged decoder's cache branch: %w", err)
	}
	return &nm, nil
}

// inline returns the nodes and initializers of branch renamed into the
// enclosing graph: its outputs take the names outs, and its own values
// keep theirs unless the enclosing graph has them already. A branch with
// subgraphs of its own is inlined only when nothing needs renaming.
func inline(branch *ir.Graph, outs []string, names *namer) ([]*ir.Node, []*ir.Initializer, error) {
	rename := map[string]string{}
	local := branch.Defined()
	for _, n := range branch.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				local[o] = true
			}
		}
	}
	outName := map[string]bool{}
	for i, o := range branch.Outputs {
		if local[o.Name] && !outName[o.Name] {
			rename[o.Name] = outs[i]
			outName[o.Name] = true
		}
	}
	for name := range local {
		if _, ok := rename[name]; !ok && names.taken(name) {
			rename[name] = names.fresh(name)
		}
	}
	re := func(s string) string {
		if r, ok := rename[s]; ok {
			return r
		}
		return s
	}
	var nodes []*ir.Node
	for _, n := range branch.Nodes {
		if len(n.Subgraphs()) > 0 && len(rename) > len(outName) {
			return nil, nil, fmt.Errorf("generate: %w: the cache branch's %s has subgraphs and names that clash with the enclosing graph", ErrNotShareable, ir.NodeLabel(n, -1))
		}
		c := n.Renamed(re)
		for _, o := range c.Outputs {
			names.use(o)
		}
		nodes = append(nodes, c)
	}
	var inits []*ir.Initializer
	for _, t := range branch.Initializers {
		c := *t
		c.Name = re(t.Name)
		names.use(c.Name)
		inits = append(inits, &c)
	}
	// An output that is an outer value, a branch input or an output listed
	// twice passes through an Identity.
	for i, o := range branch.Outputs {
		if re(o.Name) != outs[i] {
			nodes = append(nodes, &ir.Node{OpType: "Identity", Inputs: []string{re(o.Name)}, Outputs: []string{outs[i]}})
		}
	}
	if len(branch.Sparse) > 0 || len(branch.Inputs) > 0 {
		return nil, nil, fmt.Errorf("generate: %w: the cache branch has inputs or sparse initializers", ErrNotShareable)
	}
	return nodes, inits, nil
}

var presentName = regexp.MustCompile(`^present\.\d+\.(key|value)$`)

// use is one input of a node reading a past input.
type use struct {
	n *ir.Node
	i int
}

// shareBuffers is ShareCache's rewrite of an optimized graph (see there).
func shareBuffers(m *ir.Model) (*ir.Model, error) {
	g := m.Graph
	fail := func(format string, a ...any) error {
		return fmt.Errorf("generate: %w: "+format, append([]any{ErrNotShareable}, a...)...)
	}
	for _, in := range []string{"input_ids", "attention_mask"} {
		if !hasInput(g, in) {
			return nil, fail("the model has no %s input", in)
		}
	}
	past := map[string]bool{}
	for _, in := range g.Inputs {
		if pastName.MatchString(in.Name) {
			past[in.Name] = true
		}
	}
	if len(past) == 0 {
		return nil, fail("the model takes no past_key_values")
	}
	uses := map[string][]use{}
	consumers := map[string]int{}
	for _, n := range g.Nodes {
		for i, s := range n.Inputs {
			consumers[s]++
			if past[s] {
				uses[s] = append(uses[s], use{n, i})
			}
		}
		for _, sg := range n.Subgraphs() {
			for _, name := range sg.FreeNames() {
				if past[name] {
					return nil, fail("%s reads %s inside a subgraph", ir.NodeLabel(n, -1), name)
				}
			}
		}
	}
	// Each past input: Shape nodes and one fused attention, whose present
	// output is the matching graph output.
	attn := map[*ir.Node]bool{}
	shapes := map[*ir.Node]bool{}
	outputs := map[string]bool{}
	for _, o := range g.Outputs {
		outputs[o.Name] = true
	}
	for name := range past {
		sub := pastName.FindStringSubmatch(name)
		slot, present := 6, "present."+sub[1]+".key"
		if sub[2] == "value" {
			slot, present = 7, "present."+sub[1]+".value"
		}
		fused := 0
		for _, u := range uses[name] {
			switch {
			case u.n.OpType == "Shape" && (u.n.Domain == "" || u.n.Domain == "ai.onnx"):
				shapes[u.n] = true
			case u.n.OpType == "MultiHeadAttention" && u.n.Domain == "com.microsoft" && u.i == slot &&
				(len(u.n.Inputs) <= 8 || u.n.Inputs[8] == ""):
				if len(u.n.Outputs) <= slot-5 || u.n.Outputs[slot-5] != present || !outputs[present] || consumers[present] > 0 {
					return nil, fail("%s reads %s but does not return %s (a graph output read by no node)", ir.NodeLabel(u.n, -1), name, present)
				}
				attn[u.n] = true
				fused++
			default:
				return nil, fail("%s reads %s as input %d (only fused MultiHeadAttention and Shape are understood)", ir.NodeLabel(u.n, -1), name, u.i)
			}
		}
		if fused != 1 {
			return nil, fail("%s feeds %d fused attention nodes, want 1 (did graphopt fuse the attention?)", name, fused)
		}
	}
	for _, o := range g.Outputs {
		if presentName.MatchString(o.Name) {
			found := false
			for n := range attn {
				found = found || n.Outputs[1] == o.Name || (len(n.Outputs) > 2 && n.Outputs[2] == o.Name)
			}
			if !found {
				return nil, fail("output %s is not a fused attention's present", o.Name)
			}
		}
	}

	names := newNamer(g, nil)
	ng := *g
	ng.ValueInfo = nil // intermediate shapes spoke of the old lengths
	ng.Initializers = append([]*ir.Initializer(nil), g.Initializers...)
	konst := func(v int64) string {
		name := names.fresh("share_const_" + strconv.FormatInt(v, 10))
		ng.Initializers = append(ng.Initializers, &ir.Initializer{Name: name, T: tensor.Must([]int{1}, []int64{v})})
		return name
	}
	c0, c1, c2, c3, c4 := konst(0), konst(1), konst(2), konst(3), konst(4)
	node := func(op string, attrs []ops.Attr, in ...string) (*ir.Node, string) {
		out := names.fresh("share_" + op)
		return &ir.Node{Name: out, OpType: op, Inputs: in, Outputs: []string{out}, Attrs: attrs}, out
	}
	// past length = width(attention_mask) − width(input_ids), int64 (1).
	var head []*ir.Node
	width := func(in string) (shape, w string) {
		s, so := node("Shape", nil, in)
		sl, wo := node("Slice", nil, so, c1, c2)
		head = append(head, s, sl)
		return so, wo
	}
	_, total := width("attention_mask")
	idsShape, seq := width("input_ids")
	sub, plen := node("Sub", nil, total, seq)
	cast, plen32 := node("Cast", []ops.Attr{{Name: "to", Type: ops.AttrInt, I: int64(tensor.Int32)}}, plen)
	head = append(head, sub, cast)
	// What Shape(past) reads: (batch, heads, past length, head size). With
	// heads and head size fixed in the past's declared type, one value per
	// pair, the batch taken from input_ids (the fused attention checks
	// that the buffers agree), so that every layer's mask arithmetic is
	// the same and graphopt computes it once; else from the buffer.
	static := map[[2]int64]string{}
	byInput := map[string]string{}
	var batch string
	virtualShape := func(in string) string {
		if name, ok := byInput[in]; ok {
			return name
		}
		if t := inputType(g, in); t.HasShape && len(t.Shape) == 4 && t.Shape[1].Known() && t.Shape[3].Known() {
			key := [2]int64{t.Shape[1].Size, t.Shape[3].Size}
			if name, ok := static[key]; ok {
				return name
			}
			if batch == "" {
				b, bo := node("Slice", nil, idsShape, c0, c1)
				head, batch = append(head, b), bo
			}
			cat, shape := node("Concat", []ops.Attr{{Name: "axis", Type: ops.AttrInt, I: 0}}, batch, konst(key[0]), plen, konst(key[1]))
			head = append(head, cat)
			static[key], byInput[in] = shape, shape
			return shape
		}
		s, full := node("Shape", nil, in)
		lead, lo := node("Slice", nil, full, c0, c2)
		tail, to := node("Slice", nil, full, c3, c4)
		cat, shape := node("Concat", []ops.Attr{{Name: "axis", Type: ops.AttrInt, I: 0}}, lo, plen, to)
		head = append(head, s, lead, tail, cat)
		byInput[in] = shape
		return shape
	}
	for _, n := range g.Nodes {
		if shapes[n] {
			virtualShape(n.Inputs[0])
		}
	}
	ng.Nodes = append([]*ir.Node(nil), head...)
	for _, n := range g.Nodes {
		switch {
		case attn[n]:
			c := *n
			c.Inputs = append(append(make([]string, 0, 9), n.Inputs...), make([]string, max(0, 9-len(n.Inputs)))...)
			c.Inputs[8] = plen32
			ng.Nodes = append(ng.Nodes, &c)
		case shapes[n]:
			shape := virtualShape(n.Inputs[0])
			start, hasStart := intAttr(n, "start")
			end, hasEnd := intAttr(n, "end")
			if !hasStart && !hasEnd {
				ng.Nodes = append(ng.Nodes, &ir.Node{Name: n.Name, OpType: "Identity", Inputs: []string{shape}, Outputs: n.Outputs})
				continue
			}
			if !hasEnd {
				end = 4
			}
			ng.Nodes = append(ng.Nodes, &ir.Node{Name: n.Name, OpType: "Slice", Inputs: []string{shape, konst(start), konst(end)}, Outputs: n.Outputs})
		default:
			ng.Nodes = append(ng.Nodes, n)
		}
	}
	ng.Inputs = retype(g.Inputs, func(v *ir.ValueInfo) {
		switch {
		case past[v.Name]:
			setDim(v, 2, "max_sequence")
		case v.Name == "attention_mask":
			setDim(v, 1, "total_sequence")
		}
	})
	ng.Outputs = retype(g.Outputs, func(v *ir.ValueInfo) {
		for n := range attn {
			if v.Name == n.Outputs[1] || (len(n.Outputs) > 2 && v.Name == n.Outputs[2]) {
				setDim(v, 2, "max_sequence")
			}
		}
	})
	if err := ng.Validate(nil); err != nil {
		return nil, fmt.Errorf("generate: sharing the cache made an invalid graph: %w", err)
	}
	nm := *m
	nm.Graph = &ng
	return &nm, nil
}

// retype returns copies of vs, each changed by f.
func retype(vs []*ir.ValueInfo, f func(*ir.ValueInfo)) []*ir.ValueInfo {
	out := make([]*ir.ValueInfo, len(vs))
	for i, v := range vs {
		c := *v
		c.Type.Shape = append([]tensor.Dim(nil), v.Type.Shape...)
		f(&c)
		out[i] = &c
	}
	return out
}

// setDim makes axis of v's shape the symbolic dimension param, when v has
// a shape of that rank.
func setDim(v *ir.ValueInfo, axis int, param string) {
	if v.Type.HasShape && axis < len(v.Type.Shape) {
		v.Type.Shape[axis] = tensor.Dim{Size: -1, Param: param}
	}
}

// inputType is the declared type of g's input name (zero if none).
func inputType(g *ir.Graph, name string) tensor.Type {
	for _, in := range g.Inputs {
		if in.Name == name {
			return in.Type
		}
	}
	return tensor.Type{}
}

func intAttr(n *ir.Node, name string) (int64, bool) {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a.I, true
		}
	}
	return 0, false
}

func hasInput(g *ir.Graph, name string) bool {
	for _, in := range g.Inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

func usesName(n *ir.Node, name string) bool {
	for _, s := range n.Inputs {
		if s == name {
			return true
		}
	}
	return usesFree(n, name)
}

// usesFree reports whether a subgraph of n reads name from outside.
func usesFree(n *ir.Node, name string) bool {
	for _, sg := range n.Subgraphs() {
		for _, f := range sg.FreeNames() {
			if f == name {
				return true
			}
		}
	}
	return false
}

// namer hands out value names a graph does not use yet.
type namer struct {
	used map[string]bool
	seq  int
}

// newNamer knows every name of g and its subgraphs, except those in the
// subgraphs of top-level nodes that skip (nil: none) selects.
func newNamer(g *ir.Graph, skip func(*ir.Node) bool) *namer {
	nm := &namer{used: map[string]bool{}}
	var walk func(g *ir.Graph, top bool)
	walk = func(g *ir.Graph, top bool) {
		for k := range g.Defined() {
			nm.used[k] = true
		}
		for _, n := range g.Nodes {
			for _, o := range n.Outputs {
				nm.used[o] = true
			}
			if top && skip != nil && skip(n) {
				continue
			}
			for _, sg := range n.Subgraphs() {
				walk(sg, false)
			}
		}
	}
	walk(g, true)
	return nm
}

func (nm *namer) taken(s string) bool { return nm.used[s] }
func (nm *namer) use(s string)        { nm.used[s] = true }

func (nm *namer) fresh(base string) string {
	for {
		nm.seq++
		s := base + "_" + strconv.Itoa(nm.seq)
		if !nm.used[s] {
			nm.used[s] = true
			return s
		}
	}
}

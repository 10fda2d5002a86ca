package ir

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gort-ml/gort/tensor"
)

// ErrorList collects every problem found in a model, so one load reports all.
type ErrorList []error

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(l))
	for i, e := range l {
		if i == 20 {
			fmt.Fprintf(&b, "\n\t... and %d more", len(l)-20)
			break
		}
		b.WriteString("\n\t")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is see every collected error.
func (l ErrorList) Unwrap() []error { return l }

// Err returns nil for an empty list, else the list.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Sentinel errors for graph structure problems.
var (
	ErrCycle     = errors.New("graph has a cycle")
	ErrUndefined = errors.New("undefined value")
	ErrRedefined = errors.New("value defined twice")
	ErrDepth     = errors.New("subgraphs nested too deeply")
)

// MaxSubgraphDepth bounds If/Loop/Scan nesting, so hostile models cannot
// exhaust the stack.
const MaxSubgraphDepth = 64

// NodeLabel names a node for error messages: `node "name" (OpType)` or, for
// an unnamed node, its index.
func NodeLabel(n *Node, i int) string {
	if n.Name != "" {
		return fmt.Sprintf("node %q (%s)", n.Name, n.OpType)
	}
	return fmt.Sprintf("node #%d (%s)", i, n.OpType)
}

// Renamed returns a copy of n whose inputs and outputs are f of n's
// (attributes and subgraphs shared with n).
func (n *Node) Renamed(f func(string) string) *Node {
	c := *n
	c.Inputs = make([]string, len(n.Inputs))
	for i, s := range n.Inputs {
		c.Inputs[i] = f(s)
	}
	c.Outputs = make([]string, len(n.Outputs))
	for i, s := range n.Outputs {
		c.Outputs[i] = f(s)
	}
	return &c
}

// Subgraphs returns the graph-valued attributes of n.
func (n *Node) Subgraphs() []*Graph {
	var out []*Graph
	for _, a := range n.Attrs {
		if g, ok := a.G.(*Graph); ok && g != nil {
			out = append(out, g)
		}
		for _, x := range a.Graphs {
			if g, ok := x.(*Graph); ok && g != nil {
				out = append(out, g)
			}
		}
	}
	return out
}

// Defined returns the names available before any node runs: inputs and initializers.
func (g *Graph) Defined() map[string]bool {
	d := map[string]bool{}
	for _, v := range g.Inputs {
		d[v.Name] = true
	}
	for _, t := range g.Initializers {
		d[t.Name] = true
	}
	for _, t := range g.Sparse {
		d[t.Name] = true
	}
	return d
}

// DeclaredTypes returns the types the graph states without inference:
// value_info, the outputs' types where known, the inputs' and the
// initializers' (in that order of precedence, the last winning).
func (g *Graph) DeclaredTypes() map[string]tensor.Type {
	types := map[string]tensor.Type{}
	for _, v := range g.ValueInfo {
		types[v.Name] = v.Type
	}
	for _, v := range g.Outputs {
		if v.Type.Kind != tensor.KindUnknown {
			types[v.Name] = v.Type
		}
	}
	for _, v := range g.Inputs {
		types[v.Name] = v.Type
	}
	for _, t := range g.Initializers {
		types[t.Name] = tensor.TensorType(t.T.DType(), t.T.Shape()...)
	}
	return types
}

// TopoOrder returns the node indices in an order where every node follows the
// producers of its inputs, keeping the file's order where it already is one.
// outer lists names defined by enclosing graphs (for subgraphs). Values a
// node's subgraphs capture from this graph count as inputs of the node.
func (g *Graph) TopoOrder(outer map[string]bool) ([]int, error) {
	producer := map[string]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				producer[o] = i
			}
		}
	}
	deps := make([][]int, len(g.Nodes))
	for i, n := range g.Nodes {
		for _, name := range nodeUses(n) {
			if p, ok := producer[name]; ok && p != i {
				deps[i] = append(deps[i], p)
			}
		}
	}
	state := make([]uint8, len(g.Nodes)) // 0 new, 1 visiting, 2 done
	order := make([]int, 0, len(g.Nodes))
	// Iterative DFS: a hostile model must not overflow the stack.
	type frame struct{ node, next int }
	for start := range g.Nodes {
		if state[start] != 0 {
			continue
		}
		stack := []frame{{start, 0}}
		state[start] = 1
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next < len(deps[f.node]) {
				d := deps[f.node][f.next]
				f.next++
				switch state[d] {
				case 0:
					state[d] = 1
					stack = append(stack, frame{d, 0})
				case 1:
					return nil, fmt.Errorf("%w through %s", ErrCycle, NodeLabel(g.Nodes[d], d))
				}
				continue
			}
			state[f.node] = 2
			order = append(order, f.node)
			stack = stack[:len(stack)-1]
		}
	}
	return order, nil
}

// nodeUses returns the node's inputs plus the names its subgraphs read from
// enclosing scopes.
func nodeUses(n *Node) []string {
	uses := append([]string{}, n.Inputs...)
	for _, sg := range n.Subgraphs() {
		uses = append(uses, sg.FreeNames()...)
	}
	return uses
}

// FreeNames returns the names g's nodes (recursively) read that g itself does
// not define: the values it captures from enclosing graphs.
func (g *Graph) FreeNames() []string {
	return g.freeNames(0)
}

func (g *Graph) freeNames(depth int) []string {
	if depth > MaxSubgraphDepth {
		return nil
	}
	def := g.Defined()
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			def[o] = true
		}
	}
	seen := map[string]bool{}
	var free []string
	add := func(name string) {
		if name != "" && !def[name] && !seen[name] {
			seen[name] = true
			free = append(free, name)
		}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			add(in)
		}
		for _, sg := range n.Subgraphs() {
			for _, name := range sg.freeNames(depth + 1) {
				add(name)
			}
		}
	}
	for _, o := range g.Outputs {
		add(o.Name)
	}
	return free
}

// Validate checks the graph's structure and reports every problem at once:
// undefined inputs, values defined twice, cycles, missing op types and
// subgraph nesting beyond MaxSubgraphDepth. outer holds names visible from
// enclosing graphs (nil for a main graph).
func (g *Graph) Validate(outer map[string]bool) error {
	var errs ErrorList
	g.validate(outer, 0, &errs)
	return errs.Err()
}

func (g *Graph) validate(outer map[string]bool, depth int, errs *ErrorList) {
	if depth > MaxSubgraphDepth {
		*errs = append(*errs, fmt.Errorf("graph %q: %w (limit %d)", g.Name, ErrDepth, MaxSubgraphDepth))
		return
	}
	where := "graph"
	if g.Name != "" {
		where = fmt.Sprintf("graph %q", g.Name)
	}
	defined := map[string]bool{}
	for k := range outer {
		defined[k] = true
	}
	local := map[string]bool{}
	define := func(name, by string) {
		if name == "" {
			return
		}
		if local[name] {
			*errs = append(*errs, fmt.Errorf("%s: %w: %q (again by %s)", where, ErrRedefined, name, by))
		}
		local[name] = true
		defined[name] = true
	}
	for _, v := range g.Inputs {
		define(v.Name, "graph input")
	}
	for _, t := range g.Initializers {
		if !local[t.Name] { // an initializer may also be listed as an input (a default)
			define(t.Name, "initializer")
		}
	}
	for _, t := range g.Sparse {
		define(t.Name, "sparse initializer")
	}
	order, err := g.TopoOrder(outer)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %w", where, err))
		order = make([]int, len(g.Nodes))
		for i := range order {
			order[i] = i
		}
	}
	producers := map[string]bool{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			producers[o] = true
		}
	}
	for _, i := range order {
		n := g.Nodes[i]
		label := NodeLabel(n, i)
		if n.OpType == "" {
			*errs = append(*errs, fmt.Errorf("%s: %s: empty op_type", where, label))
		}
		for _, in := range n.Inputs {
			if in != "" && !defined[in] && !producers[in] {
				*errs = append(*errs, fmt.Errorf("%s: %s: %w %q (not an input, initializer or node output)", where, label, ErrUndefined, in))
			}
		}
		for _, sg := range n.Subgraphs() {
			sg.validate(defined, depth+1, errs)
		}
		for _, o := range n.Outputs {
			define(o, label)
		}
	}
	for _, o := range g.Outputs {
		if !defined[o.Name] {
			*errs = append(*errs, fmt.Errorf("%s: output %w %q", where, ErrUndefined, o.Name))
		}
	}
}

package ir

import (
	"fmt"
	"strconv"

	"github.com/gort-ml/gort/ops"
)

// InlineFunctions replaces every node that calls a model-local function with
// the function's body, renaming the body's internal values so they cannot
// clash, binding formal inputs/outputs to the call's values and resolving
// attribute references (ref_attr_name) against the call's attributes or the
// function's defaults. Nested calls are expanded up to MaxSubgraphDepth.
// Nodes that call no function are returned as they are.
func InlineFunctions(nodes []*Node, funcs []*Function) ([]*Node, error) {
	if len(funcs) == 0 {
		return nodes, nil
	}
	var counter int
	return inline(nodes, funcs, 0, &counter)
}

func findFunction(funcs []*Function, n *Node) *Function {
	for _, f := range funcs {
		if f.Name == n.OpType && ops.NormDomain(f.Domain) == ops.NormDomain(n.Domain) && f.Overload == n.Overload {
			return f
		}
	}
	return nil
}

func inline(nodes []*Node, funcs []*Function, depth int, counter *int) ([]*Node, error) {
	var out []*Node
	for i, n := range nodes {
		f := findFunction(funcs, n)
		if f == nil {
			out = append(out, n)
			continue
		}
		if depth >= MaxSubgraphDepth {
			return nil, fmt.Errorf("%s: function calls nested deeper than %d", NodeLabel(n, i), MaxSubgraphDepth)
		}
		*counter++
		prefix := "__" + f.Name + strconv.Itoa(*counter) + "__"
		rename := map[string]string{}
		for j, formal := range f.Inputs {
			if j < len(n.Inputs) {
				rename[formal] = n.Inputs[j]
			} else {
				rename[formal] = ""
			}
		}
		for j, formal := range f.Outputs {
			if j < len(n.Outputs) {
				rename[formal] = n.Outputs[j]
			}
		}
		name := func(s string) string {
			if s == "" {
				return ""
			}
			if r, ok := rename[s]; ok {
				return r
			}
			return prefix + s
		}
		attrs := map[string]*ops.Attr{}
		for k := range f.AttrProtos {
			attrs[f.AttrProtos[k].Name] = &f.AttrProtos[k]
		}
		for k := range n.Attrs {
			attrs[n.Attrs[k].Name] = &n.Attrs[k]
		}
		var body []*Node
		for _, b := range f.Nodes {
			c := b.Renamed(name)
			c.Name = prefix + b.Name
			c.Attrs = nil
			for _, a := range b.Attrs {
				if a.RefAttr != "" {
					v, ok := attrs[a.RefAttr]
					if !ok {
						continue // unset optional attribute: the op's default applies
					}
					r := *v
					r.Name = a.Name
					r.RefAttr = ""
					c.Attrs = append(c.Attrs, r)
					continue
				}
				c.Attrs = append(c.Attrs, a)
			}
			body = append(body, c)
		}
		exp, err := inline(body, funcs, depth+1, counter)
		if err != nil {
			return nil, err
		}
		out = append(out, exp...)
	}
	return out, nil
}

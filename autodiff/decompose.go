package autodiff

import (
	"fmt"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/all"
)

// backThrough differentiates a fused op through its decomposition: build
// emits, with b.Op, standard ops that recompute the node n from its own
// input names and returns the values standing for n's outputs; the
// emitted nodes are then differentiated with their rules (seeded with dy)
// like any part of the graph, and the gradient of each of n's inputs is
// returned. So a fused op's gradient is as right as its decomposition and
// the rules of the ops in it, which the finite-difference tests check.
func (b *Builder) backThrough(n *ir.Node, dy []string, build func() ([]string, error)) ([]string, error) {
	start := len(b.g.Nodes)
	outs, err := build()
	if err != nil {
		return nil, err
	}
	nodes := append([]*ir.Node{}, b.g.Nodes[start:]...)
	reg := all.Registry()
	for _, m := range nodes { // emitted in order: each node's inputs come first
		inferNode(reg, m, b.opset, b.types)
		for _, in := range m.Inputs {
			if b.depends[in] {
				for _, o := range m.Outputs {
					b.depends[o] = true
				}
				break
			}
		}
	}
	grads := map[string][]string{}
	for i, o := range outs {
		if i < len(dy) && dy[i] != "" && o != "" {
			grads[o] = append(grads[o], dy[i])
		}
	}
	if err := b.backprop(nodes, grads); err != nil {
		return nil, fmt.Errorf("%s decomposition: %w", n.OpType, err)
	}
	out := make([]string, len(n.Inputs))
	seen := map[string]bool{}
	for i, in := range n.Inputs {
		if in == "" || seen[in] || len(grads[in]) == 0 {
			continue
		}
		seen[in] = true // a value used as several inputs gets its gradient once
		out[i] = b.sum(in, grads[in])
	}
	return out, nil
}

// backprop runs the rules of nodes (in topological order) in reverse,
// adding to grads the contributions to every value that needs a gradient.
func (b *Builder) backprop(nodes []*ir.Node, grads map[string][]string) error {
	prefix := b.prefix
	defer func() { b.prefix = prefix }()
	for k := len(nodes) - 1; k >= 0; k-- {
		n := nodes[k]
		dy := make([]string, len(n.Outputs))
		any := false
		for j, o := range n.Outputs {
			if c := grads[o]; o != "" && len(c) > 0 {
				dy[j] = b.sum(o, c)
				any = true
			}
		}
		need := false
		for _, in := range n.Inputs {
			need = need || b.Needs(in)
		}
		if !any || !need {
			continue
		}
		rule, ok := Rules()[ops.Key{Domain: ops.NormDomain(n.Domain), Type: n.OpType}]
		if !ok {
			return fmt.Errorf("%w for %s", ErrNoRule, n.OpType)
		}
		b.prefix = prefix + n.OpType + "/"
		dx, err := rule(b, n, dy)
		if err != nil {
			return fmt.Errorf("%s: %w", n.OpType, err)
		}
		for j, d := range dx {
			if d != "" && j < len(n.Inputs) && b.Needs(n.Inputs[j]) {
				grads[n.Inputs[j]] = append(grads[n.Inputs[j]], d)
			}
		}
	}
	return nil
}

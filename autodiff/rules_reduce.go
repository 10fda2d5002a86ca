package autodiff

import (
	"github.com/gort-ml/gort/ir"
)

func reduceRules() []namedRule {
	return []namedRule{
		// y = Σ_axes x: dx = broadcast of dy back over the reduced axes.
		rule("ReduceSum", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return []string{b.unreduce(n, dy[0]), ""}, nil
		}),
		// y = mean_axes x: dx = broadcast(dy) · |y| / |x|.
		rule("ReduceMean", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			g := b.unreduce(n, dy[0])
			return []string{b.Op("Div", nil, g, b.countRatio(x, dy[0])), ""}, nil
		}),
	}
}

// unreduce broadcasts the gradient of a Reduce* output back to the input's
// shape: re-insert the reduced axes (when keepdims=0) and Expand. Negative
// axes work unchanged: Unsqueeze counts them from the output rank, which is
// the input's rank.
func (b *Builder) unreduce(n *ir.Node, dy string) string {
	x := n.Inputs[0]
	keep := attrI(n, "keepdims", 1) != 0
	g := dy
	if !keep {
		var axes string
		if a, ok := attrIs(n, "axes"); ok {
			axes = b.Ints(a...)
		} else if len(n.Inputs) > 1 && n.Inputs[1] != "" {
			axes = n.Inputs[1]
		}
		if axes != "" {
			g = b.Op("Unsqueeze", nil, dy, axes)
		}
		// no axes: every axis was reduced and dy is a scalar, which Expand broadcasts
	}
	return b.Op("Expand", nil, g, b.Op("Shape", nil, x))
}

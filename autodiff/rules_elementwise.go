package autodiff

import (
	"math"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

// elementwiseRules: arithmetic with broadcasting, unary math and activations.
func elementwiseRules() []namedRule {
	return []namedRule{
		// y = a + b: da = dy, db = dy (each summed over broadcast axes).
		rule("Add", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return []string{b.ReduceTo(dy[0], n.Outputs[0], n.Inputs[0]), b.ReduceTo(dy[0], n.Outputs[0], n.Inputs[1])}, nil
		}),
		// y = a - b: da = dy, db = -dy.
		rule("Sub", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			out := []string{"", ""}
			if b.Needs(n.Inputs[0]) {
				out[0] = b.ReduceTo(dy[0], n.Outputs[0], n.Inputs[0])
			}
			if b.Needs(n.Inputs[1]) {
				out[1] = b.ReduceTo(b.Op("Neg", nil, dy[0]), n.Outputs[0], n.Inputs[1])
			}
			return out, nil
		}),
		// y = a * b: da = dy * b, db = dy * a.
		rule("Mul", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x, w := n.Inputs[0], n.Inputs[1]
			out := []string{"", ""}
			if b.Needs(x) {
				out[0] = b.ReduceTo(b.Op("Mul", nil, dy[0], w), n.Outputs[0], x)
			}
			if b.Needs(w) {
				out[1] = b.ReduceTo(b.Op("Mul", nil, dy[0], x), n.Outputs[0], w)
			}
			return out, nil
		}),
		// y = a / b: da = dy / b, db = -dy * y / b.
		rule("Div", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x, w, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
			out := []string{"", ""}
			if b.Needs(x) {
				out[0] = b.ReduceTo(b.Op("Div", nil, dy[0], w), y, x)
			}
			if b.Needs(w) {
				out[1] = b.ReduceTo(b.Op("Neg", nil, b.Op("Div", nil, b.Op("Mul", nil, dy[0], y), w)), y, w)
			}
			return out, nil
		}),
		// y = a ^ p: da = dy * p * a^(p-1), dp = dy * y * ln(a).
		rule("Pow", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			a, p, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
			out := []string{"", ""}
			if b.Needs(a) {
				pc := p
				if b.dtype(p) != b.dtype(a) {
					pc = b.castLike(p, a)
				}
				pm1 := b.Op("Sub", nil, pc, b.Scalar(1, a))
				out[0] = b.ReduceTo(b.Op("Mul", nil, dy[0], b.Op("Mul", nil, pc, b.Op("Pow", nil, a, pm1))), y, a)
			}
			if b.Needs(p) {
				out[1] = b.ReduceTo(b.Op("Mul", nil, b.Op("Mul", nil, dy[0], y), b.Op("Log", nil, a)), y, p)
			}
			return out, nil
		}),
		// Sum of N inputs: each gets dy.
		rule("Sum", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			out := make([]string, len(n.Inputs))
			for i, x := range n.Inputs {
				if b.Needs(x) {
					out[i] = b.ReduceTo(dy[0], n.Outputs[0], x)
				}
			}
			return out, nil
		}),
		unary("Neg", func(b *Builder, x, y, dy string) string { return b.Op("Neg", nil, dy) }),
		unary("Identity", func(b *Builder, x, y, dy string) string { return dy }),
		// y = sqrt(x): dx = dy / (2 y).
		unary("Sqrt", func(b *Builder, x, y, dy string) string {
			return b.Op("Div", nil, dy, b.Op("Mul", nil, y, b.Scalar(2, x)))
		}),
		// y = 1/x: dx = -dy * y².
		unary("Reciprocal", func(b *Builder, x, y, dy string) string {
			return b.Op("Neg", nil, b.Op("Mul", nil, dy, b.Op("Mul", nil, y, y)))
		}),
		unary("Exp", func(b *Builder, x, y, dy string) string { return b.Op("Mul", nil, dy, y) }),
		unary("Log", func(b *Builder, x, y, dy string) string { return b.Op("Div", nil, dy, x) }),
		// y = erf(x): dx = dy * 2/sqrt(pi) * exp(-x²).
		unary("Erf", func(b *Builder, x, y, dy string) string {
			e := b.Op("Exp", nil, b.Op("Neg", nil, b.Op("Mul", nil, x, x)))
			return b.Op("Mul", nil, dy, b.Op("Mul", nil, e, b.Scalar(2/math.Sqrt(math.Pi), x)))
		}),
		// y = tanh(x): dx = dy * (1 - y²).
		unary("Tanh", func(b *Builder, x, y, dy string) string {
			return b.Op("Mul", nil, dy, b.Op("Sub", nil, b.Scalar(1, x), b.Op("Mul", nil, y, y)))
		}),
		// y = σ(x): dx = dy * y * (1 - y).
		unary("Sigmoid", func(b *Builder, x, y, dy string) string {
			return b.Op("Mul", nil, dy, b.Op("Mul", nil, y, b.Op("Sub", nil, b.Scalar(1, x), y)))
		}),
		// y = max(x, 0): dx = dy where x > 0.
		unary("Relu", func(b *Builder, x, y, dy string) string {
			return b.Op("Where", nil, b.Op("Greater", nil, x, b.Scalar(0, x)), dy, b.Op("Mul", nil, dy, b.Scalar(0, x)))
		}),
		// y = |x|: dx = dy * sign(x).
		unary("Abs", func(b *Builder, x, y, dy string) string { return b.Op("Mul", nil, dy, b.Op("Sign", nil, x)) }),
		unary("Sin", func(b *Builder, x, y, dy string) string { return b.Op("Mul", nil, dy, b.Op("Cos", nil, x)) }),
		unary("Cos", func(b *Builder, x, y, dy string) string {
			return b.Op("Neg", nil, b.Op("Mul", nil, dy, b.Op("Sin", nil, x)))
		}),
		// y = softplus(x) = ln(1+eˣ): dx = dy * σ(x).
		unary("Softplus", func(b *Builder, x, y, dy string) string { return b.Op("Mul", nil, dy, b.Op("Sigmoid", nil, x)) }),
		// y = x·σ(αx) (Swish; α = 1 unless given): dx = dy·(σ(αx) + αx·σ(αx)(1-σ(αx))).
		{"", "LeakyRelu", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			alpha := attrF(n, "alpha", 0.01)
			slope := b.Where(b.Op("Greater", nil, x, b.Scalar(0, x)), b.Scalar(1, x), b.Scalar(float64(alpha), x))
			return []string{b.Op("Mul", nil, dy[0], slope)}, nil
		}},
		// Cast: the gradient is cast back to the input's dtype.
		{"", "Cast", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			if !b.dtype(x).IsFloat() {
				return []string{""}, nil
			}
			return []string{b.castLike(dy[0], x)}, nil
		}},
		// Where(c, a, b): da = dy where c, db = dy where not c.
		{"", "Where", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			c, x, w, y := n.Inputs[0], n.Inputs[1], n.Inputs[2], n.Outputs[0]
			zero := b.Op("Mul", nil, dy[0], b.Scalar(0, y))
			out := []string{"", "", ""}
			if b.Needs(x) {
				out[1] = b.ReduceTo(b.Where(c, dy[0], zero), y, x)
			}
			if b.Needs(w) {
				out[2] = b.ReduceTo(b.Where(c, zero, dy[0]), y, w)
			}
			return out, nil
		}},
	}
}

// unary declares the rule of a one-input, one-output op from dx = f(x, y, dy).
func unary(op string, f func(b *Builder, x, y, dy string) string) namedRule {
	return rule(op, func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
		return []string{f(b, n.Inputs[0], n.Outputs[0], dy[0])}, nil
	})
}

// Where emits Where(c, a, b).
func (b *Builder) Where(c, x, y string) string { return b.Op("Where", nil, c, x, y) }

func attrF(n *ir.Node, name string, def float32) float32 {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a.F
		}
	}
	return def
}

func attrI(n *ir.Node, name string, def int64) int64 {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a.I
		}
	}
	return def
}

func attrIs(n *ir.Node, name string) ([]int64, bool) {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a.Ints, true
		}
	}
	return nil, false
}

var _ = tensor.Float32

package autodiff

import (
	"fmt"
	"strings"

	"github.com/gort-ml/gort/ir"
)

// mathRules: the remaining elementwise functions and activations, and the
// variadic Max, Min and Mean.
func mathRules() []namedRule {
	one := func(b *Builder, x string) string { return b.Scalar(1, x) }
	sq := func(b *Builder, x string) string { return b.Op("Mul", nil, x, x) }
	return []namedRule{
		// y = tan x: dx = dy·(1 + y²).
		unary("Tan", func(b *Builder, x, y, dy string) string {
			return b.Op("Mul", nil, dy, b.Op("Add", nil, one(b, x), sq(b, y)))
		}),
		// y = atan x: dx = dy/(1 + x²).
		unary("Atan", func(b *Builder, x, y, dy string) string {
			return b.Op("Div", nil, dy, b.Op("Add", nil, one(b, x), sq(b, x)))
		}),
		// y = asin x: dx = dy/√(1 − x²).
		unary("Asin", func(b *Builder, x, y, dy string) string {
			return b.Op("Div", nil, dy, b.Op("Sqrt", nil, b.Op("Sub", nil, one(b, x), sq(b, x))))
		}),
		// y = acos x: dx = −dy/√(1 − x²).
		unary("Acos", func(b *Builder, x, y, dy string) string {
			return b.Op("Neg", nil, b.Op("Div", nil, dy, b.Op("Sqrt", nil, b.Op("Sub", nil, one(b, x), sq(b, x)))))
		}),
		unary("Sinh", func(b *Builder, x, y, dy string) string { return b.Op("Mul", nil, dy, b.Op("Cosh", nil, x)) }),
		unary("Cosh", func(b *Builder, x, y, dy string) string { return b.Op("Mul", nil, dy, b.Op("Sinh", nil, x)) }),
		// y = asinh x: dx = dy/√(x² + 1).
		unary("Asinh", func(b *Builder, x, y, dy string) string {
			return b.Op("Div", nil, dy, b.Op("Sqrt", nil, b.Op("Add", nil, sq(b, x), one(b, x))))
		}),
		// y = acosh x: dx = dy/√(x² − 1).
		unary("Acosh", func(b *Builder, x, y, dy string) string {
			return b.Op("Div", nil, dy, b.Op("Sqrt", nil, b.Op("Sub", nil, sq(b, x), one(b, x))))
		}),
		// y = atanh x: dx = dy/(1 − x²).
		unary("Atanh", func(b *Builder, x, y, dy string) string {
			return b.Op("Div", nil, dy, b.Op("Sub", nil, one(b, x), sq(b, x)))
		}),
		// Piecewise constant: zero gradient (almost everywhere).
		unary("Floor", zeroGrad),
		unary("Ceil", zeroGrad),
		unary("Round", zeroGrad),
		unary("Sign", zeroGrad),
		// y = x/(1 + |x|): dx = dy/(1 + |x|)².
		unary("Softsign", func(b *Builder, x, y, dy string) string {
			return b.Op("Div", nil, dy, sq(b, b.Op("Add", nil, one(b, x), b.Op("Abs", nil, x))))
		}),
		// y = x·clip(x/6 + ½, 0, 1): dx = dy·(0 below −3, 1 above 3, x/3 + ½ between).
		unary("HardSwish", func(b *Builder, x, y, dy string) string {
			mid := b.Op("Add", nil, b.Op("Mul", nil, x, b.Scalar(1.0/3, x)), b.Scalar(0.5, x))
			d := b.Where(b.Op("Less", nil, x, b.Scalar(-3, x)), b.Scalar(0, x),
				b.Where(b.Op("Greater", nil, x, b.Scalar(3, x)), one(b, x), mid))
			return b.Op("Mul", nil, dy, d)
		}),
		// y = x·tanh(softplus x): dx = dy·(t + x(1 − t²)σ(x)), t = tanh(softplus x).
		unary("Mish", func(b *Builder, x, y, dy string) string {
			t := b.Op("Tanh", nil, b.Op("Softplus", nil, x))
			d := b.Op("Add", nil, t, b.Op("Mul", nil, b.Op("Mul", nil, x, b.Op("Sub", nil, one(b, x), sq(b, t))), b.Op("Sigmoid", nil, x)))
			return b.Op("Mul", nil, dy, d)
		}),
		// y = max(0, x) + min(0, α(e^(x/α) − 1)): dx = dy (x > 0), dy·e^(x/α).
		rule("Celu", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			alpha := float64(attrF(n, "alpha", 1))
			e := b.Op("Exp", nil, b.Op("Div", nil, x, b.Scalar(alpha, x)))
			return []string{b.Op("Mul", nil, dy[0], b.Where(b.positive(x), one(b, x), e))}, nil
		}),
		// y = x (x > α), 0 otherwise.
		rule("ThresholdedRelu", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			x := n.Inputs[0]
			above := b.Op("Greater", nil, x, b.Scalar(float64(attrF(n, "alpha", 1)), x))
			return []string{b.Where(above, dy[0], b.Op("Mul", nil, dy[0], b.Scalar(0, x)))}, nil
		}),
		// y = x·σ(αx) (opset 24).
		rule("Swish", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return []string{b.Op("Mul", nil, dy[0], b.swishGrad(n.Inputs[0], float64(attrF(n, "alpha", 1))))}, nil
		}),
		// y = max(x₁..xₖ) (min): the gradient goes to the inputs equal to
		// y, split equally among ties; summed over broadcast axes.
		rule("Max", selectVariadicBack),
		rule("Min", selectVariadicBack),
		rule("Einsum", einsumBack),
		// y = mean(x₁..xₖ): dxᵢ = dy/k.
		rule("Mean", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			g := b.Op("Div", nil, dy[0], b.Scalar(float64(len(n.Inputs)), n.Outputs[0]))
			out := make([]string, len(n.Inputs))
			for i, x := range n.Inputs {
				if b.Needs(x) {
					out[i] = b.ReduceTo(g, n.Outputs[0], x)
				}
			}
			return out, nil
		}),
	}
}

func zeroGrad(b *Builder, x, y, dy string) string { return b.Op("Mul", nil, dy, b.Scalar(0, x)) }

// swishGrad returns d/dx x·σ(αx) = σ + αx·σ(1 − σ).
func (b *Builder) swishGrad(x string, alpha float64) string {
	ax := x
	if alpha != 1 {
		ax = b.Op("Mul", nil, x, b.Scalar(alpha, x))
	}
	s := b.Op("Sigmoid", nil, ax)
	return b.Op("Add", nil, s, b.Op("Mul", nil, b.Op("Mul", nil, ax, s), b.Op("Sub", nil, b.Scalar(1, x), s)))
}

func selectVariadicBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	y := n.Outputs[0]
	masks := make([]string, len(n.Inputs))
	for i, x := range n.Inputs {
		masks[i] = b.castLike(b.Op("Equal", nil, x, y), y)
	}
	cnt := masks[0]
	if len(masks) > 1 {
		cnt = b.Op("Sum", nil, masks...)
	}
	g := b.Op("Div", nil, dy[0], cnt)
	out := make([]string, len(n.Inputs))
	for i, x := range n.Inputs {
		if b.Needs(x) {
			out[i] = b.ReduceTo(b.Op("Mul", nil, g, masks[i]), y, x)
		}
	}
	return out, nil
}

// einsumBack: Y = einsum("A₁,…,Aₖ->O"): dAᵢ = einsum("O,A₁,…(without
// Aᵢ)…->Aᵢ'") where Aᵢ' drops the letters of Aᵢ found in no other term
// (summed within Aᵢ alone, so constant along them); those axes are put back
// by Unsqueeze and Expand. Supported: an explicit "->", no ellipsis, no
// letter repeated within one operand.
func einsumBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	eq := strings.ReplaceAll(attrS(n, "equation", ""), " ", "")
	lhs, outTerm, ok := strings.Cut(eq, "->")
	if !ok || strings.Contains(eq, ".") {
		return nil, fmt.Errorf("Einsum gradient needs an explicit output (->) and no ellipsis, got %q", eq)
	}
	terms := strings.Split(lhs, ",")
	if len(terms) != len(n.Inputs) {
		return nil, fmt.Errorf("Einsum equation %q has %d operands, the node %d inputs", eq, len(terms), len(n.Inputs))
	}
	for _, t := range append(terms, outTerm) {
		for i, c := range t {
			if strings.ContainsRune(t[i+1:], c) {
				return nil, fmt.Errorf("Einsum gradient with letter %q repeated in term %q is not supported", c, t)
			}
		}
	}
	out := make([]string, len(n.Inputs))
	for i, x := range n.Inputs {
		if !b.Needs(x) {
			continue
		}
		others := outTerm
		ins := []string{dy[0]}
		for j, t := range terms {
			if j != i {
				others += t
				ins = append(ins, n.Inputs[j])
			}
		}
		var keep string
		var lone []int64
		for p, c := range terms[i] {
			if strings.ContainsRune(others, c) {
				keep += string(c)
			} else {
				lone = append(lone, int64(p))
			}
		}
		spec := outTerm
		for j, t := range terms {
			if j != i {
				spec += "," + t
			}
		}
		g := b.Op("Einsum", []Attr{attrStr("equation", spec+"->"+keep)}, ins...)
		if len(lone) > 0 {
			g = b.Op("Expand", nil, b.Op("Unsqueeze", nil, g, b.Ints(lone...)), b.Op("Shape", nil, x))
		}
		out[i] = g
	}
	return out, nil
}

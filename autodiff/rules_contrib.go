package autodiff

import (
	"fmt"

	"github.com/gort-ml/gort/ir"
	"github.com/gort-ml/gort/tensor"
)

// msDomain is ONNX Runtime's contrib operator domain.
const msDomain = "com.microsoft"

// msRule declares the gradient of a com.microsoft op.
func msRule(op string, r Rule) namedRule { return namedRule{msDomain, op, r} }

// contribRules: ONNX Runtime's fused transformer ops (domain
// com.microsoft). The backward nodes are standard ai.onnx ops, so any
// provider runs them.
func contribRules() []namedRule {
	return []namedRule{
		// y = gelu(x) (erf): dx = dy·gelu'(x).
		msRule("Gelu", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return b.biasActBack(n, dy, "none")
		}),
		// y = gelu(A + B) (erf), B over A's last axis.
		msRule("BiasGelu", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return b.biasActBack(n, dy, "none")
		}),
		// y = gelu(X + bias) (tanh approximation), bias optional.
		msRule("FastGelu", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return b.biasActBack(n, dy, "tanh")
		}),
		// y = x·σ(αx): dx = dy·(σ + αx·σ(1 − σ)).
		msRule("QuickGelu", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return []string{b.Op("Mul", nil, dy[0], b.swishGrad(n.Inputs[0], float64(attrF(n, "alpha", 1.702))))}, nil
		}),
		// y = softmax(data + bias) over the axes [axis, rank) together:
		// dz = y ⊙ (dy − Σ dy ⊙ y), ddata = dz, dbias = dz reduced.
		msRule("BiasSoftmax", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			data, bias, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
			r, ok := b.staticRank(data)
			if !ok {
				return nil, fmt.Errorf("BiasSoftmax gradient needs the rank of %q", data)
			}
			axis := attrI(n, "axis", 1)
			if axis < 0 {
				axis += int64(r)
			}
			var axes []int64
			for i := axis; i < int64(r); i++ {
				axes = append(axes, i)
			}
			dz := b.Op("Mul", nil, y, b.Op("Sub", nil, dy[0], b.sumAxes(b.Op("Mul", nil, dy[0], y), true, axes...)))
			out := []string{dz, ""}
			if b.Needs(bias) {
				out[1] = b.ReduceTo(dz, y, bias)
			}
			return out, nil
		}),
		// output = LayerNorm(input + skip + bias)·gamma + beta over the last
		// axis; the optional 4th output is the sum input + skip + bias.
		msRule("SkipLayerNormalization", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return b.skipNormBack(n, dy, false)
		}),
		// output = RMSNorm(input + skip + bias)·gamma.
		msRule("SkipSimplifiedLayerNormalization", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return b.skipNormBack(n, dy, true)
		}),
		msRule("FusedMatMul", fusedMatMulBack),
		msRule("Attention", msAttentionRule),
		msRule("MultiHeadAttention", msMHARule),
		// output = LayerNorm(word[ids] + position[pos] + segment[seg])·gamma
		// + beta: differentiated through Gather, Add and
		// LayerNormalization; position ids default to 0..S-1.
		msRule("EmbedLayerNormalization", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			if len(dy) > 1 && dy[1] != "" {
				return nil, fmt.Errorf("EmbedLayerNormalization mask_index has no gradient")
			}
			return b.backThrough(n, dy, func() ([]string, error) {
				ids, segIDs, word, pos, seg := n.Inputs[0], input(n, 1), n.Inputs[2], input(n, 3), input(n, 4)
				posIDs := input(n, 8)
				if posIDs == "" {
					s := b.Op("Squeeze", nil, b.Op("Gather", nil, b.Op("Shape", nil, ids), b.Ints(1)))
					posIDs = b.Op("Range", nil, b.Const(tensor.Scalar(int64(0))), s, b.Const(tensor.Scalar(int64(1))))
					b.declareRank(posIDs, ids, 1)
				}
				e := b.Op("Add", nil, b.Op("Gather", nil, word, ids), b.Op("Gather", nil, pos, posIDs))
				if seg != "" {
					e = b.Op("Add", nil, e, b.Op("Gather", nil, seg, segIDs))
				}
				b.declareRank(e, word, 3)
				args := []string{e, n.Inputs[5]}
				if beta := input(n, 6); beta != "" {
					args = append(args, beta)
				}
				y := b.Op("LayerNormalization", []Attr{attrInt("axis", -1), attrFloat("epsilon", attrF(n, "epsilon", 1e-12))}, args...)
				return []string{y, "", e}, nil
			})
		}),
		// RotaryEmbedding rotates feature pairs by angles θ; the adjoint
		// rotates dy by −θ: the same op with the sine cache negated.
		msRule("RotaryEmbedding", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			return b.rotaryBack(n, dy, 3)
		}),
	}
}

// biasActBack: y = f(X + bias) with bias (input 1, optional) over X's last
// axis and f = gelu (approx "none": erf, "tanh").
func (b *Builder) biasActBack(n *ir.Node, dy []string, approx string) ([]string, error) {
	x, y := n.Inputs[0], n.Outputs[0]
	bias := input(n, 1)
	z := x
	if bias != "" {
		z = b.Op("Add", nil, x, bias)
	}
	d, err := b.geluGrad(z, x, approx)
	if err != nil {
		return nil, err
	}
	g := b.Op("Mul", nil, dy[0], d)
	out := make([]string, len(n.Inputs))
	out[0] = b.ReduceTo(g, y, x)
	if b.Needs(bias) {
		out[1] = b.ReduceTo(g, y, bias)
	}
	return out, nil
}

// skipNormBack: inputs (input, skip, gamma, beta, bias) — (input, skip,
// gamma, bias) for the RMS variant — normalized over the last axis.
func (b *Builder) skipNormBack(n *ir.Node, dy []string, rms bool) ([]string, error) {
	in, skip, gamma, y := n.Inputs[0], n.Inputs[1], n.Inputs[2], n.Outputs[0]
	beta, bias := input(n, 3), input(n, 4)
	if rms {
		beta, bias = "", input(n, 3)
	}
	for i := 1; i < 3 && i < len(dy); i++ {
		if dy[i] != "" {
			return nil, fmt.Errorf("%s gradient through its saved statistics (output %d) is not supported", n.OpType, i)
		}
	}
	out := make([]string, len(n.Inputs))
	if dy[0] == "" { // only the sum output is used
		b.skipInputs(n, out, rms, y, dy[3])
		return out, nil
	}
	s := b.Op("Add", nil, in, skip)
	if bias != "" {
		s = b.Op("Add", nil, s, bias)
	}
	dx, xhat := b.normBack(s, in, b.Op("Mul", nil, dy[0], gamma), []int64{-1}, float64(attrF(n, "epsilon", 1e-12)), rms)
	if len(dy) > 3 && dy[3] != "" {
		dx = b.Op("Add", nil, dx, dy[3])
	}
	b.skipInputs(n, out, rms, y, dx)
	if b.Needs(gamma) {
		out[2] = b.ReduceTo(b.Op("Mul", nil, dy[0], xhat), y, gamma)
	}
	if b.Needs(beta) {
		out[3] = b.ReduceTo(dy[0], y, beta)
	}
	return out, nil
}

// skipInputs sets the gradients of the summed inputs of a skip norm
// (input, skip and bias, input 3 or 4) from dx, the gradient of their sum.
func (b *Builder) skipInputs(n *ir.Node, out []string, rms bool, y, dx string) {
	biasAt := 4
	if rms {
		biasAt = 3
	}
	for _, i := range []int{0, 1, biasAt} {
		if v := input(n, i); b.Needs(v) {
			out[i] = b.ReduceTo(dx, y, v)
		}
	}
}

// fusedMatMulBack: Y = α·op(A)·op(B), op(X) = transpose(X, perm) with the
// perm of transBatch (dimension 0 moved behind the other batch dims) and
// trans (last two swapped). With g = α·dY: dop(A) = g·op(B)ᵀ, dop(B) =
// op(A)ᵀ·g, each reduced over broadcast batch axes and transposed back by
// the inverse perm.
func fusedMatMulBack(b *Builder, n *ir.Node, dy []string) ([]string, error) {
	a, w, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	ra, rw, err := b.matmulRanks(n.OpType, a, w)
	if err != nil {
		return nil, err
	}
	g := dy[0]
	if alpha := attrF(n, "alpha", 1); alpha != 1 {
		g = b.Op("Mul", nil, g, b.Scalar(float64(alpha), a))
	}
	pa := fusedPerm(ra, attrI(n, "transBatchA", 0) != 0, attrI(n, "transA", 0) != 0)
	pw := fusedPerm(rw, attrI(n, "transBatchB", 0) != 0, attrI(n, "transB", 0) != 0)
	opA, opW := b.permute(a, pa), b.permute(w, pw)
	back := func(x, opX string, perm []int64, d string) string {
		if isIdentity(perm) {
			return b.reduceBatch(d, y, x)
		}
		inv := make([]int64, len(perm))
		for i, p := range perm {
			inv[p] = int64(i)
		}
		return b.Op("Transpose", []Attr{attrInts("perm", inv...)}, b.ReduceTo(d, d, opX))
	}
	out := []string{"", ""}
	if b.Needs(a) {
		out[0] = back(a, opA, pa, b.Op("MatMul", nil, g, b.swapLast(opW, rw)))
	}
	if b.Needs(w) {
		out[1] = back(w, opW, pw, b.Op("MatMul", nil, b.swapLast(opA, ra), g))
	}
	return out, nil
}

func fusedPerm(r int, transBatch, trans bool) []int64 {
	perm := make([]int64, r)
	for i := range perm {
		perm[i] = int64(i)
	}
	if transBatch && r >= 3 {
		for i := 0; i < r-2; i++ {
			perm[i] = int64(i + 1)
		}
		perm[r-2] = 0
	}
	if trans {
		perm[r-2], perm[r-1] = perm[r-1], perm[r-2]
	}
	return perm
}

func isIdentity(perm []int64) bool {
	for i, p := range perm {
		if p != int64(i) {
			return false
		}
	}
	return true
}

// permute returns transpose(x, perm), or x for the identity.
func (b *Builder) permute(x string, perm []int64) string {
	if isIdentity(perm) {
		return x
	}
	return b.Op("Transpose", []Attr{attrInts("perm", perm...)}, x)
}

// matmulRanks returns the static ranks of a matrix product's operands,
// which must be known and at least 2.
func (b *Builder) matmulRanks(op, a, w string) (int, int, error) {
	ra, okA := b.staticRank(a)
	rw, okW := b.staticRank(w)
	if !okA || !okW {
		return 0, 0, fmt.Errorf("%s gradient needs the ranks of %q and %q (give the model's inputs shapes)", op, a, w)
	}
	if ra < 2 || rw < 2 {
		return 0, 0, fmt.Errorf("%s gradient with a 1-D operand (ranks %d, %d) is not supported; reshape to 2-D", op, ra, rw)
	}
	return ra, rw, nil
}

// rotaryBack returns dx = RotaryEmbedding(dy) with the sine cache (input
// sinAt) negated; the caches and positions get no gradient.
func (b *Builder) rotaryBack(n *ir.Node, dy []string, sinAt int) ([]string, error) {
	for i := 1; i < len(n.Inputs); i++ {
		if b.Needs(n.Inputs[i]) {
			return nil, fmt.Errorf("RotaryEmbedding gradient with respect to input %d (a cache or positions) is not supported", i)
		}
	}
	in := append([]string{dy[0]}, n.Inputs[1:]...)
	in[sinAt] = b.Op("Neg", nil, n.Inputs[sinAt])
	out := make([]string, len(n.Inputs))
	out[0] = b.Op(n.OpType, n.Attrs, in...)
	b.g.Nodes[len(b.g.Nodes)-1].Domain = n.Domain
	return out, nil
}

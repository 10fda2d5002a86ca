package autodiff

import (
	"github.com/gort-ml/gort/ir"
)

func linalgRules() []namedRule {
	return []namedRule{
		// Y = A·B (numpy matmul, batched and broadcast):
		// dA = dY·Bᵀ, dB = Aᵀ·dY, each reduced over broadcast batch axes.
		rule("MatMul", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			a, w, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
			ra, rw, err := b.matmulRanks("MatMul", a, w)
			if err != nil {
				return nil, err
			}
			out := []string{"", ""}
			if b.Needs(a) {
				out[0] = b.reduceBatch(b.Op("MatMul", nil, dy[0], b.swapLast(w, rw)), y, a)
			}
			if b.Needs(w) {
				out[1] = b.reduceBatch(b.Op("MatMul", nil, b.swapLast(a, ra), dy[0]), y, w)
			}
			return out, nil
		}),
		// Y = alpha·op(A)·op(B) + beta·C.
		rule("Gemm", func(b *Builder, n *ir.Node, dy []string) ([]string, error) {
			a, w := n.Inputs[0], n.Inputs[1]
			alpha, beta := attrF(n, "alpha", 1), attrF(n, "beta", 1)
			ta, tb := attrI(n, "transA", 0) != 0, attrI(n, "transB", 0) != 0
			g := dy[0]
			if alpha != 1 {
				g = b.Op("Mul", nil, g, b.Scalar(float64(alpha), a))
			}
			out := make([]string, len(n.Inputs))
			t := func(x string) string { return b.Op("Transpose", nil, x) }
			if b.Needs(a) {
				// op(A) = A: dA = g·op(B)ᵀ; op(A) = Aᵀ: dA = op(B)·gᵀ.
				if !ta {
					out[0] = b.Op("Gemm", []Attr{attrInt("transB", boolI(!tb))}, g, w)
				} else {
					out[0] = b.Op("Gemm", []Attr{attrInt("transA", boolI(tb)), attrInt("transB", 1)}, w, g)
				}
			}
			if b.Needs(w) {
				if !tb {
					out[1] = b.Op("Gemm", []Attr{attrInt("transA", boolI(!ta))}, a, g)
				} else {
					out[1] = t(b.Op("Gemm", []Attr{attrInt("transA", boolI(!ta))}, a, g))
				}
			}
			if len(n.Inputs) > 2 && b.Needs(n.Inputs[2]) {
				c := dy[0]
				if beta != 1 {
					c = b.Op("Mul", nil, c, b.Scalar(float64(beta), n.Inputs[2]))
				}
				out[2] = b.ReduceTo(c, n.Outputs[0], n.Inputs[2])
			}
			return out, nil
		}),
	}
}

func boolI(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// swapLast transposes the last two axes of a rank-r value.
func (b *Builder) swapLast(x string, r int) string {
	perm := make([]int64, r)
	for i := range perm {
		perm[i] = int64(i)
	}
	perm[r-2], perm[r-1] = perm[r-1], perm[r-2]
	return b.Op("Transpose", []Attr{attrInts("perm", perm...)}, x)
}

// reduceBatch reduces a batched matmul gradient g (shaped like y's batch
// dims plus x's matrix dims) to x's shape, summing over broadcast batch axes.
func (b *Builder) reduceBatch(g, y, x string) string {
	xs, okx := b.staticShape(x)
	ys, oky := b.staticShape(y)
	if okx && oky && len(xs) == len(ys) {
		same := true
		for i := 0; i < len(xs)-2; i++ {
			same = same && xs[i] == ys[i]
		}
		if same {
			return g
		}
	}
	return b.ReduceTo(g, g, x)
}

package nn

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/linalg"
	"github.com/gort-ml/gort/tensor"
)

// Gemm is Y = alpha * A' * B' + beta * C, where A' = transA ? Aᵀ : A is
// (M, K), B' = transB ? Bᵀ : B is (K, N) and C broadcasts to (M, N)
// (unidirectionally; C is optional from version 11). It fails when the
// inner dimensions differ or C does not broadcast to (M, N).
var Gemm = ops.Versions("", "Gemm",
	"Y = alpha * op(A) * op(B) + beta * C, op = optional transpose, C broadcast to (M, N)",
	[]int{1, 6, 7, 9, 11, 13}, inferGemm, compileGemm)

type gemmAttrs struct {
	transA, transB bool
	alpha, beta    float32
	b              *PackedConst // a constant float32 B packed at compile time, or nil
}

func compileGemm(n *ops.Node) (*ops.Kernel, error) {
	g := gemmAttrs{
		transA: n.Int("transA", 0) != 0,
		transB: n.Int("transB", 0) != 0,
		alpha:  n.Float("alpha", 1),
		beta:   n.Float("beta", 1),
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	g.b = PackConst(n, 1, g.transB)
	return &ops.Kernel{Run: g.run, Precomputed: g.b.Precomputed(1)}, nil
}

// dims returns M, K, N of the product, checking A and B.
func (g gemmAttrs) dims(sa, sb []int) (m, k, n int, err error) {
	if len(sa) != 2 || len(sb) != 2 {
		return 0, 0, 0, fmt.Errorf("A and B must be 2-D, got A %v and B %v", sa, sb)
	}
	m, k = sa[0], sa[1]
	if g.transA {
		m, k = k, m
	}
	kb, n := sb[0], sb[1]
	if g.transB {
		kb, n = n, kb
	}
	if k != kb {
		return 0, 0, 0, fmt.Errorf("inner dimensions differ: op(A) is (%d, K=%d) but op(B) is (K=%d, %d) (A %v transA=%v, B %v transB=%v)", m, k, kb, n, sa, g.transA, sb, g.transB)
	}
	return m, k, n, nil
}

func (g gemmAttrs) run(c *ops.Ctx, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := ops.Want(in, 1, 3); err != nil {
		return nil, err
	}
	pb, bs, err := g.b.Operand(in, 1)
	if err != nil {
		return nil, err
	}
	if err := sameDType(in, "A", "B", "C"); err != nil {
		return nil, err
	}
	m, k, n, err := g.dims(in[0].Shape(), bs)
	if err != nil {
		return nil, err
	}
	var cShape []int
	if len(in) > 2 && in[2] != nil {
		cShape = in[2].Shape()
		if len(cShape) > 2 {
			return nil, fmt.Errorf("C must have rank <= 2, got %v", cShape)
		}
		if bs, err := tensor.BroadcastShapes(cShape, []int{m, n}); err != nil || !tensor.SameShape(bs, []int{m, n}) {
			return nil, fmt.Errorf("C %v does not broadcast to (M, N) = (%d, %d)", cShape, m, n)
		}
	}
	if pb != nil {
		yt, err := g.packed(c, m, k, n, in, pb)
		if err != nil {
			return nil, err
		}
		return c.Result(yt), nil
	}
	return widened(c, in, func(w []*tensor.Tensor) (*tensor.Tensor, error) {
		switch w[0].DType() {
		case tensor.Float32:
			return gemmTyped[float32](c, g, m, k, n, w)
		case tensor.Float64:
			return gemmTyped[float64](c, g, m, k, n, w)
		case tensor.Int32:
			return gemmTyped[int32](c, g, m, k, n, w)
		case tensor.Int64:
			return gemmTyped[int64](c, g, m, k, n, w)
		case tensor.Uint32:
			return gemmTyped[uint32](c, g, m, k, n, w)
		case tensor.Uint64:
			return gemmTyped[uint64](c, g, m, k, n, w)
		}
		return nil, unsupported(in[0].DType(), "float16/32/64, bfloat16, int32/64, uint32/64")
	})
}

// gemmTyped fills Y (M, N) with C broadcast, then accumulates the product
// with beta scaling Y in place.
func gemmTyped[T tensor.Number](c *ops.Ctx, g gemmAttrs, m, k, n int, in []*tensor.Tensor) (*tensor.Tensor, error) {
	yt, err := c.New(in[0].DType(), m, n)
	if err != nil {
		return nil, err
	}
	y := tensor.Data[T](yt)
	beta := T(0)
	if len(in) > 2 && in[2] != nil && g.beta != 0 {
		beta = T(g.beta)
		ct := in[2]
		cd := tensor.Data[T](ct)
		tensor.BroadcastIndex([]int{m, n}, [][]int{ct.Shape()}, func(i int, idx []int) { y[i] = cd[idx[0]] })
	}
	lda, ldb := k, n
	if g.transA {
		lda = m
	}
	if g.transB {
		ldb = k
	}
	gemm(threadsOf(c), g.transA, g.transB, m, n, k, T(g.alpha), tensor.Data[T](in[0]), lda, tensor.Data[T](in[1]), ldb, beta, y, n)
	return yt, nil
}

// packed is gemmTyped for float32 with B packed in pb. A C that is a row
// (N) or (1, N), or a column (M, 1), with beta 1 is added by the GEMM's
// epilogue while each block of Y is in cache; any other C fills Y first.
func (g gemmAttrs) packed(c *ops.Ctx, m, k, n int, in []*tensor.Tensor, pb *linalg.PackedB) (*tensor.Tensor, error) {
	yt, err := c.NewUninit(tensor.Float32, m, n)
	if err != nil {
		return nil, err
	}
	y := tensor.Data[float32](yt)
	var ep linalg.Epilogue
	beta := float32(0)
	if len(in) > 2 && in[2] != nil && g.beta != 0 {
		cs, cd := in[2].Shape(), tensor.Data[float32](in[2])
		switch {
		case g.beta == 1 && len(cs) > 0 && len(cd) == n && (len(cs) == 1 || cs[0] == 1):
			ep.Bias = cd
		case g.beta == 1 && len(cd) == m && len(cs) == 2 && cs[1] == 1:
			ep.RowBias = cd
		default:
			beta = g.beta
			tensor.BroadcastIndex([]int{m, n}, [][]int{cs}, func(i int, idx []int) { y[i] = cd[idx[0]] })
		}
	}
	lda := k
	if g.transA {
		lda = m
	}
	SgemmPackedThreads(threadsOf(c), g.transA, m, g.alpha, tensor.Data[float32](in[0]), lda, pb, beta, y, n, ep)
	return yt, nil
}

// inferGemm gives Y's dtype and (M, N) where A's and B's ranks are known.
func inferGemm(n *ops.Node, in []tensor.Type) ([]tensor.Type, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("Gemm needs at least 2 inputs, got %d", len(in))
	}
	out := tensor.Type{Kind: tensor.KindTensor, DType: in[0].DType}
	a, b := in[0].Shape, in[1].Shape
	if !in[0].HasShape || !in[1].HasShape || len(a) != 2 || len(b) != 2 {
		return []tensor.Type{out}, nil
	}
	m, nn := a[0], b[1]
	if n.Int("transA", 0) != 0 {
		m = a[1]
	}
	if n.Int("transB", 0) != 0 {
		nn = b[0]
	}
	out.HasShape, out.Shape = true, []tensor.Dim{m, nn}
	return []tensor.Type{out}, nil
}

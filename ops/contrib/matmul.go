package contrib

import (
	"fmt"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/floatio"
	"github.com/gort-ml/gort/ops/linalg"
	"github.com/gort-ml/gort/ops/nn"
	"github.com/gort-ml/gort/tensor"
)

func matmulOps() []*ops.Op {
	// FusedMatMul: Y = alpha * op(A) @ op(B) with numpy batch broadcasting,
	// where op transposes the last two dimensions (transA, transB) and, with
	// transBatchA/transBatchB, first moves dimension 0 behind the other
	// batch dimensions (a fused Transpose perm=[1, ..., r-2, 0, r-1]).
	return ops.Versions(ms, "FusedMatMul", "Y = alpha * op(A) @ op(B), op = optional batch and matrix transposes", []int{1},
		nil, compileFusedMatMul)
}

type fusedMatMul struct {
	alpha                    float64
	transA, transB           bool
	transBatchA, transBatchB bool
	b                        *nn.PackedConst // a constant float32 2-D B packed at compile time, or nil
}

func compileFusedMatMul(n *ops.Node) (*ops.Kernel, error) {
	p := &fusedMatMul{
		alpha:       float64(n.Float("alpha", 1)),
		transA:      n.Int("transA", 0) != 0,
		transB:      n.Int("transB", 0) != 0,
		transBatchA: n.Int("transBatchA", 0) != 0,
		transBatchB: n.Int("transBatchB", 0) != 0,
	}
	if err := n.Err(); err != nil {
		return nil, err
	}
	// For a 2-D B, op(B) is B or Bᵀ (the batch transpose moves nothing).
	p.b = nn.PackConst(n, 1, p.transB)
	k := floatio.Kernel(p, []string{"A", "B"}, 1, 2, runFusedMatMul[float32], runFusedMatMul[float64])
	k.Precomputed = p.b.Precomputed(1)
	return k, nil
}

// operandPerm is the permutation that op applies to an operand of rank r
// (r >= 2).
func operandPerm(r int, transBatch, trans bool) []int {
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	if transBatch && r >= 3 {
		for i := 0; i < r-2; i++ {
			perm[i] = i + 1
		}
		perm[r-2] = 0
	}
	if trans {
		perm[r-2], perm[r-1] = perm[r-1], perm[r-2]
	}
	return perm
}

// permuted returns x (of shape sh) transposed by perm as a contiguous
// slice, and its shape.
func permuted[F tensor.Float](x []F, sh, perm []int) ([]F, []int) {
	out := make([]int, len(sh))
	same := true
	for i, p := range perm {
		out[i] = sh[p]
		same = same && p == i
	}
	if same {
		return x, out
	}
	st := tensor.Strides(sh)
	pst := make([]int, len(perm))
	for i, p := range perm {
		pst[i] = st[p]
	}
	dst := make([]F, len(x))
	idx := make([]int, len(out))
	src := 0
	for i := range dst {
		dst[i] = x[src]
		for d := len(out) - 1; d >= 0; d-- {
			idx[d]++
			src += pst[d]
			if idx[d] < out[d] {
				break
			}
			src -= pst[d] * out[d]
			idx[d] = 0
		}
	}
	return dst, out
}

func runFusedMatMul[F tensor.Float](c *ops.Ctx, p *fusedMatMul, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	pb, bs, err := p.b.Operand(in, 1)
	if err != nil {
		return nil, err
	}
	as := in[0].Shape()
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("A %v and B %v must have rank >= 1", as, bs)
	}
	a, err := floatio.Load[F](in[0])
	if err != nil {
		return nil, err
	}
	if pb != nil {
		return fusedMatMulPacked(c, p, any(a).([]float32), as, pb)
	}
	b, err := floatio.Load[F](in[1])
	if err != nil {
		return nil, err
	}
	// A 1-D A is a row (1, K) and a 1-D B a column (K, 1); the unit
	// dimension is dropped from the result.
	aVec, bVec := len(as) == 1, len(bs) == 1
	if aVec {
		as = []int{1, as[0]}
	} else {
		a, as = permuted(a, as, operandPerm(len(as), p.transBatchA, p.transA))
	}
	if bVec {
		bs = []int{bs[0], 1}
	} else {
		b, bs = permuted(b, bs, operandPerm(len(bs), p.transBatchB, p.transB))
	}
	m, k, k2, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-2], bs[len(bs)-1]
	if k != k2 {
		return nil, fmt.Errorf("inner dimensions differ: op(A) is %v, op(B) is %v", as, bs)
	}
	batch, err := tensor.BroadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return nil, fmt.Errorf("batch dimensions of op(A) %v and op(B) %v do not broadcast", as, bs)
	}
	ysh := append(append([]int{}, batch...), m, n)
	y, err := floatio.New[F](c, in[0].DType(), ysh...)
	if err != nil {
		return nil, err
	}
	var offs [][2]int
	tensor.BroadcastIndex(batch, [][]int{as[:len(as)-2], bs[:len(bs)-2]}, func(_ int, idx []int) {
		offs = append(offs, [2]int{idx[0], idx[1]})
	})
	if len(batch) == 0 {
		offs = [][2]int{{0, 0}}
	}
	for i, o := range offs {
		if err := c.Check(); err != nil {
			return nil, err
		}
		gemm(c, m, n, k, p.alpha, a[o[0]*m*k:], b[o[1]*k*n:], y.Buf[i*m*n:])
	}
	switch {
	case aVec && bVec:
		ysh = batch
	case aVec:
		ysh = append(batch, n)
	case bVec:
		ysh = append(batch, m)
	}
	t, err := y.Done().Reshape(ysh...)
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{t}, nil
}

// fusedMatMulPacked is FusedMatMul of a float32 A (shape as) with a 2-D B
// packed in pb: op(A)'s batches are one tall product.
func fusedMatMulPacked(c *ops.Ctx, p *fusedMatMul, a []float32, as []int, pb *linalg.PackedB) ([]*tensor.Tensor, error) {
	aVec := len(as) == 1
	if aVec {
		as = []int{1, as[0]}
	} else {
		a, as = permuted(a, as, operandPerm(len(as), p.transBatchA, p.transA))
	}
	m, k, n := as[len(as)-2], as[len(as)-1], pb.N()
	if k != pb.K() {
		return nil, fmt.Errorf("inner dimensions differ: op(A) is %v, op(B) is [%d %d]", as, pb.K(), n)
	}
	batch := as[:len(as)-2]
	ysh := append(append([]int{}, batch...), m, n)
	if aVec {
		ysh = []int{n}
	}
	yt, err := c.NewUninit(tensor.Float32, ysh...)
	if err != nil {
		return nil, err
	}
	if err := nn.TallPacked(c, len(a)/k, float32(p.alpha), a, pb, tensor.Data[float32](yt), linalg.Epilogue{}); err != nil {
		return nil, err
	}
	return []*tensor.Tensor{yt}, nil
}

// gemm sets c (m x n) = alpha * a (m x k) @ b (k x n), all row-major and
// contiguous.
func gemm[F tensor.Float](ctx *ops.Ctx, m, n, k int, alpha float64, a, b, c []F) {
	threads := 1
	if ctx != nil {
		threads = max(1, ctx.Threads)
	}
	gemmThreads(threads, false, false, m, n, k, alpha, a, k, b, n, c, n)
}

// gemmLD sets c = alpha * op(a) @ op(b) on one goroutine with row strides
// lda, ldb and ldc; op transposes when trans is set.
func gemmLD[F tensor.Float](transA, transB bool, m, n, k int, alpha float64, a []F, lda int, b []F, ldb int, c []F, ldc int) {
	gemmThreads(1, transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc)
}

func gemmThreads[F tensor.Float](threads int, transA, transB bool, m, n, k int, alpha float64, a []F, lda int, b []F, ldb int, c []F, ldc int) {
	if a32, ok := any(a).([]float32); ok {
		nn.SgemmThreads(threads, transA, transB, m, n, k, float32(alpha), a32, lda, any(b).([]float32), ldb, 0, any(c).([]float32), ldc)
		return
	}
	at := func(i, p int) F {
		if transA {
			return a[p*lda+i]
		}
		return a[i*lda+p]
	}
	bt := func(p, j int) F {
		if transB {
			return b[j*ldb+p]
		}
		return b[p*ldb+j]
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		clear(row)
		for p := 0; p < k; p++ {
			av := F(alpha) * at(i, p)
			for j := range row {
				row[j] += av * bt(p, j)
			}
		}
	}
}

package nn

import (
	"fmt"
	"slices"
	"sync"
	"weak"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/linalg"
	"github.com/gort-ml/gort/tensor"
)

// Banding of the generic (non-float32) GEMM over goroutines.
const (
	gemmMR = 4
	gemmNR = 4

	// parallelGemmFlops is the m*n*k below which a GEMM runs on one goroutine.
	parallelGemmFlops = 1 << 17
)

// Sgemm computes C = alpha * op(A) * op(B) + beta * C for row-major float32
// matrices, where op(X) is X or Xᵀ as transA/transB say, op(A) is m x k,
// op(B) is k x n and C is m x n. lda, ldb and ldc are the row strides of A,
// B and C as stored. When beta is 0, C is overwritten (its NaNs do not
// propagate). The slices must be large enough for the given sizes; Sgemm
// panics otherwise (a caller bug, not bad input).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmThreads(1, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmThreads is Sgemm on up to threads goroutines. It runs on the
// packed, cache-blocked SGEMM of ops/linalg (AVX-512/AVX2 micro-kernels
// chosen from the CPU's features, a pure-Go kernel elsewhere) with a
// persistent worker pool of that many threads.
func SgemmThreads(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	linalg.SgemmEx(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, linalg.Epilogue{}, poolFor(threads))
}

var pools sync.Map // threads -> *linalg.Pool

// poolFor returns a persistent pool of the given size (nil, the caller's
// goroutine only, for one thread); pools live for the process.
func poolFor(threads int) *linalg.Pool {
	if threads <= 1 {
		return nil
	}
	if p, ok := pools.Load(threads); ok {
		return p.(*linalg.Pool)
	}
	p, loaded := pools.LoadOrStore(threads, linalg.NewPool(threads))
	if loaded {
		return p.(*linalg.Pool)
	}
	return p.(*linalg.Pool)
}

// offA is the offset of row r of op(A) in A's storage.
func offA(trans bool, r, lda int) int {
	if trans {
		return r
	}
	return r * lda
}

// offB is the offset of column j of op(B) in B's storage.
func offB(trans bool, j, ldb int) int {
	if trans {
		return j * ldb
	}
	return j
}

// splitGemm calls f on disjoint bands [r0, r1) x [c0, c1) of the m x n
// output, concurrently when the product is large enough to pay for it.
func splitGemm(threads, m, n, k int, f func(r0, r1, c0, c1 int)) {
	if m == 0 || n == 0 {
		return
	}
	if threads <= 1 || m*n*max(k, 1) < parallelGemmFlops {
		f(0, m, 0, n)
		return
	}
	if m >= threads*gemmMR*2 || m >= n {
		// Row bands, rounded to whole micro-panels.
		rows := (m + threads - 1) / threads
		rows = (rows + gemmMR - 1) / gemmMR * gemmMR
		parallelFor(threads, (m+rows-1)/rows, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				f(i*rows, min((i+1)*rows, m), 0, n)
			}
		})
		return
	}
	cols := (n + threads - 1) / threads
	cols = (cols + gemmNR - 1) / gemmNR * gemmNR
	parallelFor(threads, (n+cols-1)/cols, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			f(0, m, i*cols, min((i+1)*cols, n))
		}
	})
}

// scaleC computes C = beta * C over an m x n block (beta 0 clears).
func scaleC[T tensor.Number](m, n int, beta T, c []T, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// gemmGeneric is the plain triple loop for dtypes without a tuned kernel
// (float64, integers): C = alpha * op(A) * op(B) + beta * C.
func gemmGeneric[T tensor.Number](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	scaleC(m, n, beta, c, ldc)
	if k == 0 {
		return
	}
	for i := range m {
		crow := c[i*ldc : i*ldc+n]
		if transB {
			// Dot products: rows of B are contiguous along k.
			for j := range crow {
				brow := b[j*ldb : j*ldb+k]
				var s T
				if transA {
					for p, bv := range brow {
						s += a[p*lda+i] * bv
					}
				} else {
					arow := a[i*lda : i*lda+k]
					for p, bv := range brow {
						s += arow[p] * bv
					}
				}
				crow[j] += alpha * s
			}
			continue
		}
		for p := range k {
			var av T
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			av *= alpha
			brow := b[p*ldb : p*ldb+n]
			for j, bv := range brow {
				crow[j] += av * bv
			}
		}
	}
}

// gemm is the dtype-generic entry point: float32 goes to the blocked SGEMM,
// other dtypes to gemmGeneric, both split over up to threads goroutines.
func gemm[T tensor.Number](threads int, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if af, ok := any(a).([]float32); ok {
		SgemmThreads(threads, transA, transB, m, n, k, float32(alpha), af, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	splitGemm(threads, m, n, k, func(r0, r1, c0, c1 int) {
		gemmGeneric(transA, transB, r1-r0, c1-c0, k, alpha,
			a[offA(transA, r0, lda):], lda, b[offB(transB, c0, ldb):], ldb, beta, c[r0*ldc+c0:], ldc)
	})
}

// batchedGemm computes C_i = A_i * B_i for nb row-major products (m x k
// times k x n) starting at aOff[i], bOff[i] and i*m*n in c (nil offsets
// mean densely packed matrices). Many small products run one per
// goroutine; large ones parallelize inside the GEMM.
func batchedGemm[T tensor.Number](c *ops.Ctx, nb, m, n, k int, a []T, aOff []int, b []T, bOff []int, y []T) error {
	threads := threadsOf(c)
	one := func(i, threads int) {
		ao, bo := i*m*k, i*k*n
		if aOff != nil {
			ao = aOff[i]
		}
		if bOff != nil {
			bo = bOff[i]
		}
		gemm(threads, false, false, m, n, k, 1, a[ao:], k, b[bo:], n, 0, y[i*m*n:], n)
	}
	if threads > 1 && nb >= threads && m*n*max(k, 1) < 4*parallelGemmFlops {
		parallelFor(threads, nb, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				one(i, 1)
			}
		})
		return c.Check()
	}
	for i := range nb {
		if err := c.Check(); err != nil {
			return err
		}
		one(i, threads)
	}
	return nil
}

// PackedConst is a constant float32 weight matrix (ops.Node.Constants)
// packed once at compile time as op(B) of the SGEMM, so that products with
// it skip packing B on every run. It keeps the matrix's shape and a weak
// pointer to it, not the matrix: a kernel using one lists the input in
// ops.Kernel.Precomputed, and the runtime then passes nil for it and may
// drop the matrix.
type PackedConst struct {
	t     weak.Pointer[tensor.Tensor]
	shape []int
	pb    *linalg.PackedB
}

// PackConst packs input i of n when the runtime knows it as a constant
// non-empty 2-D float32 matrix: op(B) is that matrix, transposed when
// transB is set. It returns nil otherwise (the kernel keeps its usual
// path). The packed copy takes about as much memory as the matrix.
func PackConst(n *ops.Node, i int, transB bool) *PackedConst {
	t := n.Constant(i)
	if t == nil || t.DType() != tensor.Float32 || t.Rank() != 2 {
		return nil
	}
	sh := t.Shape()
	if sh[0] == 0 || sh[1] == 0 {
		return nil
	}
	k, cols := sh[0], sh[1]
	if transB {
		k, cols = cols, k
	}
	return &PackedConst{t: weak.Make(t), shape: slices.Clone(sh), pb: linalg.PackB(transB, k, cols, tensor.Data[float32](t), sh[1])}
}

// For returns the packed matrix when in is the constant it was packed from
// or nil (the runtime passes nil for a constant the kernel lists in
// ops.Kernel.Precomputed), and nil for any other tensor; p may be nil.
func (p *PackedConst) For(in *tensor.Tensor) *linalg.PackedB {
	if p == nil || in != nil && weak.Make(in) != p.t {
		return nil
	}
	return p.pb
}

// Use returns the packed matrix and the shape of B for a product of a
// with b when the kernel can take the packed path: b is the constant or
// nil, and a is float32. It returns nil (the kernel's usual path) where it
// cannot, and an error for a nil b that the usual path cannot stand in
// for (a is not float32: B was a float32 constant). p may be nil.
func (p *PackedConst) Use(a, b *tensor.Tensor) (*linalg.PackedB, []int, error) {
	pb := p.For(b)
	switch {
	case pb == nil || a == nil:
		return nil, nil, nil
	case a.DType() != tensor.Float32:
		if b == nil {
			return nil, nil, fmt.Errorf("input 0 is %v but the constant it multiplies is float32; insert a Cast so they match", a.DType())
		}
		return nil, nil, nil
	case b != nil:
		return pb, b.Shape(), nil
	}
	return pb, p.shape, nil
}

// Operand is Use for in[0] times in[i], else in[i] itself: the packed
// matrix (nil: the kernel's usual path on in[i]) and in[i]'s shape. It
// fails where in[i] is missing and the packed copy cannot stand in for it.
// in[0] must be present.
func (p *PackedConst) Operand(in []*tensor.Tensor, i int) (*linalg.PackedB, []int, error) {
	var b *tensor.Tensor
	if i < len(in) {
		b = in[i]
	}
	pb, shape, err := p.Use(in[0], b)
	if err != nil || pb != nil {
		return pb, shape, err
	}
	if b == nil {
		return nil, nil, fmt.Errorf("input %d is required", i)
	}
	return nil, b.Shape(), nil
}

// Precomputed is the ops.Kernel.Precomputed of a kernel whose input i is
// p: {i} when p is set (the kernel reads the packed copy only).
func (p *PackedConst) Precomputed(i int) []int {
	if p == nil {
		return nil
	}
	return []int{i}
}

// SgemmPackedThreads is linalg.SgemmPacked on up to threads goroutines
// (the persistent pools of SgemmThreads):
//
//	C = act(alpha·op(A)·op(B) + beta·C + 1·biasᵀ + rowBias·1ᵀ)
func SgemmPackedThreads(threads int, transA bool, m int, alpha float32, a []float32, lda int, pb *linalg.PackedB, beta float32, c []float32, ldc int, ep linalg.Epilogue) {
	linalg.SgemmPacked(transA, m, alpha, a, lda, pb, beta, c, ldc, ep, poolFor(threads))
}

// TallPacked sets y (m x n) = act(alpha·a·op(B) + bias) for a row-major,
// contiguous a (m x k), op(B) k x n packed in pb, on c's threads, in row
// chunks of about checkFlops (B is packed already, so chunks cost nothing
// extra), checking the context between them. Each element is summed as by
// one SgemmPacked call.
func TallPacked(c *ops.Ctx, m int, alpha float32, a []float32, pb *linalg.PackedB, y []float32, ep linalg.Epilogue) error {
	n, k := pb.N(), pb.K()
	threads := threadsOf(c)
	if 2*m*n*k <= checkFlops {
		SgemmPackedThreads(threads, false, m, alpha, a, k, pb, 0, y, n, ep)
		return nil
	}
	rows := max(gemmMC, checkFlops/(2*n*k)/gemmMC*gemmMC)
	return chunks(c, m, rows, func(r0, r1 int) {
		e := ep
		if e.RowBias != nil {
			e.RowBias = e.RowBias[r0:r1]
		}
		SgemmPackedThreads(threads, false, r1-r0, alpha, a[r0*k:], k, pb, 0, y[r0*n:], n, e)
	})
}

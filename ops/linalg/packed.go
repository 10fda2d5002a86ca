package linalg

import "fmt"

// PackedB is op(B) packed once, in the layout the micro-kernel reads, for
// many products with different A: a constant weight matrix. SgemmPacked
// then skips packing B, which is a tenth to a quarter of the time of a
// product with m in the hundreds. A PackedB is read-only and safe for
// concurrent use.
//
// Products with one or two rows of A run as matrix-vector products, on
// the packed panels where the kernel has a panel GEMV (AVX-512: they
// stream front to back) and on B otherwise: only then does the PackedB
// keep a reference to B, which must not change while the PackedB is in
// use. Elsewhere B may be freed once packed (the runtime drops a constant
// weight that only packed kernels read).
type PackedB struct {
	kern   *kernel
	k, n   int
	transB bool
	b      []float32
	ldb    int
	// data holds the kc x nc blocks of op(B) as packB lays them out:
	// column block jc (a multiple of nc) starts at jc·k, its k block pc at
	// jc·k + pc·ncp (ncp: the block's width rounded up to nr).
	data []float32
}

// PackB packs op(B) for SgemmPacked: op(B) is k x n, B is stored k x n
// (transB false) or n x k (transB true) with row stride ldb. It allocates
// about k·n values, keeps a reference to b where its matrix-vector
// products read B (see PackedB) and panics on inconsistent sizes like
// Sgemm.
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	return packBWith(kernels[0], transB, k, n, b, ldb)
}

// HoldsB reports whether pb keeps a reference to B (its matrix-vector
// products read B: the kernel has no panel GEMV), so that B stays in
// memory as long as pb.
func (pb *PackedB) HoldsB() bool { return pb.b != nil }

func packBWith(kern *kernel, transB bool, k, n int, b []float32, ldb int) *PackedB {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("linalg: negative size k=%d n=%d", k, n))
	}
	_, _, br, bc := storedDims(false, transB, 0, n, k)
	checkMatrix("B", br, bc, b, ldb)
	pb := &PackedB{kern: kern, k: k, n: n, transB: transB, ldb: ldb,
		data: make([]float32, roundUp(n, kern.nr)*k)}
	if kern.gemvPanel == nil {
		pb.b = b // SgemmPacked's matrix-vector products read B
	}
	for jc := 0; jc < n; jc += kern.nc {
		nc := min(kern.nc, n-jc)
		ncp := roundUp(nc, kern.nr)
		for pc := 0; pc < k; pc += kern.kc {
			kern.packB(transB, b, ldb, pc, jc, min(kern.kc, k-pc), nc, pb.data[jc*k+pc*ncp:])
		}
	}
	return pb
}

// K and N give op(B)'s size, k x n.
func (pb *PackedB) K() int { return pb.k }
func (pb *PackedB) N() int { return pb.n }

// block is the packed kc x nc block of op(B) at rows pc and columns jc;
// jc is a multiple of nr and the block does not cross a multiple of nc.
func (pb *PackedB) block(jc, pc, kc, nc int) []float32 {
	nc0, nr := pb.kern.nc, pb.kern.nr
	gb := jc / nc0 * nc0
	ncp := roundUp(min(nc0, pb.n-gb), nr)
	off := gb*pb.k + pc*ncp + (jc-gb)*kc
	return pb.data[off : off+roundUp(nc, nr)*kc]
}

// SgemmPacked is SgemmEx with op(B) from PackB:
//
//	C = act(alpha·op(A)·op(B) + beta·C + 1·biasᵀ + rowBias·1ᵀ)
//
// with op(A) m x k and C m x n, k and n those of pb.
func SgemmPacked(transA bool, m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int, ep Epilogue, pool *Pool) {
	n, k := pb.n, pb.k
	if m < 0 {
		panic(fmt.Sprintf("linalg: negative size m=%d", m))
	}
	ar, ac, _, _ := storedDims(transA, false, m, n, k)
	checkMatrix("A", ar, ac, a, lda)
	checkMatrix("C", m, n, c, ldc)
	checkEpilogue(m, n, ep)
	spec := gemmJob{kern: pb.kern, transA: transA, m: m, n: n, k: k,
		alpha: alpha, a: a, lda: lda, beta: beta, c: c, ldc: ldc, ep: ep, pb: pb}
	if m <= maxGemvRows && pb.kern.gemvPanel == nil {
		// Matrix-vector products read B as it is.
		spec.pb, spec.transB, spec.b, spec.ldb = nil, pb.transB, pb.b, pb.ldb
	}
	launch(spec, pool)
}

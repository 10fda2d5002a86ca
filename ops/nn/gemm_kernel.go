package nn

import (
	"sync"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Blocking of the pure-Go SGEMM (GotoBLAS layout): B is packed in KC x NC
// blocks of NR-column panels, A in MC x KC blocks of MR-row panels, and an
// MR x NR micro-kernel accumulates one tile of C in registers.
const (
	gemmMR = 4
	gemmNR = 4
	gemmKC = 256
	gemmMC = 128
	gemmNC = 1024

	// parallelGemmFlops is the m*n*k below which a GEMM runs on one goroutine.
	parallelGemmFlops = 1 << 17
)

var (
	packAPool = sync.Pool{New: func() any { s := make([]float32, gemmMC*gemmKC); return &s }}
	packBPool = sync.Pool{New: func() any { s := make([]float32, gemmKC*gemmNC); return &s }}
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

// SgemmThreads is Sgemm on up to threads goroutines: large products are
// split into bands of rows of C (or of columns when m is small), each band
// an independent Sgemm.
func SgemmThreads(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	splitGemm(threads, m, n, k, func(r0, r1, c0, c1 int) {
		sgemmSerial(transA, transB, r1-r0, c1-c0, k, alpha,
			a[offA(transA, r0, lda):], lda, b[offB(transB, c0, ldb):], ldb, beta, c[r0*ldc+c0:], ldc)
	})
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

func sgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < gemmMR || n < gemmNR {
		// Too thin for register tiles (matrix-vector, depthwise conv): the
		// packing would cost more than it saves.
		gemmGeneric(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	scaleC(m, n, beta, c, ldc)
	if k == 0 || alpha == 0 {
		return
	}
	pa := packAPool.Get().(*[]float32)
	pb := packBPool.Get().(*[]float32)
	defer packAPool.Put(pa)
	defer packBPool.Put(pb)
	bufA, bufB := *pa, *pb
	for jc := 0; jc < n; jc += gemmNC {
		nc := min(gemmNC, n-jc)
		for pc := 0; pc < k; pc += gemmKC {
			kc := min(gemmKC, k-pc)
			packB(transB, b, ldb, pc, jc, kc, nc, bufB)
			for ic := 0; ic < m; ic += gemmMC {
				mc := min(gemmMC, m-ic)
				packA(transA, a, lda, ic, pc, mc, kc, alpha, bufA)
				sgemmMacro(mc, nc, kc, bufA, bufB, c[ic*ldc+jc:], ldc)
			}
		}
	}
}

// packB copies op(B)[pc:pc+kc, jc:jc+nc] into dst as NR-column panels, each
// kc rows of NR values; columns past nc are zero.
func packB(trans bool, b []float32, ldb, pc, jc, kc, nc int, dst []float32) {
	for jp := 0; jp < nc; jp += gemmNR {
		w := min(gemmNR, nc-jp)
		panel := dst[jp*kc : jp*kc+kc*gemmNR]
		if !trans {
			for p := range kc {
				row := b[(pc+p)*ldb+jc+jp:]
				d := panel[p*gemmNR : p*gemmNR+gemmNR]
				if w == gemmNR {
					d[0], d[1], d[2], d[3] = row[0], row[1], row[2], row[3]
					continue
				}
				for j := range gemmNR {
					if j < w {
						d[j] = row[j]
					} else {
						d[j] = 0
					}
				}
			}
			continue
		}
		for j := range gemmNR {
			if j >= w {
				for p := range kc {
					panel[p*gemmNR+j] = 0
				}
				continue
			}
			col := b[(jc+jp+j)*ldb+pc:]
			col = col[:kc]
			for p, v := range col {
				panel[p*gemmNR+j] = v
			}
		}
	}
}

// packA copies alpha * op(A)[ic:ic+mc, pc:pc+kc] into dst as MR-row panels,
// each kc columns of MR values; rows past mc are zero.
func packA(trans bool, a []float32, lda, ic, pc, mc, kc int, alpha float32, dst []float32) {
	for ip := 0; ip < mc; ip += gemmMR {
		h := min(gemmMR, mc-ip)
		panel := dst[ip*kc : ip*kc+kc*gemmMR]
		if trans {
			for p := range kc {
				row := a[(pc+p)*lda+ic+ip:]
				d := panel[p*gemmMR : p*gemmMR+gemmMR]
				for i := range gemmMR {
					if i < h {
						d[i] = alpha * row[i]
					} else {
						d[i] = 0
					}
				}
			}
			continue
		}
		for i := range gemmMR {
			if i >= h {
				for p := range kc {
					panel[p*gemmMR+i] = 0
				}
				continue
			}
			row := a[(ic+ip+i)*lda+pc:]
			row = row[:kc]
			for p, v := range row {
				panel[p*gemmMR+i] = alpha * v
			}
		}
	}
}

// sgemmMacro adds packed A (mc x kc) times packed B (kc x nc) into C.
func sgemmMacro(mc, nc, kc int, pa, pb []float32, c []float32, ldc int) {
	var tile [gemmMR * gemmNR]float32
	for jp := 0; jp < nc; jp += gemmNR {
		w := min(gemmNR, nc-jp)
		bp := pb[jp*kc : jp*kc+kc*gemmNR]
		for ip := 0; ip < mc; ip += gemmMR {
			h := min(gemmMR, mc-ip)
			ap := pa[ip*kc : ip*kc+kc*gemmMR]
			if w == gemmNR && h == gemmMR {
				kernel4x4(kc, ap, bp, c[ip*ldc+jp:], ldc)
				continue
			}
			clear(tile[:])
			kernel4x4(kc, ap, bp, tile[:], gemmNR)
			for i := range h {
				row := c[(ip+i)*ldc+jp : (ip+i)*ldc+jp+w]
				for j := range row {
					row[j] += tile[i*gemmNR+j]
				}
			}
		}
	}
}

// kernel4x4 adds the product of a 4 x kc A panel and a kc x 4 B panel into
// the 4 x 4 tile of c at row stride ldc. It runs as two 2 x 4 passes: 16
// accumulators plus operands exceed the 15 float registers Go's amd64 ABI
// leaves free, and the spills cost twice the extra loads of B.
func kernel4x4(kc int, a, b []float32, c []float32, ldc int) {
	kernel2x4(kc, 0, a, b, c, ldc)
	kernel2x4(kc, 2, a, b, c, ldc)
}

// kernel2x4 adds rows off and off+1 of the 4-row A panel times the B panel
// into rows off and off+1 of the tile.
func kernel2x4(kc, off int, a, b []float32, c []float32, ldc int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	a = a[:kc*4]
	b = b[:kc*4]
	for p := 0; p+4 <= len(a); p += 4 {
		aa := a[p+off : p+off+2 : p+off+2]
		bb := b[p : p+4 : p+4]
		a0, a1 := aa[0], aa[1]
		b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	r := c[off*ldc : off*ldc+4 : off*ldc+4]
	r[0] += c00
	r[1] += c01
	r[2] += c02
	r[3] += c03
	r = c[(off+1)*ldc : (off+1)*ldc+4 : (off+1)*ldc+4]
	r[0] += c10
	r[1] += c11
	r[2] += c12
	r[3] += c13
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

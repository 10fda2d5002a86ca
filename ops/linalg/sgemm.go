package linalg

import (
	"fmt"
	"sync"
)

// Sgemm computes
//
//	C = alpha·op(A)·op(B) + beta·C
//
// for row-major float32 matrices (like cblas_sgemm with CblasRowMajor), where
// op(X) is X, or Xᵀ when transX is true:
//
//	op(A) is m x k: A is stored m x k (transA false) or k x m (transA true)
//	op(B) is k x n: B is stored k x n (transB false) or n x k (transB true)
//	C     is m x n
//
// lda, ldb and ldc are the row strides (in elements) of A, B and C as
// stored; each is at least the stored row length (any value when the
// matrix is empty). When beta is 0, C is only written, never read, so NaNs
// in C do not propagate; when alpha is 0 or k is 0, A and B are not read.
// C must not overlap A or B. Sgemm runs on the package's DefaultPool.
//
// Sgemm panics when a size is negative, a stride is too small or a slice is
// too short for the sizes: those are caller bugs, and the assembly kernels
// must never touch memory outside the slices.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmEx(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Epilogue{}, DefaultPool())
}

// SgemmEx is Sgemm followed by the epilogue ep, on pool's threads (nil pool:
// the calling goroutine only):
//
//	C = act(alpha·op(A)·op(B) + beta·C + 1·biasᵀ + rowBias·1ᵀ)
//
// where bias (length n, or nil) is added to every row of C, and
// ep.RowBias (length m, or nil) to every column. The epilogue runs on each
// block of C while it is still in cache.
func SgemmEx(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ep Epilogue, pool *Pool) {
	sgemm(kernels[0], pool, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep)
}

// KernelName names the micro-kernel Sgemm uses on this CPU ("avx512",
// "avx2" or "generic").
func KernelName() string { return kernels[0].name }

// minThreadWork is the m·n·k per thread below which a product uses fewer
// threads: waking a worker costs a few microseconds, and 1<<20
// multiply-adds take about five. Tests lower it to split small products.
var minThreadWork = 1 << 20

func sgemm(kern *kernel, pool *Pool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ep Epilogue) {
	checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, ep)
	launch(gemmJob{kern: kern, transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, ep: ep}, pool)
}

// launch runs a checked product on pool: empty and scale-only ones here,
// the rest split over the threads by a pooled job.
func launch(spec gemmJob, pool *Pool) {
	if spec.m == 0 || spec.n == 0 {
		return
	}
	if spec.k == 0 || spec.alpha == 0 {
		scaleOnly(spec.m, spec.n, spec.beta, spec.c, spec.ldc, spec.ep)
		return
	}
	j := jobPool.Get().(*gemmJob)
	*j = spec
	j.run(pool)
}

// scaleOnly is the product when op(A)·op(B) contributes nothing:
// C = act(beta·C + 1·biasᵀ + rowBias·1ᵀ).
func scaleOnly(m, n int, beta float32, c []float32, ldc int, ep Epilogue) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		scale(row, beta)
		ep.apply(row, ep.Bias, ep.rowBias(i))
	}
}

// run splits the job over pool's threads and runs it.
func (j *gemmJob) run(pool *Pool) {
	kern, m, n := j.kern, j.m, j.n
	threads := min(pool.Threads(), max(1, m*n*j.k/minThreadWork))
	tm, tn := grid(threads, m, n, kern.mr, kern.nr)
	switch {
	case m <= maxGemvRows && j.pb == nil:
		j.gemv = true
		tm, tn = 1, min(threads, ceilDiv(n, gemvColumns))
		j.colStep = roundUp(ceilDiv(n, tn), gemvColumns)
	case m <= maxGemvRows:
		j.gemv = true
		tm, tn = 1, gemvPackedThreads(pool, m, n, j.k, kern.nr)
		j.colStep = roundUp(ceilDiv(n, tn), kern.nr)
	default:
		j.colStep = roundUp(ceilDiv(n, tn), kern.nr)
	}
	j.rowStep = roundUp(ceilDiv(m, tm), kern.mr)
	j.tn = tn
	pool.RunChunks(tm*tn, tm*tn, j)
	*j = gemmJob{}
	jobPool.Put(j)
}

// checkSgemm panics unless the sizes, strides and slices are consistent.
func checkSgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, ep Epilogue) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("linalg: negative size m=%d n=%d k=%d", m, n, k))
	}
	ar, ac, br, bc := storedDims(transA, transB, m, n, k)
	checkMatrix("A", ar, ac, a, lda)
	checkMatrix("B", br, bc, b, ldb)
	checkMatrix("C", m, n, c, ldc)
	checkEpilogue(m, n, ep)
}

// checkEpilogue panics unless ep's biases cover an m x n C.
func checkEpilogue(m, n int, ep Epilogue) {
	if ep.Bias != nil && len(ep.Bias) < n {
		panic(fmt.Sprintf("linalg: bias has %d values, want n=%d", len(ep.Bias), n))
	}
	if ep.RowBias != nil && len(ep.RowBias) < m {
		panic(fmt.Sprintf("linalg: row bias has %d values, want m=%d", len(ep.RowBias), m))
	}
}

// storedDims gives the rows x cols of A and B as stored.
func storedDims(transA, transB bool, m, n, k int) (ar, ac, br, bc int) {
	ar, ac, br, bc = m, k, k, n
	if transA {
		ar, ac = k, m
	}
	if transB {
		br, bc = n, k
	}
	return ar, ac, br, bc
}

// checkMatrix panics unless x holds a rows x cols matrix with row stride ld.
func checkMatrix(name string, rows, cols int, x []float32, ld int) {
	if rows == 0 || cols == 0 {
		return // nothing is read or written
	}
	if ld < cols {
		panic(fmt.Sprintf("linalg: ld%s=%d is less than the row length %d", name, ld, cols))
	}
	if len(x) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("linalg: %s has %d values, want at least %d for %d x %d with stride %d",
			name, len(x), (rows-1)*ld+cols, rows, cols, ld))
	}
}

// grid picks the tm x tn split of C over threads that minimises the
// per-thread cost: the padded tile area plus the packing it repeats.
func grid(threads, m, n, mr, nr int) (tm, tn int) {
	best := -1
	for t := 1; t <= threads; t++ {
		if threads%t != 0 {
			continue
		}
		// A split finer than the tiles leaves threads idle: cap at the
		// padded size.
		rows := min(roundUp(ceilDiv(m, threads/t), mr), roundUp(m, mr))
		cols := min(roundUp(ceilDiv(n, t), nr), roundUp(n, nr))
		// Packing one value costs about as much as 16 multiply-adds.
		cost := rows*cols + 16*(rows+cols)
		if best < 0 || cost <= best {
			best, tm, tn = cost, threads/t, t
		}
	}
	return tm, tn
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
func roundUp(a, b int) int { return ceilDiv(a, b) * b }

// scale computes x = beta·x (beta 0 clears, so NaNs do not survive).
func scale(x []float32, beta float32) {
	switch beta {
	case 1:
	case 0:
		clear(x)
	default:
		for i := range x {
			x[i] *= beta
		}
	}
}

// gemmJob is one Sgemm call split into a grid of sub-products of C, each
// rowStep x colStep; Do runs grid cells [lo, hi).
type gemmJob struct {
	kern             *kernel
	transA, transB   bool
	m, n, k          int
	alpha, beta      float32
	a, b, c          []float32
	lda, ldb, ldc    int
	ep               Epilogue
	tn               int
	rowStep, colStep int
	gemv             bool     // one matrix-vector product per row (m <= maxGemvRows)
	pb               *PackedB // op(B) packed in advance, or nil
}

var jobPool = sync.Pool{New: func() any { return new(gemmJob) }}

func (j *gemmJob) Do(lo, hi int) {
	s := getScratch(j.kern)
	defer scratchPool.Put(s)
	for t := lo; t < hi; t++ {
		r0, c0 := t/j.tn*j.rowStep, t%j.tn*j.colStep
		r1, c1 := min(r0+j.rowStep, j.m), min(c0+j.colStep, j.n)
		if r0 >= r1 || c0 >= c1 {
			continue
		}
		if j.gemv {
			if j.pb != nil {
				j.gemvPackedCell(s, c0, c1)
			} else {
				j.gemvCell(s, c0, c1)
			}
			continue
		}
		j.block(s, r0, r1, c0, c1)
	}
}

// scratch holds one thread's packing buffers.
type scratch struct {
	a, b, tile []float32
	v          []float32 // the GEMV path's x and y
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch(kern *kernel) *scratch {
	s := scratchPool.Get().(*scratch)
	if n := kern.mc * kern.kc; len(s.a) < n {
		s.a = make([]float32, n)
	}
	if n := kern.kc * kern.nc; len(s.b) < n {
		s.b = make([]float32, n)
	}
	if n := kern.mr * kern.nr; len(s.tile) < n {
		s.tile = make([]float32, n)
	}
	return s
}

// block computes rows [r0, r1) and columns [c0, c1) of C = alpha·op(A)·op(B)
// + beta·C and the epilogue, in GotoBLAS order: op(B) in kc x nc blocks
// packed into nr-column panels (or taken from a PackedB), op(A) in mc x kc
// blocks packed into mr-row panels, the micro-kernel over every mr x nr
// tile.
func (j *gemmJob) block(s *scratch, r0, r1, c0, c1 int) {
	kern, k := j.kern, j.k
	if j.pb != nil {
		j.blockPacked(s, r0, r1, c0, c1)
		return
	}
	for jc := c0; jc < c1; {
		// Column blocks end at multiples of nc, as a PackedB's do.
		nc := min(kern.nc-jc%kern.nc, c1-jc)
		for pc := 0; pc < k; pc += kern.kc {
			kc := min(kern.kc, k-pc)
			bp := s.b
			kern.packB(j.transB, j.b, j.ldb, pc, jc, kc, nc, bp)
			bk, load := j.kBeta(pc)
			for ic := r0; ic < r1; ic += kern.mc {
				mc := min(kern.mc, r1-ic)
				packA(kern.mr, j.transA, j.a, j.lda, ic, pc, mc, kc, j.alpha, s.a)
				cb := j.c[ic*j.ldc+jc:]
				kern.macro(s, bp, mc, nc, kc, cb, j.ldc, bk, load)
				if pc+kc == k {
					j.epilogue(cb, ic, mc, jc, nc)
				}
			}
		}
		jc += nc
	}
}

// macro runs the micro-kernel over the mc x nc block of C from packed A
// (s.a) and B (pb) panels; partial edge tiles are computed into s.tile and
// merged.
func (kern *kernel) macro(s *scratch, pb []float32, mc, nc, kc int, c []float32, ldc int, beta float32, load int) {
	mr, nr := kern.mr, kern.nr
	tile := s.tile[:mr*nr]
	for jr := 0; jr < nc; jr += nr {
		w := min(nr, nc-jr)
		bp := pb[jr*kc : jr*kc+kc*nr]
		// A partial last panel runs the narrowest kernel that covers it.
		fn, cols := kern.fn, nr
		for _, e := range kern.edges {
			if w <= e.cols {
				fn, cols = e.fn, e.cols
				break
			}
		}
		for ir := 0; ir < mc; ir += mr {
			h := min(mr, mc-ir)
			ap := s.a[ir*kc : ir*kc+kc*mr]
			ct := c[ir*ldc+jr:]
			if w == cols && h == mr {
				fn(kc, ap, bp, ct, ldc, beta, load)
				continue
			}
			fn(kc, ap, bp, tile, nr, 0, 0)
			for i := range h {
				dst := ct[i*ldc : i*ldc+w]
				src := tile[i*nr : i*nr+w]
				if load == 0 {
					copy(dst, src)
					continue
				}
				for j, v := range src {
					dst[j] = v + beta*dst[j]
				}
			}
		}
	}
}

// packB copies op(B)[pc:pc+kc, jc:jc+nc] into dst as nr-column panels, each
// kc rows of nr values; columns past nc are zero.
func (kern *kernel) packB(trans bool, b []float32, ldb, pc, jc, kc, nc int, dst []float32) {
	nr := kern.nr
	if !trans {
		// op(B) rows are B rows: walk them in order (the hardware prefetch
		// follows), scattering nr values to each whole panel, then fill the
		// edge panel.
		full := nc / nr * nr
		switch {
		case full == 0:
		case kern.packRows != nil:
			// Bounds the assembly relies on.
			_ = b[(pc+kc-1)*ldb+jc+full-1]
			_ = dst[full*kc-1]
			kern.packRows(kc, full/nr, b[pc*ldb+jc:], ldb, dst)
		default:
			for p := range kc {
				src := b[(pc+p)*ldb+jc : (pc+p)*ldb+jc+full]
				d := dst[p*nr:]
				for jp := 0; jp < full; jp += nr {
					copy(d[jp*kc:jp*kc+nr], src[jp:])
				}
			}
		}
		if full < nc {
			for p := range kc {
				e := dst[full*kc+p*nr : full*kc+p*nr+nr]
				copy(e, b[(pc+p)*ldb+jc+full:(pc+p)*ldb+jc+nc])
				clear(e[nc-full:])
			}
		}
		return
	}
	for jp := 0; jp < nc; jp += nr {
		w := min(nr, nc-jp)
		panel := dst[jp*kc : jp*kc+kc*nr]
		// op(B) columns are B rows: transpose w rows of kc values.
		transposeInto(w, kc, b[(jc+jp)*ldb+pc:], ldb, panel, nr, 1)
		if w < nr {
			for p := range kc {
				clear(panel[p*nr+w : p*nr+nr])
			}
		}
	}
}

// packA copies alpha·op(A)[ic:ic+mc, pc:pc+kc] into dst as mr-row panels,
// each kc columns of mr values; rows past mc are zero.
func packA(mr int, trans bool, a []float32, lda, ic, pc, mc, kc int, alpha float32, dst []float32) {
	for ip := 0; ip < mc; ip += mr {
		h := min(mr, mc-ip)
		panel := dst[ip*kc : ip*kc+kc*mr]
		if trans {
			// op(A) columns are A rows: copy h contiguous values per k step.
			src := a[pc*lda+ic+ip:]
			for p := range kc {
				d := panel[p*mr : p*mr+mr]
				s := src[p*lda : p*lda+h]
				for i, v := range s {
					d[i] = alpha * v
				}
				clear(d[h:])
			}
			continue
		}
		// op(A) rows are A rows: transpose h rows of kc values.
		transposeInto(h, kc, a[(ic+ip)*lda+pc:], lda, panel, mr, alpha)
		if h < mr {
			for p := range kc {
				clear(panel[p*mr+h : p*mr+mr])
			}
		}
	}
}

// transposeInto sets dst[p·ldd + i] = alpha·src[i·lds + p] for i < rows,
// p < cols, in 8 x 8 register blocks where the CPU has them.
func transposeInto(rows, cols int, src []float32, lds int, dst []float32, ldd int, alpha float32) {
	i := 0
	if transpose8 != nil && alpha == 1 && cols >= 8 && ldd >= 8 {
		blocks := cols / 8
		// Bounds the assembly relies on.
		_ = src[(rows-1)*lds+blocks*8-1]
		_ = dst[(blocks*8-1)*ldd+rows-1]
		for ; i+8 <= rows; i += 8 {
			transpose8(blocks, src[i*lds:], lds, dst[i:], ldd)
		}
		// The columns past the blocks, for the rows done.
		for r := range i {
			row := src[r*lds : r*lds+cols]
			for p := blocks * 8; p < cols; p++ {
				dst[p*ldd+r] = row[p]
			}
		}
	}
	for ; i < rows; i++ {
		row := src[i*lds : i*lds+cols]
		for p, v := range row {
			dst[p*ldd+i] = alpha * v
		}
	}
}

// blockPacked is block with op(B) pre-packed: no B block is packed here,
// so the loops put the column blocks innermost and each mc x kc block of A
// is packed once for all of them (block packs it again per nc columns).
// Every element of C sums its k blocks in the same order as block does,
// so results are the same bits.
func (j *gemmJob) blockPacked(s *scratch, r0, r1, c0, c1 int) {
	kern, k := j.kern, j.k
	for pc := 0; pc < k; pc += kern.kc {
		kc := min(kern.kc, k-pc)
		bk, load := j.kBeta(pc)
		for ic := r0; ic < r1; ic += kern.mc {
			mc := min(kern.mc, r1-ic)
			packA(kern.mr, j.transA, j.a, j.lda, ic, pc, mc, kc, j.alpha, s.a)
			for jc := c0; jc < c1; {
				nc := min(kern.nc-jc%kern.nc, c1-jc)
				cb := j.c[ic*j.ldc+jc:]
				kern.macro(s, j.pb.block(jc, pc, kc, nc), mc, nc, kc, cb, j.ldc, bk, load)
				if pc+kc == k {
					j.epilogue(cb, ic, mc, jc, nc)
				}
				jc += nc
			}
		}
	}
}

// kBeta is the beta and load flag of k block pc: the first applies beta
// (load 0: C is not read when beta is 0), later ones accumulate.
func (j *gemmJob) kBeta(pc int) (float32, int) {
	switch {
	case pc > 0:
		return 1, 1
	case j.beta == 0:
		return j.beta, 0
	}
	return j.beta, 1
}

// epilogue applies the Epilogue, if any, to the mc x nc block of C at
// rows ic and columns jc (cb its first element) once its sum is complete.
func (j *gemmJob) epilogue(cb []float32, ic, mc, jc, nc int) {
	if j.ep.none() {
		return
	}
	var bias []float32
	if j.ep.Bias != nil {
		bias = j.ep.Bias[jc : jc+nc]
	}
	for i := range mc {
		j.ep.apply(cb[i*j.ldc:i*j.ldc+nc], bias, j.ep.rowBias(ic+i))
	}
}

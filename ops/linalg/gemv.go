package linalg

// maxGemvRows is the largest m that runs as one matrix-vector product per
// row of C: with so few rows, B is read once per row instead of being
// packed, which costs more than the products it saves.
const maxGemvRows = 2

// gemvColumns is the column granularity of the GEMV path's thread split.
const gemvColumns = 128

// gemvRow sets y[j] = Σ_p x[p]·op(B)[p][j] for j < len(y), p < k.
func (kern *kernel) gemvRow(transB bool, k int, x, b []float32, ldb int, y []float32) {
	n := len(y)
	x = x[:k]
	if transB {
		// op(B) columns are B rows: one dot product each.
		for j := range y {
			row := b[j*ldb : j*ldb+k]
			var s float32
			p := 0
			if kern.dot != nil && k >= 64 {
				p = k &^ 63
				s = kern.dot(p, x, row)
			}
			for ; p < k; p++ {
				s += x[p] * row[p]
			}
			y[j] = s
		}
		return
	}
	j := 0
	if kern.gemv != nil {
		for w := kern.gemvN; j+w <= n; j += w {
			kern.gemv(k, x, b[j:], ldb, y[j:j+w])
		}
		for ; j+16 <= n; j += 16 {
			kern.gemv16(k, x, b[j:], ldb, y[j:j+16])
		}
	}
	if j == n {
		return
	}
	if kern.gemv16 != nil && n >= 16 {
		// The last 16 columns, some again (to the same values), so that
		// every column sums with the vector kernels' fused multiply-adds,
		// as the packed path does.
		kern.gemv16(k, x, b[n-16:], ldb, y[n-16:n])
		return
	}
	// The remaining columns as rows of axpys.
	tail := y[j:]
	clear(tail)
	for p, xv := range x {
		row := b[p*ldb+j : p*ldb+n]
		for i, bv := range row {
			tail[i] += xv * bv
		}
	}
}

// gemvCell computes rows [0, m) and columns [c0, c1) of C = alpha·op(A)·op(B)
// + beta·C and the epilogue, one row of op(A) at a time.
func (j *gemmJob) gemvCell(s *scratch, c0, c1 int) {
	n := c1 - c0
	if cap(s.v) < n+j.k {
		s.v = make([]float32, n+j.k)
	}
	y, x := s.v[:n], s.v[n:n+j.k]
	b := j.b[c0:]
	if j.transB {
		b = j.b[c0*j.ldb:]
	}
	var bias []float32
	if j.ep.Bias != nil {
		bias = j.ep.Bias[c0:c1]
	}
	for i := range j.m {
		x := j.rowOfA(i, x)
		j.kern.gemvRow(j.transB, j.k, x, b, j.ldb, y)
		j.gemvStore(i, c0, c1, y, bias)
	}
}

// rowOfA returns row i of op(A): A's row, or gathered into buf (k values)
// when A is transposed.
func (j *gemmJob) rowOfA(i int, buf []float32) []float32 {
	if !j.transA {
		return j.a[i*j.lda : i*j.lda+j.k]
	}
	for p := range buf {
		buf[p] = j.a[p*j.lda+i]
	}
	return buf
}

// gemvStore writes row i, columns [c0, c1), of C = alpha·y + beta·C and
// the epilogue.
func (j *gemmJob) gemvStore(i, c0, c1 int, y, bias []float32) {
	row := j.c[i*j.ldc+c0 : i*j.ldc+c1]
	if j.beta == 0 {
		for t, v := range y[:len(row)] {
			row[t] = j.alpha * v
		}
	} else {
		for t, v := range y[:len(row)] {
			row[t] = j.alpha*v + j.beta*row[t]
		}
	}
	j.ep.apply(row, bias, j.ep.rowBias(i))
}

// gemvPackedCell is gemvCell over a PackedB (c0 a multiple of nr): each
// column block's panels are read front to back, k block after k block, so
// a thread streams one stretch of memory, which the hardware prefetchers
// follow, where a column strip of B jumps a row stride at every step.
// Sums run in p order, one fused multiply-add each, as gemvRow's do.
func (j *gemmJob) gemvPackedCell(s *scratch, c0, c1 int) {
	kern, pb := j.kern, j.pb
	nr, w := kern.nr, roundUp(c1-c0, kern.nr)
	if cap(s.v) < w+j.k {
		s.v = make([]float32, w+j.k)
	}
	y, x := s.v[:w], s.v[w:w+j.k]
	var bias []float32
	if j.ep.Bias != nil {
		bias = j.ep.Bias[c0:c1]
	}
	for i := range j.m {
		x := j.rowOfA(i, x)
		clear(y)
		for jc := c0; jc < c1; {
			nc := min(kern.nc-jc%kern.nc, c1-jc)
			for pc := 0; pc < j.k; pc += kern.kc {
				kc := min(kern.kc, j.k-pc)
				bp := pb.block(jc, pc, kc, nc)
				for q := 0; q < nc; q += nr {
					kern.gemvPanel(kc, x[pc:pc+kc], bp[q*kc:(q+nr)*kc], y[jc-c0+q:jc-c0+q+nr])
				}
			}
			jc += nc
		}
		j.gemvStore(i, c0, c1, y, bias)
	}
}

// gemvPanelGeneric is the reference for gemvPanel: y[t] += Σ_p x[p]·panel[p·nr+t]
// for t < nr = len(y), p < kc.
func gemvPanelGeneric(kc int, x, panel, y []float32) {
	nr := len(y)
	for p := range kc {
		for t, v := range panel[p*nr : p*nr+nr] {
			y[t] += x[p] * v
		}
	}
}

// minGemvBytes is the size of B per thread below which a matrix-vector
// product over a PackedB uses fewer threads: it is bound by reading B,
// not by its multiply-adds, so a 768 x 768 B (2.4 MB, about 100 µs on one
// core) is worth a worker's few microseconds of wake-up, which
// minThreadWork's count of multiply-adds would not grant it.
var minGemvBytes = 256 << 10

// gemvPackedThreads is the thread count of an m x n x k product on the
// packed GEMV path: by the bytes of B, at most one per nr-column panel.
func gemvPackedThreads(pool *Pool, m, n, k, nr int) int {
	return max(1, min(pool.Threads(), n*k*4/minGemvBytes, ceilDiv(n, nr)))
}

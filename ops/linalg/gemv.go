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
		if j.transA {
			for p := range x {
				x[p] = j.a[p*j.lda+i]
			}
		} else {
			x = j.a[i*j.lda : i*j.lda+j.k]
		}
		j.kern.gemvRow(j.transB, j.k, x, b, j.ldb, y)
		row := j.c[i*j.ldc+c0 : i*j.ldc+c1]
		if j.beta == 0 {
			for t, v := range y {
				row[t] = j.alpha * v
			}
		} else {
			for t, v := range y {
				row[t] = j.alpha*v + j.beta*row[t]
			}
		}
		j.ep.apply(row, bias, j.ep.rowBias(i))
	}
}

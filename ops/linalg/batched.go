package linalg

import (
	"fmt"
	"sync"
)

// SgemmStridedBatched computes, for each i < batch,
//
//	C_i = act(alpha·op(A_i)·op(B_i) + beta·C_i + 1·biasᵀ)
//
// with A_i = a[i·strideA:], B_i = b[i·strideB:] and C_i = c[i·strideC:], each
// laid out as for SgemmEx (op(A_i) m x k, op(B_i) k x n, C_i m x n, row
// strides lda, ldb, ldc). A stride of 0 for A or B uses the same matrix for
// every product (broadcasting); the C_i must not overlap. Many small
// products run one per thread of pool; a few large ones run one after
// another, each on all threads. It panics on inconsistent sizes like Sgemm.
func SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int, ep Epilogue, pool *Pool) {
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("linalg: negative batch %d or stride (%d, %d, %d)", batch, strideA, strideB, strideC))
	}
	if batch == 0 {
		return
	}
	for _, x := range []struct {
		name   string
		n, str int
	}{{"A", len(a), strideA}, {"B", len(b), strideB}, {"C", len(c), strideC}} {
		if (batch-1)*x.str > x.n {
			panic(fmt.Sprintf("linalg: %s has %d values, too few for %d matrices %d apart", x.name, x.n, batch, x.str))
		}
	}
	j := batchJobPool.Get().(*batchJob)
	*j = batchJob{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, strideA: strideA,
		b: b, ldb: ldb, strideB: strideB, beta: beta, c: c, ldc: ldc, strideC: strideC, ep: ep}
	j.run(batch, pool)
	*j = batchJob{}
	batchJobPool.Put(j)
}

// SgemmBatched is SgemmStridedBatched with the matrices given one by one:
// C_i = act(alpha·op(A_i)·op(B_i) + beta·C_i + 1·biasᵀ) with A_i = a[i],
// B_i = b[i], C_i = c[i] for i < len(c); a and b have len(c) matrices.
func SgemmBatched(transA, transB bool, m, n, k int, alpha float32, a [][]float32, lda int, b [][]float32, ldb int, beta float32, c [][]float32, ldc int, ep Epilogue, pool *Pool) {
	if len(a) != len(c) || len(b) != len(c) {
		panic(fmt.Sprintf("linalg: batch of %d A, %d B and %d C matrices", len(a), len(b), len(c)))
	}
	if len(c) == 0 {
		return
	}
	j := batchJobPool.Get().(*batchJob)
	*j = batchJob{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, as: a, lda: lda,
		bs: b, ldb: ldb, beta: beta, cs: c, ldc: ldc, ep: ep}
	j.run(len(c), pool)
	*j = batchJob{}
	batchJobPool.Put(j)
}

// batchJob is one batched call; Do runs products [lo, hi) on one thread.
type batchJob struct {
	transA, transB            bool
	m, n, k                   int
	alpha, beta               float32
	a, b, c                   []float32
	lda, ldb, ldc             int
	strideA, strideB, strideC int
	as, bs, cs                [][]float32 // SgemmBatched's matrices, or nil
	ep                        Epilogue
	pool                      *Pool // the pool each product runs on
}

var batchJobPool = sync.Pool{New: func() any { return new(batchJob) }}

// run splits the batch over pool's threads when there are products enough
// for every thread and each is too small to split well itself.
func (j *batchJob) run(batch int, pool *Pool) {
	threads := pool.Threads()
	if threads > 1 && batch >= threads && (batch >= 4*threads || j.m*j.n*j.k < 4*threads*minThreadWork) {
		j.pool = nil
		pool.Run(batch, j)
		return
	}
	j.pool = pool
	j.Do(0, batch)
}

func (j *batchJob) Do(lo, hi int) {
	for i := lo; i < hi; i++ {
		var a, b, c []float32
		if j.cs != nil {
			a, b, c = j.as[i], j.bs[i], j.cs[i]
		} else {
			a, b, c = j.a[i*j.strideA:], j.b[i*j.strideB:], j.c[i*j.strideC:]
		}
		sgemm(kernels[0], j.pool, j.transA, j.transB, j.m, j.n, j.k, j.alpha, a, j.lda, b, j.ldb, j.beta, c, j.ldc, j.ep)
	}
}

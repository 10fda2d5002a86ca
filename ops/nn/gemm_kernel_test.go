package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refGemm is C = alpha*op(A)*op(B) + beta*C in float64, written from the definition.
func refGemm(transA, transB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			cv := 0.0
			if beta != 0 {
				cv = beta * float64(c[i*ldc+j])
			}
			out[i*n+j] = alpha*s + cv
		}
	}
	return out
}

func TestSgemm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := []int{1, 7, 17, 65, 3, 260}
	for trial := 0; trial < 90; trial++ {
		m, n, k := sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))]
		if trial < 64 {
			m, n, k = sizes[trial%4], sizes[(trial/4)%4], sizes[(trial/16)%4]
		}
		transA, transB := r.IntN(2) == 1, r.IntN(2) == 1
		alpha := float32(r.NormFloat64())
		beta := []float32{0, 1, 0.5}[r.IntN(3)]
		lda, ldb := k+r.IntN(3), n+r.IntN(3)
		rowsA, rowsB := m, k
		if transA {
			lda, rowsA = m+r.IntN(3), k
		}
		if transB {
			ldb, rowsB = k+r.IntN(3), n
		}
		ldc := n + r.IntN(3)
		a := randSlice(r, rowsA*lda)
		b := randSlice(r, rowsB*ldb)
		c := randSlice(r, m*ldc)
		if beta == 0 {
			for i := range c {
				c[i] = float32(math.NaN()) // beta 0 must ignore C
			}
		}
		want := refGemm(transA, transB, m, n, k, float64(alpha), a, lda, b, ldb, float64(beta), c, ldc)
		for _, threads := range []int{1, 3} {
			got := append([]float32(nil), c...)
			SgemmThreads(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					g, w := float64(got[i*ldc+j]), want[i*n+j]
					if math.Abs(g-w) > 1e-4*(1+math.Sqrt(float64(k)))*(1+math.Abs(w)) || math.IsNaN(g) {
						t.Fatalf("m=%d n=%d k=%d tA=%v tB=%v threads=%d: C[%d,%d] = %v, want %v", m, n, k, transA, transB, threads, i, j, g, w)
					}
				}
				for j := n; j < ldc; j++ {
					if got[i*ldc+j] != c[i*ldc+j] && !(math.IsNaN(float64(c[i*ldc+j]))) {
						t.Fatalf("padding column %d of row %d modified", j, i)
					}
				}
			}
		}
		// The generic kernel on float64 against the same reference.
		a64, b64, c64 := to64(a), to64(b), to64(c)
		gemm(2, transA, transB, m, n, k, float64(alpha), a64, lda, b64, ldb, float64(beta), c64, ldc)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				if g, w := c64[i*ldc+j], want[i*n+j]; math.Abs(g-w) > 1e-9*(1+math.Abs(w))*float64(k+1) {
					t.Fatalf("float64 m=%d n=%d k=%d: C[%d,%d] = %v, want %v", m, n, k, i, j, g, w)
				}
			}
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func to64(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

func BenchmarkSgemm256(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 256
	x, y, z := randSlice(r, n*n), randSlice(r, n*n), make([]float32, n*n)
	b.SetBytes(2 * n * n * n) // flops, reported as "MB/s" = MFLOP/s
	for b.Loop() {
		Sgemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n)
	}
}

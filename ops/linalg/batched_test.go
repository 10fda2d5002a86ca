package linalg

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSgemmBatched(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	pools := []*Pool{nil, NewPool(2), NewPool(3)}
	defer pools[1].Close()
	defer pools[2].Close()
	for _, tc := range []struct {
		batch, m, n, k     int
		transA, transB     bool
		broadcastA, padded bool
	}{
		{batch: 5, m: 7, n: 9, k: 11},
		{batch: 12, m: 33, n: 20, k: 64, transB: true},
		{batch: 3, m: 130, n: 100, k: 90, transA: true, broadcastA: true},
		{batch: 2, m: 1, n: 300, k: 50, padded: true},
		{batch: 1, m: 17, n: 17, k: 17, transA: true, transB: true},
	} {
		ar, ac, br, bc := storedDims(tc.transA, tc.transB, tc.m, tc.n, tc.k)
		pad := 0
		if tc.padded {
			pad = 2
		}
		lda, ldb, ldc := ac+pad, bc+pad, tc.n+pad
		sa, sb, sc := ar*lda+pad, br*ldb, tc.m*ldc+3
		if tc.broadcastA {
			sa = 0
		}
		a := randSlice(r, ar*lda+max(tc.batch-1, 0)*sa)
		b := randSlice(r, sb*tc.batch)
		c := randSlice(r, sc*tc.batch)
		c2 := append([]float32(nil), c...)
		ep := Epilogue{Bias: randSlice(r, tc.n), Act: ActRelu}
		const alpha, beta = 0.5, -1
		for _, pool := range pools {
			got := append([]float32(nil), c...)
			SgemmStridedBatched(tc.transA, tc.transB, tc.m, tc.n, tc.k, alpha, a, lda, sa, b, ldb, sb, beta, got, ldc, sc, tc.batch, ep, pool)
			got2 := append([]float32(nil), c2...)
			var as, bs, cs [][]float32
			for i := range tc.batch {
				as, bs, cs = append(as, a[i*sa:]), append(bs, b[i*sb:]), append(cs, got2[i*sc:])
			}
			SgemmBatched(tc.transA, tc.transB, tc.m, tc.n, tc.k, alpha, as, lda, bs, ldb, beta, cs, ldc, ep, pool)
			for i := range tc.batch {
				want := refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, alpha, a[i*sa:], lda, b[i*sb:], ldb, beta, c[i*sc:], ldc, ep)
				for row := range tc.m {
					for col := range tc.n {
						w := want[row*tc.n+col]
						for _, g := range []float32{got[i*sc+row*ldc+col], got2[i*sc+row*ldc+col]} {
							if d := math.Abs(float64(g) - w); d > 1e-4*float64(tc.k) {
								t.Fatalf("%+v: C_%d[%d][%d] = %v, want %v", tc, i, row, col, g, w)
							}
						}
					}
				}
			}
			for i := range got {
				if in := i % sc; in >= tc.m*ldc || in%ldc >= tc.n {
					if got[i] != c[i] {
						t.Fatalf("%+v: value %d outside the C matrices changed", tc, i)
					}
				}
			}
		}
	}
}

package linalg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackedBHoldsB: a PackedB keeps B only for a kernel whose
// matrix-vector products read B (no panel GEMV), and one or two rows times
// a PackedB whose B was overwritten after packing still give the product
// with the original B (bit for bit that of Sgemm) wherever it does not.
func TestPackedBHoldsB(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pool := NewPool(2)
	defer pool.Close()
	const k, n = 70, 90
	for _, kern := range kernels {
		for _, m := range []int{1, 2, 5} {
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			want := make([]float32, m*n)
			sgemm(kern, pool, false, false, m, n, k, 1, a, k, b, n, 0, want, n, Epilogue{})
			pb := packBWith(kern, false, k, n, b, n)
			if pb.HoldsB() != (kern.gemvPanel == nil) {
				t.Fatalf("%s: HoldsB %v with panel GEMV %v", kern.name, pb.HoldsB(), kern.gemvPanel != nil)
			}
			if pb.HoldsB() {
				continue
			}
			for i := range b {
				b[i] = float32(math.NaN())
			}
			got := make([]float32, m*n)
			SgemmPacked(false, m, 1, a, k, pb, 0, got, n, Epilogue{}, pool)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s m=%d: y[%d] = %v, want %v", kern.name, m, i, got[i], want[i])
				}
			}
		}
	}
}

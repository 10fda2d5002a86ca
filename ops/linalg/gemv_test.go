package linalg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The gemvPanel kernels agree with gemvPanelGeneric, and one or two rows
// times a PackedB (the panel path) equal, bit for bit, the same product on
// B as stored (the column-strip path): both add the k terms in order, one
// fused multiply-add each.
func TestGemvPanel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, kern := range kernels {
		if kern.gemvPanel == nil {
			continue
		}
		for _, kc := range []int{1, 3, 64, 256} {
			x, panel := randSlice(r, kc), randSlice(r, kc*kern.nr)
			y0 := randSlice(r, kern.nr)
			got, want := append([]float32(nil), y0...), append([]float32(nil), y0...)
			kern.gemvPanel(kc, x, panel, got)
			gemvPanelGeneric(kc, x, panel, want)
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*float64(kc) {
					t.Fatalf("%s kc %d: y[%d] = %v, generic %v", kern.name, kc, i, got[i], want[i])
				}
			}
		}
		pool := NewPool(2)
		defer pool.Close()
		for _, s := range [][3]int{{1, 768, 3072}, {2, 1000, 300}, {1, 2304, 768}, {1, 100, 8}} {
			m, n, k := s[0], s[1], s[2]
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			strip, packed := make([]float32, m*n), make([]float32, m*n)
			sgemm(kern, pool, false, false, m, n, k, 1, a, k, b, n, 0, strip, n, Epilogue{})
			SgemmPacked(false, m, 1, a, k, packBWith(kern, false, k, n, b, n), 0, packed, n, Epilogue{}, pool)
			for i := range strip {
				if math.Float32bits(strip[i]) != math.Float32bits(packed[i]) {
					t.Fatalf("%s %dx%dx%d: C[%d] packed %v, strip %v", kern.name, m, n, k, i, packed[i], strip[i])
				}
			}
		}
	}
}

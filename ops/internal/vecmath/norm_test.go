package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestNormRows checks every implementation's Moments against a float64
// two-pass reference and its Affine bit for bit against the scalar
// formula, on lengths around the vector width.
func TestNormRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, impl := range available() {
		for _, n := range []int{0, 1, 15, 16, 17, 31, 48, 77, 768, 1030} {
			x, scale, bias := make([]float32, n), make([]float32, n), make([]float32, n)
			for j := range x {
				x[j] = float32(rng.NormFloat64()*3 + 100) // an offset mean tests the two passes
				scale[j] = float32(rng.NormFloat64())
				bias[j] = float32(rng.NormFloat64())
			}
			for _, rms := range []bool{false, true} {
				var wantM, s2 float64
				if !rms && n > 0 {
					for _, v := range x {
						wantM += float64(v)
					}
					wantM /= float64(n)
				}
				for _, v := range x {
					d := float64(v) - wantM
					s2 += d * d
				}
				wantV := 0.0
				if n > 0 {
					wantV = s2 / float64(n)
				}
				old := cur
				cur = impl
				m, v := Moments(x, rms)
				cur = old
				if math.Abs(m-wantM) > 1e-12*math.Abs(wantM) || math.Abs(v-wantV) > 1e-11*wantV {
					t.Errorf("%s n=%d rms=%v: Moments = %v, %v; want %v, %v", impl.name, n, rms, m, v, wantM, wantV)
				}
			}
			sum := make([]float32, n)
			old := cur
			cur = impl
			Add(sum, x, bias)
			cur = old
			for j := range x {
				if sum[j] != x[j]+bias[j] {
					t.Fatalf("%s n=%d: Add[%d] = %v, want %v", impl.name, n, j, sum[j], x[j]+bias[j])
				}
			}
			for _, b := range [][]float32{nil, bias} {
				got := make([]float32, n)
				mf, inv := float32(99.5), float32(0.37)
				old := cur
				cur = impl
				Affine(got, x, scale, b, mf, inv)
				cur = old
				for j, xv := range x {
					want := (xv - mf) * inv * scale[j]
					if b != nil {
						want += b[j]
					}
					if got[j] != want {
						t.Fatalf("%s n=%d bias=%v: Affine[%d] = %v, want %v", impl.name, n, b != nil, j, got[j], want)
					}
				}
			}
		}
	}
}

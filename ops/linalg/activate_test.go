package linalg

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestActivate compares Activate, with and without the vector epilogue,
// to float64 references over a wide range of inputs, with and without a
// bias and in place.
func TestActivate(t *testing.T) {
	ref := map[Activation]func(float64) float64{
		ActNone: func(x float64) float64 { return x },
		ActRelu: func(x float64) float64 { return max(x, 0) },
		ActGelu: func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) },
		ActGeluTanh: func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
		},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const d = 77 // not a multiple of the vector width
	x := make([]float32, 13*d)
	for i := range x {
		switch i % 4 {
		case 0:
			x[i] = float32(rng.NormFloat64())
		case 1:
			x[i] = float32(rng.NormFloat64() * 6)
		case 2:
			x[i] = float32(rng.NormFloat64() * 1e-3)
		default:
			x[i] = float32((rng.Float64() - 0.5) * 200)
		}
	}
	bias := make([]float32, d)
	for i := range bias {
		bias[i] = float32(rng.NormFloat64())
	}
	vec := epilogueVec
	defer func() { epilogueVec = vec }()
	for _, useVec := range []bool{true, false} {
		if useVec && vec == nil {
			continue
		}
		if !useVec {
			epilogueVec = nil
		}
		for act, f := range ref {
			for _, b := range [][]float32{nil, bias} {
				y := make([]float32, len(x))
				Activate(act, y, x, b)
				inPlace := append([]float32(nil), x...)
				Activate(act, inPlace, inPlace, b)
				for i := range x {
					s := float64(x[i])
					if b != nil {
						s = float64(float32(s) + b[i%d])
					}
					want := f(s)
					if y[i] != inPlace[i] {
						t.Fatalf("vec=%v act=%v: in place %g, separate %g at %d", useVec, act, inPlace[i], y[i], i)
					}
					if err := math.Abs(float64(y[i]) - want); err > 3e-7*max(1, math.Abs(s))+1e-6*math.Abs(want) {
						t.Fatalf("vec=%v act=%v bias=%v: x=%g: got %g, want %g (err %g)", useVec, act, b != nil, s, y[i], want, err)
					}
				}
			}
		}
	}
}

func TestActivatePanicsOnBadSizes(t *testing.T) {
	for _, c := range []struct{ y, x, b int }{{3, 4, 0}, {5, 5, 2}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Activate(y %d, x %d, bias %d) did not panic", c.y, c.x, c.b)
				}
			}()
			Activate(ActGelu, make([]float32, c.y), make([]float32, c.x), make([]float32, c.b))
		}()
	}
}

package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// each runs f with every implementation this CPU has.
func each(t *testing.T, f func(t *testing.T)) {
	saved := cur
	defer func() { cur = saved }()
	for _, v := range available() {
		cur = v
		t.Run(v.name, f)
	}
}

// ulps is the distance in float32 steps between got and the float64 want
// rounded to float32.
func ulps(got float32, want float64) float64 {
	w := float32(want)
	if got == w {
		return 0
	}
	step := math.Nextafter32(w, float32(math.Inf(1))) - w
	return math.Abs(float64(got)-float64(w)) / float64(step)
}

// checkExp fails when e is not exp(x) within the package's stated bound:
// 2 ulp for results >= 2^-126, 2^-148 absolute below, exact specials.
func checkExp(t *testing.T, x, e float32) {
	t.Helper()
	want := math.Exp(float64(x))
	switch {
	case x != x:
		if e == e {
			t.Fatalf("exp(NaN) = %v, want NaN", e)
		}
	case want > math.MaxFloat32:
		if !math.IsInf(float64(e), 1) {
			t.Fatalf("exp(%v) = %v, want +Inf", x, e)
		}
	case want < 0x1p-126:
		if math.Abs(float64(e)-want) > 0x1p-148 {
			t.Fatalf("exp(%v) = %v, want %v (within 2^-148)", x, e, want)
		}
	default:
		if u := ulps(e, want); u > 2 {
			t.Fatalf("exp(%v) = %v, want %v: %.1f ulp", x, e, want, u)
		}
	}
}

func TestExpRange(t *testing.T) {
	each(t, func(t *testing.T) {
		var xs []float32
		inf := float32(math.Inf(1))
		xs = append(xs, 0, -0.0, 1, -1, inf, -inf, float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32,
			88.72283, 88.72284, 88.7229, 89, 89.5, -87.33654, -87.3366, -100, -103.27893, -103.9, -104, -105, -1e30,
			0x1p-149, -0x1p-149, 1e-10, -1e-10)
		// Every step of 1/1024 over [-110, 90] and random values.
		for x := -110.0; x <= 90; x += 1.0 / 1024 {
			xs = append(xs, float32(x))
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 200000 {
			xs = append(xs, float32(rng.Float64()*200-110))
			xs = append(xs, math.Float32frombits(rng.Uint32()))
		}
		x := append([]float32(nil), xs...)
		sum := ExpSub(x, 1, 0)
		for j, e := range x {
			checkExp(t, xs[j], e)
		}
		if !math.IsNaN(float64(sum)) {
			t.Fatalf("sum over a NaN = %v, want NaN", sum)
		}
	})
}

func TestExpSubTails(t *testing.T) {
	each(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for n := 0; n <= 70; n++ {
			buf := make([]float32, n+8)
			for j := range buf {
				buf[j] = float32(rng.NormFloat64() * 5)
			}
			orig := append([]float32(nil), buf...)
			a, m := float32(rng.Float64()*2), float32(rng.NormFloat64())
			sum := ExpSub(buf[:n], a, m)
			var want float64
			for j := range n {
				checkExp(t, fms(a, orig[j], m), buf[j])
				want += float64(buf[j])
			}
			for j := n; j < len(buf); j++ {
				if buf[j] != orig[j] {
					t.Fatalf("n=%d: element %d past the end changed", n, j)
				}
			}
			if math.Abs(float64(sum)-want) > 1e-5*want {
				t.Fatalf("n=%d: sum %v, want %v", n, sum, want)
			}
		}
	})
}

func TestMaxScale(t *testing.T) {
	each(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		nan, inf := float32(math.NaN()), float32(math.Inf(1))
		if m := Max(nil); !math.IsInf(float64(m), -1) {
			t.Fatalf("Max(nil) = %v, want -Inf", m)
		}
		for n := 1; n <= 100; n++ {
			x := make([]float32, n)
			for j := range x {
				x[j] = float32(rng.NormFloat64() * 100)
				switch rng.IntN(10) {
				case 0:
					x[j] = nan
				case 1:
					x[j] = -inf
				}
			}
			want := float32(math.Inf(-1))
			for _, v := range x {
				if v == v {
					want = max(want, v)
				}
			}
			if got := Max(x); got != want {
				t.Fatalf("n=%d: Max = %v, want %v (%v)", n, got, want, x)
			}
			y := append([]float32(nil), x...)
			Scale(y, 0.37)
			for j := range x {
				if w := x[j] * 0.37; y[j] != w && (w == w || y[j] == y[j]) {
					t.Fatalf("n=%d: Scale[%d] = %v, want %v", n, j, y[j], w)
				}
			}
			z, add := append([]float32(nil), x...), randf(rng, n+1)
			ScaleAdd(z, -1.5, add)
			for j := range x {
				w := float32(math.FMA(-1.5, float64(x[j]), float64(add[j])))
				if z[j] != w && (w == w || z[j] == z[j]) {
					t.Fatalf("n=%d: ScaleAdd[%d] = %v, want %v", n, j, z[j], w)
				}
			}
		}
	})
}

func randf(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// Package vecmath holds vectorized float32 math for gort's kernels: the
// exponential and maximum a softmax needs, in AVX-512 or AVX2 assembly
// where the CPU has it and pure Go elsewhere (the same algorithm, so the
// results agree to the bounds the tests state).
//
// # Exponential
//
// exp(x) = 2^n · e^r with n = round(x·log2 e) and r = x − n·ln 2 (ln 2
// split in two so r is exact to float32), e^r by the degree-7 polynomial of
// Cephes' expf. x is first clamped to [−104, 89]: below, every result
// rounds to 0; above, to +Inf. NaN stays NaN. For results of at least
// 2^−126 (x ≥ −87.33) the error is at most 2 ulp against the correctly
// rounded exp; smaller (subnormal) results are within 2^−148 of it.
package vecmath

import "math"

// expCoef holds, in order: the clamp bounds, log2 e, ln 2 split (hi, lo)
// and the polynomial coefficients p0..p5, then 1.
var expCoef = [12]float32{
	-104, 89,
	math.Log2E,
	0.693359375, -2.12194440e-4,
	1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
	1,
}

// expGo is exp(x) by the package's algorithm, in scalar Go.
func expGo(x float32) float32 {
	if x != x {
		return x
	}
	x = min(max(x, expCoef[0]), expCoef[1])
	n := float32(math.RoundToEven(float64(x * expCoef[2])))
	r := x - n*expCoef[3]
	r -= n * expCoef[4]
	y := expCoef[5]
	for _, p := range expCoef[6:11] {
		y = y*r + p
	}
	y = y*(r*r) + r + 1
	// 2^n as two normal factors, so n down to -150 and up to 128 needs no
	// subnormal or infinite scale.
	ni := int32(n)
	half := ni >> 1
	return y * math.Float32frombits(uint32(half+127)<<23) * math.Float32frombits(uint32(ni-half+127)<<23)
}

// ExpSub replaces every x[j] by exp(a·x[j] − m) (a·x[j] − m rounded once)
// and returns their sum (float32 lanes, summed at the end). Softmax calls
// it with m the row's maximum of a·x; m = −Inf with an x[j] = −Inf gives
// NaN, so callers treat a fully masked row apart.
func ExpSub(x []float32, a, m float32) float32 {
	var sum float32
	if v := cur; v.expSub != nil {
		n := len(x) &^ (v.width - 1)
		if v.masked {
			n = len(x)
		}
		if n > 0 {
			sum = v.expSub(x[:n], a, m, &expCoef)
			x = x[n:]
		}
	}
	for j, v := range x {
		e := expGo(fms(a, v, m))
		x[j] = e
		sum += e
	}
	return sum
}

// fms is a·x − m rounded once, as the vector loops' fused multiply-subtract.
func fms(a, x, m float32) float32 {
	return float32(math.FMA(float64(a), float64(x), -float64(m)))
}

// Max returns the largest element of x, −Inf when x is empty; NaNs are
// skipped.
func Max(x []float32) float32 {
	m := float32(math.Inf(-1))
	if v := cur; v.max != nil {
		n := len(x) &^ (v.width - 1)
		if n > 0 {
			m = v.max(x[:n])
			x = x[n:]
		}
	}
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// Scale multiplies every x[j] by a.
func Scale(x []float32, a float32) {
	if v := cur; v.scale != nil {
		n := len(x) &^ (v.width - 1)
		if n > 0 {
			v.scale(x[:n], a)
			x = x[n:]
		}
	}
	for j := range x {
		x[j] *= a
	}
}

// ScaleAdd sets x[j] = a·x[j] + y[j] (rounded once) for every j; y is at
// least as long as x.
func ScaleAdd(x []float32, a float32, y []float32) {
	y = y[:len(x)]
	if v := cur; v.scaleAdd != nil {
		n := len(x) &^ (v.width - 1)
		if n > 0 {
			v.scaleAdd(x[:n], a, y[:n])
			x, y = x[n:], y[n:]
		}
	}
	for j := range x {
		x[j] = float32(math.FMA(float64(a), float64(x[j]), float64(y[j])))
	}
}

// vec is one implementation of the vector loops: each handles a multiple
// of width elements (any length when masked, expSub only), nil funcs none.
type vec struct {
	name     string
	width    int
	masked   bool
	expSub   func(x []float32, a, m float32, coef *[12]float32) float32
	max      func(x []float32) float32
	scale    func(x []float32, a float32)
	scaleAdd func(x []float32, a float32, y []float32)
	// The normalization loops (norm.go), 16 elements at a time; nil
	// where there is no AVX-512.
	sum64      func(x []float32) float64
	sumSqDev64 func(x []float32, m float64) float64
	affine     func(out, x, scale, bias []float32, m, inv float32)
	add        func(dst, a, b []float32)
}

// pureGo is the implementation without vector loops.
var pureGo = &vec{name: "go", width: 1}

// cur is the implementation in use, the best of available().
var cur = available()[0]

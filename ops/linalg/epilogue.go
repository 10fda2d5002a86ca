package linalg

import (
	"fmt"
	"math"
)

// Activation is the function an Epilogue applies to each element of C.
type Activation int

const (
	// ActNone leaves C as is.
	ActNone Activation = iota
	// ActRelu is max(x, 0).
	ActRelu
	// ActGelu is x·Φ(x) = 0.5·x·(1 + erf(x/√2)).
	ActGelu
	// ActGeluTanh is 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
	ActGeluTanh
)

// Epilogue is work fused after a GEMM:
//
//	C[i][j] = Act(C[i][j] + Bias[j] + RowBias[i])
//
// Bias is along n (a Linear/Gemm bias), RowBias along m (a convolution's
// per-output-channel bias when C is channels x pixels). A nil slice adds
// nothing; otherwise Bias has at least n values and RowBias at least m.
type Epilogue struct {
	Bias    []float32
	RowBias []float32
	Act     Activation
}

func (ep Epilogue) none() bool { return ep.Bias == nil && ep.RowBias == nil && ep.Act == ActNone }

// rowBias is RowBias[i], or 0 without a RowBias.
func (ep Epilogue) rowBias(i int) float32 {
	if ep.RowBias == nil {
		return 0
	}
	return ep.RowBias[i]
}

// apply runs the epilogue on one row of C: bias is nil or matches row, rb
// is the row's RowBias value (0 without one).
func (ep Epilogue) apply(row, bias []float32, rb float32) { ep.applyTo(row, row, bias, rb) }

// applyTo is apply reading the row from src and writing it to row (src is
// row itself or does not overlap it).
func (ep Epilogue) applyTo(row, src, bias []float32, rb float32) {
	if len(row) == 0 {
		return
	}
	if ep.Bias == nil {
		bias = nil
	}
	// epilogueVec, where the CPU has one, runs act(x[j] + bias[j] + rb)
	// over the whole row (no bias when bias is empty) with the
	// approximations of erf32 and tanh32, whose constants coef holds.
	if epilogueVec != nil {
		if bias != nil {
			bias = bias[:len(row)]
		}
		epilogueVec(row, src[:len(row)], bias, rb, int(ep.Act), &epilogueCoef)
		return
	}
	if &src[0] != &row[0] {
		copy(row, src)
	}
	if bias != nil {
		bias = bias[:len(row)]
		for j := range row {
			row[j] += bias[j]
		}
	}
	if rb != 0 {
		for j := range row {
			row[j] += rb
		}
	}
	switch ep.Act {
	case ActRelu:
		for j, v := range row {
			row[j] = max(v, 0)
		}
	case ActGelu:
		for j, v := range row {
			row[j] = 0.5 * v * (1 + erf32(v*math.Sqrt2/2))
		}
	case ActGeluTanh:
		for j, v := range row {
			row[j] = 0.5 * v * (1 + tanh32(sqrt2OverPi*(v+0.044715*v*v*v)))
		}
	}
}

// epilogueCoef is the constant table of the vector epilogue, by byte
// offset: 0 1/√2, 4 and 8 the erf clamp, 12..36 erf numerator (z¹³..z¹),
// 40..56 erf denominator (z⁸..z⁰), 60 0.5, 64 √(2/π), 68 √(2/π)·0.044715,
// 72 and 76 the tanh clamp, 80..104 tanh numerator, 108..120 tanh
// denominator, 124 and 128 ±1.
var epilogueCoef = [33]float32{
	math.Sqrt2 / 2, 4, -4,
	erfP13, erfP11, erfP9, erfP7, erfP5, erfP3, erfP1,
	erfQ8, erfQ6, erfQ4, erfQ2, erfQ0,
	0.5, sqrt2OverPi, sqrt2OverPi * 0.044715, 9, -9,
	tanhP13, tanhP11, tanhP9, tanhP7, tanhP5, tanhP3, tanhP1,
	tanhQ6, tanhQ4, tanhQ2, tanhQ0,
	1, -1,
}

const (
	sqrt2OverPi = 0.7978845608028654 // √(2/π)

	erfP13 = -2.72614225801306e-10
	erfP11 = 2.77068142495902e-08
	erfP9  = -2.10102402082508e-06
	erfP7  = -5.69250639462346e-05
	erfP5  = -7.34990630326855e-04
	erfP3  = -2.95459980854025e-03
	erfP1  = -1.60960333262415e-02
	erfQ8  = -1.45660718464996e-05
	erfQ6  = -2.13374055278905e-04
	erfQ4  = -1.68282697438203e-03
	erfQ2  = -7.37332916720468e-03
	erfQ0  = -1.42647390514189e-02

	tanhP13 = -2.76076847742355e-16
	tanhP11 = 2.00018790482477e-13
	tanhP9  = -8.60467152213735e-11
	tanhP7  = 5.12229709037114e-08
	tanhP5  = 1.48572235717979e-05
	tanhP3  = 6.37261928875436e-04
	tanhP1  = 4.89352455891786e-03
	tanhQ6  = 1.19825839466702e-06
	tanhQ4  = 1.18534705686654e-04
	tanhQ2  = 2.26843463243900e-03
	tanhQ0  = 4.89352518554385e-03
)

// erf32 is erf for float32 as a rational function on [-4, 4] (beyond it
// erf is ±1 in float32); absolute error below 2e-7.
func erf32(x float32) float32 {
	x = min(max(x, -4), 4)
	x2 := x * x
	p := x2*erfP13 + erfP11
	p = x2*p + erfP9
	p = x2*p + erfP7
	p = x2*p + erfP5
	p = x2*p + erfP3
	p = x2*p + erfP1
	q := x2*erfQ8 + erfQ6
	q = x2*q + erfQ4
	q = x2*q + erfQ2
	q = x2*q + erfQ0
	return x * p / q
}

// tanh32 is tanh for float32 as a rational function on [-9, 9] (beyond it
// tanh is ±1 in float32); absolute error below 3e-7.
func tanh32(x float32) float32 {
	x = min(max(x, -9), 9)
	x2 := x * x
	p := x2*tanhP13 + tanhP11
	p = x2*p + tanhP9
	p = x2*p + tanhP7
	p = x2*p + tanhP5
	p = x2*p + tanhP3
	p = x2*p + tanhP1
	q := x2*tanhQ6 + tanhQ4
	q = x2*q + tanhQ2
	q = x2*q + tanhQ0
	return min(max(x*p/q, -1), 1)
}

// activateBlock is how many elements Activate handles at a time when there
// is no bias: a block stays in L1 between the copy and the activation.
const activateBlock = 2048

// Activate computes y = act(x + bias) elementwise with the float32
// approximations of the GEMM epilogue (erf and tanh as rational functions,
// absolute error below 3e-7, vectorized where the CPU allows): bias, when
// not empty, repeats along x (x is rows of len(bias)). y may be x itself;
// otherwise they must not overlap. Every element is computed the same way
// (all vector or all scalar), so results do not depend on how a caller
// splits x across threads. It panics when len(y) != len(x) or x
// is not a whole number of bias rows.
func Activate(act Activation, y, x, bias []float32) {
	if len(y) != len(x) {
		panic(fmt.Sprintf("linalg: Activate: len(y) = %d, len(x) = %d", len(y), len(x)))
	}
	ep, step := Epilogue{Act: act}, activateBlock
	if len(bias) > 0 {
		if len(x)%len(bias) != 0 {
			panic(fmt.Sprintf("linalg: Activate: len(x) = %d is not a multiple of len(bias) = %d", len(x), len(bias)))
		}
		ep.Bias, step = bias, len(bias)
	}
	for lo := 0; lo < len(x); lo += step {
		hi := min(lo+step, len(x))
		ep.applyTo(y[lo:hi], x[lo:hi], ep.Bias, 0)
	}
}

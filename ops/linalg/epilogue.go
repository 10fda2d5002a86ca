package linalg

import "math"

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

// Epilogue is work fused after a GEMM: C[i][j] = Act(C[i][j] + Bias[j]).
// A nil Bias adds nothing; otherwise it has at least n values.
type Epilogue struct {
	Bias []float32
	Act  Activation
}

func (ep Epilogue) none() bool { return ep.Bias == nil && ep.Act == ActNone }

// apply runs the epilogue on one row of C; bias is nil or matches row.
func (ep Epilogue) apply(row, bias []float32) {
	if ep.Bias != nil {
		bias = bias[:len(row)]
		for j := range row {
			row[j] += bias[j]
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
		const s = 0.7978845608028654 // √(2/π)
		for j, v := range row {
			row[j] = 0.5 * v * (1 + tanh32(s*(v+0.044715*v*v*v)))
		}
	}
}

// erf32 is erf for float32 as a rational function on [-4, 4] (beyond it
// erf is ±1 in float32); absolute error below 2e-7.
func erf32(x float32) float32 {
	x = min(max(x, -4), 4)
	x2 := x * x
	p := x2*-2.72614225801306e-10 + 2.77068142495902e-08
	p = x2*p - 2.10102402082508e-06
	p = x2*p - 5.69250639462346e-05
	p = x2*p - 7.34990630326855e-04
	p = x2*p - 2.95459980854025e-03
	p = x2*p - 1.60960333262415e-02
	p *= x
	q := x2*-1.45660718464996e-05 - 2.13374055278905e-04
	q = x2*q - 1.68282697438203e-03
	q = x2*q - 7.37332916720468e-03
	q = x2*q - 1.42647390514189e-02
	return p / q
}

// tanh32 is tanh for float32 as a rational function on [-9, 9] (beyond it
// tanh is ±1 in float32); absolute error below 3e-7.
func tanh32(x float32) float32 {
	if x > -0.0004 && x < 0.0004 {
		return x
	}
	x = min(max(x, -9), 9)
	x2 := x * x
	p := x2*-2.76076847742355e-16 + 2.00018790482477e-13
	p = x2*p - 8.60467152213735e-11
	p = x2*p + 5.12229709037114e-08
	p = x2*p + 1.48572235717979e-05
	p = x2*p + 6.37261928875436e-04
	p = x2*p + 4.89352455891786e-03
	p *= x
	q := x2*1.19825839466702e-06 + 1.18534705686654e-04
	q = x2*q + 2.26843463243900e-03
	q = x2*q + 4.89352518554385e-03
	return min(max(p/q, -1), 1)
}

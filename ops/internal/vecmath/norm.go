package vecmath

// Normalization rows: the statistics of a row in float64 (as the scalar
// kernels they replace compute them) and the affine map in float32, in
// the order the scalar code uses, so vector and scalar elements agree
// bit for bit.

// Moments returns the mean and the mean squared deviation (population
// variance) of x, accumulated in float64; with rms, 0 and the mean of x².
// An empty x gives 0, 0.
func Moments(x []float32, rms bool) (mean, variance float64) {
	if len(x) == 0 {
		return 0, 0
	}
	n := float64(len(x))
	if !rms {
		mean = sum64(x) / n
	}
	return mean, sumSqDev64(x, mean) / n
}

// sum64 is Σ x[j] in float64.
func sum64(x []float32) float64 {
	var s float64
	if v := cur; v.sum64 != nil {
		k := len(x) &^ (v.width - 1)
		if k > 0 {
			s = v.sum64(x[:k])
			x = x[k:]
		}
	}
	for _, v := range x {
		s += float64(v)
	}
	return s
}

// sumSqDev64 is Σ (x[j] − m)² in float64.
func sumSqDev64(x []float32, m float64) float64 {
	var s float64
	if v := cur; v.sumSqDev64 != nil {
		k := len(x) &^ (v.width - 1)
		if k > 0 {
			s = v.sumSqDev64(x[:k], m)
			x = x[k:]
		}
	}
	for _, v := range x {
		d := float64(v) - m
		s += d * d
	}
	return s
}

// Affine writes out[j] = (x[j] − m)·inv·scale[j] + bias[j] (no bias when
// bias is empty), rounding to float32 after each operation. scale and out
// have at least len(x) elements, and so does bias when not empty.
func Affine(out, x, scale, bias []float32, m, inv float32) {
	out, scale = out[:len(x)], scale[:len(x)]
	if len(bias) > 0 {
		bias = bias[:len(x)]
	}
	if v := cur; v.affine != nil {
		k := len(x) &^ (v.width - 1)
		if k > 0 {
			var b []float32
			if len(bias) > 0 {
				b = bias[:k]
				bias = bias[k:]
			}
			v.affine(out[:k], x[:k], scale[:k], b, m, inv)
			out, x, scale = out[k:], x[k:], scale[k:]
		}
	}
	for j, xv := range x {
		o := (xv - m) * inv * scale[j]
		if len(bias) > 0 {
			o += bias[j]
		}
		out[j] = o
	}
}

// Add writes dst[j] = a[j] + b[j] for j < len(a); dst and b have at least
// len(a) elements, and dst may be a or b.
func Add(dst, a, b []float32) {
	dst, b = dst[:len(a)], b[:len(a)]
	if v := cur; v.add != nil {
		k := len(a) &^ (v.width - 1)
		if k > 0 {
			v.add(dst[:k], a[:k], b[:k])
			dst, a, b = dst[k:], a[k:], b[k:]
		}
	}
	for j, x := range a {
		dst[j] = x + b[j]
	}
}

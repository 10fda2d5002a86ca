package vecmath

import "golang.org/x/sys/cpu"

//go:noescape
func expSubAVX512(x []float32, a, m float32, coef *[12]float32) float32

//go:noescape
func maxAVX512(x []float32) float32

//go:noescape
func scaleAVX512(x []float32, a float32)

//go:noescape
func scaleAddAVX512(x []float32, a float32, y []float32)

//go:noescape
func expSubAVX2(x []float32, a, m float32, coef *[12]float32) float32

//go:noescape
func maxAVX2(x []float32) float32

//go:noescape
func scaleAVX2(x []float32, a float32)

//go:noescape
func sum64AVX512(x []float32) float64

//go:noescape
func sumSqDev64AVX512(x []float32, m float64) float64

//go:noescape
func addAVX512(dst, a, b []float32)

//go:noescape
func affineAVX512(out, x, scale, bias []float32, m, inv float32)

// available lists the implementations this CPU can run, best first.
func available() []*vec {
	var vs []*vec
	if cpu.X86.HasAVX512F {
		vs = append(vs, &vec{name: "avx512", width: 16, masked: true, expSub: expSubAVX512, max: maxAVX512, scale: scaleAVX512, scaleAdd: scaleAddAVX512,
			sum64: sum64AVX512, sumSqDev64: sumSqDev64AVX512, affine: affineAVX512, add: addAVX512})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		vs = append(vs, &vec{name: "avx2", width: 8, expSub: expSubAVX2, max: maxAVX2, scale: scaleAVX2, scaleAdd: scaleAddAVX2})
	}
	return append(vs, pureGo)
}

//go:noescape
func scaleAddAVX2(x []float32, a float32, y []float32)

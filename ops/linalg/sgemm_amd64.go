package linalg

import "golang.org/x/sys/cpu"

//go:noescape
func sgemmKernelAVX2(kc int, a, b, c []float32, ldc int, beta float32, load int)

//go:noescape
func sgemmKernelAVX512(kc int, a, b, c []float32, ldc int, beta float32, load int)

var (
	avx2Kernel = &kernel{
		name: "avx2",
		mr:   6, nr: 16,
		mc: 144, kc: 256, nc: 1024,
		fn:     sgemmKernelAVX2,
		gemv:   sgemvKernelAVX2,
		gemvN:  64,
		gemv16: sgemv16KernelAVX2,
		dot:    sdotKernelAVX2,
	}
	avx512Kernel = &kernel{
		name: "avx512",
		mr:   8, nr: 48,
		mc: 128, kc: 256, nc: 768,
		fn:       sgemmKernelAVX512,
		packRows: packB48AVX512,
		edges: []edgeKernel{
			{cols: 16, fn: sgemmKernelAVX512x16},
			{cols: 32, fn: sgemmKernelAVX512x32},
		},
		gemv:   sgemvKernelAVX512,
		gemvN:  128,
		gemv16: sgemv16KernelAVX512,
		dot:    sdotKernelAVX512,
	}
)

// kernels lists the micro-kernels this CPU can run, best first.
var kernels = availableKernels()

//go:noescape
func epilogueAVX512(dst, x, bias []float32, rb float32, act int, coef *[33]float32)

//go:noescape
func transpose8AVX(blocks int, src []float32, lds int, dst []float32, ldd int)

// transpose8 is the 8-row block transpose (see transposeInto), nil without
// AVX.
var transpose8 = blockTranspose()

func blockTranspose() func(blocks int, src []float32, lds int, dst []float32, ldd int) {
	if cpu.X86.HasAVX {
		return transpose8AVX
	}
	return nil
}

// epilogueVec is the vector epilogue (see Epilogue.apply), nil without
// AVX-512.
var epilogueVec = vectorEpilogue()

func vectorEpilogue() func(dst, x, bias []float32, rb float32, act int, coef *[33]float32) {
	if cpu.X86.HasAVX512F {
		return epilogueAVX512
	}
	return nil
}

func availableKernels() []*kernel {
	var ks []*kernel
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		ks = append(ks, avx512Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, genericKernel)
}

//go:noescape
func sgemmKernelAVX512x16(kc int, a, b, c []float32, ldc int, beta float32, load int)

//go:noescape
func sgemmKernelAVX512x32(kc int, a, b, c []float32, ldc int, beta float32, load int)

//go:noescape
func packB48AVX512(kc, panels int, src []float32, ldb int, dst []float32)

//go:noescape
func sgemvKernelAVX512(k int, x, b []float32, ldb int, y []float32)

//go:noescape
func sgemv16KernelAVX512(k int, x, b []float32, ldb int, y []float32)

//go:noescape
func sgemvKernelAVX2(k int, x, b []float32, ldb int, y []float32)

//go:noescape
func sgemv16KernelAVX2(k int, x, b []float32, ldb int, y []float32)

//go:noescape
func sdotKernelAVX2(k int, x, y []float32) float32

//go:noescape
func sdotKernelAVX512(k int, x, y []float32) float32

//go:build !amd64

package linalg

// kernels lists the micro-kernels this CPU can run, best first.
var kernels = []*kernel{genericKernel}

// epilogueVec is the vector epilogue; none here.
var epilogueVec func(dst, x, bias []float32, rb float32, act int, coef *[33]float32)

// transpose8 is the 8-row block transpose; none here.
var transpose8 func(blocks int, src []float32, lds int, dst []float32, ldd int)

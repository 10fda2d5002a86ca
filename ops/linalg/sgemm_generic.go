//go:build !amd64

package linalg

// kernels lists the micro-kernels this CPU can run, best first.
var kernels = []*kernel{genericKernel}

// epilogueVec is the vector epilogue; none here.
var epilogueVec func(x, bias []float32, act int, coef *[33]float32)

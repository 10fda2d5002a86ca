//go:build !amd64

package linalg

// kernels lists the micro-kernels this CPU can run, best first.
var kernels = []*kernel{genericKernel}

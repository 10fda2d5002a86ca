// Package signal holds gort's kernels for the signal operator family.
//
// # Overview
//
// DFT and STFT compute discrete Fourier transforms in complex128 through
// one FFT plan per run: radix-2 for power-of-two lengths and Bluestein's
// chirp-z algorithm (a power-of-two FFT of at least twice the length) for
// every other length, so any length costs O(n log n). Real and complex
// signals use ONNX's layout, a trailing dimension of 1 (real) or 2 (real,
// imaginary). HannWindow, HammingWindow, BlackmanWindow and MelWeightMatrix
// generate the usual analysis windows and mel filter banks.
//
// Lengths that come from data (dft_length, window sizes, mel bins) are
// checked before anything is allocated: outputs go through Ctx.New, which
// enforces the session's element limit.
package signal

import (
	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/ops/internal/kernelutil"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		dftOps(),
		windowOps(),
	)
}

// Shared helpers, named briefly for this package.
var (
	parallel    = kernelutil.Parallel
	checkElems  = kernelutil.CheckElems
	scalarFloat = kernelutil.ScalarFloat
	scalarInt   = kernelutil.ScalarInt
)

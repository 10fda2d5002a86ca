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
	"fmt"
	"math"

	"github.com/gort-ml/gort/ops"
	"github.com/gort-ml/gort/tensor"
)

// Ops lists every operator schema of this family.
func Ops() []*ops.Op {
	return ops.Join(
		dftOps(),
		windowOps(),
	)
}

// checkElems checks that scratch of n elements is within the session's
// limit before a kernel allocates it outside Ctx.New.
func checkElems(c *ops.Ctx, n float64, what string) error {
	limit := float64(tensor.MaxElements)
	if c != nil && c.MaxElements > 0 {
		limit = float64(c.MaxElements)
	}
	if math.IsNaN(n) || n > limit {
		return fmt.Errorf("%w: %s needs %.0f elements, the session allows %.0f", ops.ErrLimit, what, n, limit)
	}
	return nil
}
